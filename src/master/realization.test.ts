import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { realization, type RealizationReport } from "./realization.js";

describe("realization", () => {
  const reports = new Map<string, RealizationReport>([
    ["h1", { revision: 50, epoch: "e", failingTenants: [] }],
    ["h2", { revision: 40, epoch: "e", failingTenants: [] }],
    ["h3", { revision: 60, epoch: "e", failingTenants: ["red"] }],
  ]);
  const hosts = ["h3", "h2", "h1", "h4"];

  it("is pending on hosts behind the revision, failing in the tenant, or never heard from", () => {
    assert.deepEqual(realization(hosts, reports, "red", 45), { revision: 45, pendingHosts: ["h2", "h3", "h4"] });
    assert.deepEqual(realization(hosts, reports, "blue", 45), { revision: 45, pendingHosts: ["h2", "h4"] });
  });

  it("is in force everywhere once every registered host applied it without failing in its tenant", () => {
    assert.deepEqual(realization(["h1", "h3"], reports, "blue", 50), { revision: 50, pendingHosts: [] });
    assert.deepEqual(realization([], reports, "blue", 99), { revision: 99, pendingHosts: [] }, "no host: nothing to wait for");
  });
});
