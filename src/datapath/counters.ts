// Per-rule counters as running totals. A driver reads its counters from the kernel, where they restart at
// zero whenever it reloads what holds them (the Linux driver replaces a tenant's nft table on every policy
// change), while whoever sums them across hosts (netmaster, for `netctl policy inspect`) wants totals that
// never go down. So each rule's total is what earlier generations of its counter reached plus the current
// reading: a generation ends where the driver says it reloaded, or where a reading is below the last one.
// Pure: the driver keeps the history between readings.

import type { RuleCounter } from "../policy/index.js";
import type { RuleCounters } from "./driver.js";

interface RuleHistory {
  /** The last reading. */
  last: RuleCounter;
  /** What earlier generations counted. */
  base: RuleCounter;
}

/** Per tenant (the driver's key for it) and rule key: what was read before. */
export type CounterHistory = ReadonlyMap<string, ReadonlyMap<string, RuleHistory>>;

export const NO_COUNTER_HISTORY: CounterHistory = new Map();

const ZERO: RuleCounter = { packets: 0, bytes: 0 };

function add(a: RuleCounter, b: RuleCounter): RuleCounter {
  return { packets: a.packets + b.packets, bytes: a.bytes + b.bytes };
}

/**
 * Folds a reading into the history. `readings`: per tenant the counters read now, or null when they could not be
 * read (its totals stay as they were); tenants left out are forgotten. `reloaded`: tenants whose counters were
 * reset since the last reading, so each reading starts a generation. Returns the new history and the totals per
 * rule key over every tenant.
 */
export function accumulateCounters(
  history: CounterHistory,
  readings: ReadonlyMap<string, ReadonlyMap<string, RuleCounter> | null>,
  reloaded: ReadonlySet<string>,
): { history: CounterHistory; totals: RuleCounters } {
  const next = new Map<string, Map<string, RuleHistory>>();
  const totals = new Map<string, RuleCounter>();
  for (const [tenant, reading] of readings) {
    const before = history.get(tenant) ?? new Map<string, RuleHistory>();
    const rules = new Map<string, RuleHistory>();
    if (reading === null) {
      for (const [key, rule] of before) rules.set(key, rule);
    } else {
      for (const [key, now] of reading) {
        const prev = before.get(key) ?? { last: ZERO, base: ZERO };
        const restarted = reloaded.has(tenant) || now.packets < prev.last.packets || now.bytes < prev.last.bytes;
        rules.set(key, { last: now, base: restarted ? add(prev.base, prev.last) : prev.base });
      }
    }
    next.set(tenant, rules);
    for (const [key, rule] of rules) totals.set(key, add(totals.get(key) ?? ZERO, add(rule.base, rule.last)));
  }
  return { history: next, totals: Object.fromEntries(totals) };
}
