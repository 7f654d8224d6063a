// Address checks with the semantics of Go's net.ParseIP / net.ParseCIDR, which Contiv's netctl used
// for its client-side checks (IPv4 dotted quads without leading zeros, or IPv6; no zone suffix).

import { isIP } from "node:net";

/** Go's net.ParseIP(s) != nil. */
export function isGoIP(s: string): boolean {
  return !s.includes("%") && isIP(s) !== 0;
}

/** Go's net.ParseCIDR(s) succeeds: an address, "/", and a decimal prefix length that fits it. */
export function isGoCIDR(s: string): boolean {
  const slash = s.lastIndexOf("/");
  if (slash < 0) return false;
  const addr = s.slice(0, slash);
  const len = s.slice(slash + 1);
  if (!isGoIP(addr) || !/^(0|[1-9][0-9]{0,2})$/.test(len)) return false;
  return Number(len) <= (isIP(addr) === 4 ? 32 : 128);
}
