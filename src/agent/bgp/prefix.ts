// Address and prefix text in one canonical form, so that what we want, what gobgp reports and what
// `ip -json` prints compare as strings.

import { isIPv4 } from "node:net";
import { canonicalIp, formatIp, maskIp, parseIp } from "../../lib/ip.js";

export type Family = 4 | 6;

export { canonicalIp };

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
  const ip = maskIp(parseIp(address)!, length);
  return formatIp(ip.family, ip.value);
}
