// IPv4 addresses as unsigned 32-bit numbers, and Contiv's subnet and range forms.

import { ValidationError } from "./errors.js";

const OCTET = /^(0|[1-9][0-9]{0,2})$/;

/** Dotted quad to uint32, or undefined. Leading zeros are refused (they read as octal elsewhere). */
export function tryParseIpv4(text: string): number | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!OCTET.test(part)) return undefined;
    const octet = Number(part);
    if (octet > 255) return undefined;
    value = value * 256 + octet;
  }
  return value;
}

/** Dotted quad to uint32; throws ValidationError. */
export function parseIpv4(text: string): number {
  const value = tryParseIpv4(text);
  if (value === undefined) throw new ValidationError(`invalid IPv4 address ${text}`);
  return value;
}

export function formatIpv4(value: number): string {
  return `${value >>> 24}.${(value >>> 16) & 0xff}.${(value >>> 8) & 0xff}.${value & 0xff}`;
}

/** Netmask of a prefix length 0..32 as uint32. */
export function prefixMask(prefixLen: number): number {
  return prefixLen === 0 ? 0 : (0xffffffff << (32 - prefixLen)) >>> 0;
}

export interface Ipv4Subnet {
  /** Network address (host bits zero). */
  network: number;
  prefixLen: number;
  /** Last address of the CIDR block. */
  broadcast: number;
  /** Allocatable range: the whole block, or the a-b of Contiv's range form. */
  first: number;
  last: number;
}

export const MIN_IPV4_PREFIX = 8;

const SUBNET = /^([0-9.]+)(?:-([0-9.]+))?\/([0-9]+)$/;

/**
 * Parses "a.b.c.d/len" or Contiv's range form "a.b.c.d-e.f.g.h/len" (only a..h
 * of the block may be allocated). Host bits in the plain form are ignored, as
 * in Contiv. Throws ValidationError with Contiv's texts.
 */
export function parseIpv4Subnet(text: string): Ipv4Subnet {
  const m = SUBNET.exec(text.trim());
  if (!m) throw new ValidationError(`invalid subnet ${text}`);
  const start = tryParseIpv4(m[1]!);
  const end = m[2] === undefined ? undefined : tryParseIpv4(m[2]);
  if (start === undefined || (m[2] !== undefined && end === undefined)) {
    throw new ValidationError(`invalid subnet ${text}`);
  }
  const prefixLen = Number(m[3]);
  if (prefixLen < MIN_IPV4_PREFIX || prefixLen > 32) {
    throw new ValidationError(`subnet length ${m[3]} not supported`);
  }
  const mask = prefixMask(prefixLen);
  const network = (start & mask) >>> 0;
  const broadcast = (network | ~mask) >>> 0;
  if (end === undefined) return { network, prefixLen, broadcast, first: network, last: broadcast };
  if (end < start || end > broadcast) throw new ValidationError("Network subnet format not valid");
  return { network, prefixLen, broadcast, first: start, last: end };
}

/**
 * The allocatable range of a subnet (the whole block, or a..h of the range
 * form), as Contiv compares networks for overlap. Throws ValidationError.
 */
export function subnetBounds(text: string): { first: number; last: number } {
  const { first, last } = parseIpv4Subnet(text);
  return { first, last };
}

/** "10.1.1.0/24" */
export function formatIpv4Subnet(subnet: Ipv4Subnet): string {
  return `${formatIpv4(subnet.network)}/${subnet.prefixLen}`;
}

export function ipv4SubnetContains(subnet: Ipv4Subnet, address: number): boolean {
  return address >= subnet.network && address <= subnet.broadcast;
}

export interface Ipv4Range {
  start: number;
  end: number;
}

/** "a-b" (or a single address "a", meaning a-a) with a <= b, or undefined. */
export function tryParseIpv4Range(text: string): Ipv4Range | undefined {
  const parts = text.trim().split("-");
  if (parts.length > 2) return undefined;
  const start = tryParseIpv4(parts[0]!);
  const end = parts.length === 2 ? tryParseIpv4(parts[1]!) : start;
  if (start === undefined || end === undefined || start > end) return undefined;
  return { start, end };
}

/** "a-b" */
export function formatIpv4Range(range: Ipv4Range): string {
  return `${formatIpv4(range.start)}-${formatIpv4(range.end)}`;
}
