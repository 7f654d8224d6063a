// What one change costs on the state stream when each host gets its own slice: a real netmaster (SQLite)
// with 100 and 1000 simulated agents (stream clients that parse every line and count it, no datapath),
// tenants spread so that each has containers on 10 hosts (each host in two tenants). Measured: lines and
// bytes all agents received per endpoint change, how many agents received any, and netmaster's CPU per
// change (from /proc); the pings that follow a write's lines are not counted. The baseline, in the same run and the same code, is a change in a tenant present on
// every host: what every change cost before slices, when every host followed the whole state.

import { readFileSync } from "node:fs";
import { waitFor } from "../src/lib/wait.js";
import type { Api } from "../test/harness/api.js";
import { startNetmaster, sqliteUrl, tempDir, waitForLeader, type NetmasterProcess } from "../test/harness/netmaster.js";
import { fmt, timedPool } from "./stats.js";

const HOST_COUNTS = (process.env.BENCH_SLICE_HOSTS ?? "100,1000").split(",").map(Number);
const CHANGES = Number(process.env.BENCH_SLICE_CHANGES ?? 100);
const HOSTS_PER_TENANT = 10;
const TENANTS_PER_HOST = 2;

interface Agent {
  host: string;
  /** Lines and bytes of changes (pings, which every stream gets every 10 s, aside). */
  lines: number;
  bytes: number;
  synced: boolean;
  abort: AbortController;
}

/** A stream client standing in for an agent: follows its host's slice and counts what arrives. */
function follow(nm: NetmasterProcess, host: string): Agent {
  const agent: Agent = { host, lines: 0, bytes: 0, synced: false, abort: new AbortController() };
  void (async () => {
    const res = await nm.fetch(`/api/v1/agent/watch?host=${host}`, { signal: agent.abort.signal });
    const decoder = new TextDecoder();
    let buffer = "";
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl);
        const event = JSON.parse(line) as { type: string };
        buffer = buffer.slice(nl + 1);
        if (event.type === "synced") agent.synced = true;
        if (event.type === "ping") continue;
        agent.lines++;
        agent.bytes += line.length + 1;
      }
    }
  })().catch(() => undefined);
  return agent;
}

/** netmaster's user + system CPU so far, in ms (clock ticks of 10 ms). */
function cpuMs(nm: NetmasterProcess): number {
  const fields = readFileSync(`/proc/${nm.child.pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

async function settle(agents: Agent[]): Promise<void> {
  let last = -1;
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 300));
    const now = agents.reduce((n, a) => n + a.bytes, 0);
    if (now === last) return;
    last = now;
  }
}

async function must(p: Promise<{ status: number; text: string }>): Promise<void> {
  const r = await p;
  if (r.status !== 200) throw new Error(`${r.status}: ${r.text}`);
}

interface Cost {
  agents: number;
  lines: number;
  kb: number;
  cpuMs: number;
}

/** CHANGES endpoint creations and deletions in `tenant` on its hosts, and what each cost. */
async function measure(api: Api, nm: NetmasterProcess, agents: Agent[], tenant: string, hosts: string[]): Promise<Cost> {
  await settle(agents);
  const before = agents.map((a) => ({ lines: a.lines, bytes: a.bytes }));
  const cpu = cpuMs(nm);
  for (let i = 0; i < CHANGES / 2; i++) {
    const host = hosts[i % hosts.length]!;
    await must(api.post("/api/v1/agent/endpoints/", { tenantName: tenant, networkName: "net", containerID: `probe${i}`, host }));
    await must(api.del(`/api/v1/agent/endpoints/net.${tenant}-probe${i}/`));
  }
  await settle(agents);
  const spent = cpuMs(nm) - cpu;
  const got = agents.map((a, i) => ({ lines: a.lines - before[i]!.lines, bytes: a.bytes - before[i]!.bytes }));
  return {
    agents: got.filter((g) => g.lines > 0).length,
    lines: got.reduce((n, g) => n + g.lines, 0) / CHANGES,
    kb: got.reduce((n, g) => n + g.bytes, 0) / CHANGES / 1024,
    cpuMs: spent / CHANGES,
  };
}

async function benchHosts(count: number): Promise<string[]> {
  const dir = tempDir();
  const nm = await startNetmaster({ store: sqliteUrl(dir.path) });
  const agents: Agent[] = [];
  try {
    await waitForLeader(nm);
    const api = nm.api();
    const hosts = Array.from({ length: count }, (_, i) => `h${i}`);
    await timedPool(hosts, 8, (h) => must(api.call("PUT", `/api/v1/agent/hosts/${h}/`, { vtepIP: "", mtu: 1450 })));
    const tenants = (count * TENANTS_PER_HOST) / HOSTS_PER_TENANT;
    const tenantHosts = (t: number) => Array.from({ length: HOSTS_PER_TENANT }, (_, j) => hosts[(t * (HOSTS_PER_TENANT / TENANTS_PER_HOST) + j) % count]!);
    const names = [...Array.from({ length: tenants }, (_, t) => `t${t}`), "everywhere"];
    await timedPool(names, 8, async (t) => {
      await must(api.post(`/api/v1/tenants/${t}/`, { tenantName: t }));
      await must(api.post(`/api/v1/networks/${t}:net/`, { tenantName: t, networkName: "net", encap: "vxlan", subnet: "198.18.0.0/16" }));
    });
    const placements = [
      ...Array.from({ length: tenants }, (_, t) => tenantHosts(t).map((h) => [`t${t}`, h] as const)).flat(),
      ...hosts.map((h) => ["everywhere", h] as const),
    ];
    await timedPool(placements, 8, ([t, h]) => must(api.post("/api/v1/agent/endpoints/", { tenantName: t, networkName: "net", containerID: `c-${h}`, host: h })));

    for (const h of hosts) agents.push(follow(nm, h));
    await waitFor(() => agents.every((a) => a.synced), { timeoutMs: 120_000, what: () => "the simulated agents did not all get their snapshot" });
    const snapshotKb = agents.reduce((n, a) => n + a.bytes, 0) / agents.length / 1024;
    const sliced = await measure(api, nm, agents, "t0", tenantHosts(0));
    const everywhere = await measure(api, nm, agents, "everywhere", hosts);
    const row = (what: string, c: Cost) =>
      `| ${count} | ${what} | ${c.agents} | ${fmt(c.lines)} | ${fmt(c.kb)} | ${fmt(c.cpuMs, 2)} |`;
    return [
      row(`change in a tenant on ${HOSTS_PER_TENANT} hosts`, sliced),
      row("change in a tenant on every host (baseline)", everywhere),
      `| ${count} | ratio to the baseline | ${fmt(sliced.agents / everywhere.agents, 3)} | ${fmt(sliced.lines / everywhere.lines, 3)} | ${fmt(sliced.kb / everywhere.kb, 3)} | ${fmt(sliced.cpuMs / everywhere.cpuMs, 2)} |`,
      `| ${count} | snapshot per agent (its slice) | | | ${fmt(snapshotKb)} | |`,
    ];
  } finally {
    for (const a of agents) a.abort.abort();
    await nm.stop();
    dir.remove();
  }
}

export async function benchSlices(): Promise<void> {
  const rows: string[] = [];
  for (const count of HOST_COUNTS) rows.push(...(await benchHosts(count)));
  console.log(`\nState stream per endpoint change (${CHANGES} changes; KB and lines summed over all agents)\n`);
  console.log("| hosts | change | agents that got it | lines | KB | netmaster CPU ms |");
  console.log("|------:|--------|-------------------:|------:|---:|-----------------:|");
  for (const r of rows) console.log(r);
}

if (import.meta.url === `file://${process.argv[1]}`) await benchSlices();
