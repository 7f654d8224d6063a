import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { accumulateCounters, NO_COUNTER_HISTORY, type CounterHistory } from "./counters.js";

const read = (entries: Record<string, [number, number]>) => new Map(Object.entries(entries).map(([k, [packets, bytes]]) => [k, { packets, bytes }]));

/** Feeds readings one after the other, returning the totals after each. */
function run(steps: { readings: Record<string, Record<string, [number, number]> | null>; reloaded?: string[] }[]) {
  let history: CounterHistory = NO_COUNTER_HISTORY;
  return steps.map(({ readings, reloaded = [] }) => {
    const r = new Map(Object.entries(readings).map(([t, v]) => [t, v === null ? null : read(v)]));
    const out = accumulateCounters(history, r, new Set(reloaded));
    history = out.history;
    return out.totals;
  });
}

describe("accumulateCounters", () => {
  it("reports the readings as they are while they grow", () => {
    const totals = run([{ readings: { a: { "a:p:1": [3, 300] } } }, { readings: { a: { "a:p:1": [5, 500], "a:p:2": [0, 0] } } }]);
    assert.deepEqual(totals, [{ "a:p:1": { packets: 3, bytes: 300 } }, { "a:p:1": { packets: 5, bytes: 500 }, "a:p:2": { packets: 0, bytes: 0 } }]);
  });

  it("keeps what a counter reached when a reading is below it (the table was reloaded behind its back)", () => {
    const totals = run([
      { readings: { a: { "a:p:1": [5, 500] } } },
      { readings: { a: { "a:p:1": [2, 200] } } },
      { readings: { a: { "a:p:1": [4, 400] } } },
    ]);
    assert.deepEqual(totals.map((t) => t["a:p:1"]), [{ packets: 5, bytes: 500 }, { packets: 7, bytes: 700 }, { packets: 9, bytes: 900 }]);
  });

  it("starts a generation where the driver says it reloaded, even when the new counter has already passed the old", () => {
    const totals = run([{ readings: { a: { "a:p:1": [5, 500] } } }, { readings: { a: { "a:p:1": [6, 600] } }, reloaded: ["a"] }]);
    assert.deepEqual(totals[1], { "a:p:1": { packets: 11, bytes: 1100 } });
  });

  it("keeps a tenant's totals while its counters cannot be read, and forgets a tenant that went away", () => {
    const totals = run([
      { readings: { a: { "a:p:1": [5, 500] }, b: { "b:p:1": [1, 10] } } },
      { readings: { a: null, b: { "b:p:1": [2, 20] } } },
      { readings: { b: { "b:p:1": [3, 30] } } },
      { readings: { a: { "a:p:1": [1, 100] }, b: { "b:p:1": [3, 30] } } },
    ]);
    assert.deepEqual(totals[1], { "a:p:1": { packets: 5, bytes: 500 }, "b:p:1": { packets: 2, bytes: 20 } });
    assert.deepEqual(totals[2], { "b:p:1": { packets: 3, bytes: 30 } });
    assert.deepEqual(totals[3]!["a:p:1"], { packets: 1, bytes: 100 }, "a tenant that comes back starts afresh");
  });

  it("forgets a rule the policy no longer has", () => {
    const totals = run([{ readings: { a: { "a:p:1": [5, 500], "a:p:2": [1, 1] } } }, { readings: { a: { "a:p:2": [1, 1] } } }]);
    assert.deepEqual(totals[1], { "a:p:2": { packets: 1, bytes: 1 } });
  });
});
