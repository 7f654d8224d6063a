// rule: one allow/deny entry of a policy. Key `tenantName:policyName:ruleId` (reference §1.6).
// Which from/to fields may be combined depends on the direction; that is checked by the master
// (it needs no state, but the original reports it after the field checks, from its callback).

import { z } from "zod";
import { goEnum, goInt, goString, NAME, NAME_OPT, objectKey, PROTOCOL, RULE_IP } from "./common.js";

const S = "Rule";

export const MAX_RULE_PRIORITY = 100;

export const Rule = z.object({
  action: goEnum(S, "action", ["allow", "deny"]),
  direction: goEnum(S, "direction", ["in", "out"]),
  fromEndpointGroup: goString(S, "fromEndpointGroup", { max: 64, pattern: NAME_OPT }),
  /** An address, `a.b.c.d-e` or a CIDR. The range form passes here but the datapath ignores it. */
  fromIpAddress: goString(S, "fromIpAddress", { pattern: RULE_IP }),
  fromNetwork: goString(S, "fromNetwork", { max: 64, pattern: NAME_OPT }),
  policyName: goString(S, "policyName", { max: 64, pattern: NAME }),
  /** 0 = any port. */
  port: goInt(S, "port", { max: 65535 }),
  /** 1-100, higher wins; 0 (or absent) → 1, as in the original. */
  priority: goInt(S, "priority", { min: 1, max: MAX_RULE_PRIORITY, zeroAs: 1 }),
  /** tcp, udp, icmp, "" (any IP protocol) or an IP protocol number. */
  protocol: goString(S, "protocol", { pattern: PROTOCOL }),
  ruleId: goString(S, "ruleId", { max: 64, pattern: NAME }),
  tenantName: goString(S, "tenantName", { max: 64, pattern: NAME }),
  toEndpointGroup: goString(S, "toEndpointGroup", { max: 64, pattern: NAME_OPT }),
  toIpAddress: goString(S, "toIpAddress", { pattern: RULE_IP }),
  toNetwork: goString(S, "toNetwork", { max: 64, pattern: NAME_OPT }),
  key: objectKey,
});
export type Rule = z.infer<typeof Rule>;
