// Address arithmetic on CIDRs, both families: blocks that can overlap, and their text.

import type { Network } from "../../model/index.js";
import { formatIpv4, formatIpv6, parseIpv4Subnet, parseIpv6Subnet, tryParseIpv4, tryParseIpv6 } from "../alloc/index.js";

export interface Block {
  v6: boolean;
  first: bigint;
  last: bigint;
  len: number;
}

export function block(cidr: string): Block {
  if (cidr.includes(":")) {
    const s = parseIpv6Subnet(cidr);
    return { v6: true, first: s.network, last: s.network + (1n << BigInt(128 - s.prefixLen)) - 1n, len: s.prefixLen };
  }
  const s = parseIpv4Subnet(cidr);
  return { v6: false, first: BigInt(s.network), last: BigInt(s.broadcast), len: s.prefixLen };
}

export function overlaps(a: Block, b: Block): boolean {
  return a.v6 === b.v6 && a.first <= b.last && b.first <= a.last;
}

export function formatAddress(v6: boolean, value: bigint): string {
  return v6 ? formatIpv6(value) : formatIpv4(Number(value));
}

export function formatBlock(b: Block): string {
  return `${formatAddress(b.v6, b.first)}/${b.len}`;
}

export function addressValue(v6: boolean, text: string): bigint | undefined {
  if (v6) return tryParseIpv6(text);
  const v = tryParseIpv4(text);
  return v === undefined ? undefined : BigInt(v);
}

/** The CIDR block of a network's subnet (Contiv's range form included). */
export function networkBlock(net: Network, v6: boolean): Block | undefined {
  const subnet = v6 ? net.ipv6Subnet : net.subnet;
  return subnet ? block(subnet) : undefined;
}

export function isV6(address: string): boolean {
  return address.includes(":");
}

