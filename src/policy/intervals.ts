// Closed integer intervals [lo, hi] (bigint): normalising, intersecting, the
// sweep that cuts the address space into atoms of equal membership, and the
// binary-search lookup the packet tracer uses.

import type { AddrInterval } from "./types.js";

export type Span = readonly [bigint, bigint];

/** Sorts and merges overlapping or touching spans. */
export function mergeSpans(spans: Iterable<Span>): Span[] {
  const sorted = [...spans].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const out: [bigint, bigint][] = [];
  for (const [lo, hi] of sorted) {
    const last = out[out.length - 1];
    if (last && lo <= last[1] + 1n) {
      if (hi > last[1]) last[1] = hi;
    } else {
      out.push([lo, hi]);
    }
  }
  return out;
}

/** Intersection of two normalised span lists. */
export function intersectSpans(a: readonly Span[], b: readonly Span[]): Span[] {
  const out: Span[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a[i]!;
    const y = b[j]!;
    const lo = x[0] > y[0] ? x[0] : y[0];
    const hi = x[1] < y[1] ? x[1] : y[1];
    if (lo <= hi) out.push([lo, hi]);
    if (x[1] < y[1]) i++;
    else j++;
  }
  return out;
}

export interface Atom {
  lo: bigint;
  hi: bigint;
  /** Sorted ids of the span lists covering the atom (never empty). */
  ids: number[];
}

/**
 * Cuts the line into maximal pieces covered by the same subset of the given
 * span lists (each normalised). Pieces covered by none are omitted.
 * O(E log E) for E spans in total, plus the size of the id lists.
 */
export function sweepAtoms(lists: readonly { id: number; spans: readonly Span[] }[]): Atom[] {
  const events: { at: bigint; id: number; open: boolean }[] = [];
  for (const { id, spans } of lists) {
    for (const [lo, hi] of spans) {
      events.push({ at: lo, id, open: true });
      events.push({ at: hi + 1n, id, open: false });
    }
  }
  events.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
  const active = new Set<number>();
  const atoms: Atom[] = [];
  let k = 0;
  while (k < events.length) {
    const at = events[k]!.at;
    while (k < events.length && events[k]!.at === at) {
      const e = events[k]!;
      if (e.open) active.add(e.id);
      else active.delete(e.id);
      k++;
    }
    if (active.size > 0 && k < events.length) {
      atoms.push({ lo: at, hi: events[k]!.at - 1n, ids: [...active].sort((a, b) => a - b) });
    }
  }
  return atoms;
}

/** Merges touching intervals that carry the same value (input sorted and disjoint). */
export function coalesce<T>(list: readonly AddrInterval<T>[]): AddrInterval<T>[] {
  const out: AddrInterval<T>[] = [];
  for (const item of list) {
    const last = out[out.length - 1];
    if (last && last.value === item.value && last.hi + 1n === item.lo) last.hi = item.hi;
    else out.push({ ...item });
  }
  return out;
}

/** Value of the interval containing x (list sorted and disjoint), or undefined. */
export function lookupInterval<T>(list: readonly AddrInterval<T>[], x: bigint): T | undefined {
  let lo = 0;
  let hi = list.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const item = list[mid]!;
    if (x < item.lo) hi = mid - 1;
    else if (x > item.hi) lo = mid + 1;
    else return item.value;
  }
  return undefined;
}
