// What a host cannot build stays confined to the smallest unit it belongs to. Records netmaster's API would
// refuse are planted straight into its store (etcd): a network with an IPv6 gateway and no IPv6 subnet (the
// record that once stopped every CNI ADD on every host), an endpoint with a MAC no interface can carry, and a
// rule record an agent cannot read. Each fails its own network, endpoint or tenant, with the reason in
// inspect's realization; every other container keeps talking and every other ADD succeeds; once the record
// is gone, everything converges again.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Cluster } from "../../src/cluster/index.js";
import { Ipv4Allocator } from "../../src/master/alloc/index.js";
import { waitFor } from "../../src/lib/wait.js";
import { Api } from "../harness/api.js";
import { attach, type Attached } from "../harness/cluster.js";
import { TestNetns } from "../harness/netns.js";

interface Realization {
  revision: number;
  pendingHosts: string[];
  errors?: { host: string; message: string }[];
}

interface CniError {
  code: number;
  msg: string;
}

describe("blast radius: a record a host cannot build fails its own unit only", () => {
  let cluster: Cluster;
  let api: Api;
  const made: TestNetns[] = [];
  let a: Attached;
  let b: Attached;
  const realizationOf = async (path: string) => (await api.get<{ Oper: { realization: Realization } }>(path)).body.Oper.realization;
  const plant = async (key: string, value: unknown) => {
    const r = await cluster.etcdctl(["put", key, JSON.stringify(value)]);
    assert.equal(r.code, 0, r.stderr);
  };
  const unplant = async (key: string) => assert.equal((await cluster.etcdctl(["del", key])).code, 0);
  /** An ADD that must fail; its namespace is removed at once. */
  const refusedAdd = async (host: number, name: string, config: Record<string, unknown>): Promise<CniError> => {
    const c = await cluster.addContainer(host, name, config);
    made.push(new TestNetns(c.namespace));
    assert.notEqual(c.result.code, 0, `ADD ${name} should fail: ${JSON.stringify(c.result.out)}`);
    return c.result.out as unknown as CniError;
  };

  before(async () => {
    cluster = await Cluster.up({ hosts: 2, store: "etcd", logLevel: "warn" });
    api = new Api(cluster.apiBase);
    for (const tenant of ["sec", "other"]) await api.create(`/api/v1/tenants/${tenant}/`, { tenantName: tenant });
    await api.create("/api/v1/networks/sec:good/", { tenantName: "sec", networkName: "good", encap: "vxlan", subnet: "198.18.160.0/24", gateway: "198.18.160.254" });
    await api.create("/api/v1/networks/other:o1/", { tenantName: "other", networkName: "o1", encap: "vxlan", subnet: "198.18.161.0/24", gateway: "198.18.161.254" });
    await api.create("/api/v1/policys/sec:p/", { tenantName: "sec", policyName: "p" });
    await api.create("/api/v1/endpointGroups/sec:g/", { tenantName: "sec", groupName: "g", networkName: "good", policies: ["p"] });
    a = await attach(cluster, made, 1, "a", { tenant: "sec", network: "good", group: "g" });
    b = await attach(cluster, made, 2, "b", { tenant: "sec", network: "good", group: "g" });
    await b.ns.serve("b", 8080);
  });
  after(async () => {
    for (const ns of made.splice(0)) await ns.destroy();
    await cluster?.down();
  });

  test("a network with an IPv6 gateway and no IPv6 subnet fails that network only", async () => {
    const bad = { key: "sec:bad6", tenantName: "sec", networkName: "bad6", encap: "vxlan", nwType: "data", pktTag: 0, cfgdTag: "", subnet: "198.18.162.0/24", gateway: "", ipv6Subnet: "", ipv6Gateway: "fd00:99::1" };
    await plant("/netplugin/obj/network/sec:bad6", bad);
    await plant("/netplugin/state/nets/sec:bad6", { pktTag: 3999, extPktTag: 9999, ipv4: Ipv4Allocator.create(bad.subnet, "").toJSON() });

    // Both hosts have the tenant, so both try to build the network; both say why they cannot.
    let last: Realization | undefined;
    await waitFor(async () => (last = await realizationOf("/api/v1/inspect/networks/sec:bad6/")).pendingHosts.length === 2 && (last.errors?.length ?? 0) === 2, { timeoutMs: 15_000, what: () => `bad6: ${JSON.stringify(last)}` });
    assert.deepEqual(last!.pendingHosts, cluster.hosts.map((h) => h.name).sort());
    for (const e of last!.errors!) assert.match(e.message, /ipv6Subnet: invalid subnet ""/);

    // The rest of the tenant, and every other tenant, keep converging.
    const c = await attach(cluster, made, 1, "c", { tenant: "sec", network: "good", group: "g" });
    assert.equal(await c.ns.tcpReaches(b.ip, 8080), "b", "a new container of the same tenant reaches one on the other host");
    assert.ok(await a.ns.ping(c.ip), "and one already there");
    const d = await attach(cluster, made, 1, "d", { tenant: "other", network: "o1" });
    assert.ok(d.ip.startsWith("198.18.161."));
    await waitFor(async () => (await realizationOf("/api/v1/inspect/networks/sec:good/")).pendingHosts.length === 0, { timeoutMs: 15_000, what: () => "good stays in force" });
    assert.equal((await realizationOf("/api/v1/inspect/networks/sec:good/")).errors, undefined);

    // An ADD to the failing network fails with its reason, and leaves nothing behind.
    const before = Object.keys(await api.state()).filter((k) => k.startsWith("/netplugin/state/eps/"));
    const refused = await refusedAdd(1, "e", { tenant: "sec", network: "bad6" });
    assert.equal(refused.code, 105, refused.msg);
    assert.match(refused.msg, /network bad6 of tenant sec: ipv6Subnet: invalid subnet ""/);
    assert.deepEqual(Object.keys(await api.state()).filter((k) => k.startsWith("/netplugin/state/eps/")), before);

    await unplant("/netplugin/obj/network/sec:bad6");
    await unplant("/netplugin/state/nets/sec:bad6");
    assert.equal((await api.get("/api/v1/inspect/networks/sec:bad6/")).status, 404);
  });

  test("an endpoint record with a MAC no interface can carry fails that endpoint only, on every host that sees it", async () => {
    assert.equal((await api.call("PUT", "/api/v1/agent/hosts/ghost/", { vtepIP: "198.18.0.99" })).status, 200);
    const id = "good.sec-planted";
    const record = {
      endpointID: id, tenantName: "sec", networkName: "good", groupName: "g", containerID: "planted", containerName: "", ipAddress: "198.18.160.99",
      ipv6Address: "", macAddress: "zz:zz:zz:zz:zz:zz", homingHost: "ghost", intfName: "", vtepIP: "", labels: {}, requestedIp: true,
    };
    await plant(`/netplugin/state/eps/${id}`, record);
    let last: Realization | undefined;
    await waitFor(async () => ((last = await realizationOf(`/api/v1/inspect/endpoints/${id}/`)).errors?.length ?? 0) === 2, { timeoutMs: 15_000, what: () => `planted: ${JSON.stringify(last)}` });
    for (const e of last!.errors!) assert.match(e.message, /mac: invalid MAC "zz:zz:zz:zz:zz:zz"/);
    assert.equal(await a.ns.tcpReaches(b.ip, 8080), "b", "its network still carries traffic between hosts");
    const f = await attach(cluster, made, 2, "f", { tenant: "sec", network: "good", group: "g" });
    assert.ok(await a.ns.ping(f.ip));
    await waitFor(async () => (await realizationOf("/api/v1/inspect/networks/sec:good/")).errors === undefined, { timeoutMs: 15_000, what: () => "the network itself is in force" });

    await unplant(`/netplugin/state/eps/${id}`);
    assert.equal((await api.del("/api/v1/agent/hosts/ghost/")).status, 200);
  });

  test("a rule record an agent cannot read fails its tenant, which keeps running as it was", async () => {
    await plant("/netplugin/obj/rule/sec:p:1", { key: "sec:p:1", tenantName: "sec", policyName: "p", ruleId: "1", direction: "in", priority: "high", action: "deny", protocol: "tcp", port: 8080 });
    let last: Realization | undefined;
    await waitFor(async () => ((last = await realizationOf("/api/v1/inspect/tenants/sec/")).errors?.length ?? 0) === 2, { timeoutMs: 15_000, what: () => `sec: ${JSON.stringify(last)}` });
    for (const e of last!.errors!) assert.match(e.message, /record \/netplugin\/obj\/rule\/sec:p:1 cannot be read: priority: /);

    assert.equal(await a.ns.tcpReaches(b.ip, 8080), "b", "the tenant's datapath stays as it was: the unreadable deny rule is not in force");
    const refused = await refusedAdd(1, "g1", { tenant: "sec", network: "good", group: "g" });
    assert.equal(refused.code, 105);
    assert.match(refused.msg, /tenant sec: netmaster's record \/netplugin\/obj\/rule\/sec:p:1 cannot be read/);
    const h = await attach(cluster, made, 1, "h", { tenant: "other", network: "o1" });
    assert.ok(await h.ns.ping("198.18.161.254"), "another tenant on the same host converges");

    await unplant("/netplugin/obj/rule/sec:p:1");
    await waitFor(async () => (await realizationOf("/api/v1/inspect/tenants/sec/")).errors === undefined, { timeoutMs: 15_000, what: () => "sec recovers" });
    const i = await attach(cluster, made, 1, "i", { tenant: "sec", network: "good", group: "g" });
    assert.equal(await i.ns.tcpReaches(b.ip, 8080), "b");
  });
});
