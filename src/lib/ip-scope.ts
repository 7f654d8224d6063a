// Address blocks that can never be a container network: the kernel gives them
// meanings of their own (loopback, multicast, link-local, the unspecified
// address), so a network over them would capture or break the host's own
// traffic. Link-local IPv4 is also where tenant uplinks live (169.254.0.0/16).

import { bitsOf, type IpFamily } from "./ip.js";

interface SpecialBlock {
  family: IpFamily;
  first: bigint;
  /** Prefix length of the block. */
  length: number;
  /** Says what the block is, e.g. "the loopback block 127.0.0.0/8". */
  what: string;
}

function block(family: IpFamily, first: bigint, length: number, what: string): SpecialBlock {
  return { family, first, length, what };
}

const SPECIAL: readonly SpecialBlock[] = [
  block(4, 0x00000000n, 8, "the \"this network\" block 0.0.0.0/8"),
  block(4, 0x7f000000n, 8, "the loopback block 127.0.0.0/8"),
  block(4, 0xa9fe0000n, 16, "the link-local block 169.254.0.0/16"),
  block(4, 0xe0000000n, 4, "the multicast block 224.0.0.0/4"),
  block(4, 0xf0000000n, 4, "the reserved block 240.0.0.0/4"),
  block(6, 0n, 128, "the unspecified address ::"),
  block(6, 1n, 128, "the loopback address ::1"),
  block(6, 0xffff00000000n, 96, "the IPv4-mapped block ::ffff:0:0/96"),
  block(6, 0xfe80n << 112n, 10, "the link-local block fe80::/10"),
  block(6, 0xffn << 120n, 8, "the multicast block ff00::/8"),
];

function lastOf(family: IpFamily, first: bigint, length: number): bigint {
  return first + (1n << BigInt(bitsOf(family) - length)) - 1n;
}

/** The special-use block that the addresses first..last overlap, described, or undefined when none. */
export function specialOverlap(family: IpFamily, first: bigint, last: bigint): string | undefined {
  for (const b of SPECIAL) {
    if (b.family !== family) continue;
    if (first <= lastOf(family, b.first, b.length) && b.first <= last) return b.what;
  }
  return undefined;
}

/** The special-use block that holds one address, described, or undefined when it is an ordinary address. */
export function specialUse(family: IpFamily, address: bigint): string | undefined {
  return specialOverlap(family, address, address);
}
