// IPv4/IPv6 addresses as integers (bigint for both families, so one interval
// code path serves both), the address forms Contiv rules accept, and printing
// intervals back in the shortest form nft accepts.

import { formatIp, MAX4, MAX6, parseIp } from "../lib/ip.js";
import type { AddressFamily } from "./types.js";

export { MAX4, MAX6 };

export function maxOf(family: AddressFamily): bigint {
  return family === 4 ? MAX4 : MAX6;
}

export interface ParsedAddress {
  family: AddressFamily;
  value: bigint;
}

export interface AddressRange {
  family: AddressFamily;
  lo: bigint;
  hi: bigint;
}

/** Parses "a.b.c.d" or an IPv6 address, with an optional "/len" that is ignored. Returns undefined if malformed. */
export function parseAddress(text: string): ParsedAddress | undefined {
  return parseIp(text.trim().split("/")[0] ?? "");
}

function prefixRange(family: AddressFamily, value: bigint, len: number): AddressRange {
  const bits = family === 4 ? 32 : 128;
  const hostBits = BigInt(bits - len);
  const mask = maxOf(family) ^ ((1n << hostBits) - 1n);
  const lo = value & mask;
  return { family, lo, hi: lo | ((1n << hostBits) - 1n) };
}

/**
 * Parses a rule's address selector: a single address, a CIDR (host bits are
 * ignored, as Go's ParseCIDR does), Contiv's last-octet range "a.b.c.d-e"
 * (an optional "/len" after it is ignored), or "addr-addr" in either family.
 * Returns undefined if malformed or empty (e.g. a range whose end is before its start).
 */
export function parseAddressRange(text: string): AddressRange | undefined {
  const t = text.trim();
  const dash = t.indexOf("-");
  if (dash >= 0) {
    const left = parseAddress(t.slice(0, dash));
    const rightText = (t.slice(dash + 1).split("/")[0] ?? "").trim();
    if (!left || t.slice(0, dash).includes("/")) return undefined;
    let hi: bigint;
    if (left.family === 4 && /^\d{1,3}$/.test(rightText)) {
      const octet = Number(rightText);
      if (octet > 255) return undefined;
      hi = (left.value & ~0xffn) | BigInt(octet);
    } else {
      const right = parseAddress(rightText);
      if (!right || right.family !== left.family) return undefined;
      hi = right.value;
    }
    if (hi < left.value) return undefined;
    return { family: left.family, lo: left.value, hi };
  }
  const slash = t.indexOf("/");
  const addr = parseAddress(slash >= 0 ? t.slice(0, slash) : t);
  if (!addr) return undefined;
  if (slash < 0) return { family: addr.family, lo: addr.value, hi: addr.value };
  const lenText = t.slice(slash + 1);
  if (!/^\d{1,3}$/.test(lenText)) return undefined;
  const len = Number(lenText);
  if (len > (addr.family === 4 ? 32 : 128)) return undefined;
  return prefixRange(addr.family, addr.value, len);
}

export function formatAddress(family: AddressFamily, value: bigint): string {
  return formatIp(family, value);
}

/** "addr", "addr/len" when the interval is exactly a prefix, else "lo-hi". */
export function formatInterval(family: AddressFamily, lo: bigint, hi: bigint): string {
  if (lo === hi) return formatAddress(family, lo);
  const size = hi - lo + 1n;
  if ((size & (size - 1n)) === 0n && (lo & (size - 1n)) === 0n) {
    const hostBits = size.toString(2).length - 1;
    return `${formatAddress(family, lo)}/${(family === 4 ? 32 : 128) - hostBits}`;
  }
  return `${formatAddress(family, lo)}-${formatAddress(family, hi)}`;
}
