// policy: a named list of rules attached to endpoint groups. Key `tenantName:policyName`
// (reference §1.5).

import { z } from "zod";
import { goString, NAME, objectKey } from "./common.js";
import { EndpointOper } from "./endpoint.js";

const S = "Policy";

export const Policy = z.object({
  policyName: goString(S, "policyName", { max: 64, pattern: NAME }),
  tenantName: goString(S, "tenantName", { max: 64, pattern: NAME }),
  key: objectKey,
});
export type Policy = z.infer<typeof Policy>;

export const PolicyOper = z.object({
  endpoints: z.array(EndpointOper).optional(),
  numEndpoints: z.int().optional(),
  /** Declared by the original, never filled. */
  policyViolations: z.int().optional(),
});
export type PolicyOper = z.infer<typeof PolicyOper>;
