// The names of the named network namespaces, read without starting a process: `ip netns list` only lists the
// directory in which iproute2 keeps one bind mount per name (its NETNS_RUN_DIR), and the driver needs the list on
// every run (incremental.ts), where a process costs 5–15 ms.

import { readdir } from "node:fs/promises";

export const NETNS_DIR = "/var/run/netns";

/** Every namespace name `ip netns list` would show, in any order. */
export type NamespaceLister = () => Promise<string[]>;

/** The names in NETNS_DIR; none while it does not exist (no namespace was ever named here). */
export async function readNamespaceDir(): Promise<string[]> {
  try {
    return await readdir(NETNS_DIR);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
}
