// Network rules that depend on the global configuration, through the API of an in-process netmaster.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { InProcessNetmaster, TEST_ADMIN_PASSWORD } from "../testing/in-process.js";

describe("networks in routing mode", () => {
  let nm: InProcessNetmaster;
  let admin: string;

  before(async () => {
    nm = await InProcessNetmaster.start();
    admin = await nm.login("admin", TEST_ADMIN_PASSWORD);
    const global = (await nm.must({ method: "GET", path: "/api/v1/globals/global/" }, admin)).body as Record<string, unknown>;
    await nm.must({ method: "POST", path: "/api/v1/globals/global/", body: { ...global, fwdMode: "routing" } }, admin);
    await nm.must({ method: "POST", path: "/api/v1/tenants/blue/", body: { tenantName: "blue" } }, admin);
  });
  after(() => nm?.stop());

  it("refuses ipam dhcp (no site DHCP server reaches a routed network's containers) and keeps nothing", async () => {
    const net = { tenantName: "blue", networkName: "d", encap: "vlan", subnet: "198.18.9.0/24", gateway: "198.18.9.254" };
    const before = await nm.store.list("/netplugin/");
    const refused = await nm.call({ method: "POST", path: "/api/v1/networks/blue:d/", body: { ...net, ipam: "dhcp" } }, admin);
    assert.equal(refused.status, 409);
    assert.match(refused.text, /ipam dhcp needs the global fwdMode bridge/);
    assert.deepEqual((await nm.store.list("/netplugin/")).items.map((i) => i.key), before.items.map((i) => i.key));
    assert.equal((await nm.call({ method: "POST", path: "/api/v1/networks/blue:d/", body: net }, admin)).status, 200);
  });
});
