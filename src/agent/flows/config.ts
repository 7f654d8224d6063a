// The agent's flow record flags (--flow-records, --flow-records-cap), checked at start-up.

import { DEFAULT_FLOW_TIMEOUT_SECONDS, type FlowSetOptions } from "../../policy/index.js";

export const FLOW_RECORD_MODES = ["off", "denied", "all"] as const;
export type FlowRecordMode = (typeof FLOW_RECORD_MODES)[number];

export interface FlowSettings {
  /** off: the tables count nothing and nothing is read; denied: denied attempts; all: allowed ones too. */
  mode: FlowRecordMode;
  /** Records the agent's table keeps (least recently seen evicted beyond), and flows each tenant's set per family. */
  cap: number;
}

export const DEFAULT_FLOW_SETTINGS: FlowSettings = { mode: "denied", cap: 2048 };

/** Throws an Error naming the flag for a bad value. */
export function parseFlowSettings(mode: string, cap: string): FlowSettings {
  if (!(FLOW_RECORD_MODES as readonly string[]).includes(mode)) throw new Error(`Invalid --flow-records "${mode}": expected one of ${FLOW_RECORD_MODES.join(", ")}`);
  // At most what one push may carry (contract/flows.ts FlowPush).
  if (!/^\d{1,4}$/.test(cap) || Number(cap) < 1 || Number(cap) > 5000) throw new Error(`Invalid --flow-records-cap "${cap}": expected 1..5000`);
  return { mode: mode as FlowRecordMode, cap: Number(cap) };
}

/** How the tenants' tables count connection attempts for these settings; undefined: not at all. */
export function flowSetsOf(s: FlowSettings): FlowSetOptions | undefined {
  return s.mode === "off" ? undefined : { allowed: s.mode === "all", size: s.cap, timeoutSeconds: DEFAULT_FLOW_TIMEOUT_SECONDS };
}
