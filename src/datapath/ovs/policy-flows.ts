// The OpenFlow rendering of a tenant's compiled policy (PolicyTables, src/policy): the same lookups as the nft
// script (render.ts) and the same walk as tracePacket() (trace.ts), so both drivers judge alike and the cost per
// packet stays flat: address → group, (group, peer address) → class, (class, protocol, port) → verdict. Pure:
// the caller installs the lines (ovs-ofctl -O OpenFlow15 --bundle add-flows), and owns the tables around ours.
//
// Tables (TABLE.POLICY .. TABLE.POLICY_LAST; 32-39 are free). goto_table only goes forward, so the one JUDGE
// table both stages share is called with resubmit (which returns) and answers in reg4:
//   20 ENTRY        ICMPv6 neighbour discovery → DSCP; IPv4/IPv6 → ct(zone=tenant, table=CT)
//   21 CT           established or related (and not invalid) → DSCP; the rest is judged → PREP
//   22 PREP         reg2 := IP protocol, reg3 := destination port (tcp, udp, sctp; else 0)
//   23 OUT_GROUP    from the tunnel or the gateway namespace → IN_GROUP (the sender's host judged `out`; a
//                   routed packet's sender had them judged on its way to the gateway); source address → reg0 := its
//                   group, if that has `out` rules → OUT_PEER; else → IN_GROUP
//   24 OUT_PEER     (reg0 group, destination address) → reg1 := peer class (the group's noneClass if no prefix
//                   matches); resubmit JUDGE → OUT_VERDICT
//   25 OUT_VERDICT  reg4 = 1 → drop; else → IN_GROUP
//   26 IN_GROUP     destination address is a local endpoint whose group has `in` rules → reg0 := group → IN_PEER;
//                   else → COMMIT
//   27 IN_PEER      (reg0 group, source address) → reg1 := peer class; resubmit JUDGE → IN_VERDICT
//   28 IN_VERDICT   reg4 = 1 → drop; else → COMMIT
//   29 COMMIT       ct new → ct(commit, zone=tenant); → DSCP. Replies of a committed connection are established
//                   and pass at CT, whatever the reverse direction's rules say.
//   30 DSCP         from a local sender (not the tunnel, not the gateway): source address → set ip_dscp; → TABLE.POST_HOOK
//   31 JUDGE        (class, protocol, port) → reg4 := 1 deny, 0 allow or no element: ported exact, else ported
//                   any (tcp/udp/sctp only); port-less exact by family, else port-less any. Only via resubmit.
//
// Registers (scratch inside our tables only; every one is written before it is read, since the tables before
// ours may have left anything in them): reg0 group id, reg1 peer class, reg2 IP protocol, reg3 destination
// port, reg4 verdict (1 deny). Read only: TENANT_REG (matched on every flow, and the conntrack zone),
// FLAGS_REG (FLAG_FROM_TUNNEL, FLAG_FROM_GATEWAY). NETWORK_REG is not used: policy is per tenant.
//
// Cookies, and counters per rule: every flow's cookie is COOKIE in bits 0-15, the tenant in bits 16-31 and,
// on JUDGE flows, a rule number in bits 32-63 (0 on every other flow). `cookie=tenantCookie(t)/TENANT_COOKIE_MASK`
// selects exactly one tenant's policy flows (to delete or dump them); ruleKeys[n - 1] is the key of rule number
// n, so summing n_packets/n_bytes of `dump-flows table=31,cookie=…` (JUDGE) by (cookie >> 32) gives counters per rule,
// as ruleCounters() does for nft's verdict-map elements (one element, one winning rule).
//
// Flow records (flowRecords set): JUDGE flows also write their rule number to RULE_REG (reg9), and the drops of
// OUT_VERDICT and IN_VERDICT (mode "all": COMMIT's commit too) first learn a record into TABLE.FLOW_RECORDS and
// count the packet there (flow-record-flows.ts).
//
// Not rendered: PolicyTables.crossBridge (in fwdMode bridge the gateway namespace does not forward, and our flows
// send it only packets to its own addresses: gateway.ts).

import { parseIp } from "../../lib/ip.js";
import { lookupInterval } from "../../policy/intervals.js";
import { NFPROTO_IPV4, PORTED_PROTOCOLS } from "../../policy/normalize.js";
import { ND_TYPES } from "../../policy/trace.js";
import type { AddrInterval, GroupChain, JudgeElement, PolicyTables } from "../../policy/types.js";
import { intervalToCidrs } from "./cidrs.js";
import { recordActions, ruleNumberAction, type FlowRecordMode } from "./flow-record-flows.js";
import { COOKIE, FLAG_FROM_GATEWAY, FLAG_FROM_TUNNEL, FLAGS_REG, TABLE, TENANT_REG } from "./layout.js";

/** Our tables within TABLE.POLICY .. TABLE.POLICY_LAST. */
export const POLICY_TABLE = {
  ENTRY: TABLE.POLICY,
  CT: TABLE.POLICY + 1,
  PREP: TABLE.POLICY + 2,
  OUT_GROUP: TABLE.POLICY + 3,
  OUT_PEER: TABLE.POLICY + 4,
  OUT_VERDICT: TABLE.POLICY + 5,
  IN_GROUP: TABLE.POLICY + 6,
  IN_PEER: TABLE.POLICY + 7,
  IN_VERDICT: TABLE.POLICY + 8,
  COMMIT: TABLE.POLICY + 9,
  DSCP: TABLE.POLICY + 10,
  JUDGE: TABLE.POLICY + 11,
} as const;

/** Selects one tenant's policy flows together with tenantCookie(): `cookie=0x…/0xffffffff`. */
export const TENANT_COOKIE_MASK = 0xffffffffn;

/** The cookie of a tenant's policy flows without a rule (bits 0-15 COOKIE, 16-31 the tenant). */
export function tenantCookie(tenant: number): bigint {
  return (BigInt(tenant) << 16n) | BigInt(COOKIE);
}

/** The rule number a policy flow's cookie carries (0: none): an index + 1 into PolicyFlows.ruleKeys. */
export function ruleNumberOf(cookie: bigint): number {
  return Number(cookie >> 32n);
}

export interface PolicyFlowsInput {
  /** The tenant's number (1..65535): matched in TENANT_REG, and its conntrack zone. */
  tenant: number;
  tables: PolicyTables;
  /** Addresses of the tenant's endpoints on this host: only packets to them are judged by `in` rules here. */
  localIps: { ipv4: string[]; ipv6: string[] };
  /** Flow records to learn (flow-record-flows.ts); absent: none. */
  flowRecords?: FlowRecordMode;
}

export interface PolicyFlows {
  /** ovs-ofctl flow lines (OpenFlow 1.5), one flow each. */
  flows: string[];
  /** Rule keys by rule number - 1 (see ruleNumberOf()). */
  ruleKeys: string[];
}

const T = POLICY_TABLE;
const ZONE = `NXM_NX_${TENANT_REG.toUpperCase()}[0..15]`;
/** Senders whose `out` rules are not judged here: from the tunnel (their host did), from the gateway namespace (none). */
const NOT_JUDGED_OUT = [FLAG_FROM_TUNNEL, FLAG_FROM_GATEWAY].map((f) => `${FLAGS_REG}=${f}/${f}`);
/** OpenFlow names of the ported protocols' destination port, by protocol, for IPv4 and IPv6. */
const PORT_FIELDS: Record<number, [string, string, string]> = {
  6: ["tcp", "tcp6", "NXM_OF_TCP_DST[]"],
  17: ["udp", "udp6", "NXM_OF_UDP_DST[]"],
  132: ["sctp", "sctp6", "OXM_OF_SCTP_DST[]"],
};

const hex = (n: bigint) => `0x${n.toString(16)}`;

/** The flows of one tenant's policy; deterministic (same input, same lines in the same order). */
export function policyFlows(input: PolicyFlowsInput): PolicyFlows {
  const { tenant, tables: t, flowRecords } = input;
  if (!Number.isInteger(tenant) || tenant < 1 || tenant > 0xffff) throw new Error(`Tenant number ${tenant} is not in 1..65535`);
  const base = tenantCookie(tenant);
  const flows: string[] = [];
  const flow = (table: number, priority: number, match: string, actions: string, rule = 0) => {
    const cookie = base | (BigInt(rule) << 32n);
    flows.push(`cookie=${hex(cookie)},table=${table},priority=${priority},${TENANT_REG}=${tenant}${match === "" ? "" : `,${match}`},actions=${actions}`);
  };
  const goto = (table: number) => `goto_table:${table}`;
  const ipMatch = (family: 4 | 6, dir: "src" | "dst", cidr: string) => (family === 4 ? `ip,nw_${dir}=${cidr}` : `ipv6,ipv6_${dir}=${cidr}`);
  const byPrefix = (family: 4 | 6, list: readonly AddrInterval<number>[], each: (cidr: string, value: number) => void) => {
    for (const m of list) for (const cidr of intervalToCidrs(family, m.lo, m.hi)) each(cidr, m.value);
  };

  // ENTRY, CT, PREP: the same for every policy.
  for (const type of ND_TYPES) flow(T.ENTRY, 200, `icmp6,icmpv6_type=${type}`, goto(T.DSCP));
  flow(T.ENTRY, 100, "ip", `ct(table=${T.CT},zone=${ZONE})`);
  flow(T.ENTRY, 100, "ipv6", `ct(table=${T.CT},zone=${ZONE})`);
  flow(T.CT, 100, "ct_state=+trk+est-inv", goto(T.DSCP));
  flow(T.CT, 100, "ct_state=+trk+rel-inv", goto(T.DSCP));
  flow(T.CT, 0, "", goto(T.PREP));
  const prep = (extra: string) => `set_field:0->reg2,set_field:0->reg3,move:NXM_OF_IP_PROTO[]->NXM_NX_REG2[0..7]${extra},${goto(T.OUT_GROUP)}`;
  for (const proto of ["ip", "ipv6"]) flow(T.PREP, 0, proto, prep(""));
  for (const [v4, v6, field] of Object.values(PORT_FIELDS)) {
    for (const proto of [v4, v6]) flow(T.PREP, 10, proto, prep(`,move:${field}->NXM_NX_REG3[0..15]`));
  }

  // OUT_GROUP, OUT_PEER: the sender's `out` rules, unless its host judged them.
  for (const from of NOT_JUDGED_OUT) flow(T.OUT_GROUP, 200, from, goto(T.IN_GROUP));
  for (const family of [4, 6] as const) {
    const list = family === 4 ? t.outGroups4 : t.outGroups6;
    byPrefix(family, list.filter((m) => t.outChains.has(m.value)), (cidr, gid) =>
      flow(T.OUT_GROUP, 100, ipMatch(family, "src", cidr), `set_field:${gid}->reg0,${goto(T.OUT_PEER)}`),
    );
  }
  flow(T.OUT_GROUP, 0, "", goto(T.IN_GROUP));
  for (const chain of sorted(t.outChains)) peerFlows(chain, T.OUT_PEER, "dst", T.OUT_VERDICT);
  denyFlows(T.OUT_VERDICT);
  flow(T.OUT_VERDICT, 0, "", goto(T.IN_GROUP));

  // IN_GROUP, IN_PEER: the receiver's `in` rules, when the receiver is here.
  for (const family of [4, 6] as const) {
    const ips = family === 4 ? input.localIps.ipv4 : input.localIps.ipv6;
    const seen = new Set<bigint>();
    for (const text of ips) {
      const ip = parseIp(text.split("/")[0]!.trim());
      if (ip === undefined || ip.family !== family) throw new Error(`Local address "${text}" is not an IPv${family} address`);
      if (seen.has(ip.value)) continue;
      seen.add(ip.value);
      const gid = lookupInterval(family === 4 ? t.inGroups4 : t.inGroups6, ip.value);
      if (gid === undefined || !t.inChains.has(gid)) continue;
      const [cidr] = intervalToCidrs(family, ip.value, ip.value);
      flow(T.IN_GROUP, 100, ipMatch(family, "dst", cidr!), `set_field:${gid}->reg0,${goto(T.IN_PEER)}`);
    }
  }
  flow(T.IN_GROUP, 0, "", goto(T.COMMIT));
  for (const chain of sorted(t.inChains)) peerFlows(chain, T.IN_PEER, "src", T.IN_VERDICT);
  denyFlows(T.IN_VERDICT);
  flow(T.IN_VERDICT, 0, "", goto(T.COMMIT));

  // JUDGE: one flow per verdict element, carrying its rule's number.
  const ruleNumbers = new Map<string, number>();
  const ruleKeys: string[] = [];
  const DENY = "set_field:1->reg4";
  const ALLOW = "set_field:0->reg4";
  const judge = (priority: number, match: string, e: JudgeElement) => {
    let n = ruleNumbers.get(e.ruleKey);
    if (n === undefined) {
      ruleKeys.push(e.ruleKey);
      n = ruleKeys.length;
      ruleNumbers.set(e.ruleKey, n);
    }
    flow(T.JUDGE, priority, match, `${e.action === "deny" ? DENY : ALLOW}${flowRecords === undefined ? "" : `,${ruleNumberAction(n)}`}`, n);
  };
  for (const [key, e] of sortedEntries(t.portedExact)) {
    const [cls, proto, port] = key.split(".").map(Number);
    judge(300, `reg1=${cls},reg2=${proto},reg3=${port}`, e);
  }
  for (const [key, e] of sortedEntries(t.portedAny)) {
    const [cls, proto] = key.split(".").map(Number);
    judge(200, `reg1=${cls},reg2=${proto}`, e);
  }
  // A ported packet with no ported element has no verdict: it must not fall to the port-less ones.
  for (const proto of PORTED_PROTOCOLS) flow(T.JUDGE, 150, `reg2=${proto}`, ALLOW);
  for (const [key, e] of sortedEntries(t.portlessExact)) {
    const [cls, nf, proto] = key.split(".").map(Number);
    judge(100, `${nf === NFPROTO_IPV4 ? "ip" : "ipv6"},reg1=${cls},reg2=${proto}`, e);
  }
  for (const [key, e] of sortedEntries(t.portlessAny)) judge(50, `reg1=${key}`, e);
  flow(T.JUDGE, 0, "", ALLOW);

  // COMMIT, DSCP.
  for (const proto of ["ip", "ipv6"] as const) {
    const record = flowRecords === "all" ? `${recordActions(tenant, proto, "allow")},` : "";
    flow(T.COMMIT, 100, `${proto},ct_state=+trk+new`, `ct(commit,zone=${ZONE}),${record}${goto(T.DSCP)}`);
  }
  flow(T.COMMIT, 0, "", goto(T.DSCP));
  for (const from of NOT_JUDGED_OUT) flow(T.DSCP, 200, from, goto(TABLE.POST_HOOK));
  for (const family of [4, 6] as const) {
    byPrefix(family, family === 4 ? t.dscp4 : t.dscp6, (cidr, dscp) =>
      flow(T.DSCP, 100, ipMatch(family, "src", cidr), `set_field:${dscp}->ip_dscp,${goto(TABLE.POST_HOOK)}`),
    );
  }
  flow(T.DSCP, 0, "", goto(TABLE.POST_HOOK));
  return { flows, ruleKeys };

  /** reg4 = 1: drop, recorded first when records are on (learn needs the family in the match). */
  function denyFlows(table: number): void {
    if (flowRecords === undefined) flow(table, 100, "reg4=1", "drop");
    else for (const proto of ["ip", "ipv6"] as const) flow(table, 100, `${proto},reg4=1`, recordActions(tenant, proto, "deny"));
  }

  function peerFlows(chain: GroupChain, table: number, dir: "src" | "dst", verdict: number): void {
    const gid = `reg0=${chain.groupId}`;
    const judge = `resubmit(,${T.JUDGE}),${goto(verdict)}`;
    for (const family of [4, 6] as const) {
      byPrefix(family, family === 4 ? chain.peers4 : chain.peers6, (cidr, cls) =>
        flow(table, 100, `${gid},${ipMatch(family, dir, cidr)}`, `set_field:${cls}->reg1,${judge}`),
      );
    }
    flow(table, 10, gid, `set_field:${chain.noneClass}->reg1,${judge}`);
  }
}

function sorted(chains: Map<number, GroupChain>): GroupChain[] {
  return [...chains.values()].sort((a, b) => a.groupId - b.groupId);
}

function sortedEntries(m: Map<string, JudgeElement>): [string, JudgeElement][] {
  const num = (k: string) => k.split(".").map(Number);
  return [...m.entries()].sort(([a], [b]) => {
    const x = num(a);
    const y = num(b);
    for (let i = 0; i < Math.max(x.length, y.length); i++) {
      const d = (x[i] ?? -1) - (y[i] ?? -1);
      if (d !== 0) return d;
    }
    return 0;
  });
}
