// global: cluster-wide settings (forwarding and ARP mode, tag ranges, private subnet, SDN controller).
// A single object; key and name are always "global" (reference §1.10).

import { z } from "zod";
import { specialOverlap } from "../lib/ip-scope.js";
import { tryParseIpv4 } from "../lib/ipv4.js";
import { sdnControllerProblem } from "./sdn-controller.js";
import { goEnum, goString, objectKey, ONCE_FIELDS_ARE_VALID, PVT_SUBNET, VLAN_RANGE, VXLAN_RANGE } from "./common.js";

const S = "Global";

export const Global = z.object({
  arpMode: goEnum(S, "arpMode", ["proxy", "flood", ""], { max: 64 }),
  fwdMode: goEnum(S, "fwdMode", ["bridge", "routing", ""], { max: 64 }),
  name: goEnum(S, "name", ["global"], { max: 64 }),
  networkInfraType: goEnum(S, "networkInfraType", ["aci", "aci-opflex", "default", ""], { max: 64 }),
  /** Host-access subnet; must be a /16. Required. */
  pvtSubnet: goString(S, "pvtSubnet", { pattern: PVT_SUBNET }),
  /**
   * Not Contiv's: the SDN controller every host's Open vSwitch bridge connects to, tcp:IP:PORT or ssl:IP:PORT
   * (sdn-controller.ts); "" (the default) is none. An agent's --ovs-controller overrides it on its host; a
   * host on the Linux datapath cannot use one and reports it as not applied.
   */
  sdnController: goString(S, "sdnController", { max: 256 }).check((payload) => {
    const problem = sdnControllerProblem(payload.value);
    if (problem !== undefined) payload.issues.push({ code: "custom", input: payload.value, message: `sdnController "${payload.value}" is invalid: ${problem}` });
  }),
  /** One range `min-max`. Required. */
  vlans: goString(S, "vlans", { pattern: VLAN_RANGE }),
  /** One range `min-max`. Required. */
  vxlans: goString(S, "vxlans", { pattern: VXLAN_RANGE }),
  key: objectKey,
}).superRefine((g, ctx) => {
  // The tenants' uplinks take their /30s from it: a whole /16 of ordinary (or link-local) addresses.
  const start = tryParseIpv4(g.pvtSubnet.split("/")[0] ?? "")!;
  const special = g.pvtSubnet.startsWith("169.254.") ? undefined : specialOverlap(4, BigInt(start), BigInt(start + 0xffff));
  const problem =
    start % 0x10000 !== 0 ? `pvtSubnet ${g.pvtSubnet} is not where a /16 starts: give it as a.b.0.0/16`
    : special !== undefined ? `pvtSubnet ${g.pvtSubnet} overlaps ${special}`
    : undefined;
  if (problem !== undefined) ctx.addIssue({ code: "custom", path: ["pvtSubnet"], message: problem });
}, ONCE_FIELDS_ARE_VALID);
export type Global = z.infer<typeof Global>;

/**
 * What the leader writes when no global object exists yet (reference §1.10). pvtSubnet is where tenant uplinks
 * take their addresses from; Contiv's 172.19.0.0/16 is one of the blocks Docker gives its own networks, so ours
 * is the link-local block, which no network of anyone's may use.
 */
export const GLOBAL_DEFAULTS = {
  arpMode: "proxy",
  pvtSubnet: "169.254.0.0/16",
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
