// Three simulated hosts (namespaces on an underlay, one real agent each),
// containers on different hosts through CNI, real packets over the VXLAN
// overlay: reachability both ways, tenants with one subnet apart, policy
// enforced across hosts, forgotten endpoints, ARP flood mode; and routing
// mode across hosts with the anycast gateway.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Cluster } from "../../src/cluster/index.js";
import { hostPrefix, tenantNamespace } from "../../src/datapath/names.js";
import { run } from "../../src/lib/process.js";
import { waitFor } from "../../src/lib/wait.js";
import { Api } from "../harness/api.js";
import { attach, type Attached } from "../harness/cluster.js";
import { knowsMac, proxiesArp } from "../harness/datapath.js";
import { TestNetns } from "../harness/netns.js";

/** Container namespaces whose servers must be stopped before the cluster goes. */
const made: TestNetns[] = [];

describe("a three-host cluster over VXLAN", () => {
  let cluster: Cluster;
  let api: Api;
  let a: Attached;
  let b: Attached;
  let c: Attached;
  let x: Attached;
  let y: Attached;

  before(async () => {
    cluster = await Cluster.up({ hosts: 3, logLevel: "warn" });
    api = new Api(cluster.apiBase);
    for (const t of ["t1", "t2"]) {
      await api.create(`/api/v1/tenants/${t}/`, { tenantName: t });
      await api.create(`/api/v1/networks/${t}:net/`, { tenantName: t, networkName: "net", encap: "vxlan", subnet: "198.18.100.0/24", gateway: "198.18.100.254", ipv6Subnet: "fd00:100::/64", ipv6Gateway: "fd00:100::fe" });
    }
    await api.create("/api/v1/policys/t1:web-only/", { tenantName: "t1", policyName: "web-only" });
    await api.create("/api/v1/rules/t1:web-only:1/", { tenantName: "t1", policyName: "web-only", ruleId: "1", direction: "in", protocol: "tcp", action: "deny", priority: 1 });
    await api.create("/api/v1/rules/t1:web-only:2/", { tenantName: "t1", policyName: "web-only", ruleId: "2", direction: "in", protocol: "tcp", port: 80, action: "allow", priority: 100 });
    await api.create("/api/v1/endpointGroups/t1:web/", { tenantName: "t1", groupName: "web", networkName: "net", policies: ["web-only"] });
    await api.create("/api/v1/endpointGroups/t1:client/", { tenantName: "t1", groupName: "client", networkName: "net" });
    a = await attach(cluster, made, 1, "a", { tenant: "t1", network: "net", group: "client" });
    b = await attach(cluster, made, 2, "b", { tenant: "t1", network: "net", group: "web" });
    c = await attach(cluster, made, 3, "c", { tenant: "t1", network: "net", group: "web" });
    x = await attach(cluster, made, 1, "x", { tenant: "t2", network: "net" });
    y = await attach(cluster, made, 2, "y", { tenant: "t2", network: "net" });
    for (const [n, k] of [[a, "a"], [b, "b"], [c, "c"], [x, "x"], [y, "y"]] as const) {
      await n.ns.serve(k, 80);
      await n.ns.serve(k, 8080);
    }
  });
  after(async () => {
    for (const ns of made.splice(0)) await ns.destroy();
    await cluster?.down();
  });

  test("containers on different hosts reach each other both ways, IPv4 and IPv6", async () => {
    await waitFor(async () => a.ns.ping(b.ip, 1), { timeoutMs: 15_000, what: () => "a cannot reach b" });
    for (const [from, to] of [[a, b], [b, a], [a, c], [c, a], [b, c]] as const) {
      assert.ok(await from.ns.ping(to.ip), `${from.ip} -> ${to.ip}`);
      assert.ok(await from.ns.ping(to.ip6), `${from.ip6} -> ${to.ip6}`);
    }
    const udp = await b.ns.probe("udp", a.ip, 8080, 20, 10);
    assert.equal(udp.received, 20);
  });

  test("the MTU leaves room for the VXLAN header", async () => {
    const r = await a.ns.exec(["ip", "-j", "link", "show", "eth0"]);
    assert.equal((JSON.parse(r.stdout) as { mtu: number }[])[0]!.mtu, 1450);
    assert.ok(await a.ns.exec(["ping", "-c", "1", "-W", "2", "-M", "do", "-s", String(1450 - 28), b.ip]).then((p) => p.code === 0), "a full-size packet crosses");
  });

  test("two tenants with the same subnet on the same hosts stay apart", async () => {
    assert.equal(x.ip, a.ip);
    assert.equal(y.ip, b.ip);
    assert.equal(await x.ns.tcpReaches(y.ip, 8080), "y");
    assert.equal(await a.ns.tcpReaches(b.ip, 80), "b");
  });

  test("policy holds across hosts: tcp/80 into web allowed, other tcp blocked, other directions open", async () => {
    assert.equal(await a.ns.tcpReaches(b.ip, 80), "b");
    assert.equal(await a.ns.tcpReaches(c.ip, 80), "c");
    assert.equal(await a.ns.tcpReaches(b.ip, 8080, 800), "timeout");
    assert.equal(await a.ns.tcpReaches(c.ip6, 8080, 800), "timeout");
    assert.equal(await b.ns.tcpReaches(a.ip, 8080), "a");
    assert.equal(await b.ns.tcpReaches(c.ip, 8080, 800), "timeout", "web to web on 8080 is blocked too (in rules of the destination)");
  });

  test("ARP flood mode works, and is applied when an agent restarts", async () => {
    const g = (await api.get<Record<string, unknown>>("/api/v1/globals/global/")).body;
    await api.create("/api/v1/globals/global/", { ...g, arpMode: "flood" });
    const h1 = cluster.hosts[0]!;
    await h1.agent!.kill();
    await cluster.startAgent(h1);
    await waitFor(async () => !(await proxiesArp(h1, "t1", b.ip)), { timeoutMs: 15_000, what: () => "host 1 still answers ARP for b itself (proxy mode)" });
    await run(["ip", "-n", a.ns.name, "neigh", "flush", "all"]);
    assert.ok(await a.ns.ping(b.ip));
    await api.create("/api/v1/globals/global/", { ...g, arpMode: "proxy" });
  });

  test("a container deleted on one host is forgotten on the others", async () => {
    const fdbHas = (mac: string) => knowsMac(cluster.hosts[0]!, "t1", mac);
    assert.ok(await fdbHas(c.mac));
    const r = await cluster.removeContainer(3, "c", { tenant: "t1", network: "net", group: "web" });
    assert.equal(r.code, 0);
    await waitFor(async () => !(await fdbHas(c.mac)), { timeoutMs: 10_000, what: () => "h1 still has c's MAC" });
    assert.ok(await a.ns.ping(b.ip), "the others are unaffected");
  });
});

describe("routing mode across hosts", () => {
  let cluster: Cluster;

  before(async () => {
    cluster = await Cluster.up({ hosts: 2, fwdMode: "routing", logLevel: "warn" });
  });
  after(async () => {
    for (const ns of made.splice(0)) await ns.destroy();
    await cluster?.down();
  });

  test("networks of a tenant on different hosts route through the anycast gateway", async () => {
    const api = new Api(cluster.apiBase);
    await api.create("/api/v1/networks/default:n1/", { tenantName: "default", networkName: "n1", encap: "vxlan", subnet: "198.18.110.0/24", gateway: "198.18.110.254" });
    await api.create("/api/v1/networks/default:n2/", { tenantName: "default", networkName: "n2", encap: "vxlan", subnet: "198.18.111.0/24", gateway: "198.18.111.254" });
    const p = await attach(cluster, made, 1, "p", { tenant: "default", network: "n1" });
    const q = await attach(cluster, made, 2, "q", { tenant: "default", network: "n2" });
    await q.ns.serve("q", 80);
    await waitFor(async () => p.ns.ping(q.ip, 1), { timeoutMs: 15_000, what: () => "p cannot reach q" });
    assert.ok(await q.ns.ping(p.ip));
    assert.equal(await p.ns.tcpReaches(q.ip, 80), "q");
  });
});
