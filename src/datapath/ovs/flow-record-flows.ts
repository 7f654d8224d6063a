// Flow records on the OVS datapath, aggregated inside Open vSwitch: where the policy decides (a deny at OUT_VERDICT
// or IN_VERDICT, a committed new connection at COMMIT in mode "all"), the packet `learn`s a flow into
// TABLE.FLOW_RECORDS that matches its tenant, the rule that decided (RULE_REG), its addresses, IP protocol and
// destination port (reg3, 0 where it has none), then `resubmit`s there, so that flow's n_packets counts the
// attempts and its idle_timeout ages it out. The learned flow's cookie names the tenant and the verdict
// (flowRecordCookie); flow-records.ts reads them back. Pure: action text for policy-flows.ts.
//
// OVS adds a learned flow in a new version of its classifier, which the translation that learned it does not see:
// the first packet of a record finds no flow (the table's miss, counted in its `lookup - matched` stats) and each
// later one counts, so a record's attempts are its n_packets + 1. Memory is bounded by the table's flow_limit, with
// eviction of the least recently seen record of the tenant that has most (flow-record-table.ts).

import { FLOW_RECORD_COOKIE, RULE_REG, TABLE, TENANT_REG } from "./layout.js";

/** What --flow-records asks of the datapath when it is not off: denied attempts, or allowed new connections too. */
export type FlowRecordMode = "denied" | "all";

export type FlowVerdict = "deny" | "allow";

/** Seconds a record stays without a new attempt: the agent polls far more often than that. */
export const FLOW_RECORD_IDLE_SECONDS = 120;

/** The verdict's code in bits 32-39 of a record's cookie. */
export const VERDICT_CODE: Record<FlowVerdict, bigint> = { deny: 1n, allow: 2n };

/** A record's cookie: FLOW_RECORD_COOKIE in bits 0-15, the tenant in 16-31, the verdict's code in 32-39. */
export function flowRecordCookie(tenant: number, verdict: FlowVerdict): bigint {
  return (VERDICT_CODE[verdict] << 32n) | (BigInt(tenant) << 16n) | BigInt(FLOW_RECORD_COOKIE);
}

/** Selects every record of one tenant, both verdicts (`cookie=…/…` of ovs-ofctl del-flows or dump-flows). */
export function tenantRecordsCookie(tenant: number): string {
  return `0x${((BigInt(tenant) << 16n) | BigInt(FLOW_RECORD_COOKIE)).toString(16)}/0xffffffff`;
}

const reg = (name: string) => `NXM_NX_${name.toUpperCase()}[]`;
const ADDRESSES = { ip: ["0x800", "NXM_OF_IP_SRC[]", "NXM_OF_IP_DST[]"], ipv6: ["0x86dd", "NXM_NX_IPV6_SRC[]", "NXM_NX_IPV6_DST[]"] } as const;

/**
 * The actions that record a packet of family `family` (a flow matching `ip` or `ipv6`: learn needs the addresses'
 * prerequisites in the learning flow's match) under `verdict`, to put before the flow's own verdict (drop, or on to
 * the next table). A deny's rule number is in RULE_REG (the JUDGE flow that denied wrote it); an allowed one is
 * recorded with rule 0, since the rules of both ends may have passed it: the agent finds the rule.
 */
export function recordActions(tenant: number, family: "ip" | "ipv6", verdict: FlowVerdict): string {
  const [ethType, src, dst] = ADDRESSES[family];
  const cookie = `0x${flowRecordCookie(tenant, verdict).toString(16)}`;
  const learn =
    `learn(table=${TABLE.FLOW_RECORDS},idle_timeout=${FLOW_RECORD_IDLE_SECONDS},priority=100,cookie=${cookie},eth_type=${ethType},` +
    `${reg(TENANT_REG)},${reg(RULE_REG)},NXM_NX_REG3[],NXM_OF_IP_PROTO[],${src},${dst})`;
  return `${verdict === "allow" ? `set_field:0->${RULE_REG},` : ""}${learn},resubmit(,${TABLE.FLOW_RECORDS})`;
}

/** The JUDGE flow's extra action while records are on: its rule number into RULE_REG. */
export function ruleNumberAction(rule: number): string {
  return `set_field:${rule}->${RULE_REG}`;
}
