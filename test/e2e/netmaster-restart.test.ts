// netmaster crashes (SIGKILL) while agents follow its state stream, and comes
// back on the same store: every agent follows it again, with a snapshot of its
// own slice (a new process has no lines to resume from), and what changes
// afterwards (a deny rule, a container on another host, a new network) reaches
// every host, shown with real traffic. On etcd one agent is frozen while the
// history is compacted away. And a store restored from a backup, older than
// what the agents have seen, replaces what they have, also for an agent that
// comes back only after the restored store was written past its revision.

import assert from "node:assert/strict";
import { copyFileSync, existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Cluster, unixRequest, type ClusterOptions } from "../../src/cluster/index.js";
import { StopWaiting, waitFor } from "../../src/lib/wait.js";
import { Api } from "../harness/api.js";
import { attach, type Attached } from "../harness/cluster.js";
import { metricValue } from "../harness/metrics.js";
import { TestNetns } from "../harness/netns.js";

/** A write that must succeed, retried while a restarted netmaster has no leader yet (503). */
async function write(api: Api, path: string, body: unknown): Promise<void> {
  let last = "";
  await waitFor(async () => {
    const r = await api.post(path, body);
    last = `${r.status} ${r.text}`;
    if (r.status !== 200 && r.status !== 503) throw new StopWaiting(`POST ${path} -> ${last}`);
    return r.status === 200;
  }, { timeoutMs: 20_000, what: () => `POST ${path}: ${last}` });
}

async function agentRevision(cluster: Cluster, host: number): Promise<number> {
  const r = await unixRequest(cluster.hosts[host - 1]!.socket, "GET", "/health");
  return (JSON.parse(r.text) as { revision: number }).revision;
}

/** A tenant with a web group whose policy has no rule yet, and a client group. */
async function setup(api: Api, subnet: string): Promise<void> {
  await api.create("/api/v1/tenants/t/", { tenantName: "t" });
  await api.create("/api/v1/networks/t:net/", { tenantName: "t", networkName: "net", encap: "vxlan", subnet: `${subnet}.0/24`, gateway: `${subnet}.254` });
  await api.create("/api/v1/policys/t:web/", { tenantName: "t", policyName: "web" });
  await api.create("/api/v1/endpointGroups/t:web/", { tenantName: "t", groupName: "web", networkName: "net", policies: ["web"] });
  await api.create("/api/v1/endpointGroups/t:client/", { tenantName: "t", groupName: "client", networkName: "net" });
}

/**
 * A cluster with the tenant of `setup` on `subnet`, a client container `a` on h1 and a web container `b` on h2
 * serving 8080. Containers go into `made`, for `teardown`.
 */
async function scenario(options: ClusterOptions, subnet: string, made: TestNetns[]): Promise<{ cluster: Cluster; api: Api; a: Attached; b: Attached }> {
  const cluster = await Cluster.up(options);
  const api = new Api(cluster.apiBase);
  await setup(api, subnet);
  const a = await attach(cluster, made, 1, "a", { tenant: "t", network: "net", group: "client" });
  const b = await attach(cluster, made, 2, "b", { tenant: "t", network: "net", group: "web" });
  await b.ns.serve("b", 8080);
  return { cluster, api, a, b };
}

async function teardown(cluster: Cluster | undefined, made: TestNetns[]): Promise<void> {
  for (const ns of made.splice(0)) await ns.destroy();
  await cluster?.down();
}

const DENY_8080 = { tenantName: "t", policyName: "web", ruleId: "1", direction: "in", protocol: "tcp", port: 8080, action: "deny", priority: 10 };

describe("netmaster killed and restarted on its SQLite store", () => {
  let cluster: Cluster;
  let api: Api;
  const made: TestNetns[] = [];
  let a: Attached, b: Attached, c: Attached;

  before(async () => {
    ({ cluster, api, a, b } = await scenario({ hosts: 3, logLevel: "warn" }, "198.18.140", made));
    c = await attach(cluster, made, 3, "c", { tenant: "t", network: "net", group: "web" });
    await a.ns.serve("a", 8080);
    for (const [n, tag] of [[a, "a"], [b, "b"], [c, "c"]] as const) await n.ns.serve(tag, 80);
    await c.ns.serve("c", 8080);
  });
  after(() => teardown(cluster, made));

  test("agents follow the restarted netmaster, and changes made after the restart reach every host", async () => {
    await waitFor(async () => (await a.ns.tcpReaches(b.ip, 8080)) === "b", { timeoutMs: 15_000, what: () => "a cannot reach b before the crash" });
    const before = await Promise.all([1, 2, 3].map((h) => agentRevision(cluster, h)));

    await cluster.killNetmaster();
    assert.equal(await a.ns.tcpReaches(c.ip, 8080), "c", "the datapath does not depend on netmaster");
    await cluster.startNetmaster();
    // Each agent takes a snapshot of its slice from the new process; the datapath stays as it is.
    const master = async (name: string) => metricValue((await unixRequest(cluster.netmasterSocket, "GET", "/metrics")).text, name);
    await waitFor(async () => (await master("netmaster_state_streams")) === 3, { timeoutMs: 20_000, what: () => "not every agent follows the restarted netmaster" });
    assert.equal(await master("netmaster_state_stream_snapshots_total"), 3);
    const resumed = await Promise.all([1, 2, 3].map((h) => agentRevision(cluster, h)));
    resumed.forEach((r, i) => assert.ok(r >= before[i]!, `h${i + 1} went from revision ${before[i]} to ${r}`));

    await write(api, "/api/v1/rules/t:web:1/", DENY_8080);
    await waitFor(async () => (await a.ns.tcpReaches(b.ip, 8080, 800)) === "timeout", { timeoutMs: 15_000, what: () => "h2 does not enforce the rule posted after the restart" });
    await waitFor(async () => (await a.ns.tcpReaches(c.ip, 8080, 800)) === "timeout", { timeoutMs: 15_000, what: () => "h3 does not enforce the rule posted after the restart" });
    assert.equal(await a.ns.tcpReaches(b.ip, 80), "b", "what the rule does not name still passes");

    const d = await attach(cluster, made, 3, "d", { tenant: "t", network: "net", group: "client" });
    await d.ns.serve("d", 8080);
    await waitFor(async () => (await a.ns.tcpReaches(d.ip, 8080)) === "d", { timeoutMs: 15_000, what: () => "h1 does not reach a container added on h3 after the restart" });
    assert.equal(await b.ns.tcpReaches(d.ip, 8080), "d", "h2 reaches it too");

    await write(api, "/api/v1/networks/t:net2/", { tenantName: "t", networkName: "net2", encap: "vxlan", subnet: "198.18.141.0/24", gateway: "198.18.141.254" });
    const e = await attach(cluster, made, 1, "e", { tenant: "t", network: "net2" });
    const f = await attach(cluster, made, 2, "f", { tenant: "t", network: "net2" });
    await waitFor(async () => e.ns.ping(f.ip, 1), { timeoutMs: 15_000, what: () => "containers of a network made after the restart do not reach each other" });
  });
});

describe("netmaster killed and restarted on etcd, with the history compacted past an agent's revision", () => {
  let cluster: Cluster;
  let api: Api;
  const made: TestNetns[] = [];
  let a: Attached, b: Attached;

  before(async () => {
    ({ cluster, api, a, b } = await scenario({ hosts: 2, store: "etcd", logLevel: "warn" }, "198.18.142", made));
  });
  after(() => teardown(cluster, made));

  test("the frozen agent re-lists and enforces the rule posted while it was away", async () => {
    await waitFor(async () => (await a.ns.tcpReaches(b.ip, 8080)) === "b", { timeoutMs: 15_000, what: () => "a cannot reach b before the crash" });
    const h2 = cluster.hosts[1]!;
    const pid = h2.agent!.child.pid!;
    const frozenAt = await agentRevision(cluster, 2);
    // Frozen, the agent cannot reconnect before the history it would resume from is gone.
    process.kill(pid, "SIGSTOP");
    try {
      await cluster.killNetmaster();
      await cluster.startNetmaster();
      await write(api, "/api/v1/rules/t:web:1/", DENY_8080);
      const status = await cluster.etcdctl(["endpoint", "status", "-w", "json"]);
      const revision = (JSON.parse(status.stdout) as { Status: { header: { revision: number } } }[])[0]!.Status.header.revision;
      assert.ok(revision > frozenAt + 1, `etcd at ${revision}, agent at ${frozenAt}`);
      const compact = await cluster.etcdctl(["compact", String(revision)]);
      assert.equal(compact.code, 0, compact.stderr);
    } finally {
      process.kill(pid, "SIGCONT");
    }
    await waitFor(async () => (await a.ns.tcpReaches(b.ip, 8080, 800)) === "timeout", { timeoutMs: 20_000, what: () => "h2 does not enforce the rule posted while it was frozen" });
    assert.ok((await agentRevision(cluster, 2)) > frozenAt);
    const c = await attach(cluster, made, 1, "c", { tenant: "t", network: "net", group: "client" });
    await waitFor(async () => b.ns.ping(c.ip, 1), { timeoutMs: 15_000, what: () => "h2 does not reach a container added after it re-listed" });
  });
});

describe("netmaster restarted on a SQLite store restored from an older backup", () => {
  let cluster: Cluster;
  let api: Api;
  const made: TestNetns[] = [];
  let a: Attached, b: Attached;
  const FILES = ["netmaster.db", "netmaster.db-wal"];

  before(async () => {
    ({ cluster, api, a, b } = await scenario({ hosts: 2, logLevel: "warn" }, "198.18.143", made));
  });
  after(() => teardown(cluster, made));

  test("agents that saw later revisions than the backup's take the restored state", async () => {
    await waitFor(async () => (await a.ns.tcpReaches(b.ip, 8080)) === "b", { timeoutMs: 15_000, what: () => "a cannot reach b" });
    const db = (f: string) => join(cluster.dir, f);
    await cluster.killNetmaster();
    for (const f of FILES) if (existsSync(db(f))) copyFileSync(db(f), db(`${f}.backup`));
    await cluster.startNetmaster();
    await write(api, "/api/v1/rules/t:web:1/", DENY_8080);
    await waitFor(async () => (await a.ns.tcpReaches(b.ip, 8080, 800)) === "timeout", { timeoutMs: 15_000, what: () => "h2 does not enforce the rule" });

    // h2 is frozen until the restored store has been written past the revision it holds, and netmaster restarted
    // on it: by revision alone it would then resume and never hear that the rule is gone. h1 comes back at once,
    // ahead of the store.
    const h2 = cluster.hosts[1]!.agent!.child.pid!;
    const frozenAt = await agentRevision(cluster, 2);
    process.kill(h2, "SIGSTOP");
    try {
      await cluster.killNetmaster();
      for (const f of ["netmaster.db-shm", ...FILES]) rmSync(db(f), { force: true });
      for (const f of FILES) if (existsSync(db(`${f}.backup`))) copyFileSync(db(`${f}.backup`), db(f));
      await cluster.startNetmaster();
      await waitFor(async () => (await agentRevision(cluster, 1)) < frozenAt, { timeoutMs: 15_000, what: () => "h1 does not take the restored store's snapshot" });
      const storeRevision = async () => metricValue((await unixRequest(cluster.netmasterSocket, "GET", "/metrics")).text, "netmaster_state_revision") ?? 0;
      for (let n = 0; (await storeRevision()) <= frozenAt; n++) {
        assert.ok(n < 20, `the store at revision ${await storeRevision()} after 20 writes, h2 at ${frozenAt}`);
        await write(api, `/api/v1/tenants/filler${n}/`, { tenantName: `filler${n}` });
      }
      // And restarted once more: this netmaster opened a store that was already past h2's revision.
      await cluster.killNetmaster();
      await cluster.startNetmaster();
    } finally {
      process.kill(h2, "SIGCONT");
    }
    await waitFor(async () => (await a.ns.tcpReaches(b.ip, 8080, 800)) === "b", { timeoutMs: 20_000, what: () => "h2 still enforces the rule the restored store does not have" });
  });
});
