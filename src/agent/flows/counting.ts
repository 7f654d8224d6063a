// Pure steps of the flow recorder (recorder.ts): the kernel's counts are running totals per flow, the agent's
// table adds up attempts, so each reading is turned into what came since the last one; and a set nearly full is
// given room by forgetting the flows seen least recently, whose counts the table holds already.

import type { CountedFlow } from "../../datapath/index.js";

/** What one namespace's last reading left: each flow's running count, and the overflow's. */
export interface Baseline {
  flows: Map<string, number>;
  overflow: number;
}

export const NO_BASELINE: Baseline = { flows: new Map(), overflow: 0 };

/**
 * The attempts each flow and the overflow had since `last`, and the next baseline. A count lower than the last
 * one began again (the flow was forgotten and counted anew): all of it is new.
 */
export function countSince(last: Baseline, flows: CountedFlow[], overflow: number): { added: { flow: CountedFlow; packets: number }[]; overflow: number; next: Baseline } {
  const added: { flow: CountedFlow; packets: number }[] = [];
  const next = new Map<string, number>();
  for (const flow of flows) {
    const before = last.flows.get(flow.id) ?? 0;
    const packets = flow.packets >= before ? flow.packets - before : flow.packets;
    next.set(flow.id, flow.packets);
    if (packets > 0) added.push({ flow, packets });
  }
  // In the order they were last seen, so the table's least recently seen stays the first to go.
  added.sort((a, b) => a.flow.lastSeen - b.flow.lastSeen);
  return { added, overflow: overflow >= last.overflow ? overflow - last.overflow : overflow, next: { flows: next, overflow } };
}

export interface TrimOptions {
  /** Forget when a family's set holds at least this share of its capacity… */
  high: number;
  /** …down to this share. */
  low: number;
  /** Leave flows that expire within this long (ms) alone: deleting one that expired meanwhile fails the whole delete. */
  marginMs: number;
}

export const DEFAULT_TRIM: TrimOptions = { high: 0.75, low: 0.5, marginMs: 5000 };

/** The ids of the flows to forget so that each family's set has room again, least recently seen first. */
export function flowsToForget(flows: CountedFlow[], capacity: number, now: number, o: TrimOptions = DEFAULT_TRIM): string[] {
  if (capacity <= 0) return [];
  const out: string[] = [];
  for (const v6 of [false, true]) {
    const family = flows.filter((f) => f.src.includes(":") === v6);
    if (family.length < Math.ceil(capacity * o.high)) continue;
    const excess = family.length - Math.floor(capacity * o.low);
    const candidates = family.filter((f) => f.expiresAt - now > o.marginMs).sort((a, b) => a.lastSeen - b.lastSeen);
    out.push(...candidates.slice(0, excess).map((f) => f.id));
  }
  return out;
}
