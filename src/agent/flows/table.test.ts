import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { FlowTable, type FlowKey } from "./table.js";

const key = (src: string, dport: number, verdict: "allow" | "deny" = "deny"): FlowKey => ({ tenant: "t", verdict, rule: verdict === "deny" ? "p:r" : null, src, dst: "198.18.0.2", proto: 6, dport });

describe("FlowTable", () => {
  it("aggregates repeated attempts of one pair, most recent first", () => {
    const t = new FlowTable(10);
    t.add(key("198.18.0.1", 80), 1, 1);
    t.add(key("198.18.0.3", 80), 1, 2);
    t.add(key("198.18.0.1", 80), 3, 3);
    assert.deepEqual(
      t.records().map((r) => [r.src, r.packets, r.firstSeen, r.lastSeen]),
      [
        ["198.18.0.1", 4, 1, 3],
        ["198.18.0.3", 1, 2, 2],
      ],
    );
  });

  it("evicts the least recently seen pair beyond its cap, counting what it took", () => {
    const t = new FlowTable(2);
    t.add(key("198.18.0.1", 1), 1, 1);
    t.add(key("198.18.0.2", 1), 2, 2);
    t.add(key("198.18.0.1", 1), 1, 3); // touched: .2 is now the oldest
    t.add(key("198.18.0.3", 1), 1, 4);
    t.addOverflow(7);
    assert.deepEqual(t.records().map((r) => r.src), ["198.18.0.3", "198.18.0.1"]);
    assert.deepEqual(t.stats(), { cap: 2, entries: 2, seenPackets: 5, seenEntries: 3, evictedPackets: 2, evictedEntries: 1, overflowPackets: 7 });
  });

  it("refuses a cap that is no positive integer", () => {
    assert.throws(() => new FlowTable(0), RangeError);
    assert.throws(() => new FlowTable(1.5), RangeError);
  });

  it("never holds more than its cap, and recorded + evicted = seen, in packets and in entries", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.array(fc.record({ src: fc.integer({ min: 0, max: 30 }), dport: fc.integer({ min: 0, max: 5 }), allow: fc.boolean(), packets: fc.integer({ min: 1, max: 9 }) }), { maxLength: 300 }),
        (cap, attempts) => {
          const t = new FlowTable(cap);
          attempts.forEach((a, i) => {
            t.add(key(`198.18.1.${a.src}`, a.dport, a.allow ? "allow" : "deny"), a.packets, i);
            assert.ok(t.stats().entries <= cap);
          });
          const s = t.stats();
          const records = t.records();
          assert.equal(records.length, s.entries);
          assert.equal(s.seenPackets, attempts.reduce((n, a) => n + a.packets, 0));
          assert.equal(records.reduce((n, r) => n + r.packets, 0) + s.evictedPackets, s.seenPackets);
          assert.equal(s.entries + s.evictedEntries, s.seenEntries);
          // The pairs held are the `entries` most recently seen distinct pairs.
          const recent: string[] = [];
          for (const a of [...attempts].reverse()) {
            const id = `${a.src}/${a.dport}/${a.allow}`;
            if (!recent.includes(id)) recent.push(id);
          }
          assert.deepEqual(
            records.map((r) => `${r.src.split(".")[3]}/${r.dport}/${r.verdict === "allow"}`),
            recent.slice(0, s.entries),
          );
        },
      ),
    );
  });
});
