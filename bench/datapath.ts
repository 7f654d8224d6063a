// Container to container on one host: our datapath (two containers of a tenant,
// added through CNI, policy compiled and applied by the real agent) against two
// namespaces on a plain Linux bridge built by hand, and against the same bridge
// with a linear iptables FORWARD chain of N non-matching rules (br_netfilter on).
// All measured in one run, interleaved (rep by rep, setup by setup) so drift on
// a noisy machine hits every setup alike; printed as ratios to the plain bridge.
//
// Metrics: TCP throughput (iperf3), 64-byte UDP packets received per second
// (iperf3 -u -l 64 -b 0, the same tool on every setup) and new TCP connections
// per second (connect-rate.ts; every connection is a new flow that a stateful
// firewall judges against its rules, where iperf3's long flows mostly ride
// conntrack's established fast path).
//
// The agent is stopped once everything is applied (SIGTERM leaves the kernel
// state as it is): its periodic resync would add noise to our setups only, and
// the breakdown below edits tenant namespaces it would otherwise repair.
//
// Safety: namespaces named with the run's prefix, removed at the end also on
// failure or Ctrl-C; addresses in 198.18.0.0/15; the root namespace is untouched.
//
// Run alone: node dist/bench/datapath.js
//   BENCH_IPERF_SECONDS=3        length of each iperf3 TCP run
//   BENCH_UDP_SECONDS=2          length of each iperf3 UDP run (64-byte rates settle fast)
//   BENCH_DATAPATH_REPS=5        runs per setup and metric (median printed; on 2 shared cores five
//                                3-second runs give a steadier median than three 5-second ones)
//   BENCH_DATAPATH_RULES=0,1000,10000   rule counts (first = the "0 rules" of the ratio, last = the big one)
//   BENCH_CONNECT_SECONDS=1.5    length of each connection-rate run (0 skips it)
//   BENCH_DATAPATH_BREAKDOWN=0   1: also measure our datapath with one layer removed at a time
//   BENCH_DATAPATH_CPU=0         CPU every sender and receiver is pinned to ("" = not pinned)
//   BENCH_VERBOSE=1              also print every sample

import { fileURLToPath } from "node:url";
import { must } from "../src/lib/process.js";
import { Api } from "../test/harness/api.js";
import { TestAgent } from "../test/harness/agent.js";
import { runPrefix } from "../test/harness/netns.js";
import { bridgePair, CONNECT_PORT, createOurTenants, IPERF_PORT, nftElements, ourPair, qdiscs, stripTenant, tableList, type Layer, type OurTenant, type Pair } from "./datapath-pairs.js";
import { Background, envNumber, envNumbers, iperfRate, isMain, missingPrerequisite, printTable, Teardown } from "./lab.js";
import { fmt, median } from "./stats.js";

const SECONDS = envNumber("BENCH_IPERF_SECONDS", 3);
const UDP_SECONDS = envNumber("BENCH_UDP_SECONDS", 2);
const REPS = Math.max(1, envNumber("BENCH_DATAPATH_REPS", 5));
const RULES = envNumbers("BENCH_DATAPATH_RULES", [0, 1000, 10_000]);
const CONNECT_SECONDS = envNumber("BENCH_CONNECT_SECONDS", 1.5);
/** Off by default: four more setups, about three more minutes; the analysis, not the regression check. */
const BREAKDOWN = envNumber("BENCH_DATAPATH_BREAKDOWN", 0) !== 0;
const VERBOSE = envNumber("BENCH_VERBOSE", 0) !== 0;
const CONNECT_PARALLEL = 4;
/**
 * Sender, receiver and (with veth, in the sender's softirq) the whole path between them share one
 * CPU, so a rate is the inverse of the CPU cost of the path: on 2 shared cores this is steadier (64-byte UDP most of all)
 * than letting the scheduler split them, and a per-packet cost cannot hide on an idle second core.
 */
const CPU = process.env.BENCH_DATAPATH_CPU ?? "0";
const pin = (argv: string[]) => (CPU === "" ? argv : ["taskset", "-c", CPU, ...argv]);

const CONNECT_JS = fileURLToPath(new URL("./connect-rate.js", import.meta.url));

type Metric = "tcp" | "udp" | "conn";

interface Setup {
  pair: Pair;
  kind: "plain" | "iptables" | "ours" | "breakdown";
  rules: number;
  samples: Record<Metric, number[]>;
}

function iperf(pair: Pair, udp: boolean): Promise<number> {
  return iperfRate({ client: pair.client.name, serverIp: pair.serverIp, port: IPERF_PORT, seconds: udp ? UDP_SECONDS : SECONDS, udp, cpu: CPU, label: pair.label });
}

async function connectRate(pair: Pair): Promise<number> {
  const out = await must(["ip", "netns", "exec", pair.client.name, ...pin([process.execPath, CONNECT_JS, "connect", pair.serverIp, String(CONNECT_PORT), String(CONNECT_SECONDS), String(CONNECT_PARALLEL)])]);
  const r = JSON.parse(out) as { connections: number; errors: number; seconds: number };
  if (r.errors > 0) throw new Error(`connect-rate on ${pair.label}: ${r.errors} failed connections`);
  return r.connections / r.seconds;
}

export async function benchDatapath(): Promise<void> {
  const missing = await missingPrerequisite(["ip", "iperf3", "iptables-restore", "nft", "tc", "ping", "sysctl", "taskset"]);
  if (missing) {
    console.log(`\ndatapath: skipped (${missing})`);
    return;
  }
  const fillers = [...RULES];
  const prefix = runPrefix("nbe");
  const teardown = new Teardown();
  const unhook = teardown.onSignals();
  const setups: Setup[] = [];
  const details: string[] = [];
  try {
    const servers = new Background();
    teardown.add("stop traffic servers", () => servers.stopAll());
    const setup = (pair: Pair, kind: Setup["kind"], rules: number) => setups.push({ pair, kind, rules, samples: { tcp: [], udp: [], conn: [] } });

    // Baselines, by hand.
    setup(await bridgePair(prefix, "plain", "plain bridge (no netfilter)", null, teardown), "plain", 0);
    for (const n of fillers) setup(await bridgePair(prefix, `ipt${n}`, `iptables, ${n} rules`, n, teardown), "iptables", n);

    // Ours: a one-host cluster (netmaster on its underlay, the agent in its own host namespace,
    // test/harness/agent.ts), tenants with their policies through the REST API, containers through CNI.
    const agent = await TestAgent.start();
    teardown.add("remove the one-host cluster and everything its agent made", () => agent.destroy());
    const api = new Api(agent.apiBase);
    const tenants: OurTenant[] = fillers.map((n) => ({ tenant: `r${n}`, label: `netplugin, ${n} rules`, filler: n }));
    const layers: [Layer, string][] = [
      ["no-policy", "  without the policy table (other tables kept)"],
      ["conntrack-only", "  without any of our tables (br_netfilter + conntrack)"],
      ["br_netfilter-only", "  without any nft table (br_netfilter hooks only)"],
      ["raw", "  without br_netfilter (our links and bridge only)"],
    ];
    const stripped = BREAKDOWN ? layers.map(([layer, label], i) => ({ layer, t: { tenant: `x${i}`, label, filler: fillers[0] ?? 0 } })) : [];
    const started = performance.now();
    await createOurTenants(api, [...tenants, ...stripped.map((s) => s.t)]);
    details.push(`netmaster: ${fmt((performance.now() - started) / 1000)} s to create the tenants and ${fillers.reduce((a, b) => a + b, 0)} filler rules`);
    const ns = (tenant: string) => `${agent.prefix}-t-${tenant}`;
    for (const t of tenants) {
      const t0 = performance.now();
      const pair = await ourPair(prefix, agent, t, teardown);
      details.push(`${t.label}: containers added and policy in force in ${fmt((performance.now() - t0) / 1000)} s; nft table holds ${await nftElements(ns(t.tenant))} elements`);
      setup(pair, "ours", t.filler);
    }
    const strippedPairs = [];
    for (const s of stripped) strippedPairs.push({ ...s, pair: await ourPair(prefix, agent, s.t, teardown) });
    await agent.host.agent?.stop(); // SIGTERM: the agent exits and leaves the kernel state as it is
    for (const t of [...tenants, ...stripped.map((s) => s.t)]) {
      const shapers = await qdiscs(ns(t.tenant));
      if (shapers.length > 0) throw new Error(`${t.label}: unexpected shapers without a profile: ${shapers.join("; ")}`);
    }
    details.push("no tc shaper (tbf/ingress/ifb redirect) on any of our links: no profile attached");
    details.push(`nft tables in our tenant namespaces: ${await tableList(ns(tenants[0]!.tenant))}`);
    for (const s of strippedPairs) {
      await stripTenant(ns(s.t.tenant), s.layer);
      setup(s.pair, "breakdown", s.t.filler);
    }

    for (const s of setups) {
      await servers.start(["ip", "netns", "exec", s.pair.server.name, "iperf3", "-s", "--forceflush", "-p", String(IPERF_PORT)], "Server listening");
      if (CONNECT_SECONDS > 0) await servers.start(["ip", "netns", "exec", s.pair.server.name, ...pin([process.execPath, CONNECT_JS, "serve", String(CONNECT_PORT)])], "ready");
    }

    const metrics: [Metric, (p: Pair) => Promise<number>][] = [
      ["tcp", (p) => iperf(p, false)],
      ["udp", (p) => iperf(p, true)],
    ];
    if (CONNECT_SECONDS > 0) metrics.push(["conn", connectRate]);
    for (const [metric, measure] of metrics) {
      for (let rep = 0; rep < REPS; rep++) {
        // Every other rep runs the setups backwards, so a slow drift does not favour the first ones.
        for (const s of rep % 2 === 0 ? setups : [...setups].reverse()) s.samples[metric].push(await measure(s.pair));
      }
    }
  } finally {
    await teardown.run();
    unhook();
  }
  report(setups, details, fillers);
}

function report(setups: Setup[], details: string[], fillers: number[]): void {
  const plain = setups.find((s) => s.kind === "plain")!;
  const base = (m: Metric) => median(plain.samples[m]);
  const withConn = CONNECT_SECONDS > 0;
  const cells = (s: Setup) => {
    const out = [fmt(median(s.samples.tcp), 2), fmt(median(s.samples.tcp) / base("tcp"), 2), fmt(median(s.samples.udp), 0), fmt(median(s.samples.udp) / base("udp"), 2)];
    if (withConn) out.push(fmt(median(s.samples.conn), 0), fmt(median(s.samples.conn) / base("conn"), 2));
    return out;
  };
  console.log(`\ndatapath: container to container on one host, median of ${REPS} runs per setup, setups interleaved`);
  console.log(CPU === "" ? "senders and receivers not pinned" : `senders, receivers and the path between them all on CPU ${CPU} (rates = inverse CPU cost of the path)`);
  console.log(`TCP: iperf3 ${SECONDS} s, one stream; UDP: iperf3 -u -l 64 -b 0 ${UDP_SECONDS} s, thousand packets received per second;`);
  if (withConn) console.log(`conn/s: new TCP connections per second, ${CONNECT_PARALLEL} in parallel, ${CONNECT_SECONDS} s; x plain = value / plain bridge, same run`);
  console.log("rules: filler rules that never match the measured flows (ours: `allow tcp port P from <ip>` in the server group's");
  console.log("policy, which also denies other tcp/udp and allows the measured ports; iptables: the same before the accepts).");
  console.log("Ours is stateful (conntrack): only a flow's first packet is judged, the iptables chain judges every packet.\n");
  const header = ["setup", "TCP Gbit/s", "x plain", "UDP kpps", "x plain"];
  if (withConn) header.push("conn/s", "x plain");
  printTable(header, setups.filter((s) => s.kind !== "breakdown").map((s) => [s.pair.label, ...cells(s)]));

  const lo = fillers[0]!;
  const hi = fillers[fillers.length - 1]!;
  if (fillers.length > 1) {
    console.log(`\n${hi} rules / ${lo} rules, same setup:`);
    for (const kind of ["iptables", "ours"] as const) {
      const a = setups.find((s) => s.kind === kind && s.rules === lo)!;
      const b = setups.find((s) => s.kind === kind && s.rules === hi)!;
      const r = (m: Metric) => fmt(median(b.samples[m]) / median(a.samples[m]), 2);
      console.log(`  ${kind === "ours" ? "netplugin" : "iptables "}  TCP ${r("tcp")}  UDP ${r("udp")}${withConn ? `  conn/s ${r("conn")}` : ""}`);
    }
  }
  const broken = setups.filter((s) => s.kind === "breakdown");
  if (broken.length > 0) {
    const full = setups.find((s) => s.kind === "ours" && s.rules === lo)!;
    console.log(`\nwhat our datapath costs: the ${lo}-rule tenant's setup with one layer removed at a time (agent stopped)\n`);
    printTable(header, [full, ...broken].map((s) => [s === full ? `${s.pair.label} (complete)` : s.pair.label, ...cells(s)]));
  }
  console.log("");
  for (const d of details) console.log(d);
  if (VERBOSE) {
    console.log("samples (run order):");
    for (const s of setups) console.log(`  ${s.pair.label.trim()}: tcp ${s.samples.tcp.map((v) => fmt(v, 2)).join(" ")} | udp ${s.samples.udp.map((v) => fmt(v, 0)).join(" ")} | conn ${s.samples.conn.map((v) => fmt(v, 0)).join(" ")}`);
  }
  const spread = (m: Metric) => Math.max(...setups.map((s) => (Math.max(...s.samples[m]) - Math.min(...s.samples[m])) / median(s.samples[m])));
  console.log(`largest spread (max-min)/median of one setup's runs: TCP ${fmt(100 * spread("tcp"), 0)}%, UDP ${fmt(100 * spread("udp"), 0)}%${withConn ? `, conn/s ${fmt(100 * spread("conn"), 0)}%` : ""}`);
}

if (isMain(import.meta.url)) await benchDatapath();
