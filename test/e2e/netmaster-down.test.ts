// Containers start and stop while netmaster is down: a host that holds an address block of the network assigns
// the addresses itself (agent/ipam), plumbs the containers with their group's policy in force at once, and
// netmaster learns of them when it is back; the other hosts then reach them. Real traffic both ways, and no
// address held twice.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Cluster } from "../../src/cluster/index.js";
import { waitFor } from "../../src/lib/wait.js";
import { Api } from "../harness/api.js";
import { attach, type Attached } from "../harness/cluster.js";
import { TestNetns } from "../harness/netns.js";

/** An endpoint as network inspect lists it (ipAddress: IPv4, IPv6). */
interface EndpointOper {
  endpointID: string;
  ipAddress: string[];
  homingHost: string;
  containerID: string;
}

interface EndpointView {
  containerID: string;
  ipAddress: string;
  homingHost: string;
}

const NET = { tenant: "t", network: "net" };

describe("containers started while netmaster is down", () => {
  let cluster: Cluster;
  let api: Api;
  const made: TestNetns[] = [];
  let a: Attached, b: Attached;

  before(async () => {
    cluster = await Cluster.up({ hosts: 2, logLevel: "warn" });
    api = new Api(cluster.apiBase);
    await api.create("/api/v1/tenants/t/", { tenantName: "t" });
    await api.create("/api/v1/networks/t:net/", { tenantName: "t", networkName: "net", encap: "vxlan", subnet: "198.18.144.0/24", gateway: "198.18.144.254" });
    await api.create("/api/v1/policys/t:web/", { tenantName: "t", policyName: "web" });
    await api.create("/api/v1/rules/t:web:1/", { tenantName: "t", policyName: "web", ruleId: "1", direction: "in", protocol: "tcp", port: 8080, action: "deny", priority: 10 });
    await api.create("/api/v1/endpointGroups/t:web/", { tenantName: "t", groupName: "web", networkName: "net", policies: ["web"] });
    await api.create("/api/v1/endpointGroups/t:client/", { tenantName: "t", groupName: "client", networkName: "net" });
    // The first containers bring each host a block of the network.
    a = await attach(cluster, made, 1, "nd-a", { ...NET, group: "client" });
    b = await attach(cluster, made, 2, "nd-b", { ...NET, group: "client" });
    await b.ns.serve("b", 80);
  });
  after(async () => {
    for (const ns of made.splice(0)) await ns.destroy();
    await cluster?.down();
  });

  const endpoints = async (): Promise<EndpointView[]> => {
    const r = await api.get("/api/v1/inspect/networks/t:net/");
    if (r.status !== 200) return [];
    const oper = (JSON.parse(r.text) as { Oper: { endpoints?: EndpointOper[] } }).Oper;
    return (oper.endpoints ?? []).map((e) => ({ containerID: e.containerID, ipAddress: e.ipAddress[0] ?? "", homingHost: e.homingHost }));
  };

  test("they get addresses, policy and traffic on their host at once, and reach the cluster once netmaster is back", async () => {
    await cluster.killNetmaster();
    const c = await attach(cluster, made, 1, "nd-c", { ...NET, group: "web" });
    const d = await attach(cluster, made, 1, "nd-d", { ...NET, group: "client" });
    await c.ns.serve("c", 80);
    await c.ns.serve("c", 8080);
    assert.notEqual(c.ip, d.ip);
    assert.ok(![a.ip, b.ip].includes(c.ip) && ![a.ip, b.ip].includes(d.ip), `new addresses ${c.ip}, ${d.ip} differ from ${a.ip}, ${b.ip}`);
    // Policy of the web group is in force on the host that knows the group: 80 passes, 8080 is denied.
    await waitFor(async () => (await a.ns.tcpReaches(c.ip, 80)) === "c", { timeoutMs: 10_000, what: () => "a does not reach c on its host while netmaster is down" });
    assert.equal(await d.ns.tcpReaches(c.ip, 80), "c");
    assert.equal(await a.ns.tcpReaches(c.ip, 8080, 800), "timeout", "the web group's deny rule applies to c at once");
    assert.ok(await c.ns.ping(a.ip, 1), "c reaches a");

    // A container stopped while netmaster is down: its DEL answers, and netmaster hears of it later.
    const gone = await cluster.removeContainer(1, "nd-d", { ...NET, group: "client" });
    assert.equal(gone.code, 0, JSON.stringify(gone.out));

    await cluster.startNetmaster();
    let listed: EndpointView[] = [];
    await waitFor(
      async () => {
        listed = await endpoints();
        return listed.some((e) => e.ipAddress === c.ip) && !listed.some((e) => e.ipAddress === d.ip);
      },
      { timeoutMs: 20_000, what: () => `netmaster does not list c (${c.ip}) and forget d (${d.ip}): ${JSON.stringify(listed.map((e) => [e.containerID, e.ipAddress]))}` },
    );
    const ips = listed.map((e) => e.ipAddress).filter((ip) => ip !== "");
    assert.equal(new Set(ips).size, ips.length, `no address twice: ${ips.join(", ")}`);
    assert.equal(listed.find((e) => e.ipAddress === c.ip)?.homingHost, cluster.hosts[0]!.name);

    // The other host learns c from netmaster: traffic both ways, and the rule holds there too.
    await waitFor(async () => (await b.ns.tcpReaches(c.ip, 80)) === "c", { timeoutMs: 15_000, what: () => "h2 does not reach c after netmaster came back" });
    assert.equal(await c.ns.tcpReaches(b.ip, 80), "b");
    assert.equal(await b.ns.tcpReaches(c.ip, 8080, 800), "timeout");

    // And a container started after netmaster is back takes none of the addresses in use.
    const e = await attach(cluster, made, 2, "nd-e", { ...NET, group: "client" });
    assert.ok(![a.ip, b.ip, c.ip].includes(e.ip), `${e.ip} is new`);
  });

  test("a host without a block of the network says so at once instead of waiting for netmaster", async () => {
    await api.create("/api/v1/networks/t:net2/", { tenantName: "t", networkName: "net2", encap: "vxlan", subnet: "198.18.145.0/24", gateway: "198.18.145.254" });
    await cluster.killNetmaster();
    try {
      const started = Date.now();
      const r = await cluster.addContainer(1, "nd-f", { tenant: "t", network: "net2" });
      made.push(new TestNetns(r.namespace));
      assert.notEqual(r.result.code, 0);
      assert.match(JSON.stringify(r.result.out), /no free address of network t:net2 in its blocks, and netmaster cannot give a block now/);
      assert.ok(Date.now() - started < 10_000, "the ADD does not wait for netmaster");
    } finally {
      await cluster.startNetmaster();
    }
  });
});
