// What flow records cost the agent: CPU (utime + stime from /proc/<pid>/stat) of the agent process and of its
// readers (tcpdump on each tenant namespace's NFLOG group) while a client floods a blocked port range with
// connection attempts, flow records on (--flow-records denied, the default) against off, in the same run.
// A two-host cluster: host 1 records, host 2 does not; each has a client and a web container of the same groups,
// whose policy denies TCP. Rounds alternate which host is flooded first, so drift on a shared machine hits both
// alike; medians and on/off ratios printed. The kernel's own cost of the log statement is in the flooding
// process's softirq time, not measured here; the table's rate limit (--flow-log-rate) bounds it.
//
// Safety: namespaces named with the run's prefix, removed at the end also on failure; 198.18.0.0/15.
//
// Run alone: node dist/bench/flows.js
//   BENCH_FLOW_ROUNDS=5      rounds (each floods both hosts)
//   BENCH_FLOW_SECONDS=4     length of each flood
//   BENCH_FLOW_RATE=200      --flow-log-rate of the recording host (the default)
//   BENCH_FLOW_CAP=2048      --flow-records-cap of the recording host (the default)
//   BENCH_FLOW_ON=denied     --flow-records of host 1 ("off" calibrates: both hosts alike)

import { readFileSync } from "node:fs";
import { Cluster } from "../src/cluster/index.js";
import { unixRequest } from "../src/cluster/http.js";
import { waitFor } from "../src/lib/wait.js";
import { Api } from "../test/harness/api.js";
import { attach, type Attached } from "../test/harness/cluster.js";
import type { TestNetns } from "../test/harness/netns.js";
import { envNumber, isMain, missingPrerequisite, printTable } from "./lab.js";
import { fmt, median } from "./stats.js";

const ROUNDS = Math.max(1, envNumber("BENCH_FLOW_ROUNDS", 5));
const SECONDS = envNumber("BENCH_FLOW_SECONDS", 4);
const RATE = envNumber("BENCH_FLOW_RATE", 200);
const ON = process.env["BENCH_FLOW_ON"] ?? "denied";
const CAP = envNumber("BENCH_FLOW_CAP", 2048);
const TICK_MS = 10; // USER_HZ is 100 on Linux

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

function cpuMs(pid: number): number {
  try {
    // Fields after the command (which may hold spaces) start at state; utime and stime are the 14th and 15th.
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
  } catch {
    return 0;
  }
}

interface Reading {
  agentMs: number;
  readersMs: number;
  attempts: number;
  logged: number;
}

export async function benchFlows(): Promise<void> {
  const missing = await missingPrerequisite(["ip", "nft", "tcpdump", "setpriv"]);
  if (missing) {
    console.log(`\nFlow records: skipped (${missing})`);
    return;
  }
  let cluster: Cluster | undefined;
  const made: TestNetns[] = [];
  try {
    cluster = await Cluster.up({ hosts: 2, logLevel: "warn" });
    const [on, off] = cluster.hosts as [NonNullable<typeof cluster.hosts[0]>, NonNullable<typeof cluster.hosts[0]>];
    for (const [host, args] of [[on, ["--flow-records", ON, "--flow-log-rate", String(RATE), "--flow-records-cap", String(CAP)]], [off, ["--flow-records", "off"]]] as const) {
      await host.agent!.stop();
      host.agentArgs.push(...args);
      await cluster.startAgent(host);
    }
    const api = new Api(cluster.apiBase);
    await api.create("/api/v1/tenants/t/", { tenantName: "t" });
    await api.create("/api/v1/networks/t:net/", { tenantName: "t", networkName: "net", encap: "vxlan", subnet: "198.18.181.0/24", gateway: "198.18.181.254" });
    await api.create("/api/v1/policys/t:pw/", { tenantName: "t", policyName: "pw" });
    await api.create("/api/v1/rules/t:pw:deny-tcp/", { tenantName: "t", policyName: "pw", ruleId: "deny-tcp", direction: "in", priority: 1, action: "deny", protocol: "tcp" });
    await api.create("/api/v1/endpointGroups/t:client/", { tenantName: "t", groupName: "client", networkName: "net" });
    await api.create("/api/v1/endpointGroups/t:web/", { tenantName: "t", groupName: "web", networkName: "net", policies: ["pw"] });
    const pairs: { client: Attached; web: Attached }[] = [];
    for (const i of [1, 2]) {
      pairs.push({
        client: await attach(cluster, made, i, `c${i}`, { tenant: "t", network: "net", group: "client" }),
        web: await attach(cluster, made, i, `w${i}`, { tenant: "t", network: "net", group: "web" }),
      });
    }
    const none = { stats: { seenPackets: 0 }, readers: [] };
    const flows = async () => (ON === "off" ? none : (JSON.parse((await unixRequest(on.socket, "GET", "/flows")).text) as { stats: { seenPackets: number }; readers: { pid: number | null }[] }));
    // The recording host's reader runs before the first round.
    if (ON !== "off") await waitFor(async () => (await flows()).readers.some((r) => r.pid !== null), { timeoutMs: 20_000, what: () => "the flow reader" });
    await new Promise((r) => setTimeout(r, 1000));

    const measure = async (index: 0 | 1): Promise<Reading> => {
      const host = index === 0 ? on : off;
      const pid = host.agent!.child.pid!;
      const readers = index === 0 ? (await flows()).readers.map((r) => r.pid).filter((p): p is number => p !== null) : [];
      const logged0 = index === 0 ? (await flows()).stats.seenPackets : 0;
      const agent0 = cpuMs(pid);
      const readers0 = readers.reduce((n, p) => n + cpuMs(p), 0);
      const r = await pairs[index]!.client.ns.exec(["/usr/bin/python3", "-c", FLOOD, pairs[index]!.web.ip, String(SECONDS)]);
      if (r.code !== 0) throw new Error(`flood: ${r.stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 1000)); // the reader's tail read and parsed
      const agentMs = cpuMs(pid) - agent0;
      const readersMs = readers.reduce((n, p) => n + cpuMs(p), 0) - readers0;
      const logged = index === 0 ? (await flows()).stats.seenPackets - logged0 : 0;
      return { agentMs, readersMs, attempts: Number(r.stdout.trim()), logged };
    };

    const rows: string[][] = [];
    const onAgent: number[] = [];
    const onTotal: number[] = [];
    const offAgent: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const order: (0 | 1)[] = round % 2 === 0 ? [0, 1] : [1, 0];
      const got: Record<number, Reading> = {};
      for (const i of order) got[i] = await measure(i);
      const a = got[0]!;
      const b = got[1]!;
      onAgent.push(a.agentMs);
      onTotal.push(a.agentMs + a.readersMs);
      offAgent.push(b.agentMs);
      rows.push([String(round + 1), String(a.attempts), String(a.logged), fmt(a.agentMs, 0), fmt(a.readersMs, 0), String(b.attempts), fmt(b.agentMs, 0)]);
    }
    console.log(`\nFlow records: CPU ms over a ${SECONDS} s flood of denied connection attempts (+1 s), host 1 --flow-records ${ON} --flow-log-rate ${RATE} --flow-records-cap ${CAP}, host 2 off`);
    printTable(["round", "attempts (on)", "logged", "agent ms (on)", "readers ms", "attempts (off)", "agent ms (off)"], rows);
    const mOff = median(offAgent);
    console.log(
      `median agent CPU: on ${fmt(median(onAgent), 0)} ms, off ${fmt(mOff, 0)} ms (×${fmt(median(onAgent) / mOff, 2)}); ` +
        `agent + readers on ${fmt(median(onTotal), 0)} ms (×${fmt(median(onTotal) / mOff, 2)} of off)`,
    );
  } finally {
    for (const ns of made.splice(0)) await ns.destroy();
    await cluster?.down();
  }
}

if (isMain(import.meta.url)) await benchFlows();
