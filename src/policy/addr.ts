// IPv4/IPv6 addresses as integers (bigint for both families, so one interval
// code path serves both), the address forms Contiv rules accept, and printing
// intervals back in the shortest form nft accepts.

import { isIPv4, isIPv6 } from "node:net";
import type { AddressFamily } from "./types.js";

export const MAX4 = (1n << 32n) - 1n;
export const MAX6 = (1n << 128n) - 1n;

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

function parse4(text: string): bigint {
  let value = 0n;
  for (const part of text.split(".")) value = (value << 8n) | BigInt(Number(part));
  return value;
}

function parse6(text: string): bigint {
  let t = text;
  // A trailing dotted quad ("::ffff:1.2.3.4") stands for the last two groups.
  const lastColon = t.lastIndexOf(":");
  const tail = t.slice(lastColon + 1);
  if (tail.includes(".")) {
    const v4 = Number(parse4(tail));
    t = `${t.slice(0, lastColon + 1)}${((v4 >>> 16) & 0xffff).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const double = t.indexOf("::");
  const head = double >= 0 ? t.slice(0, double) : t;
  const rest = double >= 0 ? t.slice(double + 2) : "";
  const headParts = head === "" ? [] : head.split(":");
  const restParts = rest === "" ? [] : rest.split(":");
  const fill = double >= 0 ? 8 - headParts.length - restParts.length : 0;
  const groups = [...headParts, ...new Array<string>(fill).fill("0"), ...restParts];
  let value = 0n;
  for (const g of groups) value = (value << 16n) | BigInt(parseInt(g, 16));
  return value;
}

/** Parses "a.b.c.d" or an IPv6 address, with an optional "/len" that is ignored. Returns undefined if malformed. */
export function parseAddress(text: string): ParsedAddress | undefined {
  const addr = text.trim().split("/")[0] ?? "";
  if (isIPv4(addr)) return { family: 4, value: parse4(addr) };
  if (isIPv6(addr)) return { family: 6, value: parse6(addr) };
  return undefined;
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
  if (family === 4) {
    return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 0xffn)).join(".");
  }
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((value >> BigInt(i * 16)) & 0xffffn));
  // RFC 5952: compress the longest run (>= 2) of zero groups, the first one on a tie.
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLen).join(":")}`;
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
