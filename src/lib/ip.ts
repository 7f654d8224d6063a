// IPv4 and IPv6 addresses as integers: bigint for both families, so callers
// that compare, mask or count addresses have one code path. Text goes in
// through Node's own validation and comes out in RFC 5952 form.

import { isIPv4, isIPv6 } from "node:net";

export type IpFamily = 4 | 6;

export interface IpValue {
  family: IpFamily;
  value: bigint;
}

export const MAX4 = (1n << 32n) - 1n;
export const MAX6 = (1n << 128n) - 1n;

export function bitsOf(family: IpFamily): number {
  return family === 4 ? 32 : 128;
}

function parse4(text: string): bigint {
  let value = 0n;
  for (const part of text.split(".")) value = (value << 8n) | BigInt(Number(part));
  return value;
}

function parse6(text: string): bigint {
  let t = text.split("%")[0]!;
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
  let value = 0n;
  for (const g of [...headParts, ...new Array<string>(fill).fill("0"), ...restParts]) value = (value << 16n) | BigInt(parseInt(g, 16));
  return value;
}

/** An address without prefix ("198.18.0.1", "fd00::1", a zone is ignored), or undefined when it is none. */
export function parseIp(text: string): IpValue | undefined {
  if (isIPv4(text)) return { family: 4, value: parse4(text) };
  if (isIPv6(text)) return { family: 6, value: parse6(text) };
  return undefined;
}

/** Text of an address: dotted quad, or IPv6 with the longest run (>= 2) of zero groups as "::", the first on a tie. */
export function formatIp(family: IpFamily, value: bigint): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 0xffn)).join(".");
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((value >> BigInt(i * 16)) & 0xffffn));
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

/** Network order bytes of an address: 4 or 16. */
export function ipBytes(ip: IpValue): Uint8Array {
  const length = bitsOf(ip.family) / 8;
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = Number((ip.value >> BigInt((length - 1 - i) * 8)) & 0xffn);
  return out;
}

/** The address of 4 or 16 network order bytes. */
export function ipFromBytes(bytes: Uint8Array): IpValue {
  if (bytes.length !== 4 && bytes.length !== 16) throw new RangeError(`Cannot read an address of ${bytes.length} bytes`);
  let value = 0n;
  for (const b of bytes) value = (value << 8n) | BigInt(b);
  return { family: bytes.length === 4 ? 4 : 6, value };
}

/**
 * Canonical text of an address without prefix: IPv4 as is, IPv6 compressed and lower case (RFC 5952, an
 * IPv4-mapped tail as two hex groups); null when it is none (a zone index included).
 */
export function canonicalIp(text: string): string | null {
  if (text.includes("%")) return null;
  const ip = parseIp(text);
  return ip === undefined ? null : formatIp(ip.family, ip.value);
}

/** The first address of the prefix `length` that holds `ip`: its host bits cleared. */
export function maskIp(ip: IpValue, length: number): IpValue {
  const hostBits = BigInt(bitsOf(ip.family) - length);
  return { family: ip.family, value: (ip.value >> hostBits) << hostBits };
}

/** The address part of "address/len" (or the text itself when it has no length), unchecked. */
export function withoutLength(text: string): string {
  return text.split("/")[0] ?? "";
}
