// Processes the agent starts for one CNI ADD and one DEL: each start costs 5–15 ms here, so their number is a
// large part of an ADD's latency (bench/cni-latency.ts). The agent of a one-host cluster runs with
// NETPLUGIN_TRACE_EXEC (src/lib/process.ts), which logs every command it starts; a call's commands are those
// logged from its start until the next call starts, after a pause that lets what the call set off (the
// endpoint reaching netmaster and coming back as desired state) finish too. The median over the calls is
// printed, and every command of the median call.
//
// Safety: the cluster, its namespaces and the container namespaces carry a per-run prefix and are removed at
// the end, also on failure or Ctrl-C.
//
// Run alone: node dist/bench/cni-procs.js (root). Knobs:
//   BENCH_PROCS_COUNT=5        ADDs (then DELs) measured, after one of each to warm up
//   BENCH_PROCS_SETTLE_MS=1500 pause after each call
//   NETPLUGIN_CLUSTER_DATAPATH=ovs   the OVS driver instead of the Linux one

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Api } from "../test/harness/api.js";
import { TestAgent } from "../test/harness/agent.js";
import { runPrefix, TestNetns } from "../test/harness/netns.js";
import { defaultDatapath } from "../src/cluster/index.js";
import { envNumber, isMain, printTable, Teardown } from "./lab.js";
import { median } from "./stats.js";

const COUNT = envNumber("BENCH_PROCS_COUNT", 5);
const SETTLE_MS = envNumber("BENCH_PROCS_SETTLE_MS", 1500);
const TENANT = "bprocs";

interface Traced {
  pid: number;
  ms: number;
  argv: string[];
}

function readTrace(file: string): Traced[] {
  let text = "";
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return [];
  }
  return text
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as Traced);
}

/** A command as one short line: `ip netns exec NS` and long arguments shortened. */
function show(argv: string[]): string {
  return argv.map((a) => (a.length > 48 ? `${a.slice(0, 45)}...` : a)).join(" ");
}

export async function benchCniProcs(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "netplugin-bench-procs-"));
  const traceFile = join(dir, "exec.jsonl");
  const teardown = new Teardown();
  const unhook = teardown.onSignals();
  teardown.add("remove the trace", () => rmSync(dir, { recursive: true, force: true }));
  const prefix = runPrefix("nbp");
  const counts: Record<"ADD" | "DEL", Traced[][]> = { ADD: [], DEL: [] };
  try {
    // Set before the cluster starts: its agent inherits the environment.
    process.env["NETPLUGIN_TRACE_EXEC"] = traceFile;
    const agent = await TestAgent.start();
    teardown.add("remove the one-host cluster", () => agent.destroy());
    const api = new Api(agent.apiBase);
    await api.create(`/api/v1/tenants/${TENANT}/`, { tenantName: TENANT });
    await api.create(`/api/v1/networks/${TENANT}:net/`, { tenantName: TENANT, networkName: "net", encap: "vxlan", subnet: "198.18.64.0/20", gateway: "198.18.79.254" });
    const config = { cniVersion: "1.0.0", type: "netplugin", tenant: TENANT, network: "net" };
    const containers: TestNetns[] = [];
    for (let i = 0; i <= COUNT + 1; i++) {
      const ns = await TestNetns.create(`${prefix}-c${i}`);
      teardown.add(`delete ${ns.name}`, () => ns.destroy());
      containers.push(ns);
    }
    // Container 0 stays to the end, so no measured call makes or removes the tenant namespace or bridge.
    const cni = async (op: "ADD" | "DEL", i: number): Promise<Traced[]> => {
      const start = Date.now();
      const r = await agent.cni(op, { containerId: `${prefix}c${i}`, netns: containers[i]!.path }, config);
      if (r.code !== 0) throw new Error(`${op} ${i} exited ${r.code}: ${r.stdout}`);
      await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
      return readTrace(traceFile).filter((t) => t.pid !== process.pid && t.ms >= start);
    };
    await cni("ADD", 0);
    await cni("ADD", 1);
    await cni("DEL", 1);
    for (const op of ["ADD", "DEL"] as const) {
      for (let i = 2; i <= COUNT + 1; i++) counts[op].push(await cni(op, i));
    }
  } finally {
    delete process.env["NETPLUGIN_TRACE_EXEC"];
    await teardown.run();
    unhook();
  }
  console.log(`\nProcesses the agent starts per CNI call (${defaultDatapath()} datapath), ${COUNT} calls each\n`);
  printTable(
    ["op", "p50", "min", "max"],
    (["ADD", "DEL"] as const).map((op) => {
      const n = counts[op].map((c) => c.length);
      return [op, String(median(n)), String(Math.min(...n)), String(Math.max(...n))];
    }),
  );
  for (const op of ["ADD", "DEL"] as const) {
    const mid = median(counts[op].map((c) => c.length));
    const call = counts[op].find((c) => c.length === mid) ?? counts[op][0] ?? [];
    console.log(`\n${op}, one call (${call.length}):`);
    for (const t of call) console.log(`  ${show(t.argv)}`);
  }
}

if (isMain(import.meta.url)) await benchCniProcs();
