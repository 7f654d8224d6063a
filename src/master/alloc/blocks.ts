// Host address blocks: which aligned range of a network's IPv4 subnet a host is granted, so that its agent
// can assign addresses without asking netmaster first (Calico's host-affine IPAM blocks). Pure: the caller
// (master/blocks.ts) loads the network's allocator and the existing blocks and writes the result back.
//
// A block holds only the addresses of its range that were free when it was granted; the others stay with
// whoever had them (endpoints, the gateway, a group's ip-pool, the network's own address) and go back to
// the network when released, never to the block.

import { formatIpv4, parseIpv4, parseIpv4Subnet, prefixMask } from "../../lib/ipv4.js";
import type { Ipv4Allocator } from "./ipv4-allocator.js";

/** Block size for a subnet: 64 addresses from /20 up, smaller subnets get 16 blocks at most; /31 and /32 none. */
export function blockPrefixLength(subnetPrefixLen: number): number | undefined {
  if (subnetPrefixLen > 30) return undefined;
  return Math.min(30, Math.max(26, subnetPrefixLen + 4));
}

/** The aligned block CIDR of that size containing the address, e.g. ("10.1.0.77", 26) → "10.1.0.64/26". */
export function blockCidrOf(address: string, blockPrefixLen: number): string {
  return `${formatIpv4((parseIpv4(address) & prefixMask(blockPrefixLen)) >>> 0)}/${blockPrefixLen}`;
}

export interface BlockChoice {
  cidr: string;
  /** Ascending. */
  addresses: string[];
}

/**
 * The lowest block-sized range of the allocator's subnet that no block in `held` (CIDRs) covers and of which
 * at least half the addresses are free in the allocator and `usable`, with those addresses; undefined when no
 * range qualifies or the subnet is too small for blocks. `usable` leaves out addresses the allocator cannot
 * see are in use (one whose derived MAC another endpoint holds). Reserves nothing.
 */
export function chooseBlock(ipv4: Ipv4Allocator, held: ReadonlySet<string>, usable: (address: string) => boolean): BlockChoice | undefined {
  const len = blockPrefixLength(ipv4.prefixLen);
  if (len === undefined) return undefined;
  const size = 2 ** (32 - len);
  const { network, broadcast } = parseIpv4Subnet(ipv4.subnet);
  // Jump from one free address to the next: a nearly full large subnet is crossed without testing each range.
  for (let cursor = network; cursor <= broadcast; ) {
    const next = ipv4.nextAvailable(formatIpv4(cursor));
    if (next === undefined) return undefined;
    const start = (parseIpv4(next) & prefixMask(len)) >>> 0;
    const cidr = `${formatIpv4(start)}/${len}`;
    if (!held.has(cidr)) {
      const addresses: string[] = [];
      for (let i = 0; i < size; i++) {
        const address = formatIpv4(start + i);
        if (ipv4.isAvailable(address) && usable(address)) addresses.push(address);
      }
      if (addresses.length * 2 >= size) return { cidr, addresses };
    }
    cursor = start + size;
  }
  return undefined;
}
