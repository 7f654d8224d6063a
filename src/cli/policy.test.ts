import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";

import { fakeNetmaster, runNetctl, type FakeNetmaster } from "./testing/fakeNetmaster.js";

function line(cells: string[], widths: number[]): string {
  return cells.map((c, i) => (i < widths.length ? c.padEnd(widths[i] as number) : c)).join("") + "\n";
}

describe("netctl policy", () => {
  let fake: FakeNetmaster;
  const netctl = (...argv: string[]) => runNetctl(argv, { NETMASTER: fake.url });
  beforeEach(async () => {
    fake = await fakeNetmaster({
      "GET /api/v1/tenants/default/": { json: { tenantName: "default" } },
      "GET /api/v1/policys/default:pol/": { json: { tenantName: "default", policyName: "pol" } },
    });
  });
  afterEach(() => fake.close());

  it("create, rm and inspect use the `policys` collection", async () => {
    assert.equal((await netctl("policy", "create", "-t", "blue", "pol")).stdout, "Creating policy blue:pol\n");
    assert.equal((await netctl("policy", "rm", "pol")).stdout, "Deleting policy default:pol\n");
    fake.on("GET /api/v1/inspect/policys/default:pol/", { json: { Config: {}, Oper: {} } });
    assert.equal((await netctl("policy", "inspect", "pol")).code, 0);
    assert.deepEqual(fake.calls(), [
      "POST /api/v1/policys/blue:pol/",
      "DELETE /api/v1/policys/default:pol/",
      "GET /api/v1/inspect/policys/default:pol/",
    ]);
    assert.deepEqual(fake.requests[0]?.body, { policyName: "pol", tenantName: "blue" });
  });

  it("ls prints Tenant/Policy", async () => {
    fake.on("GET /api/v1/policys/", {
      json: [
        { tenantName: "default", policyName: "web-in" },
        { tenantName: "TestTenant", policyName: "policyAB" },
      ],
    });
    assert.equal((await netctl("policy", "ls")).stdout, "Tenant   Policy\n------   ------\ndefault  web-in\n");
    assert.equal(
      (await netctl("policy", "ls", "-a")).stdout,
      "Tenant      Policy\n------      ------\ndefault     web-in\nTestTenant  policyAB\n",
    );
  });

  it("rule-add sends the rule with every flag", async () => {
    const r = await netctl(
      "policy", "rule-add", "-t", "blue", "-p", "10", "-d", "in", "-g", "web", "-i", "10.0.0.0/8", "-l", "tcp", "-P", "80", "-j", "deny",
      "pol", "1",
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "");
    assert.deepEqual(fake.bodyOf("POST /api/v1/rules/blue:pol:1/"), {
      tenantName: "blue",
      policyName: "pol",
      ruleId: "1",
      priority: 10,
      direction: "in",
      fromEndpointGroup: "web",
      fromIpAddress: "10.0.0.0/8",
      protocol: "tcp",
      port: 80,
      action: "deny",
    });
  });

  it("rule-add defaults: priority 1, direction in, action allow", async () => {
    assert.equal((await netctl("policy", "rule-add", "pol", "2")).code, 0);
    assert.deepEqual(fake.bodyOf("POST /api/v1/rules/default:pol:2/"), {
      tenantName: "default",
      policyName: "pol",
      ruleId: "2",
      priority: 1,
      direction: "in",
      action: "allow",
    });
  });

  it("rule-add out with to-group / to-network / to-ip-address", async () => {
    assert.equal((await netctl("policy", "rule-add", "-d", "out", "-e", "db", "-s", "10.1.0.0/16", "pol", "3")).code, 0);
    assert.equal((await netctl("policy", "rule-add", "--direction=out", "--to-network=net2", "pol", "4")).code, 0);
    assert.deepEqual(fake.bodyOf("POST /api/v1/rules/default:pol:3/"), {
      tenantName: "default",
      policyName: "pol",
      ruleId: "3",
      priority: 1,
      direction: "out",
      toEndpointGroup: "db",
      toIpAddress: "10.1.0.0/16",
      action: "allow",
    });
    assert.equal((fake.bodyOf("POST /api/v1/rules/default:pol:4/") as Record<string, unknown>)["toNetwork"], "net2");
  });

  const directionErrors: Array<{ flags: string[]; message: string }> = [
    { flags: ["-e", "db"], message: "Cant specify to-group for incoming rule" },
    { flags: ["-o", "net"], message: "Cant specify to-network for incoming rule" },
    { flags: ["-g", "web", "-n", "net"], message: "Can't specify both from-group argument and -from-network" },
    { flags: ["-d", "out", "-g", "web"], message: "Cant specify from-group for outgoing rule" },
    { flags: ["-d", "out", "-n", "net"], message: "Cant specify from-network for outgoing rule" },
    { flags: ["-d", "out", "-i", "10.0.0.1"], message: "Cant specify from-ip-address for outgoing rule" },
    { flags: ["-d", "out", "-e", "db", "-o", "net"], message: "Can't specify both -to-group and -to-network" },
    { flags: ["-d", "sideways"], message: "Unknown direction" },
  ];
  for (const c of directionErrors) {
    it(`rule-add refuses: ${c.message}`, async () => {
      const r = await netctl("policy", "rule-add", ...c.flags, "pol", "1");
      assert.equal(r.code, 1);
      assert.equal(r.stderr, `Error: ${c.message}\n`);
      assert.deepEqual(fake.calls(), []);
    });
  }

  it("rule-add and rule-rm need a policy and a rule id; bad ints are usage errors", async () => {
    assert.equal((await netctl("policy", "rule-add", "pol")).stderr.split("\n")[0], "Error: Policy name and Rule ID required");
    assert.equal((await netctl("policy", "rule-rm", "pol")).stderr.split("\n")[0], "Error: Policy name and Rule ID required");
    const bad = await netctl("policy", "rule-add", "-P", "http", "pol", "1");
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^Error: Option '-P, --port <port>' argument 'http' is invalid\. Expected an integer\./);
    assert.deepEqual(fake.calls(), []);
  });

  it("rule-rm deletes tenant:policy:rule", async () => {
    assert.equal((await netctl("policy", "rule-rm", "-t", "blue", "pol", "7")).code, 0);
    assert.deepEqual(fake.calls(), ["DELETE /api/v1/rules/blue:pol:7/"]);
  });

  describe("rule-ls", () => {
    const r1 = { tenantName: "default", policyName: "pol", ruleId: "1", priority: 5, direction: "in", fromEndpointGroup: "web", protocol: "tcp", port: 80, action: "allow" };
    const r2 = { tenantName: "default", policyName: "pol", ruleId: "2", priority: 1, direction: "out", toIpAddress: "10.0.0.0/8", protocol: "udp", port: 53, action: "deny" };
    const r3 = { tenantName: "default", policyName: "pol", ruleId: "3", priority: 1, direction: "in", fromNetwork: "net1", action: "deny" };
    const other = { tenantName: "default", policyName: "other", ruleId: "9", priority: 1, direction: "in", action: "deny" };
    beforeEach(() => {
      fake.on("GET /api/v1/rules/", { json: [r1, r2, other, r3] });
    });

    it("checks tenant and policy, then prints two tables sorted by priority", async () => {
      const r = await netctl("policy", "rule-ls", "pol");
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(fake.calls(), ["GET /api/v1/tenants/default/", "GET /api/v1/policys/default:pol/", "GET /api/v1/rules/"]);
      const inW = [6, 10, 20, 14, 16, 14, 10, 6];
      const outW = [6, 10, 18, 12, 14, 10, 6];
      assert.equal(
        r.stdout,
        "Incoming Rules:\n" +
          line(["Rule", "Priority", "From EndpointGroup", "From Network", "From IpAddress", "To IpAddress", "Protocol", "Port", "Action"], inW) +
          line(["----", "--------", "------------------", "------------", "---------", "------------", "--------", "----", "------"], inW) +
          line(["3", "1", "", "net1", "", "", "", "0", "deny"], inW) +
          line(["1", "5", "web", "", "", "", "tcp", "80", "allow"], inW) +
          "Outgoing Rules:\n" +
          line(["Rule", "Priority", "To EndpointGroup", "To Network", "To IpAddress", "Protocol", "Port", "Action"], outW) +
          line(["----", "--------", "----------------", "----------", "---------", "--------", "----", "------"], outW) +
          line(["2", "1", "", "", "10.0.0.0/8", "udp", "53", "deny"], outW),
      );
    });

    it("-q prints rule ids and -j the rules, both in priority order", async () => {
      assert.equal((await netctl("policy", "rule-ls", "-q", "pol")).stdout, "2\n3\n1\n");
      assert.equal((await netctl("policy", "rule-ls", "-j", "pol")).stdout, JSON.stringify([r2, r3, r1], null, 2) + "\n");
    });

    it("an unknown policy exits 3", async () => {
      fake.on("GET /api/v1/policys/default:nope/", { status: 404, text: 'policy "default:nope" not found' });
      const r = await netctl("policy", "rule-ls", "nope");
      assert.equal(r.code, 3);
      assert.equal(r.stderr, 'Error: policy "default:nope" not found\n');
    });
  });
});
