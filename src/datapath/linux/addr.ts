// Address and name helpers shared by render and observe: both sides write addresses and
// MACs in one canonical text so that diff compares strings.

import { createHash } from "node:crypto";
import { isIPv4 } from "node:net";

import { canonicalIp, formatIp, maskIp, parseIp } from "../../lib/ip.js";

import type { Family } from "./state.js";

export { canonicalIp };

export function familyOf(address: string): Family {
  return isIPv4(address) ? 4 : 6;
}

/** "addr/len" → [canonical address, length], or null when malformed. */
export function parseCidr(text: string): [string, number] | null {
  const slash = text.indexOf("/");
  if (slash < 0) return null;
  const address = canonicalIp(text.slice(0, slash));
  const lenText = text.slice(slash + 1);
  if (address === null || !/^[0-9]{1,3}$/.test(lenText)) return null;
  const length = Number(lenText);
  if (length > (familyOf(address) === 4 ? 32 : 128)) return null;
  return [address, length];
}

/**
 * "network/len" of a canonical address and length: the host bits cleared, so that nft accepts the element
 * whatever host bits a subnet was written with.
 */
export function networkOf(address: string, length: number): string {
  const ip = maskIp(parseIp(address)!, length);
  return `${formatIp(ip.family, ip.value)}/${length}`;
}

export function canonicalCidr(text: string): string | null {
  const parsed = parseCidr(text);
  return parsed === null ? null : `${parsed[0]}/${parsed[1]}`;
}

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

export function canonicalMac(text: string): string | null {
  const mac = text.toLowerCase();
  return MAC.test(mac) ? mac : null;
}

/**
 * The gateway MAC of a network's bridge: locally administered, derived from the bridge name,
 * so it is the same on every host (anycast gateway) and survives restarts.
 */
export function gatewayMac(bridge: string): string {
  const hex = createHash("sha256").update(`netplugin-gateway:${bridge}`).digest("hex");
  const octets = ["02", ...[0, 2, 4, 6, 8].map((i) => hex.slice(i, i + 2))];
  return octets.join(":");
}

/** The ifb device that shapes what an endpoint sends: "ni" + the host link's hash part. */
export function ifbName(hostLink: string): string {
  return `ni${hostLink.slice(2)}`;
}
