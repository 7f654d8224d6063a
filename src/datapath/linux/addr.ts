// Address and name helpers shared by render and observe: both sides write addresses and
// MACs in one canonical text so that diff compares strings.

import { createHash } from "node:crypto";
import { isIPv4, isIPv6 } from "node:net";

import type { Family } from "./state.js";

const STRICT_V4 = /^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$/;

/** Canonical text of an IP address (IPv6 compressed, lower case), or null when it is not one. */
export function canonicalIp(text: string): string | null {
  if (STRICT_V4.test(text)) return text;
  if (!isIPv6(text)) return null;
  // WHATWG URL serialises IPv6 hosts in RFC 5952 form.
  return new URL(`http://[${text}]/`).hostname.slice(1, -1);
}

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
  if (familyOf(address) === 4) {
    const value = address.split(".").reduce((acc, o) => acc * 256 + Number(o), 0);
    const base = length === 0 ? 0 : value - (value % 2 ** (32 - length));
    return `${[24, 16, 8, 0].map((shift) => Math.floor(base / 2 ** shift) % 256).join(".")}/${length}`;
  }
  const [head = "", tail = ""] = address.split("::");
  const part = (text: string): string[] => (text === "" ? [] : text.split(":"));
  const groups = [...part(head), ...Array<string>(8 - part(head).length - part(tail).length).fill("0"), ...part(tail)];
  const value = groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
  const hostBits = 128n - BigInt(length);
  const base = (value >> hostBits) << hostBits;
  const out: string[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) out.push(((base >> shift) & 0xffffn).toString(16));
  return `${canonicalIp(out.join(":"))}/${length}`;
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
