// Per-rule packet/byte counters of a tenant's policy flows, read from `ovs-ofctl dump-flows` text: every verdict
// flow of the JUDGE table carries its rule's number in the top 32 bits of its cookie (policy-flows.ts), so a
// rule's counter is the sum over its flows, as ruleCounters() sums nft's verdict-map elements. A packet judged in
// both directions counts once at each judging rule. Counters restart at zero when the flows are re-added. Pure.

import type { RuleCounter } from "../../policy/index.js";
import { ruleNumberOf, TENANT_COOKIE_MASK, tenantCookie } from "./policy-flows.js";

/**
 * Sums the counters of `dump-flows` lines (any filter; lines of other tenants and cookies are ignored) per rule
 * key. Every key of ruleKeys is in the result, with zeros if no flow of it counted anything.
 */
export function policyRuleCounters(dump: string, tenant: number, ruleKeys: readonly string[]): Map<string, RuleCounter> {
  const out = new Map<string, RuleCounter>(ruleKeys.map((k) => [k, { packets: 0, bytes: 0 }]));
  const ours = tenantCookie(tenant);
  for (const line of dump.split("\n")) {
    const cookie = line.match(/\bcookie=(0x[0-9a-f]+)/)?.[1];
    const packets = line.match(/\bn_packets=(\d+)/)?.[1];
    const bytes = line.match(/\bn_bytes=(\d+)/)?.[1];
    if (cookie === undefined || packets === undefined || bytes === undefined) continue;
    const c = BigInt(cookie);
    if ((c & TENANT_COOKIE_MASK) !== ours) continue;
    const key = ruleKeys[ruleNumberOf(c) - 1];
    const counter = key === undefined ? undefined : out.get(key);
    if (counter === undefined) continue;
    counter.packets += Number(packets);
    counter.bytes += Number(bytes);
  }
  return out;
}
