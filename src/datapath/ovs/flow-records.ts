// Reading the flow records OVS aggregated (flow-record-flows.ts) back: `ovs-ofctl -O OpenFlow15 dump-flows BRIDGE
// table=FLOW_RECORDS` prints one learned flow per record, e.g.
//
//   cookie=0x1002a6e71, duration=3.2s, table=50, n_packets=2, n_bytes=148, idle_timeout=120, idle_age=1,
//   priority=100,tcp,reg3=0x50,reg6=0x2a,reg9=0x3,nw_src=198.18.0.1,nw_dst=198.18.0.2 actions=drop
//
// The cookie gives the tenant's number and the verdict, reg9 the rule number (ruleKeys[n - 1] of the tenant's
// policy flows, policy-flows.ts), reg3 the destination port; the protocol is a name OVS prints for the common ones
// (tcp, udp, sctp, icmp and their IPv6 forms) and nw_proto otherwise. The parser is pure and skips anything that
// is not a record of a tenant it is given (other tables' lines, another tenant, a rule number its policy no
// longer has). `dump-tables` gives how many records the table made (its misses: flow-record-table.ts).

import { parseIp } from "../../lib/ip.js";
import type { Executor } from "../../lib/process.js";
import { allowingRule, type CompiledPolicy } from "../../policy/index.js";
import type { CountedFlow } from "../driver.js";
import { FLOW_RECORD_IDLE_SECONDS, VERDICT_CODE, type FlowVerdict } from "./flow-record-flows.js";
import { FLOW_RECORD_COOKIE, TABLE } from "./layout.js";

/** One record: attempts of one (tenant, verdict, rule, src, dst, proto, dport) that OVS counted. */
export interface OvsFlowRecord {
  /** The tenant's name. */
  tenant: string;
  verdict: FlowVerdict;
  /** "policy:ruleId" of the rule that denied; null for allowed records (the agent finds their rule). */
  rule: string | null;
  src: string;
  dst: string;
  proto: number;
  /** 0 for protocols without ports. */
  dport: number;
  /** Attempts: the learned flow's n_packets, plus the first, which learned it and which it did not see. */
  packets: number;
  /** Seconds since the last attempt (whole seconds, as OVS prints them). */
  idleSeconds: number;
  /** Seconds since the first attempt. */
  ageSeconds: number;
}

/** A tenant as its policy flows were rendered: its name and its rule keys ("tenant:policy:ruleId") by number - 1. */
export interface RecordTenant {
  name: string;
  ruleKeys: readonly string[];
}

/** Protocol names ovs-ofctl prints instead of nw_proto, by family. */
const NAMED: Record<string, { family: 4 | 6; proto?: number }> = {
  ip: { family: 4 },
  ipv6: { family: 6 },
  icmp: { family: 4, proto: 1 },
  igmp: { family: 4, proto: 2 },
  tcp: { family: 4, proto: 6 },
  udp: { family: 4, proto: 17 },
  sctp: { family: 4, proto: 132 },
  icmp6: { family: 6, proto: 58 },
  tcp6: { family: 6, proto: 6 },
  udp6: { family: 6, proto: 17 },
  sctp6: { family: 6, proto: 132 },
};

const CODES = new Map(Object.entries(VERDICT_CODE).map(([verdict, code]) => [code, verdict as FlowVerdict]));

/** A number as ovs-ofctl prints it (decimal or 0x hex), within 0..max; undefined otherwise. */
function numberOf(text: string | undefined, max: number): number | undefined {
  if (text === undefined || !/^(0x[0-9a-f]+|\d+)$/.test(text)) return undefined;
  const n = Number(text);
  return n <= max ? n : undefined;
}

/** Seconds as duration=1.057s or idle_age=3 print them. */
function secondsOf(text: string | undefined): number | undefined {
  const m = text === undefined ? null : /^(\d+(?:\.\d+)?)s?$/.exec(text);
  return m === null ? undefined : Number(m[1]);
}

/** The records of `dump` (dump-flows text), of the given tenants (by number) only. */
export function parseFlowRecords(dump: string, tenants: ReadonlyMap<number, RecordTenant>): OvsFlowRecord[] {
  const records: OvsFlowRecord[] = [];
  for (const line of dump.split("\n")) {
    const record = parseLine(line, tenants);
    if (record !== undefined) records.push(record);
  }
  return records;
}

function parseLine(line: string, tenants: ReadonlyMap<number, RecordTenant>): OvsFlowRecord | undefined {
  const at = line.indexOf(" actions=");
  if (at < 0) return undefined;
  const fields = new Map<string, string>();
  const words: string[] = [];
  for (const token of line.slice(0, at).trim().split(/,\s*/)) {
    const eq = token.indexOf("=");
    if (eq < 0) words.push(token);
    else fields.set(token.slice(0, eq), token.slice(eq + 1));
  }
  const cookieText = fields.get("cookie");
  if (cookieText === undefined || !/^0x[0-9a-f]{1,16}$/.test(cookieText)) return undefined;
  const cookie = BigInt(cookieText);
  if ((cookie & 0xffffn) !== BigInt(FLOW_RECORD_COOKIE) || numberOf(fields.get("table"), 254) !== TABLE.FLOW_RECORDS) return undefined;
  const tenantNumber = Number((cookie >> 16n) & 0xffffn);
  const tenant = tenants.get(tenantNumber);
  const verdict = CODES.get((cookie >> 32n) & 0xffn);
  if (tenant === undefined || verdict === undefined || numberOf(fields.get("reg6"), 0xffff) !== tenantNumber) return undefined;

  const rule = numberOf(fields.get("reg9") ?? "0", 0xffffffff);
  let ruleKey: string | null = null;
  if (verdict === "deny") {
    const key = rule === undefined || rule === 0 ? undefined : tenant.ruleKeys[rule - 1];
    if (key === undefined) return undefined;
    ruleKey = key.slice(key.indexOf(":") + 1);
  } else if (rule !== 0) {
    return undefined;
  }

  if (words.length !== 1) return undefined;
  const named = NAMED[words[0]!];
  const proto = named?.proto ?? numberOf(fields.get("nw_proto") ?? "0", 255);
  const [srcKey, dstKey] = named?.family === 6 ? ["ipv6_src", "ipv6_dst"] : ["nw_src", "nw_dst"];
  const src = parseIp(fields.get(srcKey) ?? "");
  const dst = parseIp(fields.get(dstKey) ?? "");
  const dport = numberOf(fields.get("reg3") ?? "0", 0xffff);
  const packets = numberOf(fields.get("n_packets"), Number.MAX_SAFE_INTEGER - 1);
  const idleSeconds = secondsOf(fields.get("idle_age") ?? "0");
  const ageSeconds = secondsOf(fields.get("duration"));
  if (named === undefined || proto === undefined || src?.family !== named.family || dst?.family !== named.family) return undefined;
  if (dport === undefined || packets === undefined || idleSeconds === undefined || ageSeconds === undefined) return undefined;
  return {
    tenant: tenant.name,
    verdict,
    rule: ruleKey,
    src: fields.get(srcKey)!,
    dst: fields.get(dstKey)!,
    proto,
    dport,
    packets: packets + 1,
    idleSeconds,
    ageSeconds,
  };
}

/** The record table's state from `dump-tables` text: records held now, and made since ovs-vswitchd started. */
export interface FlowRecordTable {
  active: number;
  made: number;
}

/**
 * From `dump-tables` text. ovs-ofctl folds a run of tables whose stats equal the one printed before them into
 * `tables A...B: ditto` (as a record table that has seen nothing yet often is).
 */
export function parseFlowRecordTable(dumpTables: string): FlowRecordTable | undefined {
  let last: FlowRecordTable | undefined;
  let table = -1;
  for (const line of dumpTables.split("\n")) {
    const one = /^\s*table (\d+)\b/.exec(line);
    const ditto = /^\s*tables (\d+)\.\.\.(\d+): ditto/.exec(line);
    const stats = /^\s*active=(\d+), lookup=(\d+), matched=(\d+)/.exec(line);
    if (one !== null) table = Number(one[1]);
    else if (ditto !== null && Number(ditto[1]) <= TABLE.FLOW_RECORDS && TABLE.FLOW_RECORDS <= Number(ditto[2])) return last;
    else if (stats !== null) {
      last = { active: Number(stats[1]), made: Number(stats[2]) - Number(stats[3]) };
      if (table === TABLE.FLOW_RECORDS) return last;
    }
  }
  return undefined;
}

/**
 * The bridge's flow records of the given tenants (by number: their names and rule keys as rendered), read with
 * `ovs-ofctl -O OpenFlow15 dump-flows BRIDGE table=FLOW_RECORDS`. `bridge` is what ovs-ofctl takes: a bridge name
 * (found in its run directory) or `unix:DIR/BRIDGE.mgmt`. Throws the executor's ProcessError when OVS cannot answer.
 */
export async function readFlowRecords(executor: Executor, bridge: string, tenants: ReadonlyMap<number, RecordTenant>): Promise<OvsFlowRecord[]> {
  const dump = await executor.run(["ovs-ofctl", "-O", "OpenFlow15", "dump-flows", bridge, `table=${TABLE.FLOW_RECORDS}`]);
  return parseFlowRecords(dump, tenants);
}

/** A record as the recorder counts it (DatapathDriver.readFlows): the rule by its key, an allowed one's traced as `netctl trace` names it. */
export function countedFlow(r: OvsFlowRecord, compiled: CompiledPolicy, now: number): CountedFlow {
  // A denied record names its rule without the tenant; the recorder takes keys ("tenant:policy:ruleId").
  const rule = r.verdict === "allow" ? allowingRule(compiled, r) : r.rule === null ? null : `${r.tenant}:${r.rule}`;
  const lastSeen = now - r.idleSeconds * 1000;
  return {
    id: `${r.verdict} ${r.rule ?? ""} ${r.src} ${r.dst} ${r.proto} ${r.dport}`,
    verdict: r.verdict,
    rule,
    src: r.src,
    dst: r.dst,
    proto: r.proto,
    dport: r.dport,
    packets: r.packets,
    lastSeen,
    expiresAt: lastSeen + FLOW_RECORD_IDLE_SECONDS * 1000,
  };
}
