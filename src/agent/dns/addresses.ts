// Address text ⇄ the bytes of A (4) and AAAA (16) record data.

import { formatIp, ipBytes, ipFromBytes, parseIp } from "../../lib/ip.js";

/** Bytes of an IPv4 or IPv6 address (A: 4 bytes, AAAA: 16), or undefined when it is neither. */
export function addressBytes(address: string): Uint8Array | undefined {
  const ip = parseIp(address);
  return ip === undefined ? undefined : ipBytes(ip);
}

/** Text of 4 or 16 address bytes; IPv6 in RFC 5952 form. */
export function formatAddress(bytes: Uint8Array): string {
  const ip = ipFromBytes(bytes);
  return formatIp(ip.family, ip.value);
}
