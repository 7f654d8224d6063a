import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { flowsQuery, flowTarget, hostSummary, type FlowRow } from "./flows.js";

const row: FlowRow = { host: "h1", verdict: "deny", rule: "p:r", src: "198.18.0.2", dst: "198.18.0.3", proto: 6, dport: 80, packets: 1, lastSeen: 0 };

describe("flows view logic", () => {
  it("asks for one tenant, denied only when ticked", () => {
    assert.equal(flowsQuery({ tenant: " t ", denied: false }), "/api/v1/flows?tenant=t");
    assert.equal(flowsQuery({ tenant: "t", denied: true }), "/api/v1/flows?tenant=t&denied=true");
  });
  it("writes the destination with its protocol and port", () => {
    assert.equal(flowTarget(row), "tcp 198.18.0.3:80");
    assert.equal(flowTarget({ ...row, proto: 1, dport: 0 }), "icmp 198.18.0.3");
    assert.equal(flowTarget({ ...row, dst: "fd00::3" }), "tcp [fd00::3]:80");
  });
  it("sums up a host's table, with what its kernel had no room for", () => {
    const h = { host: "h1", allowed: false, cap: 2048, entries: 3, evictedEntries: 0 };
    assert.equal(hostSummary(h), "h1: 3/2048 records, 0 evicted, allowed not recorded");
    assert.equal(hostSummary({ ...h, allowed: true, overflowPackets: 12 }), "h1: 3/2048 records, 0 evicted, 12 attempts without room");
  });
});
