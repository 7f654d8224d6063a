// Benchmarks of a simulated cluster (src/cluster: hosts as network namespaces
// on a private underlay, netmaster and one real agent per host):
//
//   (a) throughput between containers on two hosts through our VXLAN overlay,
//       against a plain VXLAN pair of the same shape built by hand, same run
//       (cluster-throughput.ts);
//   (b) convergence: CNI ADD on one host until the other hosts reach the new
//       container, and a policy change through the REST API until every host
//       enforces it (and its removal), for clusters of several sizes, with where
//       the time goes read from the agents' logs (cluster-convergence.ts).
//
// Safety: every namespace is named with this run's prefix and removed at the
// end, also on failure or Ctrl-C; addresses in 198.18.0.0/15; the root
// namespace is not touched; only processes this run started are stopped.
//
// Run alone: node dist/bench/cluster.js (root; iperf3, nft). Knobs:
//   BENCH_HOSTS=3,20                cluster sizes for (b); "" or 0 skips (b)
//   BENCH_REPS=10                   repetitions of each convergence event per size
//   BENCH_PROBE_MS=10               probe interval (one TCP connect per host per interval)
//   BENCH_CLUSTER_THROUGHPUT=1      0 skips (a)
//   BENCH_CLUSTER_IPERF_SECONDS=5   length of one iperf3 run
//   BENCH_CLUSTER_IPERF_REPS=3      iperf3 runs per setup and metric (median printed)
//   BENCH_CLUSTER_BREAKDOWN=1       also the layers between plain and ours: the plain pair with br_netfilter and
//                                   conntrack added, ours with nft tables removed (0 skips)
//   BENCH_CLUSTER_CPU=0             CPU senders and receivers are pinned to ("" = not pinned)
//   BENCH_VERBOSE=1                 every sample and event
//   BENCH_CLUSTER_KEEP=/some/dir    keep each convergence cluster's logs (agents at debug level) and store there

import { cpus } from "node:os";
import { runPrefix } from "../test/harness/netns.js";
import { benchConvergence, type ConvergenceResult, type EventSummary } from "./cluster-convergence.js";
import { benchThroughput } from "./cluster-throughput.js";
import { envNumber, envNumbers, isMain, missingPrerequisite, printTable, Teardown } from "./lab.js";
import { fmt, median, percentile } from "./stats.js";

const EVENT_LABEL: Record<EventSummary["kind"], string> = {
  add: "CNI ADD on h1 -> reached from the other hosts",
  deny: "deny rule POSTed -> enforced on every host",
  allow: "rule DELETEd -> open again on every host",
};

function report(results: ConvergenceResult[], probeMs: number): void {
  if (results.length === 0) return;
  const reps = results[0]!.reps;
  console.log(`\ncluster convergence: ${reps} repetitions per event; p50 and max over repetitions, ms after the request started`);
  console.log(`probes: one TCP connect every ${probeMs} ms from a container on each host (resolution one interval); every event starts`);
  console.log(`from an idle cluster; all simulated hosts share this machine's ${cpus().length} CPUs`);
  console.log("first/all: the first and the last host to behave accordingly; x floor: all-hosts p50 / the same kernel change");
  console.log("made by hand with one tool spawn per object (fdb + proxy neighbour; loading the policy table with nft -f)\n");
  const rows: string[][] = [];
  for (const r of results) {
    for (const e of r.events) {
      const floor = e.kind === "add" ? r.floor.fdbNeighMs : r.floor.nftMs;
      rows.push([String(r.hosts), EVENT_LABEL[e.kind], fmt(median(e.first), 0), fmt(Math.max(...e.first), 0), fmt(median(e.all), 0), fmt(Math.max(...e.all), 0), fmt(median(e.all) / floor, 1)]);
    }
  }
  printTable(["hosts", "event", "first p50", "first max", "all p50", "all max", "x floor"], rows, 2);

  console.log("\nwhere the time goes (from the agents' logs; per host and event: the first reconciler run that changed the kernel)");
  console.log("request: the CNI ADD (whole, on h1) or the REST call; run starts: request start -> that run's start (p50 over hosts and");
  console.log("repetitions; max = p50 over repetitions of the last host); run: its duration (p50, max over all); seen: that run's");
  console.log("start -> the probe saw the change (the kernel changes before the run ends); runs: reconciler runs per host the event caused;");
  console.log("CPU: what all agents and the tools they spawned used for the event (request until idle again), and per host; probes:");
  console.log("CPU of the probe helpers while probing (1.00 = one of the machine's cores)\n");
  const rows2: string[][] = [];
  for (const r of results) {
    for (const e of r.events) {
      const b = e.breakdown;
      rows2.push([
        String(r.hosts),
        e.kind,
        fmt(median(e.requestMs), 0),
        fmt(median(b.map((x) => x.notifyMs)), 0),
        fmt(median(e.lastRunStart), 0),
        fmt(median(b.map((x) => x.runMs)), 0),
        fmt(percentile(b.map((x) => x.runMs), 100), 0),
        fmt(median(b.map((x) => x.seenMs)), 0),
        fmt(median(b.map((x) => x.runs)), 0),
        fmt(median(e.agentCpuMs), 0),
        fmt(median(e.agentCpuMs) / r.hosts, 0),
        fmt(median(e.probeLoad), 2),
      ]);
    }
  }
  printTable(["hosts", "event", "request", "run starts", "(max)", "run p50", "run max", "seen", "runs", "CPU ms", "/host", "probes"], rows2, 2);
  console.log("\nper cluster: Cluster.up = netmaster + every agent following its state; ADD = one container per host, one after");
  console.log("the other; runs of the reconciler during the events (in-sync = changed nothing); observe = one observe + diff of");
  console.log("h1 by the agent's datapath driver, read-only, from this process on the idle cluster (tool spawns; one spawn for");
  console.log("scale); floor = the kernel change by hand (fdb + proxy neighbour: 2 spawns; policy table: 1 nft -f)\n");
  printTable(
    ["hosts", "up s", "ADD p50 ms", "ADD max", "down s", "in-sync run", "changing run", "observe ms", "spawns", "1 spawn ms", "floor fdb", "floor nft"],
    results.map((r) => [
      String(r.hosts),
      fmt(r.upMs / 1000),
      fmt(median(r.addMs), 0),
      fmt(Math.max(...r.addMs), 0),
      fmt(r.downMs / 1000),
      `${fmt(median(r.inSyncRunMs), 0)} (${r.inSyncRunMs.length})`,
      `${fmt(median(r.changedRunMs), 0)} (${r.changedRunMs.length})`,
      fmt(r.observe.ms, 0),
      String(r.observe.spawns),
      fmt(r.observe.spawnMs, 1),
      fmt(r.floor.fdbNeighMs, 1),
      fmt(r.floor.nftMs, 1),
    ]),
  );
  for (const r of results) {
    if (r.floor.nftNote) console.log(`${r.hosts} hosts: nft floor: ${r.floor.nftNote}`);
    // A fresh driver does not know which policy script is loaded, so it plans a reload of the policy table; the agent's knows.
    const unexpected = r.observe.steps.filter((s) => !/^nft \w+ nft table inet netplugin$/.test(s));
    if (unexpected.length > 0) console.log(`${r.hosts} hosts: the read-only observe of h1 would still do: ${unexpected.join("; ")}`);
    if (r.syncFailures > 0) console.log(`${r.hosts} hosts: ${r.syncFailures} failed datapath syncs in the agents' logs`);
  }
}

export async function benchCluster(): Promise<void> {
  const missing = await missingPrerequisite(["ip", "bridge", "nft", "iperf3", "ping", "sysctl", "getconf"]);
  if (missing) {
    console.log(`\ncluster: skipped (${missing})`);
    return;
  }
  const hostCounts = envNumbers("BENCH_HOSTS", [3, 20]).filter((h) => h > 0);
  const reps = Math.min(250, Math.max(1, envNumber("BENCH_REPS", 10))); // each ADD repetition uses its own address
  const probeMs = Math.max(1, envNumber("BENCH_PROBE_MS", 10));
  const verbose = envNumber("BENCH_VERBOSE", 0) !== 0;
  const prefix = runPrefix("ncb");
  const teardown = new Teardown();
  const unhook = teardown.onSignals();
  // src/cluster's run() ends the stdin of every command it spawns without an error listener: a command
  // that exits first makes an EPIPE on that pipe, which would otherwise crash the benchmark mid-way
  // and leave the cluster behind. Only that error is swallowed.
  let epipes = 0;
  const onUncaught = (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE" && err.syscall === "write") {
      epipes++;
      return;
    }
    process.stderr.write(`bench cluster: ${err.stack ?? err.message}\n`);
    void teardown.run().finally(() => process.exit(1));
  };
  process.on("uncaughtException", onUncaught);
  const started = performance.now();
  const results: ConvergenceResult[] = [];
  try {
    if (envNumber("BENCH_CLUSTER_THROUGHPUT", 1) !== 0) {
      const part = new Teardown();
      teardown.add("the throughput run", () => part.run());
      try {
        await benchThroughput(
          {
            prefix,
            seconds: Math.max(1, envNumber("BENCH_CLUSTER_IPERF_SECONDS", 5)),
            reps: Math.max(1, envNumber("BENCH_CLUSTER_IPERF_REPS", 3)),
            cpu: process.env.BENCH_CLUSTER_CPU ?? "0",
            breakdown: envNumber("BENCH_CLUSTER_BREAKDOWN", 1) !== 0,
            verbose,
          },
          part,
        );
      } catch (err) {
        console.log(`\ncluster throughput: failed: ${(err as Error).message}`);
      } finally {
        await part.run();
      }
    }
    for (const hosts of hostCounts) {
      const part = new Teardown();
      teardown.add(`the ${hosts}-host convergence run`, () => part.run());
      try {
        const keepDir = process.env.BENCH_CLUSTER_KEEP || undefined;
        results.push(await benchConvergence({ prefix, hosts, reps, probeMs, verbose, ...(keepDir ? { keepDir } : {}) }, part));
      } catch (err) {
        console.log(`\ncluster convergence, ${hosts} hosts: failed: ${(err as Error).message}`);
      } finally {
        await part.run();
      }
    }
  } finally {
    await teardown.run();
    process.off("uncaughtException", onUncaught);
    unhook();
  }
  report(results, probeMs);
  console.log(`\ncluster benchmark: ${fmt((performance.now() - started) / 1000, 0)} s in all${epipes > 0 ? `; ${epipes} EPIPE(s) of src/cluster's run() ignored` : ""}`);
}

if (isMain(import.meta.url)) await benchCluster();
