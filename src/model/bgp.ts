// Bgp: the BGP peering of one host (routing + vlan mode). Key `hostname`, the netplugin host
// label (reference §1.12).

import { z } from "zod";
import { specialUse } from "../lib/ip-scope.js";
import { prefixMask, tryParseIpv4 } from "../lib/ipv4.js";
import { goString, IPV4_OR_EMPTY, NAME, objectKey, ONCE_FIELDS_ARE_VALID, ROUTER_IP } from "./common.js";

const S = "Bgp";

export const MAX_AS_NUMBER = 4_294_967_295;

/** A 4-byte AS number written in decimal ("65001"), or undefined. */
export function parseAsNumber(text: string): number | undefined {
  if (!/^[0-9]{1,10}$/.test(text)) return undefined;
  const value = Number(text);
  return value >= 1 && value <= MAX_AS_NUMBER ? value : undefined;
}

export const Bgp = z.object({
  /** Local AS number, as a string. */
  as: goString(S, "as", { max: 64 }),
  hostname: goString(S, "hostname", { max: 256, pattern: NAME }),
  neighbor: goString(S, "neighbor", { max: 15, pattern: IPV4_OR_EMPTY }),
  /** The JSON key has a dash, as in Contiv. */
  "neighbor-as": goString(S, "neighbor-as", { max: 64 }),
  /** The uplink address as a CIDR, e.g. "65.1.1.1/24". Required. */
  routerip: goString(S, "routerip", { pattern: ROUTER_IP }),
  key: objectKey,
}).superRefine((bgp, ctx) => {
  // Contiv accepted any text here and its agent found out; every field must be usable by the speaker.
  const problem = (path: string, message: string) => ctx.addIssue({ code: "custom", path: [path], message });
  for (const field of ["as", "neighbor-as"] as const) {
    if (parseAsNumber(bgp[field]) === undefined) problem(field, `${field} "${bgp[field]}" is not an AS number (1-${MAX_AS_NUMBER})`);
  }
  const [address = "", length = ""] = bgp.routerip.split("/");
  const router = tryParseIpv4(address);
  if (router === undefined) {
    problem("routerip", `routerip ${bgp.routerip}: give this host's own address as a.b.c.d/len (an address range is not one address)`);
  } else {
    const mask = prefixMask(Number(length));
    const hostBits = (router & ~mask) >>> 0;
    if (Number(length) < 31 && (hostBits === 0 || hostBits === (~mask >>> 0))) {
      problem("routerip", `routerip ${bgp.routerip} is the network or broadcast address of its subnet: give this host's own address`);
    }
    const special = specialUse(4, BigInt(router));
    if (special !== undefined) problem("routerip", `routerip ${bgp.routerip} is in ${special}`);
  }
  if (bgp.neighbor === "") problem("neighbor", "neighbor is required: the address of the router this host peers with");
  else if (bgp.neighbor === address) problem("neighbor", `neighbor ${bgp.neighbor} is this host's own routerip`);
  else {
    const special = specialUse(4, BigInt(tryParseIpv4(bgp.neighbor)!));
    if (special !== undefined) problem("neighbor", `neighbor ${bgp.neighbor} is in ${special}`);
  }
}, ONCE_FIELDS_ARE_VALID);
export type Bgp = z.infer<typeof Bgp>;

export const BgpOper = z.object({
  adminStatus: z.string().optional(),
  neighborStatus: z.string().optional(),
  numRoutes: z.int().optional(),
  routes: z.array(z.string()).optional(),
});
export type BgpOper = z.infer<typeof BgpOper>;
