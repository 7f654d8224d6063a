// The OVS datapath (src/datapath/ovs) on one host, against the Linux driver and against a bare OVS bridge on the
// same datapath type, in one run. This machine has no openvswitch kernel module, so every OVS setup is the
// userspace (netdev) datapath of a private Open vSwitch (PrivateOvs), one instance per setup, each in a
// namespace of its own that stands in for the host (ovs-vswitchd forwards every non-PMD port from its main
// thread: one instance per setup keeps the setups from sharing that thread; idle instances cost no CPU).
//
// Throughput, container to container: iperf3 one TCP stream and 64-byte UDP (thousand packets received per
// second), setups interleaved rep by rep (every other rep backwards), medians, as ratios to
//   - a plain veth pair between the two containers (the reference of every other benchmark), and
//   - a bare OVS bridge (netdev, two veth ports, the single flow `actions=NORMAL`) with the containers' tx
//     checksum offload off, as our driver sets it on netdev (`ethtool -K eth0 tx off`, which also turns TSO
//     off): the fair baseline of the goal "our pipeline costs at most 15% over the bare bridge".
// Also measured: the same bare bridge with tx on (userspace TSO is on in every PrivateOvs): what OVS does at
// best here; the Linux driver (LinuxDatapath.reconcile) with the same two endpoints, with and without the
// filler policy; our driver (OvsDatapath.reconcile) with an empty policy and with the filler policy: N rules
// on the containers' group that match none of the measured packets (tcp from 198.18.128.0/17 to ports that are
// not measured, allow and deny alternating), i.e. the cost of walking the policy tables and conntrack.
//
// Plumbing latency: the time of one reconcile() that adds one endpoint (a fresh container namespace) to each
// driver's running host, and of the one that removes it again ({full: false}, as the agent's CNI ADD and DEL
// run it), p50 and p95 over N of each, drivers alternating call by call, as ratios to the Linux driver (empty
// policy). That is the datapath's share of a CNI ADD/DEL; the executable and the agent around it
// (bench/cni-latency.ts) are not in it.
//
// Cost of our pipeline over the bare bridge, for a rate: bare / ours - 1 (extra time per byte or packet).
//
// Safety: every namespace and link is named with this run's prefix, addresses in 198.18.0.0/15; the private
// OVS daemons are stopped by their sockets or PIDs, the drivers clean up what they made, and every namespace
// is deleted, at the end and also on failure or Ctrl-C (Teardown). The root namespace is not touched.
//
// Run alone: node dist/bench/ovs.js (root; openvswitch-switch, iperf3, ethtool). Knobs:
//   BENCH_OVS_SECONDS=3       length of one iperf3 TCP run
//   BENCH_OVS_UDP_SECONDS=2   length of one iperf3 64-byte UDP run (0 skips UDP)
//   BENCH_OVS_REPS=3          runs per setup and metric (median printed)
//   BENCH_OVS_RULES=300       filler rules of the policy setups (0 skips them)
//   BENCH_OVS_ADDS=20         endpoints added and removed per driver for the latency (0 skips it)
//   BENCH_OVS_CPU=""          CPU iperf3's client and server are pinned to ("" = not pinned: ovs-vswitchd
//                             forwards on a thread of its own, which pinning the ends to one CPU would not show)
//   BENCH_VERBOSE=1           every sample

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { LinuxDatapath } from "../src/datapath/linux/driver.js";
import { bridgeName, endpointLinkName, tenantNamespace } from "../src/datapath/names.js";
import { OvsDatapath } from "../src/datapath/ovs/driver.js";
import { PrivateOvs } from "../src/datapath/ovs/private-ovs.js";
import type { DatapathDriver } from "../src/datapath/driver.js";
import type { DesiredEndpoint, DesiredHost } from "../src/datapath/types.js";
import type { PolicyInput, PolicyRule } from "../src/policy/index.js";
import { must, RealExecutor } from "../src/lib/process.js";
import { runPrefix } from "../test/harness/netns.js";
import { Background, envNumber, iperfRate, isMain, makeNamespaces, missingPrerequisite, printTable, Teardown, timedSpawn } from "./lab.js";
import { fmt, median, percentile } from "./stats.js";

const SECONDS = envNumber("BENCH_OVS_SECONDS", 3);
const UDP_SECONDS = envNumber("BENCH_OVS_UDP_SECONDS", 2);
const REPS = Math.max(1, envNumber("BENCH_OVS_REPS", 3));
const RULES = envNumber("BENCH_OVS_RULES", 300);
const ADDS = envNumber("BENCH_OVS_ADDS", 20);
const CPU = process.env.BENCH_OVS_CPU ?? "";
const VERBOSE = envNumber("BENCH_VERBOSE", 0) !== 0;

const IPERF_PORT = 5201;
const MTU = 1450;
const SUBNET = "198.18.150";
const GATEWAY = `${SUBNET}.254`;
const exec = new RealExecutor({ timeoutMs: 30_000 });
const inNs = (ns: string) => ["ip", "netns", "exec", ns];

type Kind = "veth" | "linux" | "bare-txoff" | "bare-tso" | "ovs";
type Metric = "tcp" | "udp";

interface Setup {
  label: string;
  kind: Kind;
  rules: number;
  client: string;
  server: string;
  serverIp: string;
  samples: Record<Metric, number[]>;
  /** The driver setups: what the latency part adds endpoints to. */
  driver?: { driver: DatapathDriver; desired: DesiredHost; hostNs: string; tag: string };
}

/** Both containers are members of group 1; with `rules`, it has that many `in` rules that match none of our packets. */
function policyOf(rules: number): PolicyInput {
  const policy: PolicyInput = { fwdMode: "bridge", networks: [{ name: "net", bridge: bridgeName("net"), subnet: `${SUBNET}.0/24`, ipv6Subnet: "" }], groups: [], rules: [] };
  if (rules === 0) return policy;
  policy.groups.push({ id: 1, name: "server", ipv4: [`${SUBNET}.1`, `${SUBNET}.2`], ipv6: [], dscp: 0 });
  for (let i = 0; i < rules; i++) {
    const rule: PolicyRule = {
      key: `bench:p:f${i}`,
      groupId: 1,
      direction: "in",
      priority: 50,
      action: i % 2 === 0 ? "allow" : "deny",
      peerCidrs: [`198.18.${128 + (i >> 8)}.${i & 255}`],
      protocol: 6,
      port: 20_000 + i,
    };
    policy.rules.push(rule);
  }
  return policy;
}

function endpoint(id: string, netns: string, host: number): DesiredEndpoint {
  return {
    id,
    network: "net",
    hostLink: endpointLinkName(id),
    netns: `/var/run/netns/${netns}`,
    ifname: "eth0",
    mac: `02:00:c6:12:96:${host.toString(16).padStart(2, "0")}`,
    ipv4: `${SUBNET}.${host}/24`,
    ipv6: "",
    gateway: GATEWAY,
    ipv6Gateway: "",
    mtu: MTU,
    qos: { egressBps: 0, ingressBps: 0, burstBytes: 0 },
  };
}

function desiredHost(prefix: string, endpoints: DesiredEndpoint[], rules: number): DesiredHost {
  return {
    prefix,
    tenants: [
      {
        name: "b",
        namespace: tenantNamespace(prefix, "b"),
        fwdMode: "bridge",
        networks: [{ name: "net", bridge: bridgeName("net"), subnet: `${SUBNET}.0/24`, gateway: GATEWAY, ipv6Subnet: "", ipv6Gateway: "", mtu: MTU, routed: false, netfilter: rules > 0 }],
        endpoints,
        policy: policyOf(rules),
        hostEndpoints: [],
      },
    ],
    host: { natOutbound: false },
  };
}

function check(label: string, report: { errors: { message: string }[] }): void {
  if (report.errors.length > 0) throw new Error(`${label}: reconcile failed: ${report.errors.map((e) => e.message).join("; ")}`);
}

/** The containers of a setup: client .1 and server .2 (the drivers make their eth0 themselves). */
async function containers(prefix: string, tag: string, teardown: Teardown): Promise<{ c: string; s: string }> {
  const ns = await makeNamespaces(`${prefix}-${tag}`, ["c", "s"], teardown);
  return { c: ns.c!, s: ns.s! };
}

function setupOf(label: string, kind: Kind, rules: number, c: { c: string; s: string }): Setup {
  return { label, kind, rules, client: c.c, server: c.s, serverIp: `${SUBNET}.2`, samples: { tcp: [], udp: [] } };
}

async function addAddress(ns: string, host: number): Promise<void> {
  await must(["ip", "-n", ns, "link", "set", "eth0", "mtu", String(MTU)]);
  await must(["ip", "-n", ns, "addr", "add", `${SUBNET}.${host}/24`, "dev", "eth0"]);
  await must(["ip", "-n", ns, "link", "set", "eth0", "up"]);
}

/** (a) The reference: one veth between the two containers. */
async function buildVeth(prefix: string, teardown: Teardown): Promise<Setup> {
  const c = await containers(prefix, "v", teardown);
  await must(["ip", "-n", c.c, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", c.s]);
  await addAddress(c.c, 1);
  await addAddress(c.s, 2);
  return setupOf("plain veth pair (reference)", "veth", 0, c);
}

/** A private OVS in a namespace of its own, stopped (its taps removed) by the teardown. */
async function privateOvs(prefix: string, tag: string, teardown: Teardown): Promise<{ ovs: PrivateOvs; hostNs: string }> {
  const hostNs = (await makeNamespaces(`${prefix}-${tag}`, ["host"], teardown)).host!;
  const ovs = await PrivateOvs.start({ dir: mkdtempSync(path.join(tmpdir(), `${prefix}-${tag}-ovs-`)), netns: hostNs });
  teardown.add(`stop the private OVS of ${hostNs}`, () => ovs.stop());
  return { ovs, hostNs };
}

/** (c) A bare OVS bridge: netdev datapath, two veth ports, one flow `actions=NORMAL`. */
async function buildBare(prefix: string, txOff: boolean, teardown: Teardown): Promise<Setup> {
  const tag = txOff ? "bo" : "bt";
  const { ovs, hostNs } = await privateOvs(prefix, tag, teardown);
  const c = await containers(prefix, tag, teardown);
  const vsctl = (args: string[]) => must(["ovs-vsctl", `--db=${ovs.db}`, "--timeout=10", ...args], { env: { ...process.env, ...ovs.env } });
  await vsctl(["add-br", "br0", "--", "set", "bridge", "br0", "datapath_type=netdev"]);
  for (const [role, host] of [["c", 1], ["s", 2]] as const) {
    const port = `${prefix}${tag}${role}`;
    await must(["ip", "-n", hostNs, "link", "add", port, "mtu", String(MTU), "type", "veth", "peer", "name", "eth0", "netns", c[role]]);
    await must(["ip", "-n", hostNs, "link", "set", port, "up"]);
    await addAddress(c[role], host);
    if (txOff) await must([...inNs(c[role]), "ethtool", "-K", "eth0", "tx", "off"]);
    await vsctl(["add-port", "br0", port]);
  }
  const mgmt = `unix:${ovs.dir}/br0.mgmt`;
  await must(["ovs-ofctl", "del-flows", mgmt]);
  await must(["ovs-ofctl", "add-flow", mgmt, "priority=0,actions=NORMAL"]);
  return setupOf(txOff ? "bare OVS bridge, NORMAL, tx off (as ours)" : "bare OVS bridge, NORMAL, tx on + userspace TSO", txOff ? "bare-txoff" : "bare-tso", 0, c);
}

/** (b) The Linux driver with the two endpoints: a tenant namespace with a bridge, made by LinuxDatapath.reconcile. */
async function buildLinux(prefix: string, rules: number, teardown: Teardown): Promise<Setup> {
  const tag = rules > 0 ? "lr" : "l";
  const hostNs = (await makeNamespaces(`${prefix}-${tag}`, ["host"], teardown)).host!;
  const c = await containers(prefix, tag, teardown);
  const driver = new LinuxDatapath(exec, { hostNamespace: hostNs });
  // Its own prefix, not a prefix of the containers' namespaces: its cleanup deletes every namespace it owns.
  const dprefix = `${prefix}${tag}`;
  teardown.add(`clean up the Linux driver's ${dprefix}`, () => driver.cleanup(dprefix));
  const desired = desiredHost(dprefix, [endpoint(`${dprefix}-c`, c.c, 1), endpoint(`${dprefix}-s`, c.s, 2)], rules);
  check(tag, await driver.reconcile(desired, { full: true }));
  const s = setupOf(rules > 0 ? `Linux driver, ${rules} rules` : "Linux driver, empty policy", "linux", rules, c);
  s.driver = { driver, desired, hostNs, tag };
  return s;
}

/** (d, e) Our OVS driver on a private OVS of its own. */
async function buildOurs(prefix: string, rules: number, teardown: Teardown): Promise<Setup> {
  const tag = rules > 0 ? "or" : "o";
  const { ovs, hostNs } = await privateOvs(prefix, tag, teardown);
  const c = await containers(prefix, tag, teardown);
  const driver = new OvsDatapath(exec, { db: ovs.db, rundir: ovs.dir, datapathType: "netdev", hostNamespace: hostNs });
  const dprefix = `${prefix}${tag}`;
  teardown.add(`clean up the OVS driver's ${dprefix}`, () => driver.cleanup(dprefix));
  const desired = desiredHost(dprefix, [endpoint(`${dprefix}-c`, c.c, 1), endpoint(`${dprefix}-s`, c.s, 2)], rules);
  check(tag, await driver.reconcile(desired, { full: true }));
  const s = setupOf(rules > 0 ? `OVS driver (ours), ${rules} rules` : "OVS driver (ours), empty policy", "ovs", rules, c);
  s.driver = { driver, desired, hostNs, tag };
  return s;
}

async function reachable(s: Setup): Promise<void> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const r = await timedSpawn([...inNs(s.client), "ping", "-c", "2", "-i", "0.2", "-W", "1", "-q", s.serverIp]);
    if (r.code === 0) return;
  }
  throw new Error(`${s.label}: the client does not reach ${s.serverIp}`);
}

interface Latency {
  setup: Setup;
  add: number[];
  del: number[];
}

/** One endpoint at a time added to every driver's host and removed again, drivers alternating call by call. */
async function measurePlumbing(prefix: string, drivers: Setup[], teardown: Teardown): Promise<Latency[]> {
  const rows = drivers.map((setup) => ({ setup, add: [] as number[], del: [] as number[] }));
  for (let i = 0; i < ADDS; i++) {
    for (const row of i % 2 === 0 ? rows : [...rows].reverse()) {
      const d = row.setup.driver!;
      const ns = (await makeNamespaces(`${prefix}-${d.tag}`, [`a${i}`], teardown))[`a${i}`]!;
      const base = d.desired;
      const ep = endpoint(`${prefix}${d.tag}-a${i}`, ns, 10 + i);
      const more: DesiredHost = { ...base, tenants: [{ ...base.tenants[0]!, endpoints: [...base.tenants[0]!.endpoints, ep] }] };
      let t0 = performance.now();
      check(`${row.setup.label}: add`, await d.driver.reconcile(more, { full: false }));
      row.add.push(performance.now() - t0);
      t0 = performance.now();
      check(`${row.setup.label}: remove`, await d.driver.reconcile(base, { full: false }));
      row.del.push(performance.now() - t0);
    }
  }
  return rows;
}

export async function benchOvs(): Promise<void> {
  const missing = await missingPrerequisite(["ip", "iperf3", "ethtool", "ping", "ovs-vswitchd", "ovsdb-server", "ovs-vsctl", "ovs-ofctl", "nft"]);
  if (missing !== undefined) {
    console.log(`\nOVS: skipped (${missing})`);
    return;
  }
  const prefix = runPrefix("nbv");
  const teardown = new Teardown();
  const unhook = teardown.onSignals();
  const setups: Setup[] = [];
  let latency: Latency[] = [];
  try {
    setups.push(await buildVeth(prefix, teardown));
    setups.push(await buildLinux(prefix, 0, teardown));
    if (RULES > 0) setups.push(await buildLinux(prefix, RULES, teardown));
    // The bare bridge with tx off next to ours: in each rep they run seconds apart (paired ratios below).
    setups.push(await buildBare(prefix, false, teardown));
    setups.push(await buildBare(prefix, true, teardown));
    setups.push(await buildOurs(prefix, 0, teardown));
    if (RULES > 0) setups.push(await buildOurs(prefix, RULES, teardown));
    for (const s of setups) await reachable(s);

    const servers = new Background();
    teardown.add("stop the iperf3 servers", () => servers.stopAll());
    for (const s of setups) await servers.start([...inNs(s.server), "iperf3", "-s", "--forceflush", "-p", String(IPERF_PORT)], "Server listening");
    const metrics: Metric[] = UDP_SECONDS > 0 ? ["tcp", "udp"] : ["tcp"];
    for (const metric of metrics) {
      for (let rep = 0; rep < REPS; rep++) {
        for (const s of rep % 2 === 0 ? setups : [...setups].reverse()) {
          const udp = metric === "udp";
          const v = await iperfRate({ client: s.client, serverIp: s.serverIp, port: IPERF_PORT, seconds: udp ? UDP_SECONDS : SECONDS, udp, cpu: CPU, label: s.label });
          s.samples[metric].push(v);
          if (VERBOSE) console.log(`  ${metric} rep ${rep + 1} ${s.label}: ${fmt(v, 2)}`);
        }
      }
    }
    await servers.stopAll();
    if (ADDS > 0) latency = await measurePlumbing(prefix, setups.filter((s) => s.driver !== undefined), teardown);
  } finally {
    await teardown.run();
    unhook();
  }
  report(setups, latency);
}

function report(setups: Setup[], latency: Latency[]): void {
  const veth = setups.find((s) => s.kind === "veth")!;
  const bare = setups.find((s) => s.kind === "bare-txoff")!;
  const withUdp = UDP_SECONDS > 0;
  const m = (s: Setup, metric: Metric) => median(s.samples[metric]);
  console.log(`\nOVS: container to container on one host, median of ${REPS} runs per setup, setups interleaved (every other rep backwards)`);
  console.log(`TCP: iperf3 ${SECONDS} s, one stream${withUdp ? `; UDP: iperf3 -u -l 64 -b 0 ${UDP_SECONDS} s, thousand packets received per second` : ""}`);
  console.log(`${CPU === "" ? "iperf3 not pinned" : `iperf3 client and server on CPU ${CPU}`}; every OVS setup: its own private ovs-vswitchd, netdev datapath, userspace TSO enabled; MTU ${MTU} everywhere`);
  console.log(`x veth = median / plain veth pair; x bare = median / bare OVS bridge with tx off, same run. Rules: filler rules matching no measured packet\n`);
  const header = ["setup", "TCP Gbit/s", "x veth", "x bare"];
  if (withUdp) header.push("UDP kpps", "x veth", "x bare");
  header.push("TCP runs");
  printTable(
    header,
    setups.map((s) => {
      const row = [s.label, fmt(m(s, "tcp"), 2), fmt(m(s, "tcp") / m(veth, "tcp"), 3), fmt(m(s, "tcp") / m(bare, "tcp"), 3)];
      if (withUdp) row.push(fmt(m(s, "udp"), 0), fmt(m(s, "udp") / m(veth, "udp"), 3), fmt(m(s, "udp") / m(bare, "udp"), 3));
      row.push(s.samples.tcp.map((v) => fmt(v, 2)).join(" "));
      return row;
    }),
  );

  console.log("\ngoal: our pipeline costs at most 15% over the bare OVS bridge (tx off, the same datapath); cost = bare / ours - 1,");
  console.log("from the medians, and (paired) the median of each rep's bare / ours, whose runs were seconds apart");
  for (const s of setups.filter((x) => x.kind === "ovs")) {
    const parts = (withUdp ? (["tcp", "udp"] as const) : (["tcp"] as const)).map((metric) => {
      const cost = m(bare, metric) / m(s, metric) - 1;
      const paired = median(s.samples[metric].map((v, rep) => bare.samples[metric][rep]! / v)) - 1;
      return `${metric.toUpperCase()} ${fmt(100 * cost, 0)}%, paired ${fmt(100 * paired, 0)}% (${Math.max(cost, paired) <= 0.15 ? "holds" : cost <= 0.15 || paired <= 0.15 ? "undecided" : "missed"})`;
    });
    console.log(`  ${s.label}: ${parts.join("; ")}`);
  }
  const spread = (metric: Metric) => Math.max(...setups.map((s) => (Math.max(...s.samples[metric]) - Math.min(...s.samples[metric])) / median(s.samples[metric])));
  console.log(`largest spread (max-min)/median of one setup's runs: TCP ${fmt(100 * spread("tcp"), 0)}%${withUdp ? `, UDP ${fmt(100 * spread("udp"), 0)}%` : ""}`);
  if (VERBOSE && withUdp) for (const s of setups) console.log(`  udp runs ${s.label}: ${s.samples.udp.map((v) => fmt(v, 0)).join(" ")}`);

  if (latency.length === 0) return;
  const linux = latency.find((l) => l.setup.kind === "linux" && l.setup.rules === 0)!;
  console.log(`\nplumbing one endpoint: ms of one reconcile({full: false}) that adds it to the running host, and of the one that removes it;`);
  console.log(`${ADDS} of each per driver, drivers alternating; x linux = p50 / the Linux driver's (empty policy) p50\n`);
  printTable(
    ["driver", "add p50", "add p95", "x linux", "remove p50", "remove p95", "x linux"],
    latency.map((l) => [
      l.setup.label, fmt(median(l.add)), fmt(percentile(l.add, 95)), fmt(median(l.add) / median(linux.add), 2),
      fmt(median(l.del)), fmt(percentile(l.del, 95)), fmt(median(l.del) / median(linux.del), 2),
    ]),
  );
}

if (isMain(import.meta.url)) await benchOvs();
