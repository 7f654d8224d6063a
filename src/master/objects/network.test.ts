// Rules that depend on a network's mode (the global fwdMode, the network's attachMode), through the API of an
// in-process netmaster: what cannot have its effect is refused, and nothing of it is kept.

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

describe("what a direct attachment cannot do is refused", () => {
  let nm: InProcessNetmaster;
  let admin: string;
  const post = (path: string, body: unknown) => nm.call({ method: "POST", path, body }, admin);
  const keys = async () => (await nm.store.list("/netplugin/")).items.map((i) => i.key);

  before(async () => {
    nm = await InProcessNetmaster.start();
    admin = await nm.login("admin", TEST_ADMIN_PASSWORD);
    await nm.must({ method: "POST", path: "/api/v1/tenants/blue/", body: { tenantName: "blue" } }, admin);
    const net = { tenantName: "blue", encap: "vlan" };
    await nm.must({ method: "POST", path: "/api/v1/networks/blue:lan/", body: { ...net, networkName: "lan", attachMode: "macvlan", subnet: "198.18.40.0/24" } }, admin);
    await nm.must({ method: "POST", path: "/api/v1/networks/blue:br/", body: { ...net, networkName: "br", subnet: "198.18.41.0/24" } }, admin);
    for (const [name, DSCP] of [["marks", 10], ["plain", 0]] as const) {
      await nm.must({ method: "POST", path: `/api/v1/netprofiles/blue:${name}/`, body: { tenantName: "blue", profileName: name, bandwidth: "10Mbps", DSCP } }, admin);
    }
  });
  after(() => nm?.stop());

  it("a service on a macvlan network (its VIP would live on a bridge the containers never cross)", async () => {
    const was = await keys();
    const svc = { tenantName: "blue", selectors: ["app=web"], ports: ["80:8080:TCP"] };
    const refused = await post("/api/v1/serviceLBs/blue:web/", { ...svc, serviceName: "web", networkName: "lan" });
    assert.equal(refused.status, 400);
    assert.match(refused.text, /Service load balancing needs attachMode bridge: network lan attaches its containers by macvlan/);
    assert.deepEqual(await keys(), was);
    assert.equal((await post("/api/v1/serviceLBs/blue:web/", { ...svc, serviceName: "web", networkName: "br" })).status, 200);
  });

  it("DSCP marking for a group on a macvlan network, by its profile at create and update, or by the profile's update", async () => {
    const group = { tenantName: "blue", groupName: "g", networkName: "lan" };
    let was = await keys();
    const marked = await post("/api/v1/endpointGroups/blue:g/", { ...group, netProfile: "marks" });
    assert.equal(marked.status, 400);
    assert.match(marked.text, /DSCP marking needs attachMode bridge: group g's network lan attaches its containers by macvlan, and netprofile marks sets DSCP 10/);
    assert.deepEqual(await keys(), was);
    assert.equal((await post("/api/v1/endpointGroups/blue:g/", { ...group, netProfile: "plain" })).status, 200, "bandwidth alone applies there");
    assert.equal((await post("/api/v1/endpointGroups/blue:g/", { ...group, netProfile: "marks" })).status, 400);
    was = await keys();
    const profile = await post("/api/v1/netprofiles/blue:plain/", { tenantName: "blue", profileName: "plain", bandwidth: "10Mbps", DSCP: 5 });
    assert.equal(profile.status, 400);
    assert.match(profile.text, /netprofile plain sets DSCP 5/);
    assert.deepEqual(await keys(), was);
    assert.equal((await post("/api/v1/endpointGroups/blue:h/", { tenantName: "blue", groupName: "h", networkName: "br", netProfile: "marks" })).status, 200);
  });
});
