// Address and prefix text in one canonical form, so that what we want, what gobgp reports and what
// `ip -json` prints compare as strings.

import { isIPv4, isIPv6 } from "node:net";

export type Family = 4 | 6;

/** Canonical text of an IP address (IPv6 compressed and lower case, RFC 5952), or null when it is not one. */
export function canonicalIp(text: string): string | null {
  if (isIPv4(text)) return text;
  if (!isIPv6(text)) return null;
  // WHATWG URL serialises IPv6 hosts in RFC 5952 form (an IPv4-mapped tail becomes two hex groups).
  return new URL(`http://[${text}]/`).hostname.slice(1, -1);
}

export function familyOf(address: string): Family {
  return isIPv4(address) ? 4 : 6;
}

/**
 * "addr/len" (or a bare address, taken as a host prefix) → canonical "network/len" with the host bits
 * cleared, as a BGP speaker stores it; null when malformed.
 */
export function canonicalPrefix(text: string): string | null {
  const slash = text.indexOf("/");
  const address = canonicalIp(slash < 0 ? text : text.slice(0, slash));
  if (address === null) return null;
  const bits = familyOf(address) === 4 ? 32 : 128;
  const lenText = slash < 0 ? String(bits) : text.slice(slash + 1);
  if (!/^[0-9]{1,3}$/.test(lenText)) return null;
  const length = Number(lenText);
  if (length > bits) return null;
  return `${maskAddress(address, length)}/${length}`;
}

/** The address part of "addr/len" (Contiv's routerip), canonical; null when malformed. */
export function addressOfCidr(text: string): string | null {
  const slash = text.indexOf("/");
  if (slash >= 0 && !/^[0-9]{1,3}$/.test(text.slice(slash + 1))) return null;
  return canonicalIp(slash < 0 ? text : text.slice(0, slash));
}

/** A prefix as `ip -json route` prints its dst: host routes without the length, "default" for /0. */
export function prefixFromRouteDst(dst: string, family: Family): string | null {
  if (dst === "default") return family === 4 ? "0.0.0.0/0" : "::/0";
  return canonicalPrefix(dst);
}

export function isLinkLocal(address: string): boolean {
  return familyOf(address) === 6 && /^fe[89ab][0-9a-f]:/i.test(address);
}

/** "::ffff:a.b.c.d" (in any spelling) → "a.b.c.d"; null when the address is not IPv4-mapped. */
export function unmapIpv4(address: string): string | null {
  const canonical = canonicalIp(address);
  if (canonical === null || familyOf(canonical) !== 6) return null;
  const m = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(canonical);
  if (m === null) return null;
  const hi = parseInt(m[1] ?? "0", 16);
  const lo = parseInt(m[2] ?? "0", 16);
  return [hi >> 8, hi & 255, lo >> 8, lo & 255].join(".");
}

function maskAddress(address: string, length: number): string {
  if (familyOf(address) === 4) {
    const value = address.split(".").reduce((acc, octet) => (acc << 8n) | BigInt(octet), 0n);
    const masked = value & mask(32, length);
    return [24n, 16n, 8n, 0n].map((shift) => String((masked >> shift) & 255n)).join(".");
  }
  const value = ipv6ToBigInt(address) & mask(128, length);
  const groups: string[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) groups.push(((value >> shift) & 0xffffn).toString(16));
  return canonicalIp(groups.join(":")) ?? address;
}

function mask(bits: number, length: number): bigint {
  const all = (1n << BigInt(bits)) - 1n;
  return length === 0 ? 0n : (all >> BigInt(bits - length)) << BigInt(bits - length);
}

function ipv6ToBigInt(address: string): bigint {
  // Expand "::" and a dotted IPv4 tail into eight 16-bit groups.
  let text = address;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted?.[1] !== undefined) {
    const o = dotted[1].split(".").map(Number);
    text = text.slice(0, -dotted[1].length) + `${(((o[0] ?? 0) << 8) | (o[1] ?? 0)).toString(16)}:${(((o[2] ?? 0) << 8) | (o[3] ?? 0)).toString(16)}`;
  }
  const [head = "", tail] = text.split("::");
  const headGroups = head === "" ? [] : head.split(":");
  const tailGroups = tail === undefined || tail === "" ? [] : tail.split(":");
  const zeros = tail === undefined ? 0 : 8 - headGroups.length - tailGroups.length;
  const groups = [...headGroups, ...Array<string>(zeros).fill("0"), ...tailGroups];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}
