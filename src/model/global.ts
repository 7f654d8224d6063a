// global: cluster-wide settings (forwarding and ARP mode, tag ranges, private subnet).
// A single object; key and name are always "global" (reference §1.10).

import { z } from "zod";
import { goEnum, goString, objectKey, PVT_SUBNET, VLAN_RANGE, VXLAN_RANGE } from "./common.js";

const S = "Global";

export const Global = z.object({
  arpMode: goEnum(S, "arpMode", ["proxy", "flood", ""], { max: 64 }),
  fwdMode: goEnum(S, "fwdMode", ["bridge", "routing", ""], { max: 64 }),
  name: goEnum(S, "name", ["global"], { max: 64 }),
  networkInfraType: goEnum(S, "networkInfraType", ["aci", "aci-opflex", "default", ""], { max: 64 }),
  /** Host-access subnet; must be a /16. Required. */
  pvtSubnet: goString(S, "pvtSubnet", { pattern: PVT_SUBNET }),
  /** One range `min-max`. Required. */
  vlans: goString(S, "vlans", { pattern: VLAN_RANGE }),
  /** One range `min-max`. Required. */
  vxlans: goString(S, "vxlans", { pattern: VXLAN_RANGE }),
  key: objectKey,
});
export type Global = z.infer<typeof Global>;

/** What the leader writes when no global object exists yet (reference §1.10). */
export const GLOBAL_DEFAULTS = {
  arpMode: "proxy",
  pvtSubnet: "172.19.0.0/16",
  vlans: "1-4094",
  vxlans: "1-10000",
} as const;

export const GlobalOper = z.object({
  /** docker | kubernetes | swarm-mode | test */
  clusterMode: z.string().optional(),
  defaultNetwork: z.string().optional(),
  freeVXLANsStart: z.int().optional(),
  numNetworks: z.int().optional(),
  /** e.g. "1-3, 300" */
  vlansInUse: z.string().optional(),
  vxlansInUse: z.string().optional(),
});
export type GlobalOper = z.infer<typeof GlobalOper>;
