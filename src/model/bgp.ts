// Bgp: the BGP peering of one host (routing + vlan mode). Key `hostname`, the netplugin host
// label (reference §1.12).

import { z } from "zod";
import { goString, IPV4_OR_EMPTY, NAME, objectKey, ROUTER_IP } from "./common.js";

const S = "Bgp";

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
});
export type Bgp = z.infer<typeof Bgp>;

export const BgpOper = z.object({
  adminStatus: z.string().optional(),
  neighborStatus: z.string().optional(),
  numRoutes: z.int().optional(),
  routes: z.array(z.string()).optional(),
});
export type BgpOper = z.infer<typeof BgpOper>;
