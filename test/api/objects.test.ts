// The REST API's create/update/delete semantics, run against a real netmaster
// process on each store backend.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Api } from "../harness/api.js";
import { startNetmaster, waitForLeader, type NetmasterProcess } from "../harness/netmaster.js";
import { STORE_KINDS, storeKinds, type StoreFixture } from "../harness/stores.js";

interface Inspect {
  Config: Record<string, unknown>;
  Oper: Record<string, unknown>;
}

for (const kind of STORE_KINDS) {
  describe(`REST objects on ${kind}`, () => {
    let store: StoreFixture;
    let nm: NetmasterProcess;
    let api: Api;

    before(async () => {
      store = await storeKinds[kind]();
      nm = await startNetmaster({ store: store.url });
      await waitForLeader(nm);
      api = nm.api();
    });
    after(async () => {
      await nm?.stop();
      await store?.teardown();
    });

    test("a fresh netmaster has the global object, tenant default and a version", async () => {
      const g = await api.get<Record<string, unknown>>("/api/v1/globals/global/");
      assert.equal(g.status, 200);
      assert.equal(g.body.vlans, "1-4094");
      assert.equal(g.body.vxlans, "1-10000");
      assert.equal(g.body.fwdMode, "bridge");
      assert.equal(g.body.arpMode, "proxy");
      assert.equal((await api.get("/api/v1/tenants/default/")).status, 200);
      const v = await api.get<Record<string, string>>("/version");
      assert.ok(v.body.Version);
    });

    test("tenants: create, re-post unchanged, refuse changes, list, inspect", async () => {
      await api.create("/api/v1/tenants/blue/", { tenantName: "blue" });
      assert.equal((await api.post("/api/v1/tenants/blue/", { tenantName: "blue" })).status, 200);
      const changed = await api.post("/api/v1/tenants/blue/", { tenantName: "blue", defaultNetwork: "x" });
      assert.equal(changed.status, 409);
      assert.equal(changed.text, "Cant change tenant parameters after its created");
      const list = await api.get<{ tenantName: string }[]>("/api/v1/tenants/");
      assert.deepEqual(list.body.map((t) => t.tenantName).sort(), ["blue", "default"]);
      const ins = await api.get<Inspect>("/api/v1/inspect/tenants/blue/");
      assert.equal(ins.body.Oper.totalNetworks, 0);
    });

    test("re-sending an object netmaster made itself is a no-op whatever the key order", async () => {
      const before = await api.state();
      assert.equal((await api.post("/api/v1/tenants/default/", { tenantName: "default" })).status, 200);
      const g = await api.get<Record<string, unknown>>("/api/v1/globals/global/");
      const reversed = Object.fromEntries(Object.entries(g.body).reverse());
      assert.equal((await api.post("/api/v1/globals/global/", reversed)).status, 200);
      assert.deepEqual(await api.state(), before);
    });

    test("MACs are unique per network: a requested MAC moves the derived one of a later endpoint", async () => {
      await api.create("/api/v1/tenants/macs/", { tenantName: "macs" });
      const net = { tenantName: "macs", encap: "vxlan", subnet: "198.18.7.0/24", gateway: "198.18.7.254" };
      await api.create("/api/v1/networks/macs:a/", { ...net, networkName: "a" });
      await api.create("/api/v1/networks/macs:b/", { ...net, networkName: "b", subnet: "198.18.8.0/24", gateway: "198.18.8.254" });
      type Reply = { endpoint: { macAddress: string; ipAddress: string; endpointID: string } };
      const taker = await api.create<Reply>("/api/v1/agent/endpoints/", { tenantName: "macs", networkName: "a", containerID: "taker", host: "h", macAddress: "02:02:c6:12:07:02" });
      const first = await api.create<Reply>("/api/v1/agent/endpoints/", { tenantName: "macs", networkName: "a", containerID: "first", host: "h" });
      const second = await api.create<Reply>("/api/v1/agent/endpoints/", { tenantName: "macs", networkName: "a", containerID: "second", host: "h" });
      assert.deepEqual([first.endpoint.ipAddress, second.endpoint.ipAddress], ["198.18.7.2", "198.18.7.3"]);
      assert.equal(first.endpoint.macAddress === taker.endpoint.macAddress, false);
      assert.match(first.endpoint.macAddress, /^[0-9a-f][26ae](:[0-9a-f]{2}){5}$/, "locally administered unicast");
      assert.equal(second.endpoint.macAddress, "02:02:c6:12:07:03");
      // Another network is another segment: the same MAC is fine there.
      await api.create("/api/v1/agent/endpoints/", { tenantName: "macs", networkName: "b", containerID: "taker", host: "h", macAddress: "02:02:c6:12:07:02" });
      // A released MAC can be taken again.
      assert.equal((await api.del(`/api/v1/agent/endpoints/${taker.endpoint.endpointID}/`)).status, 200);
      const again = await api.create<Reply>("/api/v1/agent/endpoints/", { tenantName: "macs", networkName: "a", containerID: "again", host: "h", macAddress: "02:02:c6:12:07:02" });
      assert.equal(again.endpoint.macAddress, "02:02:c6:12:07:02");
      for (const id of ["first", "second", "again"]) assert.equal((await api.del(`/api/v1/agent/endpoints/a.macs-${id}/`)).status, 200);
      assert.equal((await api.del("/api/v1/agent/endpoints/b.macs-taker/")).status, 200);
      for (const n of ["a", "b"]) assert.equal((await api.del(`/api/v1/networks/macs:${n}/`)).status, 200);
      // Nothing of the networks or their endpoints is left, MAC holders included.
      assert.deepEqual(Object.keys(await api.state()).filter((k) => /macs[:-]/.test(k)), []);
    });

    test("networks: an attach mode and its interface are stored and shown by inspect", async () => {
      await api.create("/api/v1/tenants/nic/", { tenantName: "nic" });
      const body = { tenantName: "nic", networkName: "m", encap: "vlan", subnet: "198.18.9.0/24", attachMode: "macvlan", uplinkIf: "eth1" };
      await api.create("/api/v1/networks/nic:m/", body);
      const ins = await api.get<{ Config: Record<string, unknown> }>("/api/v1/inspect/networks/nic:m/");
      assert.equal(ins.body.Config["attachMode"], "macvlan");
      assert.equal(ins.body.Config["uplinkIf"], "eth1");
      assert.equal((await api.del("/api/v1/networks/nic:m/")).status, 200);
      assert.equal((await api.del("/api/v1/tenants/nic/")).status, 200);
    });

    test("an ipam dhcp network takes only the agents' leases; vxlan refuses dhcp; inspect shows the source", async () => {
      await api.create("/api/v1/tenants/lease/", { tenantName: "lease" });
      const net = { tenantName: "lease", encap: "vlan", subnet: "198.18.9.0/24", gateway: "198.18.9.254", ipam: "dhcp" };
      const vx = await api.post("/api/v1/networks/lease:vx/", { ...net, networkName: "vx", encap: "vxlan" });
      assert.equal(vx.status >= 400, true);
      assert.match(JSON.stringify(vx.body), /ipam dhcp needs encap vlan/);
      await api.create("/api/v1/networks/lease:d/", { ...net, networkName: "d" });
      assert.equal((await api.get<Inspect>("/api/v1/inspect/networks/lease:d/")).body.Config.ipam, "dhcp");
      await api.create("/api/v1/networks/lease:n/", { ...net, networkName: "n", ipam: undefined, subnet: "198.18.10.0/24", gateway: "198.18.10.254" });
      assert.equal((await api.get<Inspect>("/api/v1/inspect/networks/lease:n/")).body.Config.ipam, "netmaster");
      const ep = { tenantName: "lease", networkName: "d", host: "h" };
      type Reply = { endpoint: { ipAddress: string; endpointID: string; ipamSource?: string; macAddress: string } };
      // A plain request: the endpoint waits for its lease, without IPv4 (the agent plumbs it, leases, records).
      const waiting = await api.create<Reply>("/api/v1/agent/endpoints/", { ...ep, containerID: "wait" });
      assert.equal(waiting.endpoint.ipAddress, "");
      assert.equal(waiting.endpoint.ipamSource, "dhcp");
      assert.match(waiting.endpoint.macAddress, /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
      const lease = (ip: string, id = waiting.endpoint.endpointID) => api.call<Reply>("PUT", `/api/v1/agent/endpoints/${id}/lease`, { ipAddress: ip });
      const static_ = await api.post("/api/v1/agent/endpoints/", { ...ep, containerID: "alloc", ipAddress: "198.18.9.7" });
      assert.match(JSON.stringify(static_.body), /takes its addresses from DHCP/);
      const delegated = await api.post("/api/v1/agent/endpoints/", { ...ep, containerID: "alloc", ipAddress: "198.18.9.7", ipamSource: "cni:static" });
      assert.match(JSON.stringify(delegated.body), /takes its addresses from DHCP/);
      const outside = await api.post("/api/v1/agent/endpoints/", { ...ep, containerID: "out", ipAddress: "198.18.99.5", ipamSource: "dhcp" });
      assert.equal(outside.status >= 400, true);
      const wrong = await api.post("/api/v1/agent/endpoints/", { ...ep, networkName: "n", containerID: "w", ipAddress: "198.18.10.5", ipamSource: "dhcp" });
      assert.match(JSON.stringify(wrong.body), /does not take its addresses from DHCP/);
      const leased = await api.create<Reply>("/api/v1/agent/endpoints/", { ...ep, containerID: "c1", ipAddress: "198.18.9.50", ipamSource: "dhcp" });
      assert.equal(leased.endpoint.ipAddress, "198.18.9.50");
      // Recording a lease: outside the subnet, held by another endpoint, or not an address: refused.
      assert.equal((await lease("198.18.99.5")).status, 400);
      assert.match(JSON.stringify((await lease("198.18.99.5")).body), /Cannot record DHCP lease 198\.18\.99\.5/);
      assert.equal((await lease("198.18.9.50")).status, 409);
      assert.equal((await lease("not-an-ip")).status, 400);
      assert.equal((await lease("198.18.9.51")).body.endpoint.ipAddress, "198.18.9.51");
      assert.equal((await lease("198.18.9.51")).status, 200, "the same lease again changes nothing");
      // A renewal with another address releases the old one.
      assert.equal((await lease("198.18.9.52")).body.endpoint.ipAddress, "198.18.9.52");
      assert.equal((await lease("198.18.9.51", leased.endpoint.endpointID)).body.endpoint.ipAddress, "198.18.9.51");
      assert.equal((await api.del(`/api/v1/agent/endpoints/${waiting.endpoint.endpointID}/`)).status, 200);
      const oper = (await api.get<Inspect>(`/api/v1/inspect/endpoints/${leased.endpoint.endpointID}/`)).body.Oper;
      assert.equal(oper.ipamSource, "dhcp");
      assert.equal((await api.del(`/api/v1/agent/endpoints/${leased.endpoint.endpointID}/`)).status, 200);
      for (const n of ["d", "n"]) assert.equal((await api.del(`/api/v1/networks/lease:${n}/`)).status, 200);
      assert.deepEqual(Object.keys(await api.state()).filter((k) => /lease[:-]/.test(k)), []);
    });

    test("an endpoint whose delegated IPAM plugin leases on the interface: no IPv4 at first, its address recorded once", async () => {
      await api.create("/api/v1/tenants/later/", { tenantName: "later" });
      await api.create("/api/v1/networks/later:n/", { tenantName: "later", networkName: "n", encap: "vxlan", subnet: "198.18.11.0/24", gateway: "198.18.11.254" });
      const ep = { tenantName: "later", networkName: "n", host: "h" };
      type Reply = { endpoint: { ipAddress: string; endpointID: string; ipamSource?: string } };
      const own = await api.post("/api/v1/agent/endpoints/", { ...ep, containerID: "x", addressLater: true });
      assert.match(own.text, /addressLater is for a delegated IPAM plugin's address/);
      const withIp = await api.post("/api/v1/agent/endpoints/", { ...ep, containerID: "x", addressLater: true, ipamSource: "cni:dhcp", ipAddress: "198.18.11.5" });
      assert.equal(withIp.status, 400);
      const waiting = await api.create<Reply>("/api/v1/agent/endpoints/", { ...ep, containerID: "c1", addressLater: true, ipamSource: "cni:dhcp" });
      assert.deepEqual([waiting.endpoint.ipAddress, waiting.endpoint.ipamSource], ["", "cni:dhcp"]);
      const record = (ip: string) => api.call<Reply>("PUT", `/api/v1/agent/endpoints/${waiting.endpoint.endpointID}/lease`, { ipAddress: ip });
      assert.equal((await record("198.18.99.5")).status, 400, "outside the subnet");
      assert.equal((await record("198.18.11.120")).body.endpoint.ipAddress, "198.18.11.120");
      assert.equal((await record("198.18.11.120")).status, 200, "the same again changes nothing");
      const moved = await record("198.18.11.121");
      assert.equal(moved.status, 409);
      assert.match(moved.text, /it has 198\.18\.11\.120 from IPAM plugin dhcp already/);
      assert.equal((await api.del(`/api/v1/agent/endpoints/${waiting.endpoint.endpointID}/`)).status, 200);
      assert.equal((await api.del("/api/v1/networks/later:n/")).status, 200);
      assert.deepEqual(Object.keys(await api.state()).filter((k) => /later[:-]/.test(k)), []);
    });

    test("networks: allocation strings, tags, overlap only within a tenant", async () => {
      await api.create("/api/v1/networks/blue:net1/", {
        tenantName: "blue",
        networkName: "net1",
        encap: "vxlan",
        subnet: "10.1.1.0/24",
        gateway: "10.1.1.254",
      });
      const ins = await api.get<Inspect>("/api/v1/inspect/networks/blue:net1/");
      assert.equal(ins.body.Oper.availableIPAddresses, "10.1.1.1-10.1.1.253");
      assert.equal(ins.body.Oper.allocatedIPAddresses, "10.1.1.254");
      assert.equal(ins.body.Oper.externalPktTag, 1);
      assert.equal(ins.body.Config.nwType, "data");

      const overlap = await api.post("/api/v1/networks/blue:net2/", {
        tenantName: "blue", networkName: "net2", encap: "vxlan", subnet: "10.1.1.128/25",
      });
      assert.equal(overlap.status, 409);
      assert.equal(overlap.text, "network net1 conflicts with subnet 10.1.1.128/25");

      await api.create("/api/v1/tenants/red/", { tenantName: "red" });
      await api.create("/api/v1/networks/red:net1/", {
        tenantName: "red", networkName: "net1", encap: "vxlan", subnet: "10.1.1.0/24",
      });
      const red = await api.get<Inspect>("/api/v1/inspect/networks/red:net1/");
      assert.equal(red.body.Oper.externalPktTag, 2);
      assert.equal(red.body.Oper.availableIPAddresses, "10.1.1.1-10.1.1.254");

      const noTenant = await api.post("/api/v1/networks/nope:n/", {
        tenantName: "nope", networkName: "n", encap: "vxlan", subnet: "10.9.0.0/16",
      });
      assert.equal(noTenant.status, 404);
      assert.equal(noTenant.text, "Tenant not found");

      const taken = await api.post("/api/v1/networks/red:v2/", {
        tenantName: "red", networkName: "v2", encap: "vxlan", subnet: "10.2.0.0/16", pktTag: 2,
      });
      assert.equal(taken.status, 409);
      assert.match(taken.text, /requested vxlan not available/);

      await api.create("/api/v1/networks/red:ranged/", {
        tenantName: "red", networkName: "ranged", encap: "vlan", subnet: "10.100.100.194-10.100.100.222/27",
      });
      const ranged = await api.get<Inspect>("/api/v1/inspect/networks/red:ranged/");
      assert.equal(ranged.body.Oper.availableIPAddresses, "10.100.100.194-10.100.100.222");
      assert.equal(ranged.body.Oper.pktTag, 1);

      const changed = await api.post("/api/v1/networks/red:ranged/", {
        tenantName: "red", networkName: "ranged", encap: "vlan", subnet: "10.100.100.0/24",
      });
      assert.equal(changed.status, 409);
      assert.equal(changed.text, "Cant change network parameters after its created");
    });

    test("groups: ip pools, ids, references, deletes", async () => {
      await api.create("/api/v1/networks/blue:pooled/", {
        tenantName: "blue", networkName: "pooled", encap: "vxlan", subnet: "10.3.1.0/24",
      });
      const badPool = await api.post("/api/v1/endpointGroups/blue:g0/", {
        tenantName: "blue", groupName: "g0", networkName: "pooled", ipPool: "10.3.1.0-10.3.1.5",
      });
      assert.equal(badPool.status, 409);
      await api.create("/api/v1/endpointGroups/blue:g1/", {
        tenantName: "blue", groupName: "g1", networkName: "pooled", ipPool: "10.3.1.11-10.3.1.20",
      });
      const net = await api.get<Inspect>("/api/v1/inspect/networks/blue:pooled/");
      assert.equal(net.body.Oper.allocatedIPAddresses, "10.3.1.11-10.3.1.20");
      assert.equal(net.body.Oper.availableIPAddresses, "10.3.1.1-10.3.1.10, 10.3.1.21-10.3.1.254");

      await api.create("/api/v1/endpointGroups/blue:g2/", { tenantName: "blue", groupName: "g2", networkName: "pooled" });
      const g1 = await api.get<Inspect>("/api/v1/inspect/endpointGroups/blue:g1/");
      const g2 = await api.get<Inspect>("/api/v1/inspect/endpointGroups/blue:g2/");
      assert.equal(g1.body.Oper.availableIPAddresses, "10.3.1.11-10.3.1.20");
      assert.ok((g2.body.Oper.endpointGroupId as number) > (g1.body.Oper.endpointGroupId as number));

      const missingNet = await api.post("/api/v1/endpointGroups/blue:g3/", { tenantName: "blue", groupName: "g3", networkName: "zz" });
      assert.equal(missingNet.status, 404);
      assert.equal(missingNet.text, "Network zz not found");
      const missingPolicy = await api.post("/api/v1/endpointGroups/blue:g3/", {
        tenantName: "blue", groupName: "g3", networkName: "pooled", policies: ["nope"],
      });
      assert.equal(missingPolicy.status, 404);
      assert.equal(missingPolicy.text, "Policy not found");
      const clash = await api.post("/api/v1/endpointGroups/blue:net1/", { tenantName: "blue", groupName: "net1", networkName: "pooled" });
      assert.equal(clash.status, 409);
      assert.equal(clash.text, "Network net1 conflicts with the endpointGroup name");

      const moved = await api.post("/api/v1/endpointGroups/blue:g2/", { tenantName: "blue", groupName: "g2", networkName: "net1" });
      assert.equal(moved.status, 409);
      assert.equal(moved.text, "Cannot change network association after epg is created.");

      const inUse = await api.del("/api/v1/networks/blue:pooled/");
      assert.equal(inUse.status, 409);
      assert.equal(inUse.text, "cannot delete pooled has 2 endpoint groups");

      assert.equal((await api.del("/api/v1/endpointGroups/blue:g1/")).status, 200);
      const after = await api.get<Inspect>("/api/v1/inspect/networks/blue:pooled/");
      assert.equal(after.body.Oper.availableIPAddresses, "10.3.1.1-10.3.1.254");
    });

    test("endpoints: lowest free, pools, requested addresses, release, in-use refusals", async () => {
      const ep = async (container: string, extra: Record<string, unknown> = {}) =>
        api.post<{ endpoint: { ipAddress: string; macAddress: string; endpointID: string } }>("/api/v1/agent/endpoints/", {
          tenantName: "blue", networkName: "net1", containerID: container, host: "h1", ...extra,
        });
      const a = await ep("c1");
      assert.equal(a.status, 200, a.text);
      assert.equal(a.body.endpoint.ipAddress, "10.1.1.1");
      assert.equal(a.body.endpoint.macAddress, "02:02:0a:01:01:01");
      assert.equal((await ep("c1")).body.endpoint.ipAddress, "10.1.1.1", "create is idempotent");
      assert.equal((await ep("c2")).body.endpoint.ipAddress, "10.1.1.2");
      const dup = await ep("c3", { ipAddress: "10.1.1.2" });
      assert.equal(dup.status, 409);
      assert.equal((await ep("c4", { ipAddress: "10.1.1.100" })).body.endpoint.ipAddress, "10.1.1.100");

      await api.create("/api/v1/endpointGroups/blue:web/", {
        tenantName: "blue", groupName: "web", networkName: "pooled", ipPool: "10.3.1.50-10.3.1.51",
      });
      const p1 = await api.post<{ endpoint: { ipAddress: string } }>("/api/v1/agent/endpoints/", {
        tenantName: "blue", groupName: "web", containerID: "w1", host: "h1",
      });
      assert.equal(p1.body.endpoint.ipAddress, "10.3.1.50");
      await api.create("/api/v1/agent/endpoints/", { tenantName: "blue", groupName: "web", containerID: "w2", host: "h1" });
      const full = await api.post("/api/v1/agent/endpoints/", { tenantName: "blue", groupName: "web", containerID: "w3", host: "h1" });
      assert.equal(full.status, 409);
      assert.match(full.text, /address exhaustion in pool/);

      const busyGroup = await api.del("/api/v1/endpointGroups/blue:web/");
      assert.equal(busyGroup.status, 409);
      assert.equal(busyGroup.text, "Error: EPG web has active endpoints");

      const found = await api.get<{ Oper: { ipAddress: string[] } }>("/api/v1/inspect/endpoints/w1/");
      assert.deepEqual(found.body.Oper.ipAddress, ["10.3.1.50", ""]);

      assert.equal((await api.del(`/api/v1/agent/endpoints/${a.body.endpoint.endpointID}/`)).status, 200);
      assert.equal((await api.del(`/api/v1/agent/endpoints/${a.body.endpoint.endpointID}/`)).status, 404);
      assert.equal((await ep("c5")).body.endpoint.ipAddress, "10.1.1.1", "a released address is handed out again");
    });

    test("endpoints: concurrent requests never share an address", async () => {
      await api.create("/api/v1/networks/red:busy/", { tenantName: "red", networkName: "busy", encap: "vxlan", subnet: "10.50.0.0/16" });
      const replies = await Promise.all(
        Array.from({ length: 100 }, (_, i) =>
          api.post<{ endpoint: { ipAddress: string } }>("/api/v1/agent/endpoints/", {
            tenantName: "red", networkName: "busy", containerID: `par-${i}`, host: "h1",
          }),
        ),
      );
      for (const r of replies) assert.equal(r.status, 200, r.text);
      const ips = new Set(replies.map((r) => r.body.endpoint.ipAddress));
      assert.equal(ips.size, 100);
      const ins = await api.get<Inspect>("/api/v1/inspect/networks/red:busy/");
      assert.equal(ins.body.Oper.allocatedIPAddresses, "10.50.0.1-10.50.0.100");
      assert.equal(ins.body.Oper.numEndpoints, 100);
    });

    test("address blocks: concurrent grants, registrations from blocks and netmaster's allocations never share an address", async () => {
      await api.create("/api/v1/networks/red:blocks/", { tenantName: "red", networkName: "blocks", encap: "vxlan", subnet: "10.51.0.0/24" });
      const hosts = ["b1", "b2", "b3"];
      for (const h of hosts) assert.equal((await api.call("PUT", `/api/v1/agent/hosts/${h}/`, { vtepIP: "198.18.2.1", mtu: 1500 })).status, 200);
      const grants = await Promise.all(
        hosts.flatMap((host) => [0, 1].map(() => api.post<{ block: { host: string; cidr: string; addresses: string[] } }>("/api/v1/agent/blocks/", { tenantName: "red", networkName: "blocks", host }))),
      );
      for (const r of grants) assert.equal(r.status, 200, r.text);
      const blocks = grants.map((r) => r.body.block);
      assert.equal(new Set(blocks.map((b) => b.cidr)).size, 6, "six distinct blocks");
      const inBlocks = blocks.flatMap((b) => b.addresses);
      assert.equal(new Set(inBlocks).size, inBlocks.length);

      const fromBlocks = blocks.flatMap((b) => b.addresses.slice(0, 5).map((ipAddress, i) => ({ tenantName: "red", networkName: "blocks", containerID: `blk-${ipAddress}-${i}`, host: b.host, ipAddress, fromBlock: true })));
      const roundTrips = Array.from({ length: 30 }, (_, i) => ({ tenantName: "red", networkName: "blocks", containerID: `rt-${i}`, host: hosts[i % 3]! }));
      const replies = await Promise.all([...fromBlocks, ...roundTrips].map((body) => api.post<{ endpoint: { ipAddress: string } }>("/api/v1/agent/endpoints/", body)));
      for (const r of replies) assert.equal(r.status, 200, r.text);
      const ips = replies.map((r) => r.body.endpoint.ipAddress);
      assert.equal(new Set(ips).size, ips.length, "no address twice");
      const fromNetmaster = ips.slice(fromBlocks.length);
      assert.deepEqual(fromNetmaster.filter((ip) => inBlocks.includes(ip)), [], "netmaster handed out no block address");
      const ins = await api.get<Inspect>("/api/v1/inspect/networks/red:blocks/");
      assert.deepEqual((ins.body.Oper.addressBlocks as { assigned: number }[]).map((b) => b.assigned), [5, 5, 5, 5, 5, 5]);
      for (const h of hosts) assert.equal((await api.del(`/api/v1/agent/hosts/${h}/?force=true`)).status, 200);
      const after = await api.get<Inspect>("/api/v1/inspect/networks/red:blocks/");
      assert.deepEqual(after.body.Oper.addressBlocks, []);
      assert.equal(after.body.Oper.availableIPAddresses, "10.51.0.1-10.51.0.254");
    });

    test("policies and rules: references, direction checks, immutability, in-use", async () => {
      await api.create("/api/v1/policys/blue:p1/", { tenantName: "blue", policyName: "p1" });
      const rule = { tenantName: "blue", policyName: "p1", ruleId: "1", direction: "in", protocol: "tcp", action: "deny" };
      await api.create("/api/v1/rules/blue:p1:1/", rule);
      const stored = await api.get<Record<string, unknown>>("/api/v1/rules/blue:p1:1/");
      assert.equal(stored.body.priority, 1, "priority 0 defaults to 1");
      const changed = await api.post("/api/v1/rules/blue:p1:1/", { ...rule, action: "allow" });
      assert.equal(changed.status, 409);
      assert.equal(changed.text, "can not update a rule after its created");
      const to = await api.post("/api/v1/rules/blue:p1:2/", { ...rule, ruleId: "2", toEndpointGroup: "g2" });
      assert.equal(to.status, 400);
      assert.equal(to.text, "can not specify 'to' parameters in incoming rule");
      const from = await api.post("/api/v1/rules/blue:p1:3/", { ...rule, ruleId: "3", direction: "out", fromEndpointGroup: "g2" });
      assert.equal(from.text, "can not specify 'from' parameters in outgoing rule");
      const missing = await api.post("/api/v1/rules/blue:p1:4/", { ...rule, ruleId: "4", fromEndpointGroup: "nope" });
      assert.equal(missing.status, 404);
      assert.equal(missing.text, "endpoint group not found");
      const noPolicy = await api.post("/api/v1/rules/blue:p9:1/", { ...rule, policyName: "p9" });
      assert.equal(noPolicy.text, "Policy not found");

      await api.create("/api/v1/endpointGroups/blue:g2/", { tenantName: "blue", groupName: "g2", networkName: "pooled", policies: ["p1"] });
      const used = await api.del("/api/v1/policys/blue:p1/");
      assert.equal(used.status, 409);
      assert.equal(used.text, "Policy is being used");
      await api.create("/api/v1/endpointGroups/blue:g2/", { tenantName: "blue", groupName: "g2", networkName: "pooled" });
      assert.equal((await api.del("/api/v1/policys/blue:p1/")).status, 200);
      assert.equal((await api.get("/api/v1/rules/blue:p1:1/")).status, 404, "rules go with their policy");
    });

    test("netprofiles, global settings, services, tenant deletion", async () => {
      const burst = await api.post("/api/v1/netprofiles/blue:slow/", { tenantName: "blue", profileName: "slow", bandwidth: "10Mbps", burst: 1 });
      assert.equal(burst.status, 400);
      assert.equal(burst.text, "Invalid Burst size. burst size > 1500 bytes");
      await api.create("/api/v1/netprofiles/blue:slow/", { tenantName: "blue", profileName: "slow", bandwidth: "10Mbps", burst: 100, DSCP: 10 });
      await api.create("/api/v1/endpointGroups/blue:g2/", { tenantName: "blue", groupName: "g2", networkName: "pooled", netProfile: "slow" });
      const used = await api.del("/api/v1/netprofiles/blue:slow/");
      assert.equal(used.text, "NetProfile is being used");

      const global = (await api.get<Record<string, unknown>>("/api/v1/globals/global/")).body;
      const fwd = await api.post("/api/v1/globals/global/", { ...global, fwdMode: "routing" });
      assert.equal(fwd.status, 409);
      assert.match(fwd.text, /^Unable to update forwarding mode due to existing \d+ vlans and \d+ vxlans$/);
      const range = await api.post("/api/v1/globals/global/", { ...global, vxlans: "5-100" });
      assert.equal(range.status, 409);
      assert.match(range.text, /cannot update the vxlan range due to existing vxlans/);
      assert.equal((await api.post("/api/v1/globals/global/", { ...global, arpMode: "flood" })).status, 200);
      const ginspect = await api.get<Inspect>("/api/v1/inspect/globals/global/");
      assert.match(ginspect.body.Oper.vxlansInUse as string, /^1-\d+$/);

      await api.create("/api/v1/serviceLBs/blue:svc/", {
        tenantName: "blue", serviceName: "svc", networkName: "net1", selectors: ["app=web"], ports: ["80:8080:TCP"],
      });
      const svc = await api.get<Inspect>("/api/v1/inspect/serviceLBs/blue:svc/");
      assert.match(svc.body.Oper.serviceVip as string, /^10\.1\.1\.\d+$/);
      const taken = await api.post("/api/v1/serviceLBs/blue:svc2/", {
        tenantName: "blue", serviceName: "svc2", networkName: "net1", selectors: ["app=web"], ports: ["80:8080:TCP"], ipAddress: svc.body.Oper.serviceVip,
      });
      assert.equal(taken.status, 409);

      const busy = await api.del("/api/v1/tenants/blue/");
      assert.equal(busy.status, 409);
      assert.match(busy.text, /^cannot delete blue has \d+ endpoint groups$/);
    });
  });
}
