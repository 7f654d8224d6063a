// What a service's VIP costs: new TCP connections per second, and the time of one connection, from a client
// container to a provider through the VIP against straight to the provider, in the same run, with 1, 10 and
// 1000 services in the tenant (the lookup is a map keyed on VIP, protocol and port, so it should not grow).
// One simulated host (the real agent, netmaster and CNI executable), one network, a provider container and
// two clients per service count (one per path); the other services each have a VIP of their own on the same
// provider. Reps interleave the two paths so drift on a shared machine hits both alike; medians printed, and
// VIP over direct as a ratio.
//
// Safety: namespaces named with the run's prefix and removed at the end, also on failure; 198.18.0.0/15.
//
// Run alone: node dist/bench/services.js
//   BENCH_SERVICE_COUNTS=1,10,1000   services in the tenant
//   BENCH_SERVICE_REPS=5             runs per path and metric
//   BENCH_CONNECT_SECONDS=1.5        length of each connection-rate run

import { fileURLToPath } from "node:url";
import { must } from "../src/lib/process.js";
import { waitFor } from "../src/lib/wait.js";
import { Api } from "../test/harness/api.js";
import { TestAgent } from "../test/harness/agent.js";
import { runPrefix, TestNetns } from "../test/harness/netns.js";
import { tuneClient } from "./datapath-pairs.js";
import { Background, envNumber, envNumbers, isMain, missingPrerequisite, printTable, Teardown } from "./lab.js";
import { fmt, median, timedPool } from "./stats.js";

const COUNTS = envNumbers("BENCH_SERVICE_COUNTS", [1, 10, 1000]);
const REPS = Math.max(1, envNumber("BENCH_SERVICE_REPS", 5));
const SECONDS = envNumber("BENCH_CONNECT_SECONDS", 1.5);
const PORT = 8080;
const CONNECT_JS = fileURLToPath(new URL("./connect-rate.js", import.meta.url));

interface Sample {
  rate: number;
  latencyMs: number;
}

async function connectRun(client: TestNetns, address: string, port: number, seconds: number, parallel: number) {
  const out = await must(["ip", "netns", "exec", client.name, process.execPath, CONNECT_JS, "connect", address, String(port), String(seconds), String(parallel)]);
  return JSON.parse(out.trim()) as { connections: number; errors: number; seconds: number };
}

/** Connections per second with 4 in flight, and the mean time of one with 1 in flight. */
async function measure(client: TestNetns, address: string, port: number): Promise<Sample> {
  const rate = async (parallel: number) => {
    const r = await connectRun(client, address, port, SECONDS, parallel);
    if (r.errors > 0 || r.connections === 0) throw new Error(`connect ${address}:${port}: ${JSON.stringify(r)}`);
    return r.connections / r.seconds;
  };
  return { rate: await rate(4), latencyMs: 1000 / (await rate(1)) };
}

export async function benchServices(): Promise<void> {
  const missing = await missingPrerequisite(["ip", "nft"]);
  if (missing) {
    console.log(`\nServices: skipped (${missing})`);
    return;
  }
  const teardown = new Teardown();
  const prefix = runPrefix("nps");
  const rows: string[][] = [];
  try {
    const agent = await TestAgent.start();
    teardown.add("remove the one-host cluster and everything its agent made", () => agent.destroy());
    const api = new Api(agent.apiBase);
    await api.create("/api/v1/tenants/svc/", { tenantName: "svc" });
    // A /16: a thousand services take a thousand VIPs.
    await api.create("/api/v1/networks/svc:net/", { tenantName: "svc", networkName: "net", encap: "vxlan", subnet: "198.19.0.0/16", gateway: "198.19.255.254" });
    const add = async (role: string, labels: Record<string, string>) => {
      const ns = await TestNetns.create(`${prefix}-${role}`);
      teardown.add(`delete ${ns.name}`, () => ns.destroy());
      const cni = { tenant: "svc", network: "net", args: { cni: { labels: Object.entries(labels).map(([key, value]) => ({ key, value })) } } };
      const r = await agent.cni("ADD", { containerId: `${prefix}${role}`, netns: ns.path }, cni);
      if (r.code !== 0) throw new Error(`CNI ADD ${role}: ${r.stdout}`);
      return { ns, ip: (r.out as { ips: { address: string }[] }).ips[0]!.address.split("/")[0]! };
    };
    const provider = await add("p", { app: "web" });
    const servers = new Background();
    teardown.add("stop the server", () => servers.stopAll());
    await servers.start(["ip", "netns", "exec", provider.ns.name, process.execPath, CONNECT_JS, "serve", String(PORT)], "ready");

    let made = 0;
    for (const count of COUNTS) {
      const names = Array.from({ length: count - made }, (_, i) => `s${made + i}`);
      await timedPool(names, 8, async (name) => {
        await api.create(`/api/v1/serviceLBs/svc:${name}/`, { tenantName: "svc", serviceName: name, networkName: "net", selectors: ["app=web"], ports: [`80:${PORT}:TCP`] });
      });
      made = count;
      // Fresh clients, one per path: a connection through a VIP leaves a conntrack entry whose reply comes
      // from the provider's address and port; the same client reusing that source port straight to the
      // provider, or through another VIP of it, would clash with the entry while it lingers in TIME_WAIT.
      const viaVip = await add(`v${count}`, {});
      const direct = await add(`d${count}`, {});
      for (const c of [viaVip, direct]) await tuneClient(c.ns);
      // The last service made is the one measured: the table holds all of them.
      const last = (await api.get<{ Oper: { serviceVip: string; realization: { pendingHosts: string[] } } }>(`/api/v1/inspect/serviceLBs/svc:s${count - 1}/`)).body.Oper;
      await waitFor(async () => {
        const r = await connectRun(viaVip.ns, last.serviceVip, 80, 0.1, 1);
        return r.errors === 0 && r.connections > 0;
      }, { timeoutMs: 60_000, what: () => `VIP ${last.serviceVip} of ${count} services never answered` });
      const samples: { vip: Sample[]; direct: Sample[] } = { vip: [], direct: [] };
      for (let rep = 0; rep < REPS; rep++) {
        const order = rep % 2 === 0 ? (["vip", "direct"] as const) : (["direct", "vip"] as const);
        for (const path of order) samples[path].push(path === "vip" ? await measure(viaVip.ns, last.serviceVip, 80) : await measure(direct.ns, provider.ip, PORT));
      }
      const rate = (s: Sample[]) => median(s.map((x) => x.rate));
      const latency = (s: Sample[]) => median(s.map((x) => x.latencyMs));
      rows.push([
        String(count),
        fmt(rate(samples.direct), 0),
        fmt(rate(samples.vip), 0),
        fmt(rate(samples.vip) / rate(samples.direct), 2),
        fmt(latency(samples.direct), 3),
        fmt(latency(samples.vip), 3),
        fmt(latency(samples.vip) / latency(samples.direct), 2),
      ]);
    }
  } finally {
    await teardown.run();
  }
  console.log(`\nService VIP against a direct connection, one host (medians of ${REPS}; connections/s with 4 in flight, ms per connection with 1)\n`);
  printTable(["services", "direct conn/s", "VIP conn/s", "× direct", "direct ms", "VIP ms", "× direct"], rows);
}

if (isMain(import.meta.url)) await benchServices();
