// What DesiredPortMapping.hostIP means, for every driver and for whoever admits mappings before they get
// there (the agent refuses a host port two containers would share).

/** Whether one packet could match both host addresses: equal, or either is "" (every address of the host). */
export function hostIPsOverlap(a: string, b: string): boolean {
  return a === "" || b === "" || a === b;
}
