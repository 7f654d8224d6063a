// Address intervals as CIDR prefixes: OpenFlow matches an address only by prefix (a masked value), so each
// interval of the policy's lookup tables becomes the fewest prefixes that cover exactly it. Pure.

import { bitsOf, formatIp, type IpFamily } from "../../lib/ip.js";

/**
 * The closed interval [lo, hi] of one family as the shortest list of "addr/len" prefixes, in address order,
 * that together cover exactly it (at most 2·bits of them). Empty when hi < lo.
 */
export function intervalToCidrs(family: IpFamily, lo: bigint, hi: bigint): string[] {
  const bits = bitsOf(family);
  const out: string[] = [];
  let at = lo;
  while (at <= hi) {
    // The largest block that starts at `at` (aligned) and does not pass hi.
    let host = 0;
    while (host < bits) {
      const size = 1n << BigInt(host + 1);
      if ((at & (size - 1n)) !== 0n || at + size - 1n > hi) break;
      host++;
    }
    out.push(`${formatIp(family, at)}/${bits - host}`);
    at += 1n << BigInt(host);
  }
  return out;
}
