import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FlowPush, FlowsQuery } from "../contract/flows.js";
import { FlowReports } from "./flows.js";

const stats = { cap: 4, entries: 1, seenPackets: 1, seenEntries: 1, evictedPackets: 0, evictedEntries: 0, overflowPackets: 0 };
const rec = (tenant: string, verdict: "allow" | "deny", lastSeen: number) => ({ tenant, verdict, rule: verdict === "deny" ? "p:r" : null, src: "198.18.0.1", dst: "198.18.0.2", proto: 6, dport: 80, packets: 1, firstSeen: 0, lastSeen });

describe("FlowReports", () => {
  it("gathers one tenant's records from every host, newest first, denied only when asked", () => {
    const f = new FlowReports();
    f.report("h2", { allowed: true, stats, records: [rec("t", "allow", 5), rec("u", "deny", 9)] }, 100);
    f.report("h1", { allowed: false, stats, records: [rec("t", "deny", 7)] }, 100);
    const all = f.query("t", false);
    assert.deepEqual(all.records.map((r) => [r.host, r.verdict]), [["h1", "deny"], ["h2", "allow"]]);
    assert.deepEqual(all.hosts.map((h) => [h.host, h.allowed]), [["h1", false], ["h2", true]]);
    assert.deepEqual(f.query("t", true).records.map((r) => r.host), ["h1"]);
    f.forget("h1");
    assert.deepEqual(f.query("t", true).records, []);
  });

  it("the wire schemas refuse what they do not know", () => {
    assert.equal(FlowsQuery.safeParse({ tenant: "t", denied: "yes" }).success, false);
    assert.equal(FlowsQuery.safeParse({ tenant: "t", host: "h1" }).success, false);
    assert.equal(FlowsQuery.safeParse({}).success, false);
    assert.deepEqual(FlowsQuery.parse({ tenant: "t" }), { tenant: "t", denied: "false" });
    assert.equal(FlowPush.safeParse({ allowed: false, stats, records: [{ ...rec("t", "deny", 1), verdict: "maybe" }] }).success, false);
  });
});
