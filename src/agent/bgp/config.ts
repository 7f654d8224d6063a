// The host's BGP settings (Contiv's Bgp object plus the prefixes to announce): checked and made
// canonical once, then rendered into the gobgpd config file. Both functions are pure.

import { z } from "zod";

import { ValidationError, type Issue } from "../../lib/errors.js";
import { MAX_AS_NUMBER, parseAsNumber } from "../../model/index.js";
import { addressOfCidr, canonicalIp, canonicalPrefix, familyOf } from "./prefix.js";

/** What the agent asks for, spelled as in Contiv's Bgp object (routerip "a.b.c.d/len", AS numbers as text). */
export const BgpConfig = z.object({
  /** This host's address on the underlay, "a.b.c.d/len" as in Contiv (a bare address is accepted). */
  routerIp: z.string(),
  as: z.string(),
  /** The peer router's address. */
  neighbor: z.string(),
  neighborAs: z.string(),
  /** Prefixes to announce, "a.b.c.d/32" or "x::y/128" (a bare address is a host prefix). */
  announce: z.array(z.string()),
  /**
   * Next hop for IPv6 prefixes. Default: the first global IPv6 address on the interface that reaches
   * the neighbor; with none, IPv6 prefixes are not announced (a kernel cannot route IPv6 via an IPv4
   * next hop).
   */
  routerIp6: z.string().optional(),
});
export type BgpConfig = z.infer<typeof BgpConfig>;

/** BgpConfig checked and canonical. */
export interface BgpSettings {
  /** Router id, local address of the session and next hop of IPv4 announcements. */
  routerId: string;
  localAs: number;
  neighbor: string;
  neighborAs: number;
  /** Canonical prefixes, sorted, without duplicates. */
  announce: string[];
  routerIp6?: string;
}

/** gobgpd knobs that are not part of Contiv's object. */
export interface DaemonSettings {
  /** BGP listen port; -1 disables listening (the speaker only connects out). */
  listenPort: number;
  /** Seconds between connection attempts to the neighbor. */
  connectRetrySec: number;
}

/** Checks a BgpConfig; throws ValidationError listing every bad field. */
export function parseBgpConfig(input: unknown): BgpSettings {
  const parsed = BgpConfig.safeParse(input);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({ path: i.path.join("."), message: i.message }));
    throw new ValidationError(`Invalid BGP config: ${issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`, issues);
  }
  const c = parsed.data;
  const issues: Issue[] = [];
  const routerId = addressOfCidr(c.routerIp.trim());
  if (routerId === null || familyOf(routerId) !== 4) {
    issues.push({ path: "routerIp", message: `"${c.routerIp}" is not an IPv4 address in a.b.c.d/len form` });
  }
  const neighbor = canonicalIp(c.neighbor.trim());
  if (neighbor === null) issues.push({ path: "neighbor", message: `"${c.neighbor}" is not an IP address` });
  const localAs = parseAs(c.as, "as", issues);
  const neighborAs = parseAs(c.neighborAs, "neighborAs", issues);
  const announce = new Set<string>();
  c.announce.forEach((text, i) => {
    const prefix = canonicalPrefix(text.trim());
    if (prefix === null) issues.push({ path: `announce.${i}`, message: `"${text}" is not a prefix` });
    else announce.add(prefix);
  });
  let routerIp6: string | undefined;
  if (c.routerIp6 !== undefined) {
    const address = canonicalIp(c.routerIp6.trim());
    if (address === null || familyOf(address) !== 6) {
      issues.push({ path: "routerIp6", message: `"${c.routerIp6}" is not an IPv6 address` });
    } else routerIp6 = address;
  }
  if (issues.length > 0 || routerId === null || neighbor === null) {
    throw new ValidationError(`Invalid BGP config: ${issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`, issues);
  }
  return {
    routerId,
    localAs,
    neighbor,
    neighborAs,
    announce: [...announce].sort(),
    ...(routerIp6 === undefined ? {} : { routerIp6 }),
  };
}

function parseAs(text: string, path: string, issues: Issue[]): number {
  const value = parseAsNumber(text.trim());
  if (value === undefined) issues.push({ path, message: `"${text}" is not an AS number (1-${MAX_AS_NUMBER})` });
  return value ?? 0;
}

/**
 * The gobgpd config file (TOML). It holds only what needs a restart to change (AS, router id,
 * neighbor, timers); routes are added over the API, so changing them never rewrites this file.
 */
export function renderGobgpdConfig(s: BgpSettings, d: DaemonSettings): string {
  const q = (text: string) => JSON.stringify(text);
  const lines = [
    "# Written by the netplugin agent (routing mode); rewritten and gobgpd restarted when it changes.",
    "[global.config]",
    `  as = ${s.localAs}`,
    `  router-id = ${q(s.routerId)}`,
    `  port = ${d.listenPort}`,
    "",
    "[[neighbors]]",
    "  [neighbors.config]",
    `    neighbor-address = ${q(s.neighbor)}`,
    `    peer-as = ${s.neighborAs}`,
    "  [neighbors.timers.config]",
    `    connect-retry = ${d.connectRetrySec}`,
  ];
  // The session's source is the router address, so that the peer sees the address it was told about.
  if (familyOf(s.neighbor) === 4) lines.push("  [neighbors.transport.config]", `    local-address = ${q(s.routerId)}`);
  for (const family of ["ipv4-unicast", "ipv6-unicast"]) {
    lines.push("  [[neighbors.afi-safis]]", "    [neighbors.afi-safis.config]", `      afi-safi-name = ${q(family)}`);
  }
  return `${lines.join("\n")}\n`;
}
