// Small checks for the values CNI carries as strings: addresses, prefixes, MACs and Contiv names.

import { isIP } from "node:net";

import { quoted } from "./wire.js";

/** 4 or 6 for an address without prefix ("198.18.0.1", "fd00::1"), else 0. */
export function ipFamily(s: string): 0 | 4 | 6 {
  const v = isIP(s);
  return v === 4 || v === 6 ? v : 0;
}

/** 4 or 6 for "address/len" with a prefix length that fits the family, else 0. */
export function cidrFamily(s: string): 0 | 4 | 6 {
  const slash = s.indexOf("/");
  if (slash < 0) return 0;
  const family = ipFamily(s.slice(0, slash));
  const len = s.slice(slash + 1);
  if (family === 0 || !/^(0|[1-9][0-9]{0,2})$/.test(len)) return 0;
  return Number(len) <= (family === 4 ? 32 : 128) ? family : 0;
}

/** 4 or 6 for an address with or without prefix, as static-IP requests come ("a" or "a/len"). */
export function ipOrCidrFamily(s: string): 0 | 4 | 6 {
  return s.includes("/") ? cidrFamily(s) : ipFamily(s);
}

/**
 * The MAC in canonical form ("02:00:c6:12:d5:32") or an explanation of why it is not usable on an
 * interface. Accepts ":" or "-" separators and either case.
 */
export function normalizeMac(s: string): { mac: string } | { problem: string } {
  if (!/^[0-9a-fA-F]{2}([:-][0-9a-fA-F]{2}){5}$/.test(s)) {
    return { problem: `${quoted(s)} is not a MAC address: want six hex octets like "02:00:c6:12:d5:32"` };
  }
  const mac = s.toLowerCase().replace(/-/g, ":");
  if (mac === "00:00:00:00:00:00") return { problem: `${quoted(s)} is the all-zero MAC address` };
  if ((parseInt(mac.slice(0, 2), 16) & 1) === 1) {
    return { problem: `${quoted(s)} is a multicast MAC address: an interface needs a unicast one` };
  }
  return { mac };
}

/**
 * Contiv's NAME rule for tenant, network and group names (DNS-label style, dots allowed), at most
 * 64 characters (reference/contiv.md §1.1).
 */
const NAME = /^(([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])\.)*([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])$/;

export function isContivName(s: string): boolean {
  return s.length <= 64 && NAME.test(s);
}

export const CONTIV_NAME_RULE =
  "want at most 64 letters, digits, '-' and '.', starting and ending each dot-separated label with a letter or digit";
