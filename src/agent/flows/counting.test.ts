import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { CountedFlow } from "../../datapath/index.js";
import { countSince, flowsToForget, NO_BASELINE } from "./counting.js";

const flow = (id: string, packets: number, lastSeen = 0, expiresAt = 100_000): CountedFlow => ({
  id, verdict: "deny", rule: "t:p:r", src: id.startsWith("6") ? "2001:db8::1" : "198.18.0.1", dst: "198.18.0.2", proto: 6, dport: 80, packets, lastSeen, expiresAt,
});

describe("countSince", () => {
  it("adds what each flow counted since the last reading, in the order they were last seen", () => {
    const first = countSince(NO_BASELINE, [flow("4 a", 3, 20), flow("4 b", 1, 10)], 2);
    assert.deepEqual(first.added.map((a) => [a.flow.id, a.packets]), [["4 b", 1], ["4 a", 3]]);
    assert.equal(first.overflow, 2);
    const second = countSince(first.next, [flow("4 a", 5, 30), flow("4 b", 1, 10), flow("4 c", 2, 25)], 2);
    assert.deepEqual(second.added.map((a) => [a.flow.id, a.packets]), [["4 c", 2], ["4 a", 2]]);
    assert.equal(second.overflow, 0);
  });

  it("takes a count lower than the last for a flow counted anew", () => {
    const { next } = countSince(NO_BASELINE, [flow("4 a", 9)], 5);
    const again = countSince(next, [flow("4 a", 2)], 1);
    assert.deepEqual(again.added.map((a) => a.packets), [2]);
    assert.equal(again.overflow, 1);
  });

  it("adds up, over any run of readings of growing counts, to the last counts", () => {
    fc.assert(
      fc.property(fc.array(fc.array(fc.nat({ max: 5 }), { minLength: 4, maxLength: 4 }), { maxLength: 10 }), (steps) => {
        const totals = [0, 0, 0, 0];
        let baseline = NO_BASELINE;
        const added = [0, 0, 0, 0];
        for (const step of steps) {
          step.forEach((d, i) => (totals[i]! += d));
          const r = countSince(baseline, totals.map((p, i) => flow(`4 ${i}`, p)), 0);
          for (const a of r.added) added[Number(a.flow.id.slice(2))]! += a.packets;
          baseline = r.next;
        }
        assert.deepEqual(added, totals);
      }),
    );
  });
});

describe("flowsToForget", () => {
  it("forgets nothing below 3/4 of the capacity", () => {
    assert.deepEqual(flowsToForget([flow("4 a", 1), flow("4 b", 1)], 4, 0), []);
  });

  it("forgets the least recently seen down to half, per family, leaving those about to expire", () => {
    const v4 = [flow("4 a", 1, 40), flow("4 b", 1, 10), flow("4 c", 1, 30), flow("4 d", 1, 20, 1000)];
    assert.deepEqual(flowsToForget([...v4, flow("6 a", 1)], 4, 0), ["4 b", "4 c"]);
  });

  it("leaves each family's set at most at half its capacity, plus what is about to expire", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.array(fc.record({ v6: fc.boolean(), lastSeen: fc.nat(100), expiresAt: fc.nat(20_000) }), { maxLength: 80 }), (capacity, specs) => {
        const flows = specs.map((s, i) => flow(`${s.v6 ? 6 : 4} ${i}`, 1, s.lastSeen, s.expiresAt));
        const forget = new Set(flowsToForget(flows, capacity, 0));
        for (const v6 of [false, true]) {
          const family = flows.filter((f) => f.src.includes(":") === v6);
          const left = family.filter((f) => !forget.has(f.id));
          if (family.length < Math.ceil(capacity * 0.75)) assert.equal(left.length, family.length);
          else assert.ok(left.length <= Math.floor(capacity * 0.5) + family.filter((f) => f.expiresAt <= 5000).length);
          // Never one seen more recently than one left (of those not about to expire).
          const keptSeen = left.filter((f) => f.expiresAt > 5000).map((f) => f.lastSeen);
          for (const f of family.filter((x) => forget.has(x.id))) assert.ok(keptSeen.every((s) => s >= f.lastSeen));
        }
      }),
    );
  });
});
