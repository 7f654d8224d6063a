// endpointGroup: a set of endpoints on one network sharing policy and QoS.
// Key `tenantName:groupName` (reference §1.4).

import { z } from "zod";
import { goString, goStrings, IP_POOL, NAME, NAME_OR_EMPTY, objectKey } from "./common.js";
import { EndpointOper } from "./endpoint.js";

const S = "EndpointGroup";

export const EndpointGroup = z.object({
  /** "" → the derived tag `<group>.<tenant>`. */
  cfgdTag: goString(S, "cfgdTag", { max: 128, pattern: NAME_OR_EMPTY }),
  /** Names of extContractsGroups of the same tenant. */
  extContractsGrps: goStrings(S, "extContractsGrps"),
  groupName: goString(S, "groupName", { max: 64, pattern: NAME }),
  /** "", one address, or `first-last` inside the network's subnet. */
  ipPool: goString(S, "ipPool", { pattern: IP_POOL }),
  /** A netprofile name of the same tenant; no format rule in the original. */
  netProfile: goString(S, "netProfile", { max: 64 }),
  networkName: goString(S, "networkName", { max: 64, pattern: NAME }),
  /** Policy names of the same tenant. */
  policies: goStrings(S, "policies"),
  tenantName: goString(S, "tenantName", { max: 64, pattern: NAME }),
  key: objectKey,
});
export type EndpointGroup = z.infer<typeof EndpointGroup>;

export const EndpointGroupOper = z.object({
  allocatedIPAddresses: z.string().optional(),
  availableIPAddresses: z.string().optional(),
  endpoints: z.array(EndpointOper).optional(),
  externalPktTag: z.int().optional(),
  groupTag: z.string().optional(),
  numEndpoints: z.int().optional(),
  pktTag: z.int().optional(),
});
export type EndpointGroupOper = z.infer<typeof EndpointGroupOper>;
