// Ethernet addresses an interface may carry: unicast and not all zero. A
// broadcast or multicast source address is dropped by every bridge and
// switch on the way, and an all-zero one is refused by the kernel.

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

/** What is wrong with a MAC address for an interface, or undefined when it is a usable one ("02:42:ac:11:00:02", any case). */
export function macProblem(text: string): string | undefined {
  const mac = text.toLowerCase();
  if (!MAC.test(mac)) return `${text} is not a MAC address: want six hex octets like 02:42:ac:11:00:02`;
  if (mac === "00:00:00:00:00:00") return `${text} is the all-zero MAC address: an interface needs a unicast one`;
  if ((parseInt(mac.slice(0, 2), 16) & 1) === 1) {
    return `${text} is a ${mac === "ff:ff:ff:ff:ff:ff" ? "broadcast" : "multicast"} MAC address: an interface needs a unicast one`;
  }
  return undefined;
}
