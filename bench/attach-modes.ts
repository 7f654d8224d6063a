// NIC attach modes against the bridge path, by measurement: TCP container to container on one host over
// (a) a plain veth pair (the reference), (b) two veths on a Linux bridge in a tenant namespace (our bridge
// path, netfilter off on the bridge as for groups without rules), (c) two macvlan interfaces (bridge mode) on
// one host interface, made by the datapath's own attach.ts, (d) the same with the tenant's policy table loaded
// in both containers (a rule that matches nothing of this traffic: the cost of the hooks and conntrack),
// (e) ipvlan L2 the same way where the kernel has the driver, and (f) macvlan container to an outside host on
// the segment (the stand-in NIC is a veth whose other end is that host), (g) host-device: the stand-in NIC
// moved into the container, to that outside host, and (h) macvlan and host-device again with each offload
// the kernel decides (GRO, TSO+GSO, tx checksum) turned the other way (on the moved device; on the NIC under
// the macvlans, whose own features are fixed to their parent's). The
// uplink is a veth standing in for the NIC, in a namespace standing in for the host. Setups interleaved rep by rep (every other rep backwards),
// medians printed as ratios to the plain veth pair and to veth + bridge of the same run. Each run is one TCP
// stream (large GSO segments: mostly copy cost) and 64-byte UDP at full speed (per-packet cost).
//
// Safety: namespaces named with this run's prefix and removed at the end, also on failure or Ctrl-C;
// addresses in 198.18.0.0/15; the root namespace is not touched; only the iperf3 servers this run started
// are stopped.
//
// Run alone: node dist/bench/attach-modes.js (root; iperf3). Knobs:
//   BENCH_ATTACH_SECONDS=3   length of one iperf3 TCP run
//   BENCH_ATTACH_REPS=3      runs per setup (median printed)
//   BENCH_ATTACH_CPU=0       CPU sender and receiver are pinned to ("" = not pinned)
//   BENCH_VERBOSE=1          every sample

import type { DesiredAttachment, DirectMode } from "../src/datapath/linux/attach.js";
import { parseFeatures } from "../src/datapath/linux/offloads.js";
import { attach } from "../src/datapath/linux/testing/attach.js";
import { must, RealExecutor } from "../src/lib/process.js";
import type { PolicyInput } from "../src/policy/index.js";
import { runPrefix } from "../test/harness/netns.js";
import { Background, envNumber, iperfRate, isMain, makeNamespaces, missingPrerequisite, printTable, Teardown, timedSpawn } from "./lab.js";
import { buildBridge, buildVeth, LONG_NAME } from "./offloads.js";
import { fmt, median } from "./stats.js";

const IPERF_PORT = 5201;
const exec = (ns: string) => ["ip", "netns", "exec", ns];

interface Setup {
  label: string;
  client: string;
  server: string;
  serverIp: string;
  tcp: number[];
  /** Thousand 64-byte UDP packets received per second: the per-packet cost that large TCP segments hide. */
  udp: number[];
}

/** A deny rule for a port this traffic never uses: the policy table is in the path, its verdict never drop. */
function policyFor(addresses: string[]): PolicyInput {
  return {
    fwdMode: "bridge",
    networks: [],
    groups: [{ id: 1, name: "bench", ipv4: addresses, ipv6: [], dscp: 0 }],
    rules: [{ key: "bench:p:1", groupId: 1, direction: "in", priority: 10, action: "deny", protocol: 6, port: 9 }],
  };
}

/**
 * Containers on `mode` interfaces over a veth standing in for the host's NIC (in namespace "h"), whose other
 * end is an outside host "o" on the same segment. `toSegment`: the server is that outside host.
 */
async function buildDirect(
  prefix: string,
  teardown: Teardown,
  o: { mode: DirectMode; subnet: number; policy: boolean; toSegment: boolean; offloads?: Offloads },
): Promise<Omit<Setup, "label" | "tcp" | "udp">> {
  const hostDevice = o.mode === "host-device";
  const ns = await makeNamespaces(prefix, hostDevice ? ["h", "o", "c"] : ["h", "o", "c", "s"], teardown);
  await must(["ip", "-n", ns.h!, "link", "add", "nicstand0", "type", "veth", "peer", "name", "eth0", "netns", ns.o!]);
  await must(["ip", "-n", ns.h!, "link", "set", "nicstand0", "up"]);
  // A macvlan's features are fixed: it takes its parent's, so the stand-in NIC's are turned before it is made.
  if (o.offloads && !hostDevice) await setOffloads(ns.h!, "nicstand0", o.offloads);
  await must(["ip", "-n", ns.o!, "addr", "add", `198.18.${o.subnet}.250/24`, "dev", "eth0"]);
  await must(["ip", "-n", ns.o!, "link", "set", "eth0", "up"]);
  const ips = { c: `198.18.${o.subnet}.1`, s: `198.18.${o.subnet}.2` };
  const ctx = { executor: new RealExecutor({ timeoutMs: 20_000 }), hostNamespace: ns.h! };
  // host-device: the stand-in NIC itself is moved into the one container, whose only peer is the outside host.
  const roles = hostDevice ? ([["c", 1]] as const) : ([["c", 1], ["s", 2]] as const);
  for (const [role, host] of roles) {
    const a: DesiredAttachment = {
      id: `bench-${role}`, mode: o.mode, hostIf: "nicstand0", netns: `/var/run/netns/${ns[role]!}`, ifname: "eth0",
      mac: `02:00:c6:12:${o.subnet.toString(16).padStart(2, "0")}:0${host}`, mtu: 0,
      ipv4: `${ips[role]}/24`, ipv6: "", gateway: "", ipv6Gateway: "",
      qos: { egressBps: 0, ingressBps: 0, burstBytes: 0 }, tenantNamespace: ns.h!,
      ...(o.policy ? { policy: policyFor(Object.values(ips)) } : {}),
    };
    await attach(ctx, a);
    if (o.offloads && hostDevice) await setOffloads(ns[role]!, "eth0", o.offloads);
  }
  return o.toSegment || hostDevice ? { client: ns.c!, server: ns.o!, serverIp: `198.18.${o.subnet}.250` } : { client: ns.c!, server: ns.s!, serverIp: ips.s };
}

/** ethtool -K features of the container interfaces; one the driver cannot change makes the setup unmeasurable. */
type Offloads = Partial<Record<"gro" | "tso" | "gso" | "tx", "on" | "off">>;

class Unchangeable extends Error {}

async function setOffloads(ns: string, dev: string, features: Offloads): Promise<void> {
  const asked = Object.entries(features) as [keyof Offloads, "on" | "off"][];
  // ethtool exits non-zero when it could change nothing; what it did change is read back.
  await timedSpawn([...exec(ns), "ethtool", "-K", dev, ...asked.flat()]);
  const now = parseFeatures(await must([...exec(ns), "ethtool", "-k", dev]))[dev] ?? {};
  for (const [f, want] of asked) {
    const on = now[LONG_NAME[f] ?? f]?.on;
    if (on === undefined || on !== (want === "on")) throw new Unchangeable(`${f} stays ${on === undefined ? "unknown" : on ? "on" : "off"} on ${dev}`);
  }
}

/** Whether this kernel can make `kind` links (the machines here have macvlan, not ipvlan). */
async function kernelHas(prefix: string, kind: string, teardown: Teardown): Promise<boolean> {
  const ns = await makeNamespaces(`${prefix}p`, [kind], teardown);
  await must(["ip", "-n", ns[kind]!, "link", "add", "p0", "type", "veth", "peer", "name", "p1"]);
  return (await timedSpawn(["ip", "-n", ns[kind]!, "link", "add", "link", "p0", "name", "t0", "type", kind])).code === 0;
}

export interface AttachBenchOptions {
  prefix: string;
  seconds: number;
  reps: number;
  cpu: string;
  verbose: boolean;
}

export async function measureAttachModes(o: AttachBenchOptions, teardown: Teardown): Promise<{ setups: Setup[]; missing: string[] }> {
  const missing: string[] = [];
  const builds: [string, (p: string) => Promise<Omit<Setup, "label" | "tcp" | "udp">>][] = [
    ["veth pair (reference)", (p) => buildVeth(p, teardown)],
    ["veth + bridge", (p) => buildBridge(p, teardown)],
    ["macvlan", (p) => buildDirect(p, teardown, { mode: "macvlan", subnet: 132, policy: false, toSegment: false })],
    ["macvlan + policy table", (p) => buildDirect(p, teardown, { mode: "macvlan", subnet: 133, policy: true, toSegment: false })],
    ["macvlan to segment", (p) => buildDirect(p, teardown, { mode: "macvlan", subnet: 134, policy: false, toSegment: true })],
    ["host-device to segment", (p) => buildDirect(p, teardown, { mode: "host-device", subnet: 136, policy: false, toSegment: true })],
  ];
  // Each offload the issue names, turned the other way: on the moved device, on the NIC under the macvlans.
  const toggles: [string, Offloads][] = [["GRO on", { gro: "on" }], ["TSO+GSO off", { tso: "off", gso: "off" }], ["tx checksum off", { tx: "off" }]];
  for (const [i, [what, offloads]] of toggles.entries()) {
    builds.push([`  macvlan: ${what} (its NIC)`, (p) => buildDirect(p, teardown, { mode: "macvlan", subnet: 137 + i, policy: false, toSegment: false, offloads })]);
    builds.push([`  host-device: ${what}`, (p) => buildDirect(p, teardown, { mode: "host-device", subnet: 140 + i, policy: false, toSegment: true, offloads })]);
  }
  if (await kernelHas(o.prefix, "ipvlan", teardown)) {
    builds.push(["ipvlan", (p) => buildDirect(p, teardown, { mode: "ipvlan", subnet: 135, policy: false, toSegment: false })]);
  } else {
    missing.push("ipvlan: this kernel has no ipvlan driver");
  }
  const setups: Setup[] = [];
  for (const [i, [label, build]] of builds.entries()) {
    let built: Omit<Setup, "label" | "tcp" | "udp">;
    try {
      built = await build(`${o.prefix}${i.toString(36)}`);
    } catch (err) {
      if (!(err instanceof Unchangeable)) throw err;
      missing.push(`${label.trim()}: ${err.message}`);
      continue;
    }
    const ping = await timedSpawn([...exec(built.client), "ping", "-c", "3", "-i", "0.2", "-W", "2", "-q", built.serverIp]);
    if (ping.code !== 0) throw new Error(`${label}: the client does not reach the server: ${ping.stdout}`);
    setups.push({ ...built, label, tcp: [], udp: [] });
  }
  const servers = new Background();
  teardown.add("stop iperf3 servers", () => servers.stopAll());
  for (const s of setups) await servers.start([...exec(s.server), "iperf3", "-s", "--forceflush", "-p", String(IPERF_PORT)], "Server listening");
  for (let rep = 0; rep < o.reps; rep++) {
    for (const s of rep % 2 === 0 ? setups : [...setups].reverse()) {
      const v = await iperfRate({ client: s.client, serverIp: s.serverIp, port: IPERF_PORT, seconds: o.seconds, udp: false, cpu: o.cpu, label: s.label });
      s.tcp.push(v);
      const u = await iperfRate({ client: s.client, serverIp: s.serverIp, port: IPERF_PORT, seconds: o.seconds, udp: true, cpu: o.cpu, label: s.label });
      s.udp.push(u);
      if (o.verbose) console.log(`  rep ${rep + 1} ${s.label}: ${fmt(v, 2)} Gbit/s, ${fmt(u, 0)} kpps`);
    }
  }
  await servers.stopAll();
  return { setups, missing };
}

export function reportAttachModes(r: { setups: Setup[]; missing: string[] }, o: AttachBenchOptions): void {
  const [ref, bridgePath] = [r.setups[0]!, r.setups[1]!];
  console.log(`\nattach modes: container to container, iperf3 ${o.seconds} s, one TCP stream and 64-byte UDP, median of ${o.reps} runs per setup, setups interleaved`);
  console.log(o.cpu === "" ? "senders and receivers not pinned" : `sender, receiver and the path between them on CPU ${o.cpu}`);
  console.log("x veth = median / plain veth pair of the same run; x bridge = median / veth + bridge of the same run (goal for macvlan/ipvlan: >= 1.2)\n");
  const ratio = (s: Setup, b: Setup, k: "tcp" | "udp") => fmt(median(s[k]) / median(b[k]), 3);
  printTable(
    ["setup", "TCP Gbit/s", "x veth", "x bridge", "UDP kpps", "x veth", "x bridge", "TCP runs"],
    r.setups.map((s) => [
      s.label,
      fmt(median(s.tcp), 2), ratio(s, ref, "tcp"), ratio(s, bridgePath, "tcp"),
      fmt(median(s.udp), 0), ratio(s, ref, "udp"), ratio(s, bridgePath, "udp"),
      s.tcp.map((v) => fmt(v, 2)).join(" "),
    ]),
  );
  for (const m of r.missing) console.log(`not measured: ${m}`);
}

export async function benchAttachModes(): Promise<void> {
  const missing = await missingPrerequisite(["iperf3", "nft"]);
  if (missing !== undefined) {
    console.log(`attach-modes benchmark skipped: ${missing}`);
    return;
  }
  const o: AttachBenchOptions = {
    prefix: runPrefix("npa"),
    seconds: envNumber("BENCH_ATTACH_SECONDS", 3),
    reps: Math.max(1, envNumber("BENCH_ATTACH_REPS", 3)),
    cpu: process.env.BENCH_ATTACH_CPU ?? "0",
    verbose: envNumber("BENCH_VERBOSE", 0) !== 0,
  };
  const teardown = new Teardown();
  const unhook = teardown.onSignals();
  try {
    reportAttachModes(await measureAttachModes(o, teardown), o);
  } finally {
    await teardown.run();
    unhook();
  }
}

if (isMain(import.meta.url)) await benchAttachModes();
