// Offload features on the paths we build, chosen by measurement: TCP container
// to container over (a) a plain veth pair, (b) two veths on a Linux bridge (our
// same-host path) and (c) two "hosts" joined by a veth underlay, each with a
// VXLAN device on a bridge in a tenant namespace and a veth into a container
// (our cross-host path, built like bench/cluster-throughput.ts: VXLAN made in
// the host's namespace and moved, no UDP checksum, learning off, static FDB).
// Every shape is measured as the kernel makes it and with one group of
// features toggled by `ethtool -K` (each variant its own fresh namespaces, so
// toggles never interact), interleaved rep by rep (every other rep backwards),
// medians printed as ratios to the plain veth pair of the same run.
//
// Safety: namespaces named with this run's prefix and removed at the end, also
// on failure or Ctrl-C; addresses in 198.18.0.0/15; the root namespace is not
// touched; only the iperf3 servers this run started are stopped.
//
// Run alone: node dist/bench/offloads.js (root; iperf3, ethtool). Knobs:
//   BENCH_OFFLOADS_SECONDS=3   length of one iperf3 TCP run
//   BENCH_OFFLOADS_REPS=3      runs per setup (median printed)
//   BENCH_OFFLOADS_CPU=0       CPU sender and receiver are pinned to ("" = not pinned): with veths the whole path
//                              runs in the sender's softirq, so a rate is the inverse of the path's CPU cost
//   BENCH_OFFLOADS_ONLY=veth,bridge,vxlan   shapes to measure
//   BENCH_VERBOSE=1            every sample

import { parseFeatures } from "../src/datapath/linux/offloads.js";
import { must } from "../src/lib/process.js";
import { runPrefix } from "../test/harness/netns.js";
import { Background, envNumber, iperfRate, isMain, makeNamespaces, missingPrerequisite, printTable, Teardown, timedSpawn, vxlanPair } from "./lab.js";
import { fmt, median } from "./stats.js";

const IPERF_PORT = 5201;

type Shape = "veth" | "bridge" | "vxlan";

/** A device of a setup: the namespace role ("c", "s", "br", "t1", "h1", …) and the link name in it. */
interface Device {
  role: string;
  dev: string;
}

interface Variant {
  shape: Shape;
  label: string;
  /** `ethtool -K DEV FEATURE on|off` for each device; empty: as the kernel makes them. */
  devices: (built: Built) => Device[];
  features: Record<string, "on" | "off">;
}

interface Built {
  /** Role → namespace name. */
  ns: Record<string, string>;
  client: string;
  server: string;
  serverIp: string;
}

interface Setup extends Built {
  variant: Variant;
  tcp: number[];
  /** What `ethtool -k` says of the toggled features afterwards, where it differs from what was asked. */
  notes: string[];
}

const exec = (ns: string) => ["ip", "netns", "exec", ns];

/** (a) Two namespaces, one veth between them. */
export async function buildVeth(prefix: string, teardown: Teardown): Promise<Built> {
  const ns = await makeNamespaces(prefix, ["c", "s"], teardown);
  await must(["ip", "-n", ns.c!, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", ns.s!]);
  for (const [role, host] of [["c", 1], ["s", 2]] as const) {
    await must(["ip", "-n", ns[role]!, "addr", "add", `198.18.120.${host}/24`, "dev", "eth0"]);
    await must(["ip", "-n", ns[role]!, "link", "set", "eth0", "up"]);
  }
  return { ns, client: ns.c!, server: ns.s!, serverIp: "198.18.120.2" };
}

/** (b) Two containers on a bridge in a third namespace (the tenant's), as ours on one host. */
export async function buildBridge(prefix: string, teardown: Teardown): Promise<Built> {
  const ns = await makeNamespaces(prefix, ["t", "c", "s"], teardown);
  await must(["ip", "-n", ns.t!, "link", "add", "br0", "type", "bridge"]);
  await must(["ip", "-n", ns.t!, "link", "set", "br0", "up"]);
  for (const [role, host] of [["c", 1], ["s", 2]] as const) {
    await must(["ip", "-n", ns.t!, "link", "add", `e${role}`, "type", "veth", "peer", "name", "eth0", "netns", ns[role]!]);
    await must(["ip", "-n", ns.t!, "link", "set", `e${role}`, "master", "br0", "up"]);
    await must(["ip", "-n", ns[role]!, "addr", "add", `198.18.121.${host}/24`, "dev", "eth0"]);
    await must(["ip", "-n", ns[role]!, "link", "set", "eth0", "up"]);
  }
  await timedSpawn([...exec(ns.t!), "sysctl", "-q", "-w", "net.bridge.bridge-nf-call-iptables=0", "net.bridge.bridge-nf-call-ip6tables=0"]);
  return { ns, client: ns.c!, server: ns.s!, serverIp: "198.18.121.2" };
}

/** (c) Two hosts over VXLAN, as ours builds them (lab.ts vxlanPair). */
const buildVxlan = vxlanPair;

const BUILD: Record<Shape, (prefix: string, teardown: Teardown) => Promise<Built>> = { veth: buildVeth, bridge: buildBridge, vxlan: buildVxlan };

const d = (role: string, dev: string): Device => ({ role, dev });
const vethEnds = () => [d("c", "eth0"), d("s", "eth0")];
const bridgeContainers = () => [d("c", "eth0"), d("s", "eth0")];
const bridgeAll = () => [d("c", "eth0"), d("s", "eth0"), d("t", "ec"), d("t", "es")];
const vxlanDevs = () => [d("t1", "vx0"), d("t2", "vx0")];
const vxlanContainerVeths = () => [d("c1", "eth0"), d("c2", "eth0"), d("t1", "e0"), d("t2", "e0")];
const underlay = () => [d("h1", "eth0"), d("h2", "eth0"), d("ul", "h1"), d("ul", "h2")];
const none = () => [];

const NO_SEGMENTATION = { tso: "off", gso: "off" } as const;

export const VARIANTS: Variant[] = [
  { shape: "veth", label: "plain veth pair (as made)", devices: none, features: {} },
  { shape: "veth", label: "  veth: GRO on, both ends", devices: vethEnds, features: { gro: "on" } },
  { shape: "veth", label: "  veth: TSO+GSO off, both ends", devices: vethEnds, features: NO_SEGMENTATION },
  { shape: "veth", label: "  veth: tx checksum off, both ends", devices: vethEnds, features: { tx: "off" } },
  { shape: "bridge", label: "veth+bridge (as made)", devices: none, features: {} },
  { shape: "bridge", label: "  bridge: GRO on, all four veth ends", devices: bridgeAll, features: { gro: "on" } },
  { shape: "bridge", label: "  bridge: TSO+GSO off, container ends", devices: bridgeContainers, features: NO_SEGMENTATION },
  { shape: "bridge", label: "  bridge: tx checksum off, container ends", devices: bridgeContainers, features: { tx: "off" } },
  { shape: "vxlan", label: "VXLAN, two hosts (as made)", devices: none, features: {} },
  { shape: "vxlan", label: "  vxlan: GRO off on the VXLAN devices", devices: vxlanDevs, features: { gro: "off" } },
  { shape: "vxlan", label: "  vxlan: TSO+GSO off on the VXLAN devices", devices: vxlanDevs, features: NO_SEGMENTATION },
  { shape: "vxlan", label: "  vxlan: tx checksum off on the VXLAN devices", devices: vxlanDevs, features: { tx: "off" } },
  { shape: "vxlan", label: "  vxlan: tx-udp_tnl-segmentation off, underlay", devices: underlay, features: { "tx-udp_tnl-segmentation": "off" } },
  { shape: "vxlan", label: "  vxlan: GRO on, container veths", devices: vxlanContainerVeths, features: { gro: "on" } },
  { shape: "vxlan", label: "  vxlan: GRO + rx-udp-gro-forwarding on, underlay", devices: underlay, features: { gro: "on", "rx-udp-gro-forwarding": "on" } },
];

/** ethtool's short names of `-K` and the long names `-k` prints. */
export const LONG_NAME: Record<string, string> = {
  gro: "generic-receive-offload",
  gso: "generic-segmentation-offload",
  tso: "tcp-segmentation-offload",
  tx: "tx-checksumming",
  rx: "rx-checksumming",
};

async function toggle(setup: Setup): Promise<void> {
  const features = Object.entries(setup.variant.features);
  if (features.length === 0) return;
  for (const dev of setup.variant.devices(setup)) {
    const ns = setup.ns[dev.role]!;
    // ethtool exits non-zero when it could change nothing; what it did change is read back below.
    await timedSpawn([...exec(ns), "ethtool", "-K", dev.dev, ...features.flat()]);
    const now = parseFeatures(await must([...exec(ns), "ethtool", "-k", dev.dev]))[dev.dev] ?? {};
    for (const [f, want] of features) {
      const state = now[LONG_NAME[f] ?? f];
      const got = state === undefined ? undefined : state.on ? "on" : "off";
      if (got !== want) setup.notes.push(`${setup.variant.label.trim()}: ${dev.role}:${dev.dev} ${f} stayed ${got ?? "unknown"}`);
    }
  }
}

export interface OffloadsOptions {
  prefix: string;
  seconds: number;
  reps: number;
  cpu: string;
  shapes: Shape[];
  verbose: boolean;
}

export async function measureOffloads(o: OffloadsOptions, teardown: Teardown): Promise<Setup[]> {
  const setups: Setup[] = [];
  const variants = VARIANTS.filter((v) => v.shape === "veth" || o.shapes.includes(v.shape));
  for (const [i, variant] of variants.entries()) {
    const built = await BUILD[variant.shape](`${o.prefix}${i.toString(36)}`, teardown);
    const setup: Setup = { ...built, variant, tcp: [], notes: [] };
    await toggle(setup);
    const ping = await timedSpawn([...exec(setup.client), "ping", "-c", "3", "-i", "0.2", "-W", "2", "-q", setup.serverIp]);
    if (ping.code !== 0) throw new Error(`${variant.label.trim()}: the client does not reach the server: ${ping.stdout}`);
    setups.push(setup);
  }
  const servers = new Background();
  teardown.add("stop iperf3 servers", () => servers.stopAll());
  for (const s of setups) await servers.start([...exec(s.server), "iperf3", "-s", "--forceflush", "-p", String(IPERF_PORT)], "Server listening");
  for (let rep = 0; rep < o.reps; rep++) {
    for (const s of rep % 2 === 0 ? setups : [...setups].reverse()) {
      const v = await iperfRate({ client: s.client, serverIp: s.serverIp, port: IPERF_PORT, seconds: o.seconds, udp: false, cpu: o.cpu, label: s.variant.label.trim() });
      s.tcp.push(v);
      if (o.verbose) console.log(`  rep ${rep + 1} ${s.variant.label.trim()}: ${fmt(v, 2)}`);
    }
  }
  await servers.stopAll();
  return setups;
}

export function reportOffloads(setups: Setup[], o: OffloadsOptions): void {
  const plain = setups.find((s) => s.variant.shape === "veth" && s.variant.devices(s).length === 0)!;
  const base = median(plain.tcp);
  console.log(`\noffloads: TCP container to container, iperf3 ${o.seconds} s one stream, median of ${o.reps} runs per setup, setups interleaved`);
  console.log(o.cpu === "" ? "senders and receivers not pinned" : `sender, receiver and the path between them on CPU ${o.cpu} (rate = inverse of the path's CPU cost)`);
  console.log("x veth = median / plain veth pair of the same run; x shape = median / the same shape as the kernel makes it\n");
  printTable(
    ["setup", "Gbit/s", "x veth", "x shape", "runs"],
    setups.map((s) => {
      const shapeBase = setups.find((b) => b.variant.shape === s.variant.shape && b.variant.devices(b).length === 0)!;
      return [s.variant.label, fmt(median(s.tcp), 2), fmt(median(s.tcp) / base, 3), fmt(median(s.tcp) / median(shapeBase.tcp), 3), s.tcp.map((v) => fmt(v, 2)).join(" ")];
    }),
  );
  const notes = setups.flatMap((s) => s.notes);
  if (notes.length > 0) console.log(`\nfeatures that did not take the asked state:\n  ${notes.join("\n  ")}`);
}

export async function benchOffloads(): Promise<void> {
  const missing = await missingPrerequisite(["iperf3", "ethtool"]);
  if (missing !== undefined) {
    console.log(`offloads benchmark skipped: ${missing}`);
    return;
  }
  const o: OffloadsOptions = {
    prefix: runPrefix("npo"),
    seconds: envNumber("BENCH_OFFLOADS_SECONDS", 3),
    reps: Math.max(1, envNumber("BENCH_OFFLOADS_REPS", 3)),
    cpu: process.env.BENCH_OFFLOADS_CPU ?? "0",
    shapes: (process.env.BENCH_OFFLOADS_ONLY ?? "veth,bridge,vxlan").split(",").map((s) => s.trim()).filter((s): s is Shape => s === "veth" || s === "bridge" || s === "vxlan"),
    verbose: envNumber("BENCH_VERBOSE", 0) !== 0,
  };
  const teardown = new Teardown();
  const unhook = teardown.onSignals();
  try {
    reportOffloads(await measureOffloads(o, teardown), o);
  } finally {
    await teardown.run();
    unhook();
  }
}

if (isMain(import.meta.url)) await benchOffloads();
