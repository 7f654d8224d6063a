// The agent's flow record flags (--flow-records, --flow-records-cap, --flow-log-rate), checked at start-up.

import { FLOW_LOG_GROUP, type FlowLogOptions } from "../../policy/index.js";

export const FLOW_RECORD_MODES = ["off", "denied", "all"] as const;
export type FlowRecordMode = (typeof FLOW_RECORD_MODES)[number];

export interface FlowSettings {
  /** off: the tables log nothing and no reader runs; denied: denied attempts; all: allowed ones too. */
  mode: FlowRecordMode;
  /** Records the table keeps (least recently seen evicted beyond). */
  cap: number;
  /** Records per second each tenant's table may log. */
  ratePerSecond: number;
}

export const DEFAULT_FLOW_SETTINGS: FlowSettings = { mode: "denied", cap: 2048, ratePerSecond: 200 };

/** Throws an Error naming the flag for a bad value. */
export function parseFlowSettings(mode: string, cap: string, rate: string): FlowSettings {
  if (!(FLOW_RECORD_MODES as readonly string[]).includes(mode)) throw new Error(`Invalid --flow-records "${mode}": expected one of ${FLOW_RECORD_MODES.join(", ")}`);
  if (!/^\d{1,7}$/.test(cap) || Number(cap) < 1 || Number(cap) > 1_000_000) throw new Error(`Invalid --flow-records-cap "${cap}": expected 1..1000000`);
  if (!/^\d{1,6}$/.test(rate) || Number(rate) < 1 || Number(rate) > 100_000) throw new Error(`Invalid --flow-log-rate "${rate}": expected 1..100000 records per second`);
  return { mode: mode as FlowRecordMode, cap: Number(cap), ratePerSecond: Number(rate) };
}

/** What the tenants' tables log for these settings; undefined: nothing. */
export function flowLogOf(s: FlowSettings): FlowLogOptions | undefined {
  return s.mode === "off" ? undefined : { group: FLOW_LOG_GROUP, allowed: s.mode === "all", ratePerSecond: s.ratePerSecond };
}
