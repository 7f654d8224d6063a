// CNI ADD and DEL latency of our plugin (the executable, run the way a runtime
// runs it, plus the agent that does the work) against Debian's reference
// `bridge` + `host-local` plugins, measured in the same run: one call at a time,
// then all calls at once. Also the bare start-up cost of a Node process and of
// our executable's VERSION, to show how much of an ADD is Node starting.
//
// Safety: every namespace is named with a per-run prefix and removed at the end,
// also on failure or Ctrl-C. The reference plugin runs inside a "host" namespace
// of ours (`nsenter --net=…`), so its bridge, sysctls and any iptables rules land
// there and never in the root namespace. Addresses come from 198.18.0.0/15.
//
// Run alone: node dist/bench/cni-latency.js
//   BENCH_CNI_COUNT=50      containers per mode (sequential and concurrent)
//   BENCH_CNI_STARTUP=20    runs of each start-up probe
//   BENCH_CNI_REF_DIR=/usr/lib/cni   where the reference plugins are

import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Api } from "../test/harness/api.js";
import { TestAgent } from "../test/harness/agent.js";
import { runPrefix, TestNetns } from "../test/harness/netns.js";
import { envNumber, isMain, missingPrerequisite, printTable, Teardown, timedSpawn, type Timed } from "./lab.js";
import { fmt, median, percentile } from "./stats.js";
import { callAgent } from "../src/cni/client.js";

const COUNT = envNumber("BENCH_CNI_COUNT", 50);
const STARTUP_RUNS = envNumber("BENCH_CNI_STARTUP", 20);
const REF_DIR = process.env.BENCH_CNI_REF_DIR ?? "/usr/lib/cni";

/** `make build` writes this wrapper; runtimes exec it (installed as /opt/cni/bin/netplugin). */
const CNI_WRAPPER = fileURLToPath(new URL("../../bin/netplugin-cni", import.meta.url));
const CNI_JS = fileURLToPath(new URL("../src/bin/netplugin-cni.js", import.meta.url));

const TENANT = "bcni";
const OUR_SUBNET = "198.18.64.0/20";
const OUR_GATEWAY = "198.18.79.254";
const REF_SUBNET = "198.18.80.0/20";

export type Op = "ADD" | "DEL";

/** One CNI plugin as a runtime sees it: how to exec it, with which config and CNI_PATH. */
export interface Plugin {
  label: string;
  argv: string[];
  env: NodeJS.ProcessEnv;
  cniPath: string;
  config: Record<string, unknown>;
}

export async function call(plugin: Plugin, op: Op, containerId: string, netns: string): Promise<Timed> {
  const r = await timedSpawn(plugin.argv, {
    env: {
      ...plugin.env,
      CNI_COMMAND: op,
      CNI_CONTAINERID: containerId,
      CNI_NETNS: netns,
      CNI_IFNAME: "eth0",
      CNI_ARGS: "",
      CNI_PATH: plugin.cniPath,
    },
    stdin: JSON.stringify(plugin.config),
    timeoutMs: 120_000,
  });
  if (r.code !== 0) throw new Error(`${plugin.label} ${op} ${containerId} exited ${r.code}: ${r.stdout.trim()} ${r.stderr.trim()}`);
  return r;
}

/** Our executable, exactly as a runtime would exec it (the wrapper drops NODE_EXTRA_CA_CERTS). */
export function ourExecutable(): { argv: string[]; env: NodeJS.ProcessEnv; how: string } {
  if (existsSync(CNI_WRAPPER)) return { argv: [CNI_WRAPPER], env: { ...process.env }, how: "bin/netplugin-cni" };
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  return { argv: [process.execPath, CNI_JS], env, how: "node dist/src/bin/netplugin-cni.js without NODE_EXTRA_CA_CERTS (no bin/ wrapper: run make build)" };
}

interface StartupRow {
  what: string;
  samples: number[];
}

/** Start-up probes, interleaved so drift on a noisy machine hits them alike. */
async function measureStartup(ours: Plugin, ref: Plugin, hostNs: string): Promise<StartupRow[]> {
  const withoutCa = { ...process.env };
  delete withoutCa.NODE_EXTRA_CA_CERTS;
  const probes: { what: string; argv: string[]; env: NodeJS.ProcessEnv; stdin?: string }[] = [
    {
      what: process.env.NODE_EXTRA_CA_CERTS ? "node -e 0 (as inherited, NODE_EXTRA_CA_CERTS set)" : "node -e 0 (as inherited)",
      argv: [process.execPath, "-e", "0"],
      env: process.env,
    },
    { what: "node -e 0 without NODE_EXTRA_CA_CERTS", argv: [process.execPath, "-e", "0"], env: withoutCa },
    { what: "ours: VERSION (the executable alone)", argv: ours.argv, env: { ...ours.env, CNI_COMMAND: "VERSION" }, stdin: "{}" },
    { what: "reference bridge: VERSION (Go)", argv: [join(REF_DIR, "bridge")], env: { ...process.env, CNI_COMMAND: "VERSION" }, stdin: "{}" },
    { what: "nsenter --net=<host ns> true (ref wrapper)", argv: ["nsenter", `--net=${hostNs}`, "true"], env: process.env },
  ];
  const rows = probes.map((p) => ({ what: p.what, samples: [] as number[] }));
  for (const p of probes) await timedSpawn(p.argv, { env: p.env, stdin: p.stdin ?? "" }); // warm the page cache
  for (let i = 0; i < STARTUP_RUNS; i++) {
    for (const [j, p] of probes.entries()) {
      const r = await timedSpawn(p.argv, { env: p.env, stdin: p.stdin ?? "" });
      if (r.code !== 0) throw new Error(`${p.what} exited ${r.code}: ${r.stderr}`);
      rows[j]!.samples.push(r.ms);
    }
  }
  return rows;
}

/**
 * One call to the agent's socket as the executable makes it, without the executable: the agent's own part of
 * an ADD or DEL, from the request to the answer.
 */
async function callAgentAlone(plugin: Plugin, socket: string, op: Op, containerId: string, netns: string): Promise<number> {
  const body = JSON.stringify({ command: op, containerId, netns, ifname: "eth0", args: "", path: plugin.cniPath, config: plugin.config });
  const start = performance.now();
  const r = await callAgent({ socket, body, command: op });
  const ms = performance.now() - start;
  if (!r.ok) throw new Error(`agent ${op} ${containerId}: ${JSON.stringify(r.error)}`);
  return ms;
}

interface LatencyRow {
  mode: "sequential" | "concurrent" | "agent alone";
  op: Op;
  ours: number[];
  ref: number[];
  oursWallMs?: number;
  refWallMs?: number;
}

export async function benchCniLatency(): Promise<void> {
  const missing = await missingPrerequisite(["nsenter", "ip", join(REF_DIR, "bridge"), join(REF_DIR, "host-local")]);
  if (missing) {
    console.log(`\nCNI latency: skipped (${missing})`);
    return;
  }
  const prefix = runPrefix("nbe");
  const teardown = new Teardown();
  const unhook = teardown.onSignals();
  const rows: LatencyRow[] = [];
  let startup: StartupRow[] = [];
  let how = "";
  let growth = { ours: [NaN, NaN], ref: [NaN, NaN] };
  try {
    // A one-host cluster (test/harness/agent.ts): netmaster on its underlay, the agent in its own
    // host namespace; the executable runs here and reaches the agent through its socket.
    const agent = await TestAgent.start();
    teardown.add("remove the one-host cluster and everything its agent made", () => agent.destroy());
    const api = new Api(agent.apiBase);
    await api.create(`/api/v1/tenants/${TENANT}/`, { tenantName: TENANT });
    await api.create(`/api/v1/networks/${TENANT}:net/`, { tenantName: TENANT, networkName: "net", encap: "vxlan", subnet: OUR_SUBNET, gateway: OUR_GATEWAY });

    const refHost = await TestNetns.create(`${prefix}-refhost`);
    teardown.add(`delete ${refHost.name}`, () => refHost.destroy());
    const ipamDir = mkdtempSync(join(tmpdir(), "netplugin-bench-ipam-"));
    teardown.add("remove host-local data dir", () => rmSync(ipamDir, { recursive: true, force: true }));

    const exe = ourExecutable();
    how = exe.how;
    const ours: Plugin = {
      label: "ours",
      argv: exe.argv,
      env: exe.env,
      cniPath: "/opt/cni/bin",
      config: { cniVersion: "1.0.0", name: "nbe-ours", type: "netplugin", socket: agent.socket, tenant: TENANT, network: "net" },
    };
    const ref: Plugin = {
      label: "reference",
      argv: ["nsenter", `--net=${refHost.path}`, join(REF_DIR, "bridge")],
      env: { ...process.env },
      cniPath: REF_DIR,
      config: {
        cniVersion: "1.0.0", name: "nbe-ref", type: "bridge", bridge: "nbebr0", isGateway: true, ipMasq: false,
        ipam: { type: "host-local", ranges: [[{ subnet: REF_SUBNET }]], dataDir: ipamDir },
      },
    };

    // Containers: one anchor per plugin (added first, kept to the end, so no measured call
    // creates or removes the tenant namespace or the bridge) and COUNT per plugin.
    const containers = async (tag: string) => {
      const list: TestNetns[] = [];
      for (let i = 0; i <= COUNT; i++) {
        const ns = await TestNetns.create(`${prefix}-${tag}${i}`);
        teardown.add(`delete ${ns.name}`, () => ns.destroy());
        list.push(ns);
      }
      return list;
    };
    const oursNs = await containers("o");
    const refNs = await containers("r");
    const aloneNs = await containers("a");
    const id = (p: Plugin, i: number) => `${prefix}${p.label === "ours" ? "o" : "r"}${i}`;
    await call(ours, "ADD", id(ours, 0), oursNs[0]!.path);
    await call(ref, "ADD", id(ref, 0), refNs[0]!.path);

    startup = await measureStartup(ours, ref, refHost.path);

    // One at a time, ours and the reference alternating call by call.
    const seq: Record<Op, LatencyRow> = {
      ADD: { mode: "sequential", op: "ADD", ours: [], ref: [] },
      DEL: { mode: "sequential", op: "DEL", ours: [], ref: [] },
    };
    for (const op of ["ADD", "DEL"] as const) {
      for (let i = 1; i <= COUNT; i++) {
        seq[op].ours.push((await call(ours, op, id(ours, i), oursNs[i]!.path)).ms);
        seq[op].ref.push((await call(ref, op, id(ref, i), refNs[i]!.path)).ms);
      }
    }
    rows.push(seq.ADD, seq.DEL);
    // The agent's part alone, the reference's whole call beside it again.
    const alone: Record<Op, LatencyRow> = {
      ADD: { mode: "agent alone", op: "ADD", ours: [], ref: [] },
      DEL: { mode: "agent alone", op: "DEL", ours: [], ref: [] },
    };
    for (const op of ["ADD", "DEL"] as const) {
      for (let i = 1; i <= COUNT; i++) {
        alone[op].ours.push(await callAgentAlone(ours, agent.socket, op, `${prefix}a${i}`, aloneNs[i]!.path));
        alone[op].ref.push((await call(ref, op, id(ref, i), refNs[i]!.path)).ms);
      }
    }
    rows.push(alone.ADD, alone.DEL);
    const fifth = Math.max(1, Math.floor(COUNT / 5));
    const ends = (xs: number[]) => [median(xs.slice(0, fifth)), median(xs.slice(-fifth))];
    growth = { ours: ends(seq.ADD.ours), ref: ends(seq.ADD.ref) };

    // All at once: COUNT calls started together; latency per call and wall time for all.
    const burst = async (p: Plugin, op: Op, nss: TestNetns[]) => {
      const start = performance.now();
      const samples = await Promise.all(nss.slice(1).map((ns, k) => call(p, op, id(p, k + 1), ns.path).then((r) => r.ms)));
      return { samples, wall: performance.now() - start };
    };
    for (const op of ["ADD", "DEL"] as const) {
      const o = await burst(ours, op, oursNs);
      const r = await burst(ref, op, refNs);
      rows.push({ mode: "concurrent", op, ours: o.samples, ref: r.samples, oursWallMs: o.wall, refWallMs: r.wall });
    }
  } finally {
    await teardown.run();
    unhook();
  }

  console.log(`\nCNI latency: ours (${how} + agent) vs reference bridge + host-local (${REF_DIR}, run in a namespace via nsenter)`);
  console.log(`${COUNT} containers per mode; ms from exec to exit; ratio = ours / reference, same run\n`);
  printTable(
    ["mode", "op", "ours p50", "ours p95", "ref p50", "ref p95", "x p50", "x p95", "wall ours", "wall ref"],
    rows.map((r) => {
      const [o50, o95, r50, r95] = [median(r.ours), percentile(r.ours, 95), median(r.ref), percentile(r.ref, 95)];
      return [
        r.mode, r.op, fmt(o50), fmt(o95), fmt(r50), fmt(r95), fmt(o50 / r50, 2), fmt(o95 / r95, 2),
        r.oursWallMs === undefined ? "" : fmt(r.oursWallMs, 0), r.refWallMs === undefined ? "" : fmt(r.refWallMs, 0),
      ];
    }),
    2,
  );
  console.log(`(concurrent: all ${COUNT} calls started at once; wall = ms until the last one exited)`);
  console.log("(agent alone: ours is the agent's socket request to its answer, without the executable; ref its whole call)");
  const fifth = Math.max(1, Math.floor(COUNT / 5));
  console.log(`sequential ADD as containers accumulate, p50 of the first ${fifth} -> last ${fifth} calls (ms):`);
  for (const side of ["ours", "ref"] as const) {
    const [first, last] = growth[side] as [number, number];
    console.log(`  ${side === "ours" ? "ours     " : "reference"}  ${fmt(first)} -> ${fmt(last)}  (x${fmt(last / first, 2)})`);
  }
  console.log("");

  console.log(`process start-up, ${STARTUP_RUNS} runs each (ms from exec to exit)\n`);
  printTable(
    ["what", "p50", "p95"],
    startup.map((s) => [s.what, fmt(median(s.samples)), fmt(percentile(s.samples, 95))]),
  );
  const version = startup.find((s) => s.what.startsWith("ours: VERSION"));
  const addSeq = rows.find((r) => r.mode === "sequential" && r.op === "ADD");
  if (version && addSeq) {
    console.log(`share of our sequential ADD (p50) spent starting the executable (VERSION p50): ${fmt((100 * median(version.samples)) / median(addSeq.ours), 0)}%`);
  }
}

if (isMain(import.meta.url)) await benchCniLatency();
