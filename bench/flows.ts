// What flow records cost the agent: its CPU while a client floods a blocked port range with connection attempts,
// flow records on (--flow-records denied, the default) against off, in the same run, as utime + stime
// (/proc/<pid>/stat, sampled per tick) and as the scheduler's exact run time (/proc/<pid>/schedstat); and, apart,
// the CPU of the commands the agent had run: its spawner helper (src/lib/spawner.ts) and what that ran (the `nft`
// readings; on the off host, its rule counters alike). Those two are sampled per tick, and a short command's CPU
// rounds to whole ticks; so each agent is also put in a CPU accounting cgroup of its own (with its helper, and so
// every command they start): "all" is that cgroup's exact total, the agent and everything it ran. A two-host
// cluster: one host records, the other does not; each has a client and a web container of the same groups, whose
// policy denies TCP. Rounds alternate which host is flooded first, so drift on a shared machine hits both alike,
// and halfway the hosts swap roles (both agents restarted), so what differs between the hosts themselves (host 1
// runs a little more than host 2 with both off) cancels out; medians and on/off ratios printed. The kernel's own
// cost (an `update @flows4` per attempt: a hash lookup and a counter) is in the flooding process's softirq time,
// not measured here; the attempts each flood made are printed for both hosts.
//
// Safety: namespaces named with the run's prefix, removed at the end also on failure; 198.18.0.0/15.
//
// Run alone: node dist/bench/flows.js
//   BENCH_FLOW_ROUNDS=6      rounds (each floods both hosts; half with host 1 recording, half with host 2)
//   BENCH_FLOW_SECONDS=30    length of each flood (a busy tenant's sets are listed at most every 4 minutes: see the README)
//   BENCH_FLOW_CAP=2048      --flow-records-cap of the recording host (the default)
//   BENCH_FLOW_ON=denied     --flow-records of the recording host ("off" calibrates: both hosts alike)

import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { Cluster } from "../src/cluster/index.js";
import { unixRequest } from "../src/cluster/http.js";
import { Api } from "../test/harness/api.js";
import { attach, type Attached } from "../test/harness/cluster.js";
import type { TestNetns } from "../test/harness/netns.js";
import { envNumber, isMain, missingPrerequisite, printTable } from "./lab.js";
import { fmt, median } from "./stats.js";

const ROUNDS = Math.max(2, envNumber("BENCH_FLOW_ROUNDS", 6));
const SECONDS = envNumber("BENCH_FLOW_SECONDS", 30);
const ON = process.env["BENCH_FLOW_ON"] ?? "denied";
const CAP = envNumber("BENCH_FLOW_CAP", 2048);
const TICK_MS = 10; // USER_HZ is 100 on Linux
/** After the flood: past the agent's next reading of its sets (every 5 s). */
const TAIL_MS = 6000;

/** Non-blocking connects to ports lo.. for `seconds`, 200 sockets at a time: every one a new, denied attempt. */
const FLOOD = `
import socket, sys, time
ip, seconds = sys.argv[1], float(sys.argv[2])
end = time.time() + seconds
port, sent, socks = 10000, 0, []
while time.time() < end:
    s = socket.socket()
    s.setblocking(False)
    try:
        s.connect((ip, port))
    except BlockingIOError:
        pass
    socks.append(s)
    sent += 1
    port = 10000 + (port - 9999) % 50000
    if len(socks) >= 200:
        for x in socks: x.close()
        socks = []
print(sent)
`;

/** A process's own CPU and that of the children it waited for, in ms. */
function procCpu(pid: number): { own: number; waited: number } {
  try {
    // Fields after the command (which may hold spaces) start at state; utime, stime, cutime, cstime are the 14th to 17th.
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return { own: (Number(fields[11]) + Number(fields[12])) * TICK_MS, waited: (Number(fields[13]) + Number(fields[14])) * TICK_MS };
  } catch {
    return { own: 0, waited: 0 };
  }
}

/**
 * The agent's run time as the scheduler measured it (/proc/<pid>/schedstat, ns), summed over its threads: exact,
 * where utime + stime is sampled at each tick and charges the whole tick (4 ms here) to whatever runs then, which
 * under a flood is often the flood's softirq work done in that process's context.
 */
function runMs(pid: number): number {
  try {
    return Number(readFileSync(`/proc/${pid}/schedstat`, "utf8").split(" ")[0]) / 1e6;
  } catch {
    return 0;
  }
}

/** The agent's own CPU, and that of the commands it had run: its live children (the spawner) and all they and it waited for. */
function cpuMs(pid: number): { own: number; children: number; run: number } {
  // No children file: the commands' CPU reads as the agent's waited-for time alone.
  const children = childrenOf(pid);
  const agent = procCpu(pid);
  return { own: agent.own, children: agent.waited + children.map(procCpu).reduce((n, c) => n + c.own + c.waited, 0), run: runMs(pid) };
}

/**
 * A CPU accounting cgroup (v1 cpuacct, else v2) holding an agent and its helper: the exact CPU time of them and of
 * every process they start from then on (ms). Undefined where neither can be made.
 */
class CpuGroup {
  private constructor(
    private readonly dir: string,
    private readonly usage: () => number,
  ) {}

  static make(name: string, pids: number[]): CpuGroup | undefined {
    const v1 = "/sys/fs/cgroup/cpuacct";
    const v2 = existsSync("/sys/fs/cgroup/cgroup.controllers") ? "/sys/fs/cgroup" : undefined;
    const root = existsSync(v1) ? v1 : v2;
    if (root === undefined) return undefined;
    const dir = `${root}/${name}`;
    try {
      mkdirSync(dir);
      for (const pid of pids) writeFileSync(`${dir}/cgroup.procs`, String(pid));
    } catch {
      return undefined;
    }
    const usage =
      root === v1
        ? () => Number(readFileSync(`${dir}/cpuacct.usage`, "utf8")) / 1e6
        : () => Number(/usage_usec (\d+)/.exec(readFileSync(`${dir}/cpu.stat`, "utf8"))?.[1] ?? 0) / 1e3;
    return new CpuGroup(dir, usage);
  }

  ms(): number {
    return this.usage();
  }

  /** Once its processes are gone. */
  remove(): void {
    try {
      rmdirSync(this.dir);
    } catch {
      // Still in use (a process outlived the cluster): left, named with the run's prefix.
    }
  }
}

/** The pids of a process's live children. */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

interface Reading {
  agentMs: number;
  /** From schedstat: exact run time. */
  agentRunMs: number;
  childrenMs: number;
  /** The agent's cgroup: it and all it ran, exact. */
  allMs: number;
  attempts: number;
  counted: number;
  overflow: number;
}

/** After an agent (re)starts: past its start-up work and its first reconcile. */
const SETTLE_MS = 8000;

export async function benchFlows(): Promise<void> {
  const missing = await missingPrerequisite(["ip", "nft"]);
  if (missing) {
    console.log(`\nFlow records: skipped (${missing})`);
    return;
  }
  let cluster: Cluster | undefined;
  const made: TestNetns[] = [];
  const allGroups: CpuGroup[] = [];
  /** Whether every agent got a CPU group (else "all" is not printed: a missing one reads 0). */
  let exact = true;
  try {
    cluster = await Cluster.up({ hosts: 2, logLevel: "warn" });
    const c = cluster;
    const hosts = c.hosts as [NonNullable<(typeof c.hosts)[0]>, NonNullable<(typeof c.hosts)[0]>];
    const baseArgs = hosts.map((h) => [...h.agentArgs]);
    let groups: (CpuGroup | undefined)[] = [];
    /** Restarts both agents, host `recording` with flow records and the other without, each in a CPU group of its own. */
    const configure = async (recording: 0 | 1): Promise<void> => {
      for (const [i, h] of hosts.entries()) {
        await h.agent?.stop();
        const records = i === recording ? ["--flow-records", ON, "--flow-records-cap", String(CAP)] : ["--flow-records", "off"];
        h.agentArgs.splice(0, h.agentArgs.length, ...baseArgs[i]!, ...records);
        await c.startAgent(h);
      }
      await new Promise((r) => setTimeout(r, SETTLE_MS));
      groups = hosts.map((h, i) => {
        const pid = h.agent!.child.pid!;
        return CpuGroup.make(`${c.prefix}-cpu${i}-${recording}`, [pid, ...childrenOf(pid)]);
      });
      for (const g of groups) {
        if (g === undefined) exact = false;
        else allGroups.push(g);
      }
    };
    await configure(0);
    const api = new Api(c.apiBase);
    await api.create("/api/v1/tenants/t/", { tenantName: "t" });
    await api.create("/api/v1/networks/t:net/", { tenantName: "t", networkName: "net", encap: "vxlan", subnet: "198.18.181.0/24", gateway: "198.18.181.254" });
    await api.create("/api/v1/policys/t:pw/", { tenantName: "t", policyName: "pw" });
    await api.create("/api/v1/rules/t:pw:deny-tcp/", { tenantName: "t", policyName: "pw", ruleId: "deny-tcp", direction: "in", priority: 1, action: "deny", protocol: "tcp" });
    await api.create("/api/v1/endpointGroups/t:client/", { tenantName: "t", groupName: "client", networkName: "net" });
    await api.create("/api/v1/endpointGroups/t:web/", { tenantName: "t", groupName: "web", networkName: "net", policies: ["pw"] });
    const pairs: { client: Attached; web: Attached }[] = [];
    for (const i of [1, 2]) {
      pairs.push({
        client: await attach(c, made, i, `c${i}`, { tenant: "t", network: "net", group: "client" }),
        web: await attach(c, made, i, `w${i}`, { tenant: "t", network: "net", group: "web" }),
      });
    }
    // Settle: both agents past their work for the new endpoints before the first round.
    await new Promise((r) => setTimeout(r, 5000));

    type Stats = { seenPackets: number; overflowPackets: number };
    const none: Stats = { seenPackets: 0, overflowPackets: 0 };
    const flowStats = async (index: 0 | 1, recording: boolean): Promise<Stats> =>
      !recording || ON === "off" ? none : (JSON.parse((await unixRequest(hosts[index].socket, "GET", "/flows")).text) as { stats: Stats }).stats;

    /** Floods host `index`'s web container from its client; what its agent spent meanwhile and 6 s after. */
    const measure = async (index: 0 | 1, recording: boolean): Promise<Reading> => {
      const pid = hosts[index].agent!.child.pid!;
      const stats0 = await flowStats(index, recording);
      const all0 = groups[index]?.ms() ?? 0;
      const cpu0 = cpuMs(pid);
      const r = await pairs[index]!.client.ns.exec(["/usr/bin/python3", "-c", FLOOD, pairs[index]!.web.ip, String(SECONDS)]);
      if (r.code !== 0) throw new Error(`flood: ${r.stderr}`);
      // Past the agent's next reading (every 5 s), so the flood's records are in what is measured.
      await new Promise((resolve) => setTimeout(resolve, TAIL_MS));
      const cpu = cpuMs(pid);
      const all = (groups[index]?.ms() ?? 0) - all0;
      const stats = await flowStats(index, recording);
      return {
        agentMs: cpu.own - cpu0.own,
        agentRunMs: cpu.run - cpu0.run,
        childrenMs: cpu.children - cpu0.children,
        allMs: all,
        attempts: Number(r.stdout.trim()),
        counted: stats.seenPackets - stats0.seenPackets,
        overflow: stats.overflowPackets - stats0.overflowPackets,
      };
    };

    const rows: string[][] = [];
    const on: Reading[] = [];
    const off: Reading[] = [];
    const half = Math.ceil(ROUNDS / 2);
    for (let round = 0; round < ROUNDS; round++) {
      // Halfway the hosts swap roles, so what differs between the two hosts themselves cancels out.
      const recording: 0 | 1 = round < half ? 0 : 1;
      if (round === half) await configure(1);
      const other: 0 | 1 = recording === 0 ? 1 : 0;
      const order = round % 2 === 0 ? [recording, other] : [other, recording];
      const got = new Map<number, Reading>();
      for (const i of order) got.set(i, await measure(i, i === recording));
      const a = got.get(recording)!;
      const b = got.get(other)!;
      on.push(a);
      off.push(b);
      rows.push([
        String(round + 1), `h${recording + 1}`, String(a.attempts), String(a.counted), String(a.overflow), fmt(a.agentMs, 0), fmt(a.agentRunMs, 0), fmt(a.childrenMs, 0), fmt(a.allMs, 0),
        String(b.attempts), fmt(b.agentMs, 0), fmt(b.agentRunMs, 0), fmt(b.childrenMs, 0), fmt(b.allMs, 0),
      ]);
    }
    console.log(`\nFlow records: CPU ms over a ${SECONDS} s flood of denied connection attempts (+${TAIL_MS / 1000} s), the recording host --flow-records ${ON} --flow-records-cap ${CAP}, the other off`);
    printTable(
      ["round", "recording", "attempts (on)", "counted per flow", "overflow", "agent ms (on)", "run ms", "its commands ms", "all ms", "attempts (off)", "agent ms (off)", "run ms", "its commands ms", "all ms"],
      rows,
    );
    const ratio = (pick: (r: Reading) => number) => {
      const a = median(on.map(pick));
      const b = median(off.map(pick));
      return `on ${fmt(a, 0)} ms, off ${fmt(b, 0)} ms (×${fmt(a / b, 2)})`;
    };
    console.log(`median agent CPU (utime + stime): ${ratio((r) => r.agentMs)}; run time (schedstat): ${ratio((r) => r.agentRunMs)}`);
    console.log(`median CPU of the commands it had run (spawner, ip, nft): ${ratio((r) => r.childrenMs)}`);
    if (exact) console.log(`median CPU of the agent and all it ran (its cgroup, exact): ${ratio((r) => r.allMs)}`);
  } finally {
    for (const ns of made.splice(0)) await ns.destroy();
    await cluster?.down();
    for (const g of allGroups) g.remove();
  }
}

if (isMain(import.meta.url)) await benchFlows();
