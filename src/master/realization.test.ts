import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { hostWideRealization, realization, RealizationReport } from "./realization.js";

describe("realization", () => {
  const reports = new Map<string, RealizationReport>([
    ["h1", { revision: 50, epoch: "e", failures: [] }],
    ["h2", { revision: 40, epoch: "e", failures: [] }],
    ["h3", { revision: 60, epoch: "e", failures: [{ tenant: "red", message: "nft: syntax error" }] }],
  ]);
  const hosts = ["h3", "h2", "h1", "h4"];

  it("is pending on hosts behind the revision, failing in the tenant, or never heard from", () => {
    assert.deepEqual(realization(hosts, reports, { tenant: "red" }, 45), {
      revision: 45,
      pendingHosts: ["h2", "h3", "h4"],
      errors: [{ host: "h3", message: "nft: syntax error" }],
    });
    assert.deepEqual(realization(hosts, reports, { tenant: "blue" }, 45), { revision: 45, pendingHosts: ["h2", "h4"] });
  });

  it("is in force everywhere once every registered host applied it without failing in its tenant", () => {
    assert.deepEqual(realization(["h1", "h3"], reports, { tenant: "blue" }, 50), { revision: 50, pendingHosts: [] });
    assert.deepEqual(realization([], reports, { tenant: "blue" }, 99), { revision: 99, pendingHosts: [] }, "no host: nothing to wait for");
  });

  it("a failing network holds up its own objects and endpoints, not the rest of its tenant", () => {
    const failing = new Map<string, RealizationReport>([
      ["h1", { revision: 70, epoch: "e", failures: [{ tenant: "red", network: "bad6", message: 'ipv6Subnet: invalid subnet ""' }] }],
      ["h2", { revision: 70, epoch: "e", failures: [{ tenant: "red", network: "web", endpoint: "web.red-c1", message: "mac: invalid MAC" }] }],
    ]);
    const hosts = ["h1", "h2"];
    assert.deepEqual(realization(hosts, failing, { tenant: "red", network: "bad6" }, 70), {
      revision: 70,
      pendingHosts: ["h1"],
      errors: [{ host: "h1", message: 'ipv6Subnet: invalid subnet ""' }],
    });
    assert.deepEqual(realization(hosts, failing, { tenant: "red", network: "bad6", endpoint: "bad6.red-x" }, 70).pendingHosts, ["h1"]);
    assert.deepEqual(realization(hosts, failing, { tenant: "red" }, 70), { revision: 70, pendingHosts: [] }, "the tenant's policy is in force");
    assert.deepEqual(realization(hosts, failing, { tenant: "red", network: "web" }, 70).pendingHosts, [], "one endpoint does not hold up its network");
    assert.deepEqual(realization(hosts, failing, { tenant: "red", network: "web", endpoint: "web.red-c1" }, 70).pendingHosts, ["h2"]);
    assert.deepEqual(realization(hosts, failing, { tenant: "red", network: "web", endpoint: "web.red-c2" }, 70).pendingHosts, []);
  });

  it("a host-wide object (the global one) is pending on hosts behind it, never heard from, or whose datapath does not apply a setting of it, with why", () => {
    const reports = new Map<string, RealizationReport>([
      ["h1", { revision: 50, epoch: "e", failures: [{ tenant: "red", message: "nft: syntax error" }] }],
      ["h2", { revision: 50, epoch: "e", failures: [], unapplied: [{ message: "the linux datapath cannot use an SDN controller" }] }],
      ["h3", { revision: 40, epoch: "e", failures: [] }],
    ]);
    assert.deepEqual(hostWideRealization(["h4", "h3", "h2", "h1"], reports, 45), {
      revision: 45,
      pendingHosts: ["h2", "h3", "h4"],
      errors: [{ host: "h2", message: "the linux datapath cannot use an SDN controller" }],
    });
    assert.deepEqual(hostWideRealization(["h1"], reports, 50), { revision: 50, pendingHosts: [] }, "a tenant's failure is not the global object's");
  });

  it("a report's unapplied settings are optional (agents from before them) and bounded", () => {
    assert.equal(RealizationReport.safeParse({ revision: 1, epoch: "e", failures: [] }).success, true);
    assert.equal(RealizationReport.safeParse({ revision: 1, epoch: "e", failures: [], unapplied: [{ message: "x" }] }).success, true);
    assert.equal(RealizationReport.safeParse({ revision: 1, epoch: "e", failures: [], unapplied: [{ message: "x".repeat(2049) }] }).success, false);
    assert.equal(RealizationReport.safeParse({ revision: 1, epoch: "e", failures: [], unapplied: Array.from({ length: 17 }, () => ({ message: "x" })) }).success, false);
  });
});
