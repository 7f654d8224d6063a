import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { CountedFlow } from "../../datapath/index.js";
import { countSince, flowsToForget, isBusy, noBaseline, shouldList, type Baseline } from "./counting.js";

const flow = (id: string, packets: number, lastSeen = 0, expiresAt = 100_000): CountedFlow => ({
  id, verdict: "deny", rule: "t:p:r", src: id.startsWith("6") ? "2001:db8::1" : "198.18.0.1", dst: "198.18.0.2", proto: 6, dport: 80, packets, lastSeen, expiresAt,
});

const totals = (counted: number, overflowPackets = 0) => ({ counted, overflowPackets });

describe("countSince", () => {
  it("adds what each flow counted since the last listing, in the order they were last seen", () => {
    const first = countSince(noBaseline(), totals(4, 2), [flow("4 a", 3, 20), flow("4 b", 1, 10)], 1000);
    assert.deepEqual(first.added.map((a) => [a.flow.id, a.packets]), [["4 b", 1], ["4 a", 3]]);
    assert.equal(first.overflow, 2);
    assert.deepEqual([first.next.listedCounted, first.next.listedAt], [4, 1000]);
    const second = countSince(first.next, totals(8, 2), [flow("4 a", 5, 30), flow("4 b", 1, 10), flow("4 c", 2, 25)], 2000);
    assert.deepEqual(second.added.map((a) => [a.flow.id, a.packets]), [["4 c", 2], ["4 a", 2]]);
    assert.equal(second.overflow, 0);
  });

  it("takes a count lower than the last for a flow counted anew", () => {
    const { next } = countSince(noBaseline(), totals(9, 5), [flow("4 a", 9)], 0);
    const again = countSince(next, totals(2, 1), [flow("4 a", 2)], 0);
    assert.deepEqual(again.added.map((a) => a.packets), [2]);
    assert.equal(again.overflow, 1);
  });

  it("without a listing, counts the overflow alone and keeps the flows' counts", () => {
    const { next } = countSince(noBaseline(), totals(3), [flow("4 a", 3)], 0);
    const unlisted = countSince(next, totals(7, 40), undefined, 5000);
    assert.deepEqual([unlisted.added, unlisted.overflow], [[], 40]);
    assert.deepEqual([unlisted.next.flows, unlisted.next.listedCounted, unlisted.next.listedAt, unlisted.next.last], [next.flows, 3, 0, totals(7, 40)]);
    // The next listing takes up from the last one.
    assert.deepEqual(countSince(unlisted.next, totals(7, 40), [flow("4 a", 7)], 6000).added.map((a) => a.packets), [4]);
  });

  it("adds up, over any run of readings of growing counts, listed or not, to the last counts", () => {
    fc.assert(
      fc.property(fc.array(fc.record({ step: fc.array(fc.nat({ max: 5 }), { minLength: 4, maxLength: 4 }), listed: fc.boolean() }), { maxLength: 10 }), (steps) => {
        const counts = [0, 0, 0, 0];
        let baseline = noBaseline();
        const added = [0, 0, 0, 0];
        for (const { step, listed } of [...steps, { step: [0, 0, 0, 0], listed: true }]) {
          step.forEach((d, i) => (counts[i]! += d));
          const sum = counts.reduce((n, c) => n + c, 0);
          const r = countSince(baseline, totals(sum), listed ? counts.map((p, i) => flow(`4 ${i}`, p)) : undefined, 0);
          for (const a of r.added) added[Number(a.flow.id.slice(2))]! += a.packets;
          baseline = r.next;
        }
        assert.deepEqual(added, counts);
      }),
    );
  });
});

describe("shouldList", () => {
  const pace = { busyAttempts: 100, busyMs: 30_000 };
  const at = (listedCounted: number, listedAt: number, last: { counted: number; overflowPackets: number }, crowded = false): Baseline => ({ flows: new Map(), listedCounted, listedAt, last, crowded });

  it("lists when the sets took attempts since the last listing, or the table began again", () => {
    assert.equal(shouldList(at(5, 0, totals(5)), totals(5, 99), false, 1000, pace), false);
    assert.equal(shouldList(at(5, 0, totals(5)), totals(6), false, 1000, pace), true);
    assert.equal(shouldList(at(5, 0, totals(5)), totals(5), true, 1000, pace), true);
    assert.equal(shouldList(at(5, 0, totals(5)), totals(2), false, 1000, pace), true);
  });

  it("while busy, lists at most every busyMs", () => {
    const listed = at(5, 10_000, totals(5));
    assert.equal(isBusy(listed, totals(60, 50), false, pace), true);
    assert.equal(shouldList(listed, totals(60, 50), false, 20_000, pace), false);
    assert.equal(shouldList(listed, totals(60, 50), false, 40_000, pace), true);
    // Busy with overflow alone: nothing to list.
    assert.equal(shouldList(listed, totals(5, 500), false, 40_000, pace), false);
  });

  it("lists a set left crowded by a busy listing once the tenant is quiet, to make room", () => {
    const crowded = at(5, 10_000, totals(5, 500), true);
    assert.equal(shouldList(crowded, totals(5, 900), false, 15_000, pace), false);
    assert.equal(shouldList(crowded, totals(5, 500), false, 15_000, pace), true);
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
