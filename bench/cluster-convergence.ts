// Convergence of a simulated cluster (src/cluster): how long after a change
// the packets of every host behave accordingly.
//
//   CNI ADD: a container is added on h1 with a fixed address (CNI_ARGS IP=); a
//   container on each other host has been connecting to that address every
//   PROBE_MS since before the ADD. Reached = the new container's kernel answers
//   (a RST from its closed port counts). Those containers' ARP retry time is
//   10 ms (their namespaces), so a remote host's proxy-ARP entry is used within
//   one probe interval of being installed.
//   Policy: every host has a container of group "web"; each probes tcp/PORT of
//   the next host's one (a ring), so every host's `in` rules are tested. Nothing
//   listens there: the kernel's RST is the answer, so no server process adds
//   load. A deny rule for tcp/PORT is POSTed; enforced on a host = every connect
//   to its container from then on times out. Then the rule is DELETEd: open again.
//
// Every event is measured from an idle cluster (no agent logging or busy) and
// counts the CPU the agents and the tools they spawn used for it, until idle
// again: 20 simulated hosts on 2 cores are CPU-bound, and this says by how much.
//
// A time is the start of the first probe from which on every probe had the
// new outcome, minus the start of the request; resolution one probe interval.
//
// Where the time goes comes from the agents' own logs (debug level): each run
// of the reconciler logs its duration ("host synced"), and a run that changed
// the kernel also logs the datapath part ("datapath changed"). Per host and
// event: when the first run that changed the kernel started, how long it took,
// how many runs the event caused, and the duration of runs that changed
// nothing (the cost of observing the host, paid by every run). The baseline of
// the same run is the kernel floor: the same kernel change made by hand with
// one tool spawn per object in a scratch namespace.

import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Cluster, unixRequest } from "../src/cluster/index.js";
import { LinuxDatapath } from "../src/datapath/linux/index.js";
import { must, RealExecutor, type Executor } from "../src/lib/process.js";
import { waitFor } from "../src/lib/wait.js";
import { hostPrefix, NFT_TABLE, tenantNamespace } from "../src/datapath/names.js";
import type { DesiredHost } from "../src/datapath/types.js";
import { Teardown, timedSpawn } from "./lab.js";
import { median } from "./stats.js";

const PROBE_JS = fileURLToPath(new URL("./cluster-probe.js", import.meta.url));
const PORT = 8080;
const TENANT = "bench";
/** A probe without an answer within this is a failure (a dropped SYN is only resent after 1 s anyway). */
const PROBE_TIMEOUT_MS = 400;
/** Consecutive probes with the new outcome, on every host, before a change counts as done. */
const STEADY = 20;

const now = (): number => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface ConvergenceOptions {
  prefix: string;
  hosts: number;
  reps: number;
  probeMs: number;
  verbose: boolean;
  /** Keep the cluster's directory (logs, store) under this directory instead of a removed temp dir. */
  keepDir?: string;
}

type Outcome = "ok" | "refused" | "timeout" | "error";
interface Attempt {
  s: number;
  r: Outcome;
}
const reached = (r: Outcome) => r === "ok" || r === "refused";
const blocked = (r: Outcome) => r === "timeout";

/** A container's helper process (cluster-probe.ts): probes on command. */
class Prober {
  readonly attempts: Attempt[] = [];
  private onStopped: (() => void) | undefined;
  private exited = false;

  private constructor(
    readonly host: number,
    readonly namespace: string,
    readonly ip: string,
    private readonly child: ChildProcess,
  ) {}

  static start(host: number, namespace: string, ip: string): Promise<Prober> {
    const child = spawn("ip", ["netns", "exec", namespace, process.execPath, PROBE_JS, "0"], { stdio: ["pipe", "pipe", "inherit"] });
    const p = new Prober(host, namespace, ip, child);
    child.stdin!.on("error", () => undefined);
    return new Promise((resolve, reject) => {
      let buffer = "";
      child.once("exit", (code) => {
        p.exited = true;
        reject(new Error(`probe helper in ${namespace} exited ${code}`));
      });
      child.stdout!.on("data", (d: Buffer) => {
        buffer += d.toString();
        let nl: number;
        while ((nl = buffer.indexOf("\n")) >= 0) {
          const m = JSON.parse(buffer.slice(0, nl)) as { ready?: boolean; stopped?: boolean } & Attempt;
          buffer = buffer.slice(nl + 1);
          if (m.ready) resolve(p);
          else if (m.stopped) p.onStopped?.();
          else p.attempts.push({ s: m.s, r: m.r });
        }
      });
    });
  }

  probe(address: string, intervalMs: number): void {
    this.attempts.length = 0;
    this.child.stdin!.write(`probe ${address} ${PORT} ${intervalMs} ${PROBE_TIMEOUT_MS}\n`);
  }

  /** Stops probing; resolves once every attempt made is reported. */
  stop(): Promise<void> {
    if (this.exited) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, PROBE_TIMEOUT_MS * 5);
      this.onStopped = () => {
        clearTimeout(timer);
        this.onStopped = undefined;
        resolve();
      };
      this.child.stdin!.write("stop\n");
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  trailing(want: (r: Outcome) => boolean): number {
    let n = 0;
    for (let i = this.attempts.length - 1; i >= 0 && want(this.attempts[i]!.r); i--) n++;
    return n;
  }

  async kill(): Promise<void> {
    if (this.exited || this.child.pid === undefined) return;
    const gone = new Promise((r) => this.child.once("exit", r));
    this.child.kill("SIGKILL");
    await gone;
  }
}

/** Waits until every prober's last STEADY attempts satisfy `want`. */
async function steady(probers: Prober[], want: (r: Outcome) => boolean, timeoutMs: number, what: string): Promise<void> {
  const state = () => probers.map((p) => `h${p.host}: ${p.attempts.slice(-5).map((a) => a.r).join(",") || "no attempts"}`).join("; ");
  await waitFor(() => probers.every((p) => p.trailing(want) >= STEADY), { timeoutMs, intervalMs: 20, what: () => `${what}: not steady (${state()})` });
}

/** Start of the first attempt in [from, to) from which on every attempt satisfies `want`. */
function transition(attempts: Attempt[], from: number, to: number, want: (r: Outcome) => boolean): number | undefined {
  const w = attempts.filter((a) => a.s >= from && a.s < to);
  let last = -1;
  for (let i = 0; i < w.length; i++) if (!want(w[i]!.r)) last = i;
  return last === w.length - 1 ? undefined : w[last + 1]!.s;
}

// ---- the agents' logs ------------------------------------------------------------------------------

interface Run {
  start: number;
  end: number;
  changed: boolean;
}

const LOG_LINE = /^\[(\d\d):(\d\d):(\d\d)\.(\d{3})\] (\w+) \(([^)]*)\): (.*?)(?: (\{.*\}))?$/;

/** The reconciler runs in an agent's log (pino-pretty lines, local wall-clock time of day with ms). */
function agentRuns(text: string, ref: number): { runs: Run[]; failures: number } {
  const day = new Date(ref);
  const midnight = new Date(day.getFullYear(), day.getMonth(), day.getDate()).getTime();
  const runs: Run[] = [];
  let changed = false;
  let failures = 0;
  for (const line of text.split("\n")) {
    const m = LOG_LINE.exec(line);
    if (!m) continue;
    let t = midnight + ((Number(m[1]) * 60 + Number(m[2])) * 60 + Number(m[3])) * 1000 + Number(m[4]);
    if (t - ref > 12 * 3600_000) t -= 24 * 3600_000;
    else if (ref - t > 12 * 3600_000) t += 24 * 3600_000;
    const msg = m[7];
    if (msg === "datapath changed") changed = true;
    else if (msg === "datapath sync failed") failures++;
    else if (msg === "host synced") {
      const data = JSON.parse(m[8] ?? "{}") as { durationMs?: number };
      runs.push({ start: t - (data.durationMs ?? 0), end: t, changed });
      changed = false;
    }
  }
  return { runs, failures };
}

interface HostEvent {
  host: number;
  /** When that host's probe saw the new behaviour (epoch ms). */
  at: number;
}

interface Event {
  kind: "add" | "deny" | "allow";
  t0: number;
  /** The request: CNI ADD, or the REST call. */
  requestMs: number;
  hosts: HostEvent[];
  /** CPU the agents (with the tools they spawned) used from the request until the cluster was idle again. */
  agentCpuMs: number;
  /** CPU of the probe helpers while probing, in CPUs (1 = one core busy). */
  probeLoad: number;
}

/** Per host of an event, from the logs: the first run that changed the kernel, and the runs the event caused. */
interface Breakdown {
  /** Request start -> start of the run. */
  notifyMs: number;
  runMs: number;
  /** Start of the run -> the probe saw the change (the kernel changes before the run ends). */
  seenMs: number;
  runs: number;
}

function breakdown(e: Event, runsOf: Map<number, Run[]>): Breakdown[] {
  const out: Breakdown[] = [];
  for (const h of e.hosts) {
    const runs = runsOf.get(h.host) ?? [];
    // Log times have ms resolution: a run logged to start 1 ms before the request can still be its.
    const change = runs.find((r) => r.changed && r.start >= e.t0 - 1);
    if (!change) continue;
    const caused = runs.filter((r) => r.end > e.t0 && r.start <= h.at).length;
    out.push({ notifyMs: change.start - e.t0, runMs: change.end - change.start, seenMs: h.at - change.start, runs: caused });
  }
  return out;
}

// ---- the benchmark ---------------------------------------------------------------------------------

export interface EventSummary {
  kind: Event["kind"];
  /** Per repetition: first host and last host to converge, ms after the request started. */
  first: number[];
  all: number[];
  requestMs: number[];
  breakdown: Breakdown[];
  /** Per repetition: the max over hosts of when the changing run started. */
  lastRunStart: number[];
  agentCpuMs: number[];
  probeLoad: number[];
}

export interface ConvergenceResult {
  hosts: number;
  reps: number;
  upMs: number;
  containersMs: number;
  addMs: number[];
  downMs: number;
  events: EventSummary[];
  inSyncRunMs: number[];
  changedRunMs: number[];
  syncFailures: number;
  floor: { fdbNeighMs: number; nftMs: number; nftNote: string };
  observe: ObserveCost;
}

export interface ObserveCost {
  /** One observe + diff of h1 as its agent would do it (LinuxDatapath.plan), from this process, idle cluster. */
  ms: number;
  /** Tool processes spawned by one observe. */
  spawns: number;
  /** Steps the plan holds (none: the agent had applied everything). */
  steps: string[];
  /** One `ip -n NS -json link show`, for scale. */
  spawnMs: number;
}

/** What observing a host costs: the agent's datapath driver, read-only (plan), on h1's desired state. */
async function observeCost(cluster: Cluster): Promise<ObserveCost> {
  const host = cluster.hosts[0]!;
  const inspect = await unixRequest(host.socket, "GET", "/inspect");
  const desired = (JSON.parse(inspect.text) as { desired?: DesiredHost }).desired;
  if (inspect.status !== 200 || !desired) throw new Error(`h1 /inspect: ${inspect.status}`);
  const real = new RealExecutor();
  let spawns = 0;
  const counting: Executor = { run: (argv, options) => ((spawns += 1), real.run(argv, options)) };
  const datapath = new LinuxDatapath(counting, { hostNamespace: host.namespace });
  let steps: string[] = [];
  let counted = 0;
  const ms = await timedMedian(7, async () => {
    spawns = 0;
    steps = (await datapath.plan(desired)).steps.map((s) => `${s.tool} ${s.action} ${s.object}`);
    counted = spawns;
  });
  const spawnMs = await timedMedian(10, () => must(["ip", "-n", host.namespace, "-json", "link", "show"]).then(() => undefined));
  return { ms, spawns: counted, steps, spawnMs };
}

async function apiOk(cluster: Cluster, method: string, path: string, body?: unknown): Promise<void> {
  const r = await cluster.api(method, path, body);
  if (r.status !== 200 && r.status !== 204) throw new Error(`${method} ${path} -> ${r.status}: ${r.text}`);
}

/**
 * Waits until the cluster is idle: nothing logged (every reconciler run logs when it ends) and the agents with
 * the tools they spawn below 20% of a CPU (a run in progress spawns tools all along), both for QUIET_MS.
 */
async function settle(files: string[], agentsCpu: () => number, maxMs = 20_000): Promise<void> {
  const QUIET_MS = 500;
  const size = () => files.map((f) => statSync(f, { throwIfNoEntry: false })?.size ?? 0).join(",");
  let last = size();
  let cpu = agentsCpu();
  let since = now();
  const deadline = now() + maxMs;
  while (now() < deadline) {
    const t = now();
    await sleep(100);
    const [s, c] = [size(), agentsCpu()];
    if (s !== last || (c - cpu) / (now() - t) > 0.2) since = now();
    else if (now() - since >= QUIET_MS) return;
    [last, cpu] = [s, c];
  }
}

let tickMs: number | undefined;

/** CPU time (ms) of these processes and their reaped children, from /proc; gone processes count 0. */
function cpuMs(pids: (number | undefined)[]): number {
  tickMs ??= 1000 / Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim() || 100);
  let total = 0;
  for (const pid of pids) {
    if (pid === undefined) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // f[0] is field 3 (state)
      total += (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) * tickMs; // utime stime cutime cstime
    } catch {
      // exited
    }
  }
  return total;
}

async function timedMedian(times: number, fn: (i: number) => Promise<void>): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < times; i++) {
    const t = now();
    await fn(i);
    samples.push(now() - t);
  }
  return median(samples);
}

/** The same kernel changes made by hand, one tool spawn per object, in a scratch namespace. */
async function kernelFloor(prefix: string, nftTable: string, teardown: Teardown): Promise<ConvergenceResult["floor"]> {
  const scratch = `${prefix}-floor`;
  await must(["ip", "netns", "add", scratch]);
  teardown.add(`delete ${scratch}`, () => timedSpawn(["ip", "netns", "del", scratch]));
  await must(["ip", "-n", scratch, "link", "add", "vx0", "mtu", "1450", "type", "vxlan", "id", "42", "dstport", "4789", "nolearning", "proxy"]);
  await must(["ip", "-n", scratch, "link", "set", "vx0", "up"]);
  const fdbNeighMs = await timedMedian(10, async (i) => {
    const mac = `02:00:c6:12:7f:${(16 + i).toString(16)}`;
    await must(["bridge", "-n", scratch, "fdb", "append", mac, "dev", "vx0", "dst", "198.18.0.99", "self", "permanent"]);
    await must(["ip", "-n", scratch, "neigh", "replace", `198.18.127.${i + 1}`, "lladdr", mac, "dev", "vx0", "nud", "permanent"]);
  });
  let nftMs = NaN;
  let nftNote = "";
  if (nftTable.trim() === "") nftNote = "no policy table to copy";
  else {
    const script = `table inet ${NFT_TABLE}\ndelete table inet ${NFT_TABLE}\n${nftTable}`;
    try {
      nftMs = await timedMedian(10, () => must(["ip", "netns", "exec", scratch, "nft", "-f", "-"], { stdin: script }).then(() => undefined));
    } catch (err) {
      nftNote = `cannot load the copied table by hand: ${(err as Error).message.slice(0, 200)}`;
    }
  }
  return { fdbNeighMs, nftMs, nftNote };
}

export async function benchConvergence(o: ConvergenceOptions, teardown: Teardown): Promise<ConvergenceResult> {
  const n = o.hosts;
  if (n < 2) throw new Error("convergence needs at least 2 hosts");
  // Torn down at the end of this cluster's measurement, or by the caller's teardown on a signal.
  const local = new Teardown();
  teardown.add(`tear the ${n}-host cluster down`, () => local.run());
  const startedUp = now();
  const dir = o.keepDir ? join(o.keepDir, `${o.prefix}n${n}`) : undefined;
  const cluster = await Cluster.up({ hosts: n, prefix: `${o.prefix}n${n}`, logLevel: "debug", ...(dir ? { dir } : {}) });
  const upMs = now() - startedUp;
  const probers: Prober[] = [];
  let downMs = NaN;
  local.add(`tear the ${n}-host cluster down`, async () => {
    const t = now();
    await cluster.down();
    downMs = now() - t;
  });
  local.add(`stop the probe helpers of the ${n}-host cluster`, () => Promise.all(probers.map((p) => p.kill())));
  try {
    const result = await measure(o, cluster, probers, local, startedUp);
    await local.run();
    return { ...result, upMs, downMs };
  } finally {
    await local.run();
  }
}

async function measure(o: ConvergenceOptions, cluster: Cluster, probers: Prober[], teardown: Teardown, startedUp: number): Promise<Omit<ConvergenceResult, "upMs" | "downMs">> {
  const n = o.hosts;
  const logs = [join(cluster.dir, "netmaster.log"), ...cluster.hosts.map((h) => join(cluster.dir, `h${h.index}.log`))];

  await apiOk(cluster, "POST", `/api/v1/tenants/${TENANT}/`, { tenantName: TENANT });
  await apiOk(cluster, "POST", `/api/v1/networks/${TENANT}:net/`, { tenantName: TENANT, networkName: "net", encap: "vxlan", subnet: "198.18.96.0/20", gateway: "198.18.111.254" });
  await apiOk(cluster, "POST", `/api/v1/policys/${TENANT}:p/`, { tenantName: TENANT, policyName: "p" });
  await apiOk(cluster, "POST", `/api/v1/endpointGroups/${TENANT}:web/`, { tenantName: TENANT, groupName: "web", networkName: "net", policies: ["p"] });

  // One container of group web per host, each with its helper.
  const startedContainers = now();
  const addMs: number[] = [];
  for (let i = 1; i <= n; i++) {
    const t = now();
    const c = await cluster.addContainer(i, `w${i}`, { tenant: TENANT, network: "net", group: "web" });
    addMs.push(now() - t);
    if (c.result.code !== 0) throw new Error(`ADD w${i}: ${JSON.stringify(c.result.out)}`);
    const ip = (c.result.out as { ips: { address: string }[] }).ips[0]!.address.split("/")[0]!;
    // The container's own ARP retry (and port range for many short connections); its namespace only.
    await must(["ip", "netns", "exec", c.namespace, "sysctl", "-q", "-w", "net.ipv4.neigh.eth0.retrans_time_ms=10", "net.ipv4.ip_local_port_range=1024 65535", "net.ipv4.tcp_tw_reuse=1"]);
    probers.push(await Prober.start(i, c.namespace, ip));
  }
  const containersMs = now() - startedContainers;
  const ring = (p: Prober) => probers[p.host % n]!;
  for (const p of probers) p.probe(ring(p).ip, o.probeMs);
  await steady(probers, reached, 60_000, "every container reaching the next host's");
  await Promise.all(probers.map((p) => p.stop()));
  await settle(logs, () => cpuMs(cluster.hosts.map((h) => h.agent?.child.pid)));

  const events: Event[] = [];
  const record = (e: Event) => {
    events.push(e);
    if (o.verbose) {
      const hosts = e.hosts.map((h) => `h${h.host}+${(h.at - e.t0).toFixed(0)}`).join(" ");
      console.log(`  ${n} hosts, ${e.kind}: request ${e.requestMs.toFixed(0)} ms; agents' CPU ${e.agentCpuMs.toFixed(0)} ms; probes ${(e.probeLoad * 100).toFixed(0)}% of a CPU; hosts ${hosts}`);
    }
  };
  const agentsCpu = () => cpuMs(cluster.hosts.map((h) => h.agent?.child.pid));
  const probersCpu = (ps: Prober[]) => cpuMs(ps.map((p) => p.pid));
  const calm = () => settle(logs, agentsCpu);

  // CNI ADD on h1, probed from every other host.
  const remote = probers.filter((p) => p.host !== 1);
  for (let rep = 0; rep < o.reps; rep++) {
    const ip = `198.18.104.${rep + 1}`;
    const config = { tenant: TENANT, network: "net" };
    for (const p of remote) p.probe(ip, o.probeMs);
    await sleep(150);
    const [a0, p0, t0] = [agentsCpu(), probersCpu(remote), now()];
    const c = await cluster.addContainer(1, `n${rep}`, config, `IP=${ip}`);
    const requestMs = now() - t0;
    if (c.result.code !== 0) throw new Error(`ADD n${rep}: ${JSON.stringify(c.result.out)}`);
    await steady(remote, reached, 60_000, `the new container ${ip} reached from every other host`);
    await Promise.all(remote.map((p) => p.stop()));
    const probeLoad = (probersCpu(remote) - p0) / (now() - t0);
    const hosts = remote.map((p) => ({ host: p.host, at: transition(p.attempts, t0, Infinity, reached)! }));
    await calm();
    record({ kind: "add", t0, requestMs, hosts, agentCpuMs: agentsCpu() - a0, probeLoad });
    const del = await cluster.removeContainer(1, `n${rep}`, config);
    if (del.code !== 0) throw new Error(`DEL n${rep}: ${JSON.stringify(del.out)}`);
    await calm();
  }

  // A deny rule for tcp/PORT into group web, then its removal; every host's container probed by the previous host's.
  const rulePath = `/api/v1/rules/${TENANT}:p:deny/`;
  const target = (p: Prober) => ring(p).host; // host h's `in` rules are tested by the probes of the host before it
  let nftTable = "";
  const policyEvent = async (kind: "deny" | "allow", before: (r: Outcome) => boolean, after: (r: Outcome) => boolean, request: () => Promise<void>) => {
    for (const p of probers) p.probe(ring(p).ip, o.probeMs);
    await steady(probers, before, 30_000, `${kind}: every probe steady before the change`);
    const [a0, p0, t0] = [agentsCpu(), probersCpu(probers), now()];
    await request();
    const requestMs = now() - t0;
    await steady(probers, after, 60_000, `${kind}: the change in force on every host`);
    await Promise.all(probers.map((p) => p.stop()));
    const probeLoad = (probersCpu(probers) - p0) / (now() - t0);
    const hosts = probers.map((p) => ({ host: target(p), at: transition(p.attempts, t0, Infinity, after)! }));
    await calm();
    record({ kind, t0, requestMs, hosts, agentCpuMs: agentsCpu() - a0, probeLoad });
  };
  for (let rep = 0; rep < o.reps; rep++) {
    await policyEvent("deny", reached, blocked, () =>
      apiOk(cluster, "POST", rulePath, { tenantName: TENANT, policyName: "p", ruleId: "deny", direction: "in", protocol: "tcp", port: PORT, action: "deny", priority: 10 }),
    );
    if (rep === 0) {
      const ns = tenantNamespace(hostPrefix(cluster.hosts[0]!.name), TENANT);
      nftTable = (await timedSpawn(["ip", "netns", "exec", ns, "nft", "list", "table", "inet", NFT_TABLE])).stdout;
    }
    await policyEvent("allow", blocked, reached, () => apiOk(cluster, "DELETE", rulePath));
  }

  // The logs, while they exist; then the kernel floor.
  const runsOf = new Map<number, Run[]>();
  let syncFailures = 0;
  for (const h of cluster.hosts) {
    const { runs, failures } = agentRuns(readFileSync(join(cluster.dir, `h${h.index}.log`), "utf8"), startedUp);
    runsOf.set(h.index, runs);
    syncFailures += failures;
  }
  const measuredFrom = events[0]?.t0 ?? Infinity;
  const measured = [...runsOf.values()].flat().filter((r) => r.start >= measuredFrom);
  const floor = await kernelFloor(`${o.prefix}n${n}`, nftTable, teardown);
  await calm();
  const observe = await observeCost(cluster);

  const summaries: EventSummary[] = (["add", "deny", "allow"] as const).map((kind) => {
    const mine = events.filter((e) => e.kind === kind);
    const rel = (e: Event) => e.hosts.map((h) => h.at - e.t0);
    const parts = mine.map((e) => breakdown(e, runsOf));
    return {
      kind,
      first: mine.map((e) => Math.min(...rel(e))),
      all: mine.map((e) => Math.max(...rel(e))),
      requestMs: mine.map((e) => e.requestMs),
      breakdown: parts.flat(),
      lastRunStart: parts.filter((p) => p.length > 0).map((p) => Math.max(...p.map((b) => b.notifyMs))),
      agentCpuMs: mine.map((e) => e.agentCpuMs),
      probeLoad: mine.map((e) => e.probeLoad),
    };
  });
  return {
    hosts: n,
    reps: o.reps,
    containersMs,
    addMs,
    events: summaries,
    inSyncRunMs: measured.filter((r) => !r.changed).map((r) => r.end - r.start),
    changedRunMs: measured.filter((r) => r.changed).map((r) => r.end - r.start),
    syncFailures,
    floor,
    observe,
  };
}
