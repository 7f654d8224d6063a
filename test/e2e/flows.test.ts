// Flow records against real packets (issue 15): on a one-host cluster, a TCP connect that the web group's policy
// blocks shows up as a denied flow naming its rule and the pair, in netmaster's GET /api/v1/flows and in
// `netctl flows --denied`; an allowed connect does not, until the agent records allowed attempts too
// (--flow-records all); and a flood of thousands of denied attempts to distinct ports keeps the agent's table at
// its cap, evicting (counted), with the agent's RSS flat from one flood to the next. The readers (tcpdump, one per
// tenant namespace) are gone, by PID, when the cluster is down.

import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { Cluster } from "../../src/cluster/index.js";
import { unixRequest } from "../../src/cluster/http.js";
import { run } from "../../src/lib/process.js";
import { waitFor } from "../../src/lib/wait.js";
import type { FlowPush, FlowRecord, FlowsAnswer } from "../../src/contract/flows.js";
import { Api } from "../harness/api.js";
import { attach, type Attached } from "../harness/cluster.js";
import type { TestNetns } from "../harness/netns.js";

/** A record as netmaster answers it (the agent's carry no host). */
type Flow = FlowsAnswer["records"][number];
/** The agent's table at its local /flows: what it pushes, and its readers. */
type AgentFlows = Omit<FlowPush, "records"> & { records: FlowRecord[]; readers: { namespace: string; pid: number | null }[] };

const CAP = 300;
const FLOOD = `
import socket, sys
ip, lo, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
socks = []
for p in range(lo, lo + n):
    s = socket.socket()
    s.setblocking(False)
    try:
        s.connect((ip, p))
    except BlockingIOError:
        pass
    socks.append(s)
    if len(socks) >= 200:
        for x in socks: x.close()
        socks = []
`;

function rssKb(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? NaN);
}

describe("flow records", () => {
  let cluster: Cluster;
  let api: Api;
  const made: TestNetns[] = [];
  const c: Record<string, Attached> = {};
  const readerPids = new Set<number>();

  const agentFlows = async (): Promise<AgentFlows> => {
    const r = await unixRequest(cluster.hosts[0]!.socket, "GET", "/flows");
    assert.equal(r.status, 200, r.text);
    const body = JSON.parse(r.text) as AgentFlows;
    for (const reader of body.readers) if (reader.pid !== null) readerPids.add(reader.pid);
    return body;
  };
  const masterFlows = async (denied: boolean): Promise<Flow[]> => {
    const r = await api.get<{ records: Flow[] }>(`/api/v1/flows?tenant=t${denied ? "&denied=true" : ""}`);
    assert.equal(r.status, 200, r.text);
    return r.body.records;
  };
  const isPair = (f: FlowRecord, dport: number) => f.src === c["a"]!.ip && f.dst === c["b"]!.ip && f.proto === 6 && f.dport === dport;

  before(async () => {
    cluster = await Cluster.up({ hosts: 1, logLevel: "warn", agentArgs: ["--flow-records-cap", String(CAP), "--flow-log-rate", "2000"] });
    api = new Api(cluster.apiBase);
    await cluster.loginNetctl();
    await api.create("/api/v1/tenants/t/", { tenantName: "t" });
    await api.create("/api/v1/networks/t:net/", { tenantName: "t", networkName: "net", encap: "vxlan", subnet: "198.18.171.0/24", gateway: "198.18.171.254" });
    await api.create("/api/v1/policys/t:pw/", { tenantName: "t", policyName: "pw" });
    await api.create("/api/v1/rules/t:pw:allow-8080/", { tenantName: "t", policyName: "pw", ruleId: "allow-8080", direction: "in", priority: 10, action: "allow", protocol: "tcp", port: 8080 });
    await api.create("/api/v1/rules/t:pw:deny-tcp/", { tenantName: "t", policyName: "pw", ruleId: "deny-tcp", direction: "in", priority: 1, action: "deny", protocol: "tcp" });
    await api.create("/api/v1/endpointGroups/t:client/", { tenantName: "t", groupName: "client", networkName: "net" });
    await api.create("/api/v1/endpointGroups/t:web/", { tenantName: "t", groupName: "web", networkName: "net", policies: ["pw"] });
    c["a"] = await attach(cluster, made, 1, "a", { tenant: "t", network: "net", group: "client" });
    c["b"] = await attach(cluster, made, 1, "b", { tenant: "t", network: "net", group: "web" });
    await c["b"].ns.serve("b", 8080);
    await c["b"].ns.serve("b", 9999);
  });

  after(async () => {
    for (const ns of made.splice(0)) await ns.destroy();
    await cluster?.down();
    // Every reader the agent reported is gone with it.
    for (const pid of readerPids) assert.equal(existsSync(`/proc/${pid}`) && readFileSync(`/proc/${pid}/comm`, "utf8").trim() === "tcpdump", false, `reader ${pid} still runs`);
  });

  test("a blocked connect is a denied flow naming its rule and the pair; an allowed one is not recorded", async () => {
    await waitFor(async () => (await c["a"]!.ns.tcpReaches(c["b"]!.ip, 8080, 700)) === "b", { timeoutMs: 20_000, what: () => "the allowed connect" });
    // The reader starts after the sync that made the tenant's namespace: attempts before go unread, so try again.
    let local: AgentFlows | undefined;
    await waitFor(
      async () => {
        assert.equal(await c["a"]!.ns.tcpReaches(c["b"]!.ip, 9999, 700), "timeout");
        return (local = await agentFlows()).records.some((f) => isPair(f, 9999));
      },
      { timeoutMs: 15_000, what: () => `the denied flow at the agent: ${JSON.stringify(local)}` },
    );
    // Now the reader runs: an allowed connect, then a denied one. The stream is ordered, so once the second denied
    // one is read, the allowed one would have been.
    assert.equal(await c["a"]!.ns.tcpReaches(c["b"]!.ip, 8080, 700), "b");
    assert.equal(await c["a"]!.ns.tcpReaches(c["b"]!.ip, 9998, 700), "timeout");
    await waitFor(async () => (local = await agentFlows()).records.some((f) => isPair(f, 9998)), { timeoutMs: 10_000, what: () => `the second denied flow: ${JSON.stringify(local)}` });
    const denied = local!.records.find((f) => isPair(f, 9999))!;
    assert.equal(denied.verdict, "deny");
    assert.equal(denied.rule, "pw:deny-tcp");
    assert.ok(!local!.records.some((f) => f.dport === 8080), `allowed flow recorded: ${JSON.stringify(local!.records)}`);
    assert.equal(local!.allowed, false);

    let records: Flow[] = [];
    await waitFor(async () => (records = await masterFlows(true)).some((f) => isPair(f, 9999)), { timeoutMs: 15_000, what: () => `the denied flow at netmaster: ${JSON.stringify(records)}` });
    assert.ok(records.every((f) => f.verdict === "deny"));
    assert.equal(records.find((f) => isPair(f, 9999))!.rule, "pw:deny-tcp");
    assert.equal(records.find((f) => isPair(f, 9999))!.host, cluster.hosts[0]!.name);

    const out = await run([...cluster.netctl, "flows", "--denied", "-t", "t"], { netns: cluster.underlay });
    assert.equal(out.code, 0, out.stderr);
    const line = out.stdout.split("\n").find((l) => l.includes(`${c["b"]!.ip}:9999`));
    assert.ok(line, out.stdout);
    assert.match(line, new RegExp(`^${cluster.hosts[0]!.name}\\s+deny\\s+pw:deny-tcp\\s+tcp\\s+${c["a"]!.ip.replace(/\./g, "\\.")}\\s`));
    assert.match(out.stdout, /allowed attempts not recorded|records held/);

    const bad = await api.get(`/api/v1/flows?tenant=t&denied=maybe`);
    assert.equal(bad.status, 400, bad.text);
    assert.equal((await api.get(`/api/v1/flows?tenant=nope`)).status, 404);
    const metrics = await unixRequest(cluster.hosts[0]!.socket, "GET", "/metrics");
    assert.match(metrics.text, /netplugin_flow_packets_total\{tenant="t",rule="pw:deny-tcp",verdict="deny"\} [1-9]/);
  });

  test("with --flow-records all, an allowed connect is recorded with the rule that allowed it", async () => {
    const host = cluster.hosts[0]!;
    await host.agent!.stop();
    host.agentArgs.push("--flow-records", "all");
    await cluster.startAgent(host);
    let local: AgentFlows | undefined;
    await waitFor(
      async () => {
        await c["a"]!.ns.tcpReaches(c["b"]!.ip, 8080, 700);
        return (local = await agentFlows()).records.some((f) => isPair(f, 8080));
      },
      { timeoutMs: 30_000, what: () => `the allowed flow: ${JSON.stringify(local)}` },
    );
    assert.equal(local!.allowed, true);
    const allowed = local!.records.find((f) => isPair(f, 8080))!;
    assert.equal(allowed.verdict, "allow");
    assert.equal(allowed.rule, "pw:allow-8080");
    let records: Flow[] = [];
    await waitFor(async () => (records = await masterFlows(false)).some((f) => isPair(f, 8080)), { timeoutMs: 15_000, what: () => JSON.stringify(records) });
    assert.ok(!(await masterFlows(true)).some((f) => isPair(f, 8080)));
  });

  test("a flood of denied attempts keeps the table at its cap, evicting, with the agent's RSS flat", async (t) => {
    const pid = cluster.hosts[0]!.agent!.child.pid!;
    const flood = async (lo: number) => {
      const r = await c["a"]!.ns.exec(["/usr/bin/python3", "-c", FLOOD, c["b"]!.ip, String(lo), "4000"]);
      assert.equal(r.code, 0, r.stderr);
      await new Promise((resolve) => setTimeout(resolve, 1500));
    };
    await flood(20000);
    const first = await agentFlows();
    const rss1 = rssKb(pid);
    await flood(30000);
    await flood(40000);
    const second = await agentFlows();
    const rss2 = rssKb(pid);
    await flood(50000);
    await flood(60000 - 4000);
    const rss3 = rssKb(pid);
    t.diagnostic(`after 4000 attempts: ${JSON.stringify(first.stats)}, RSS ${rss1} kB; after 12000: ${JSON.stringify(second.stats)}, RSS ${rss2} kB; after 20000: RSS ${rss3} kB`);
    assert.equal(first.stats.entries, CAP);
    assert.equal(second.stats.entries, CAP);
    assert.equal(second.records.length, CAP);
    assert.ok(second.stats.evictedEntries > first.stats.evictedEntries && first.stats.evictedEntries > 0, JSON.stringify([first.stats, second.stats]));
    assert.equal(second.records.reduce((n, r) => n + r.packets, 0) + second.stats.evictedPackets, second.stats.seenPackets);
    // Two floods more, then two more again: the agent grows by less than 30 MB each time, and not steadily.
    assert.ok(rss2 - rss1 < 30 * 1024, `RSS ${rss1} -> ${rss2} kB`);
    assert.ok(rss3 - rss2 < 30 * 1024, `RSS ${rss2} -> ${rss3} kB`);
  });
});
