// Pure steps of the flow recorder (recorder.ts): the kernel's counts are running totals per flow, the agent's
// table adds up attempts, so each reading is turned into what came since the last one; the sets are listed only
// when their totals moved, and under a flood at most every `busyMs`, so the agent's work does not grow with the
// attempts' rate; and a set nearly full is given room by forgetting the flows seen least recently, whose counts
// the table holds already.

import type { CountedFlow, FlowTotals } from "../../datapath/index.js";

/** What one namespace's readings left: each flow's running count and the totals when last listed, the totals at the last reading. */
export interface Baseline {
  flows: Map<string, number>;
  /** FlowTotals.counted when the flows were last listed. */
  listedCounted: number;
  listedAt: number;
  /** The totals at the last reading, listed or not. */
  last: FlowTotals;
  /** The last listing found a set that wants room, and none was made (it was busy): list again once it is quiet. */
  crowded: boolean;
}

/** Where a namespace's counts begin (or began again). */
export function noBaseline(): Baseline {
  return { flows: new Map(), listedCounted: 0, listedAt: 0, last: { counted: 0, overflowPackets: 0 }, crowded: false };
}

export interface PaceOptions {
  /** Attempts (counted or overflowing) from one reading to the next from which a namespace is busy… */
  busyAttempts: number;
  /** …and then listed, and the records pushed, at most this often (ms). */
  busyMs: number;
}

/**
 * Busy from 200 attempts a second (at readings 5 s apart); then listed every 4 min. A listing under a flood costs
 * the agent ~80 ms (bench/flows.ts); the sets' timeout (policy/flowsets.ts, 300 s) is longer than busyMs plus a
 * reading, so no flow expires between two listings.
 */
export const DEFAULT_PACE: PaceOptions = { busyAttempts: 1000, busyMs: 240_000 };

/** Attempts since the last reading, counted or overflowing; a total lower than the last began again. */
function attemptsSince(last: FlowTotals, totals: FlowTotals): number {
  const since = (now: number, before: number) => (now >= before ? now - before : now);
  return since(totals.counted, last.counted) + since(totals.overflowPackets, last.overflowPackets);
}

/** Whether a namespace is busy: so many attempts since the last reading that its records are paced. */
export function isBusy(last: Baseline, totals: FlowTotals, restarted: boolean, o: PaceOptions = DEFAULT_PACE): boolean {
  return attemptsSince(restarted ? noBaseline().last : last.last, totals) >= o.busyAttempts;
}

/**
 * Whether to list a namespace's flows now: they moved since the last listing, or a set wants room, and it is not
 * busy or its listing is due.
 */
export function shouldList(last: Baseline, totals: FlowTotals, restarted: boolean, now: number, o: PaceOptions = DEFAULT_PACE): boolean {
  if (restarted || totals.counted < last.listedCounted) return true;
  if (totals.counted === last.listedCounted && !last.crowded) return false;
  return !isBusy(last, totals, restarted, o) || now - last.listedAt >= o.busyMs;
}

/**
 * The attempts each listed flow and the overflow had since `last`, and the next baseline. A count lower than the
 * last one began again (the flow was forgotten and counted anew): all of it is new. `flows` undefined: not listed.
 */
export function countSince(
  last: Baseline,
  totals: FlowTotals,
  flows: CountedFlow[] | undefined,
  now: number,
): { added: { flow: CountedFlow; packets: number }[]; overflow: number; next: Baseline } {
  const overflow = totals.overflowPackets >= last.last.overflowPackets ? totals.overflowPackets - last.last.overflowPackets : totals.overflowPackets;
  if (flows === undefined) return { added: [], overflow, next: { ...last, last: totals } };
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
  return { added, overflow, next: { flows: next, listedCounted: totals.counted, listedAt: now, last: totals, crowded: false } };
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
