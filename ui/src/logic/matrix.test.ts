import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { buildPolicyMatrix, type GroupObject, type PolicyOper, type RuleObject } from "./matrix.js";

const groups: GroupObject[] = [
  { tenantName: "t", groupName: "web", policies: ["web-in"] },
  { tenantName: "t", groupName: "db", policies: ["db-in", "db-out"] },
  { tenantName: "t", groupName: "client" },
  { tenantName: "other", groupName: "x", policies: ["web-in"] },
];
const rule = (r: Partial<RuleObject> & Pick<RuleObject, "policyName" | "ruleId" | "direction">): RuleObject => ({ tenantName: "t", action: "allow", ...r });

describe("buildPolicyMatrix", () => {
  test("an incoming rule fills the column of each group its policy is attached to; an outgoing one the row", () => {
    const rules = [
      rule({ policyName: "web-in", ruleId: "1", direction: "in", fromEndpointGroup: "client", protocol: "tcp", port: 80, priority: 10 }),
      rule({ policyName: "web-in", ruleId: "2", direction: "in", action: "deny", protocol: "tcp", priority: 1 }),
      rule({ policyName: "db-in", ruleId: "1", direction: "in", fromEndpointGroup: "web", protocol: "tcp", port: 5432 }),
      rule({ policyName: "db-out", ruleId: "1", direction: "out", toIpAddress: "10.0.0.0/8", protocol: "udp", port: 53, action: "deny" }),
    ];
    const opers = new Map<string, PolicyOper>([["web-in", { ruleStats: [{ ruleId: "1", packets: 7, bytes: 420 }], realization: { revision: 9, pendingHosts: ["h2"] } }]]);
    const m = buildPolicyMatrix("t", groups, rules, opers);
    assert.deepEqual(m.rows, ["any", "client", "db", "web"]);
    assert.deepEqual(m.columns, ["client", "db", "ip 10.0.0.0/8", "web"]);
    assert.deepEqual(m.cells["client"]?.["web"], [{ policy: "web-in", ruleId: "1", action: "allow", priority: 10, what: "tcp/80", packets: 7, bytes: 420 }]);
    assert.equal(m.cells["any"]?.["web"]?.[0]?.action, "deny");
    assert.equal(m.cells["web"]?.["db"]?.[0]?.what, "tcp/5432");
    assert.equal(m.cells["db"]?.["ip 10.0.0.0/8"]?.[0]?.what, "udp/53");
    assert.deepEqual(m.pending, [{ policy: "web-in", revision: 9, hosts: ["h2"], errors: [] }]);
  });

  test("rules of a policy no group uses, and other tenants' objects, are not in the matrix", () => {
    const m = buildPolicyMatrix("t", groups, [rule({ policyName: "unused", ruleId: "1", direction: "in" }), { ...rule({ policyName: "web-in", ruleId: "1", direction: "in" }), tenantName: "other" }], new Map());
    assert.deepEqual(m.cells, {});
    assert.deepEqual(m.rows, ["client", "db", "web"]);
  });

  test("one cell's rules are ordered by priority, highest first", () => {
    const rules = [
      rule({ policyName: "web-in", ruleId: "a", direction: "in", priority: 2 }),
      rule({ policyName: "web-in", ruleId: "b", direction: "in", priority: 50 }),
      rule({ policyName: "web-in", ruleId: "c", direction: "in" }),
    ];
    const cell = buildPolicyMatrix("t", groups, rules, new Map()).cells["any"]?.["web"] ?? [];
    assert.deepEqual(cell.map((r) => [r.ruleId, r.priority, r.what]), [["b", 50, "any"], ["a", 2, "any"], ["c", 1, "any"]]);
  });
});
