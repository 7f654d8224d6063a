// The bound on the flow records' memory (flow-record-flows.ts): TABLE.FLOW_RECORDS gets a row of OVSDB's Flow_Table
// with flow_limit = --flow-records-cap and overflow_policy evict, eviction groups by tenant (TENANT_REG). A new
// record beyond the cap then evicts one of the tenant holding most, the one that would idle out soonest: the
// least recently seen (OVS refreshes that order about once a second), like the Linux recorder's table. With
// "refuse" instead, a flood of distinct attempts would fill the table and hide every later attempt, of every
// tenant, for the idle timeout. Learned flows carry timeouts, so all are evictable.
//
// OVS has no counter of evictions; a record made is a miss of the table (its first packet finds no flow yet), so
// `dump-tables` lookups − matches counts records made, and records made − records held is what idled out or
// was evicted (flow-records.ts parseFlowRecordTable).

import { TABLE, TENANT_REG } from "./layout.js";

/** The Flow_Table row's name: what `ovs-ofctl dump-tables` calls the table. */
export const FLOW_RECORD_TABLE_NAME = "netplugin_flow_records";

/** What ovs-vsctl runs: its arguments, after the database. */
export type Vsctl = (args: string[]) => Promise<string>;

/** The Flow_Table columns wanted for a cap, as ovs-vsctl `set`/`create` takes them. */
export function flowTableColumns(cap: number): string[] {
  if (!Number.isInteger(cap) || cap < 1) throw new Error(`Flow record cap ${cap} is not a positive integer`);
  return [`name=${FLOW_RECORD_TABLE_NAME}`, `flow_limit=${cap}`, "overflow_policy=evict", `groups="NXM_NX_${TENANT_REG.toUpperCase()}[]"`];
}

/**
 * Brings the bridge's Flow_Table row of TABLE.FLOW_RECORDS to `cap` (undefined: records off, no row; OVSDB drops a
 * row no bridge references). Idempotent: returns what it changed, or undefined when it was right.
 */
export async function syncFlowRecordTable(vsctl: Vsctl, bridge: string, cap: number | undefined): Promise<string | undefined> {
  const key = `flow_tables:${TABLE.FLOW_RECORDS}`;
  const uuid = (await vsctl(["--if-exists", "get", "Bridge", bridge, key])).trim();
  if (cap === undefined) {
    if (uuid === "") return undefined;
    await vsctl(["remove", "Bridge", bridge, "flow_tables", String(TABLE.FLOW_RECORDS)]);
    return `flow record table of ${bridge}`;
  }
  const wanted = flowTableColumns(cap);
  if (uuid === "") {
    await vsctl(["--", "--id=@ft", "create", "Flow_Table", ...wanted, "--", "set", "Bridge", bridge, `${key}=@ft`]);
    return `flow record table of ${bridge} (at most ${cap} records)`;
  }
  const have = (await vsctl(["get", "Flow_Table", uuid, "name", "flow_limit", "overflow_policy", "groups"])).trim().split("\n");
  const wantedValues = [FLOW_RECORD_TABLE_NAME, String(cap), "evict", `["NXM_NX_${TENANT_REG.toUpperCase()}[]"]`];
  if (have.map((v) => v.replace(/^"(.*)"$/, "$1")).join("\n") === wantedValues.join("\n")) return undefined;
  await vsctl(["set", "Flow_Table", uuid, ...wanted]);
  return `flow record table of ${bridge} (at most ${cap} records)`;
}
