// IPv6 addresses as 128-bit bigints, and subnets in text form ("2001:db8::/64").

import { ValidationError } from "./errors.js";
import { formatIp, MAX6, parseIp } from "./ip.js";

/** RFC 4291 text form (with "::" and a trailing dotted quad) to bigint, or undefined. Zones are refused. */
export function tryParseIpv6(text: string): bigint | undefined {
  const ip = text.includes("%") ? undefined : parseIp(text);
  return ip?.family === 6 ? ip.value : undefined;
}

export function parseIpv6(text: string): bigint {
  const value = tryParseIpv6(text);
  if (value === undefined) throw new ValidationError(`invalid IPv6 address ${text}`);
  return value;
}

/** RFC 5952 canonical text (lib/ip.ts formatIp), except an IPv4-mapped address, which keeps its dotted quad (as Go prints it). */
export function formatIpv6(value: bigint): string {
  if (value >> 32n === 0xffffn) {
    const v4 = Number(value & 0xffffffffn);
    return `::ffff:${v4 >>> 24}.${(v4 >>> 16) & 0xff}.${(v4 >>> 8) & 0xff}.${v4 & 0xff}`;
  }
  return formatIp(6, value);
}

export interface Ipv6Subnet {
  network: bigint;
  prefixLen: number;
}

/** "2001:db8::/64", prefix 1..128; host bits are ignored. Throws ValidationError. */
export function parseIpv6Subnet(text: string): Ipv6Subnet {
  const slash = text.indexOf("/");
  const address = slash < 0 ? undefined : tryParseIpv6(text.slice(0, slash));
  const lenText = slash < 0 ? "" : text.slice(slash + 1);
  if (address === undefined || !/^[0-9]{1,3}$/.test(lenText)) throw new ValidationError(`invalid ipv6 subnet ${text}`);
  const prefixLen = Number(lenText);
  if (prefixLen < 1 || prefixLen > 128) throw new ValidationError(`subnet length ${lenText} not supported`);
  const hostMask = (1n << BigInt(128 - prefixLen)) - 1n;
  return { network: address & (MAX6 ^ hostMask), prefixLen };
}

export function formatIpv6Subnet(subnet: Ipv6Subnet): string {
  return `${formatIpv6(subnet.network)}/${subnet.prefixLen}`;
}

/** First and last address of an IPv6 subnet, for overlap checks. Throws ValidationError. */
export function ipv6SubnetBounds(text: string): { first: bigint; last: bigint } {
  const { network, prefixLen } = parseIpv6Subnet(text);
  return { first: network, last: network + (1n << BigInt(128 - prefixLen)) - 1n };
}
