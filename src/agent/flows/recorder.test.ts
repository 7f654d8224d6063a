// The recorder over a scripted source (no kernel: flowsets.test.ts and the e2e test read real ones): readings
// become records and counters, a set nearly full has its oldest flows forgotten, a restarted table counts anew.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pino } from "pino";
import { Registry } from "prom-client";
import type { CountedFlow, FlowCounts } from "../../datapath/index.js";
import type { MasterClient } from "../master-client.js";
import { FlowRecorder, type FlowSource } from "./recorder.js";

const flow = (port: number, packets: number, lastSeen: number): CountedFlow => ({
  id: `4 1 . 198.18.0.1 . 198.18.0.2 . 6 . ${port}`, verdict: "deny", rule: "t:pw:deny", src: "198.18.0.1", dst: "198.18.0.2", proto: 6, dport: port, packets, lastSeen, expiresAt: lastSeen + 120_000,
});

/** A source that lists what it is given when the recorder chooses to, and records what the recorder chose. */
function recorder(readings: FlowCounts[][], forgotten: string[][], chosen: boolean[] = []) {
  const source: FlowSource = {
    readFlows: async (list) => ({
      counts: (readings.shift() ?? []).map((c) => {
        const wanted = list(c.namespace, c, c.restarted);
        chosen.push(wanted);
        return wanted ? c : { ...c, flows: undefined, capacity: 0 };
      }),
      unreadable: [],
    }),
    forgetFlows: async (_ns, ids) => void forgotten.push(ids),
  };
  const registry = new Registry();
  const pace = { busyAttempts: 1000, busyMs: 30_000 };
  const r = new FlowRecorder({ host: "h", prefix: "np1", allowed: false, cap: 10, source, master: {} as MasterClient, registry, log: pino({ level: "silent" }), pace });
  return { r, registry };
}

const counts = (flows: CountedFlow[], o: Partial<FlowCounts> = {}): FlowCounts => ({
  namespace: "np1-t-t", restarted: false, flows, counted: flows.reduce((n, f) => n + f.packets, 0), overflowPackets: 0, capacity: 8, ...o,
});

describe("FlowRecorder", () => {
  it("adds what came since the last reading, names the rule without its tenant, counts overflow apart", async () => {
    const forgotten: string[][] = [];
    const { r, registry } = recorder(
      [[counts([flow(80, 2, 1000)]), counts([flow(1, 1, 0)], { namespace: "other-t-x" })], [counts([flow(80, 5, 3000), flow(81, 1, 2000)], { overflowPackets: 4 })]],
      forgotten,
    );
    await r.read(10_000);
    await r.read(10_000);
    const { records, stats } = r.report();
    assert.deepEqual(records.map((x) => [x.tenant, x.rule, x.dport, x.packets, x.firstSeen, x.lastSeen]), [
      ["t", "pw:deny", 80, 5, 1000, 3000],
      ["t", "pw:deny", 81, 1, 2000, 2000],
    ]);
    assert.deepEqual([stats.seenPackets, stats.overflowPackets], [6, 4]);
    assert.deepEqual(forgotten, []);
    const text = await registry.metrics();
    assert.match(text, /netplugin_flow_packets_total\{tenant="t",rule="pw:deny",verdict="deny"\} 6/);
    assert.match(text, /netplugin_flow_overflow_packets_total\{tenant="t"\} 4/);
  });

  it("forgets the oldest flows of a set at 3/4 of its capacity, and counts one that comes back anew", async () => {
    const forgotten: string[][] = [];
    const six = [1, 2, 3, 4, 5, 6].map((p) => flow(p, 1, p * 1000));
    const { r } = recorder([[counts(six)], [counts([...six.slice(2), { ...flow(1, 1, 9000) }])]], forgotten);
    await r.read(10_000);
    assert.deepEqual(forgotten, [[six[0]!.id, six[1]!.id]]);
    await r.read(10_000);
    assert.equal(r.report().records.find((x) => x.dport === 1)!.packets, 2);
    assert.equal(r.report().stats.seenPackets, 7);
  });

  it("lists only when the sets moved, and while a namespace is busy at most every 30 s", async () => {
    const chosen: boolean[] = [];
    const busy = (n: number) => counts([flow(80, n, 1000)]);
    const { r } = recorder([[busy(1)], [busy(1)], [busy(2000)], [busy(4000)], [busy(6000)]], [], chosen);
    for (const now of [0, 5000, 10_000, 15_000, 45_000]) await r.read(now);
    // Moved, same, moved (busy, but last listed 10 s ago: no), busy and 15 s: no, busy and 45 s: yes.
    assert.deepEqual(chosen, [true, false, false, false, true]);
    assert.equal(r.report().records[0]!.packets, 6000);
  });

  it("reads at every tick while quiet or after a burst, and in a lasting flood at most every BUSY_READ_MS", async () => {
    const busy = (n: number) => counts([flow(80, n, 1000)]);
    const { r } = recorder([[busy(1)], [busy(5000)], [busy(10_000)], [busy(10_001)]], []);
    assert.equal(r.readingDue(0), true);
    await r.read(0);
    assert.equal(r.readingDue(5000), true, "quiet: every tick");
    await r.read(5000); // 4999 attempts in 5 s: busy once, a burst so far
    assert.equal(r.readingDue(10_000), true, "after one busy reading: the next tick");
    await r.read(10_000); // busy again: a lasting flood
    assert.deepEqual([r.readingDue(15_000), r.readingDue(39_999), r.readingDue(40_000)], [false, false, true]);
    await r.read(40_000); // one attempt in 30 s: quiet again
    assert.equal(r.readingDue(45_000), true);
  });

  it("makes no room while busy, and at the first quiet reading after", async () => {
    const forgotten: string[][] = [];
    const six = (n: number) => counts([1, 2, 3, 4, 5, 6].map((p) => flow(p, n, p * 1000)), { overflowPackets: n });
    const { r } = recorder([[six(1)], [six(2000)], [six(2000)]], forgotten);
    await r.read(0);
    assert.equal(forgotten.length, 1); // quiet: room made at once
    forgotten.length = 0;
    await r.read(40_000); // busy, listing due: listed, no room made
    assert.deepEqual(forgotten, []);
    await r.read(45_000); // quiet, nothing counted, but crowded: listed and trimmed
    assert.equal(forgotten.length, 1);
  });

  it("counts a restarted table's flows from nothing", async () => {
    const { r } = recorder([[counts([flow(80, 3, 1000)])], [counts([flow(80, 1, 2000)], { restarted: true })]], []);
    await r.read(10_000);
    await r.read(10_000);
    assert.equal(r.report().records[0]!.packets, 4);
  });
});
