// Whether a policy is in force on every host, as inspect tells it, matches what real traffic shows: while
// one host's agent is frozen, a new deny rule is pending on that host (and its container still answers);
// once inspect says it is realized everywhere, the rule holds.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Cluster } from "../../src/cluster/index.js";
import { waitFor } from "../../src/lib/wait.js";
import { Api } from "../harness/api.js";
import { attach, type Attached } from "../harness/cluster.js";
import type { TestNetns } from "../harness/netns.js";

interface Realization {
  revision: number;
  pendingHosts: string[];
}

describe("realization of policy on every host", () => {
  let cluster: Cluster;
  let api: Api;
  const made: TestNetns[] = [];
  let a: Attached;
  let b: Attached;
  const policy = async () => (await api.get<{ Oper: { realization: Realization } }>("/api/v1/inspect/policys/t:web/")).body.Oper.realization;
  const endpoint = async (id: string) => (await api.get<{ Oper: { realization: Realization } }>(`/api/v1/inspect/endpoints/${id}/`)).body.Oper.realization;

  before(async () => {
    cluster = await Cluster.up({ hosts: 2, logLevel: "warn" });
    api = new Api(cluster.apiBase);
    await api.create("/api/v1/tenants/t/", { tenantName: "t" });
    await api.create("/api/v1/networks/t:net/", { tenantName: "t", networkName: "net", encap: "vxlan", subnet: "198.18.152.0/24", gateway: "198.18.152.254" });
    await api.create("/api/v1/policys/t:web/", { tenantName: "t", policyName: "web" });
    await api.create("/api/v1/endpointGroups/t:web/", { tenantName: "t", groupName: "web", networkName: "net", policies: ["web"] });
    await api.create("/api/v1/endpointGroups/t:client/", { tenantName: "t", groupName: "client", networkName: "net" });
    a = await attach(cluster, made, 1, "a", { tenant: "t", network: "net", group: "client" });
    b = await attach(cluster, made, 2, "b", { tenant: "t", network: "net", group: "web" });
    await b.ns.serve("b", 8080);
  });
  after(async () => {
    for (const ns of made.splice(0)) await ns.destroy();
    await cluster?.down();
  });

  test("a new container and its group's policy are reported in force on both hosts", async () => {
    let last: Realization | undefined;
    await waitFor(async () => (last = await endpoint(`${cluster.prefix}b`)).pendingHosts.length === 0, { timeoutMs: 15_000, what: () => `endpoint b: ${JSON.stringify(last)}` });
    assert.ok(last!.revision > 0);
    await waitFor(async () => (last = await policy()).pendingHosts.length === 0, { timeoutMs: 15_000, what: () => `policy: ${JSON.stringify(last)}` });
    assert.equal(await a.ns.tcpReaches(b.ip, 8080), "b");
  });

  test("a rule is pending on the host whose agent is frozen, and holds once realized everywhere", async () => {
    const h2 = cluster.hosts[1]!;
    const pid = h2.agent!.child.pid!;
    process.kill(pid, "SIGSTOP");
    try {
      await api.create("/api/v1/rules/t:web:1/", { tenantName: "t", policyName: "web", ruleId: "1", direction: "in", protocol: "tcp", port: 8080, action: "deny", priority: 10 });
      let last: Realization | undefined;
      await waitFor(async () => JSON.stringify((last = await policy()).pendingHosts) === JSON.stringify([h2.name]), { timeoutMs: 10_000, what: () => `policy: ${JSON.stringify(last)}` });
      assert.equal(await a.ns.tcpReaches(b.ip, 8080), "b", "not in force on h2, and indeed not enforced there");
      assert.deepEqual((await policy()).pendingHosts, [h2.name]);
    } finally {
      process.kill(pid, "SIGCONT");
    }
    let last: Realization | undefined;
    await waitFor(async () => (last = await policy()).pendingHosts.length === 0, { timeoutMs: 15_000, what: () => `policy: ${JSON.stringify(last)}` });
    assert.equal(await a.ns.tcpReaches(b.ip, 8080, 800), "timeout", "realized everywhere: the rule holds at once");
  });

  test("so is the removal of a rule: pending on the frozen host, which still blocks; gone once realized", async () => {
    const h2 = cluster.hosts[1]!;
    const pid = h2.agent!.child.pid!;
    const before = (await policy()).revision;
    process.kill(pid, "SIGSTOP");
    try {
      assert.equal((await api.del("/api/v1/rules/t:web:1/")).status, 200);
      let last: Realization | undefined;
      await waitFor(async () => JSON.stringify((last = await policy()).pendingHosts) === JSON.stringify([h2.name]), { timeoutMs: 10_000, what: () => `policy: ${JSON.stringify(last)}` });
      assert.ok(last!.revision > before, `the removal is a newer change (${last!.revision} > ${before})`);
      assert.equal(await a.ns.tcpReaches(b.ip, 8080, 800), "timeout", "h2 still enforces the rule it has not heard is gone");
    } finally {
      process.kill(pid, "SIGCONT");
    }
    let last: Realization | undefined;
    await waitFor(async () => (last = await policy()).pendingHosts.length === 0, { timeoutMs: 15_000, what: () => `policy: ${JSON.stringify(last)}` });
    assert.equal(await a.ns.tcpReaches(b.ip, 8080), "b");
  });

  test("a host gone for good stays pending until it is removed, with its containers; a running one only with force", async () => {
    assert.equal((await api.call("PUT", "/api/v1/agent/hosts/ghost/", {})).status, 200);
    assert.deepEqual((await policy()).pendingHosts, [], "a host without the tenant has nothing of it to put in force");
    await api.create("/api/v1/agent/endpoints/", { tenantName: "t", networkName: "net", containerID: "left-behind", host: "ghost" });
    assert.deepEqual((await policy()).pendingHosts, ["ghost"], "the tenant is there, and the host never reported");
    const report = (body: unknown) => api.call("PUT", "/api/v1/agent/hosts/ghost/realized", body);
    for (const [revision, epoch] of [[1_000_000, "another-history"], [1, "another-history"]] as const) {
      const foreign = await report({ revision, epoch, failures: [] });
      assert.equal(foreign.status, 409, foreign.text);
      assert.match(foreign.text, /not part of this store's history/);
    }
    assert.equal((await report({ revision: -1, epoch: "", failures: [] })).status, 400);
    assert.equal((await report({ revision: 1 })).status, 400);
    assert.deepEqual((await policy()).pendingHosts, ["ghost"], "refused reports change nothing");
    const running = await api.del(`/api/v1/agent/hosts/${cluster.hosts[1]!.name}/`);
    assert.equal(running.status, 409, running.text);
    assert.match(running.text, /its agent reported \d+ s ago; stop it first, or remove the host anyway with --force/);
    // Its dockerd had asked for a pool and an address: they go with it.
    const pool = await api.create<{ poolId: string }>("/api/v1/agent/docker/pools", { host: "ghost", options: { tenant: "t", network: "net" } });
    await api.create(`/api/v1/agent/docker/pools/${pool.poolId}/addresses`, { host: "ghost", address: "" });
    const held = async () =>
      Object.keys(await api.state()).filter((k) => k.includes("/state/docker/pools/") || k.includes("/state/docker/addresses/") || k.endsWith("-left-behind"));
    assert.equal((await held()).length, 3, JSON.stringify(await held()));
    const removed = await api.del("/api/v1/agent/hosts/ghost/");
    assert.equal(removed.status, 200, removed.text);
    assert.deepEqual(removed.body, { endpoints: ["net.t-left-behind"], blocks: [] });
    assert.deepEqual(await held(), []);
    assert.deepEqual((await policy()).pendingHosts, []);
    assert.equal((await api.del("/api/v1/agent/hosts/ghost/")).status, 404);
  });
});
