import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";

import { fakeNetmaster, runNetctl, type FakeNetmaster } from "./testing/fakeNetmaster.js";

describe("netctl group", () => {
  let fake: FakeNetmaster;
  const netctl = (...argv: string[]) => runNetctl(argv, { NETMASTER: fake.url });
  beforeEach(async () => {
    fake = await fakeNetmaster({ "GET /api/v1/tenants/default/": { json: { tenantName: "default" } } });
  });
  afterEach(() => fake.close());

  it("create sends every flag; repeatable flags keep their order", async () => {
    const r = await netctl(
      "group", "create", "-t", "blue", "-p", "p1", "--policy", "p2", "-n", "prof", "-e", "ec1", "-r", "10.1.1.10-10.1.1.20",
      "-tag", "gtag", "net1", "g1",
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "Creating EndpointGroup blue:g1\n");
    assert.deepEqual(fake.bodyOf("POST /api/v1/endpointGroups/blue:g1/"), {
      tenantName: "blue",
      networkName: "net1",
      groupName: "g1",
      netProfile: "prof",
      ipPool: "10.1.1.10-10.1.1.20",
      policies: ["p1", "p2"],
      extContractsGrps: ["ec1"],
      cfgdTag: "gtag",
    });
  });

  it("create again with other flags is an update: the same POST with the new body", async () => {
    assert.equal((await netctl("group", "create", "net1", "g1")).code, 0);
    assert.equal((await netctl("group", "create", "--epg-tag", "t", "-p", "web", "net1", "g1")).code, 0);
    assert.deepEqual(fake.requests, [
      {
        method: "POST",
        path: "/api/v1/endpointGroups/default:g1/",
        body: { tenantName: "default", networkName: "net1", groupName: "g1" },
      },
      {
        method: "POST",
        path: "/api/v1/endpointGroups/default:g1/",
        body: { tenantName: "default", networkName: "net1", groupName: "g1", policies: ["web"], cfgdTag: "t" },
      },
    ]);
  });

  it("create needs a network and a group", async () => {
    const r = await netctl("group", "create", "g1");
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^Error: Network and group name required\n\nUsage: netctl group create \[options\] <network> <group>/);
    assert.deepEqual(fake.calls(), []);
  });

  it("rm and inspect address tenant:group", async () => {
    assert.equal((await netctl("group", "rm", "-t", "blue", "g1")).stdout, "");
    fake.on("GET /api/v1/inspect/endpointGroups/default:g1/", { json: { Config: { groupName: "g1" }, Oper: { numEndpoints: 3 } } });
    const r = await netctl("group", "inspect", "g1");
    assert.equal(r.stdout, '{\n  "Config": {\n    "groupName": "g1"\n  },\n  "Oper": {\n    "numEndpoints": 3\n  }\n}\n');
    assert.deepEqual(fake.calls(), ["DELETE /api/v1/endpointGroups/blue:g1/", "GET /api/v1/inspect/endpointGroups/default:g1/"]);
    assert.equal((await netctl("group", "delete")).stderr.split("\n")[0], "Error: EndpointGroup name required");
  });

  it("ls prints Contiv's table with comma-joined policies", async () => {
    fake.on("GET /api/v1/endpointGroups/", {
      json: [
        {
          tenantName: "default",
          groupName: "web",
          networkName: "net1",
          ipPool: "10.1.1.10-10.1.1.20",
          policies: ["p1", "p2"],
          netProfile: "gold",
        },
        { tenantName: "default", groupName: "db", networkName: "net1", cfgdTag: "dbtag" },
        { tenantName: "blue", groupName: "other", networkName: "x" },
      ],
    });
    const r = await netctl("group", "ls");
    assert.equal(r.code, 0);
    assert.equal(
      r.stdout,
      "Tenant   Group  Network  IP Pool              CfgdTag  Policies  Network profile\n" +
        "------   -----  -------  -------              -------  --------  ---------------\n" +
        "default  web    net1     10.1.1.10-10.1.1.20           p1,p2     gold\n" +
        "default  db     net1                          dbtag              \n",
    );
    assert.equal((await netctl("group", "list", "-a", "-q")).stdout, "web\ndb\nother\n");
  });

  it("endpoint inspect (and ep inspect) GET the endpoint's inspect object", async () => {
    const oper = { Oper: { endpointID: "abc123", ipAddress: ["10.1.1.2", ""] } };
    fake.on("GET /api/v1/inspect/endpoints/abc123/", { json: oper });
    for (const cmd of ["endpoint", "ep"]) {
      const r = await netctl(cmd, "inspect", "abc123");
      assert.equal(r.code, 0);
      assert.equal(r.stdout, JSON.stringify(oper, null, 2) + "\n");
    }
    const missing = await netctl("ep", "inspect");
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr.split("\n")[0], "Error: Endpoint name required");
  });
});
