// tenant: the top of the naming tree. Key `tenantName` (reference §1.2).

import { z } from "zod";
import { goString, NAME, NAME_OPT, objectKey } from "./common.js";
import { EndpointOper } from "./endpoint.js";
import { EndpointGroupOper } from "./endpointGroup.js";
import { NetworkOper } from "./network.js";
import { PolicyOper } from "./policy.js";
import { ServiceLBOper } from "./serviceLB.js";

const S = "Tenant";

export const Tenant = z.object({
  /** Stored, otherwise unused (as in the original). */
  defaultNetwork: goString(S, "defaultNetwork", { max: 64, pattern: NAME_OPT }),
  tenantName: goString(S, "tenantName", { max: 64, pattern: NAME }),
  key: objectKey,
});
export type Tenant = z.infer<typeof Tenant>;

export const TenantOper = z.object({
  endpointGroups: z.array(EndpointGroupOper).optional(),
  endpoints: z.array(EndpointOper).optional(),
  networks: z.array(NetworkOper).optional(),
  policies: z.array(PolicyOper).optional(),
  servicelbs: z.array(ServiceLBOper).optional(),
  totalAppProfiles: z.int().optional(),
  totalEPGs: z.int().optional(),
  totalEndpoints: z.int().optional(),
  totalNetprofiles: z.int().optional(),
  totalNetworks: z.int().optional(),
  totalPolicies: z.int().optional(),
  totalServicelbs: z.int().optional(),
});
export type TenantOper = z.infer<typeof TenantOper>;
