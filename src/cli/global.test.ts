import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";

import { fakeNetmaster, runNetctl, type FakeNetmaster } from "./testing/fakeNetmaster.js";

const global = {
  key: "global",
  name: "global",
  networkInfraType: "default",
  vlans: "1-4094",
  vxlans: "1-10000",
  fwdMode: "bridge",
  arpMode: "proxy",
  pvtSubnet: "10.200.0.0/16",
};

describe("netctl global", () => {
  let fake: FakeNetmaster;
  const netctl = (...argv: string[]) => runNetctl(argv, { NETMASTER: fake.url });
  beforeEach(async () => {
    fake = await fakeNetmaster({
      "GET /api/v1/globals/": { json: [global] },
      "GET /api/v1/globals/global/": { json: { ...global, "link-sets": {} } },
    });
  });
  afterEach(() => fake.close());

  it("info prints one line per setting; -j the list", async () => {
    const r = await netctl("global", "info");
    assert.equal(r.code, 0);
    assert.equal(
      r.stdout,
      "Fabric mode: default\nForward mode: bridge\nARP mode: proxy\nVlan Range: 1-4094\nVxlan range: 1-10000\nPrivate subnet: 10.200.0.0/16\n",
    );
    assert.equal((await netctl("global", "info", "-j")).stdout, JSON.stringify([global], null, 2) + "\n");
  });

  it("inspect GETs the inspect object of `global`", async () => {
    fake.on("GET /api/v1/inspect/globals/global/", { json: { Config: global, Oper: { vlansInUse: "1-3" } } });
    const r = await netctl("global", "inspect");
    assert.equal(r.stdout, JSON.stringify({ Config: global, Oper: { vlansInUse: "1-3" } }, null, 2) + "\n");
  });

  it("set changes only the given fields and keeps the private subnet", async () => {
    const r = await netctl("global", "set", "--fwd-mode", "routing", "-a", "flood", "-v", "100-200");
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(fake.calls(), ["GET /api/v1/globals/global/", "POST /api/v1/globals/global/"]);
    assert.deepEqual(fake.bodyOf("POST /api/v1/globals/global/"), {
      ...global,
      fwdMode: "routing",
      arpMode: "flood",
      vlans: "100-200",
    });
  });

  it("set accepts every flag", async () => {
    const r = await netctl("global", "set", "-f", "aci", "-x", "1-100", "-b", "bridge", "-s", "172.20.0.0/16", "--vlan-range=1-10");
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(fake.bodyOf("POST /api/v1/globals/global/"), {
      ...global,
      networkInfraType: "aci",
      vxlans: "1-100",
      fwdMode: "bridge",
      pvtSubnet: "172.20.0.0/16",
      vlans: "1-10",
    });
  });

  it("set --sdn-controller sets the controller and changes nothing else", async () => {
    assert.equal((await netctl("global", "set", "--sdn-controller", "tcp:192.0.2.7:6653")).code, 0);
    assert.deepEqual(fake.bodyOf("POST /api/v1/globals/global/"), { ...global, sdnController: "tcp:192.0.2.7:6653" });
  });

  it("set of another field keeps the controller; info shows it after Contiv's lines", async () => {
    const withController = { ...global, sdnController: "ssl:[2001:db8::1]:6653" };
    fake.on("GET /api/v1/globals/global/", { json: withController });
    fake.on("GET /api/v1/globals/", { json: [withController] });
    assert.equal((await netctl("global", "set", "-a", "flood")).code, 0);
    assert.deepEqual(fake.bodyOf("POST /api/v1/globals/global/"), { ...withController, arpMode: "flood" });
    assert.match((await netctl("global", "info")).stdout, /Private subnet: 10\.200\.0\.0\/16\nSDN controller: ssl:\[2001:db8::1\]:6653\n$/);
  });

  it('set --sdn-controller "" clears it', async () => {
    fake.on("GET /api/v1/globals/global/", { json: { ...global, sdnController: "tcp:192.0.2.7:6653" } });
    assert.equal((await netctl("global", "set", "--sdn-controller", "")).code, 0);
    assert.deepEqual(fake.bodyOf("POST /api/v1/globals/global/"), global);
  });

  it("a refused set exits 3 with the server's message", async () => {
    fake.on("POST /api/v1/globals/global/", { status: 409, text: 'Cannot change vlans to "1-2": vlan 3 is in use' });
    const r = await netctl("global", "set", "-v", "1-2");
    assert.equal(r.code, 3);
    assert.equal(r.stderr, 'Error: Cannot change vlans to "1-2": vlan 3 is in use\n');
  });
});

describe("netctl aci-gw", () => {
  let fake: FakeNetmaster;
  const netctl = (...argv: string[]) => runNetctl(argv, { NETMASTER: fake.url });
  beforeEach(async () => {
    fake = await fakeNetmaster();
  });
  afterEach(() => fake.close());

  it("set creates aciGw when missing, with Contiv's defaults", async () => {
    const r = await netctl("aci-gw", "set", "-d", "containerDom", "-n", "topology/pod-1/node-101");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /ACI objects are stored for Contiv compatibility only; this system does not program an ACI fabric/);
    assert.deepEqual(fake.calls(), ["GET /api/v1/aciGws/aciGw/", "POST /api/v1/aciGws/aciGw/"]);
    assert.deepEqual(fake.bodyOf("POST /api/v1/aciGws/aciGw/"), {
      name: "aciGw",
      nodeBindings: "topology/pod-1/node-101",
      physicalDomain: "containerDom",
      enforcePolicies: "yes",
      includeCommonTenant: "no",
    });
  });

  it("set on an existing aciGw keeps its key and overwrites every field", async () => {
    fake.on("GET /api/v1/aciGws/aciGw/", {
      json: {
        key: "aciGw",
        name: "aciGw",
        pathBindings: "old",
        physicalDomain: "old",
        enforcePolicies: "yes",
        includeCommonTenant: "no",
      },
    });
    assert.equal((await netctl("aci-gw", "set", "-d", "dom", "-e", "no", "-i", "yes")).code, 0);
    assert.deepEqual(fake.bodyOf("POST /api/v1/aciGws/aciGw/"), {
      key: "aciGw",
      name: "aciGw",
      physicalDomain: "dom",
      enforcePolicies: "no",
      includeCommonTenant: "yes",
    });
  });

  it("info prints one line per setting; inspect the inspect object", async () => {
    fake.on("GET /api/v1/aciGws/", {
      json: [{ name: "aciGw", pathBindings: "p", nodeBindings: "n", physicalDomain: "d", enforcePolicies: "yes", includeCommonTenant: "no" }],
    });
    fake.on("GET /api/v1/inspect/aciGws/aciGw/", { json: { Config: { name: "aciGw" }, Oper: { numAppProfiles: 1 } } });
    assert.equal(
      (await netctl("aci-gw", "info")).stdout,
      "Path bindings: p\nNode bindings: n\nPhysical domain: d\nEnforce policies: yes\nInclude Common-Tenant: no\n",
    );
    assert.equal((await netctl("aci-gw", "inspect")).stdout, JSON.stringify({ Config: { name: "aciGw" }, Oper: { numAppProfiles: 1 } }, null, 2) + "\n");
  });
});
