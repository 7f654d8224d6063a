// CNI ADD and DEL latency per IPAM mode on one simulated host, same run, as ratios to our own allocator
// (issue 13): our executable + agent with (1) no ipam section (netmaster's allocator), (2) an ipam section
// delegating to Debian's host-local, (3) delegating to static, (4) an `ipam dhcp` network whose leases come
// from dnsmasq on the network's segment (as in test/e2e/dhcp.test.ts). Modes are interleaved call by call
// in rounds, the order rotated each round, so drift on a noisy machine hits them alike. Reports p50 and p90
// and the ratio of each to the netmaster allocator's; nothing here asserts a timing.
//
// Safety: namespaces carry a per-run prefix; the cluster, every namespace, host-local's data dir and
// dnsmasq (stopped by its PID: ours) are removed at the end, also on failure or Ctrl-C. Addresses come
// from 198.18.0.0/15.
//
// Run alone: node dist/bench/ipam-latency.js
//   BENCH_IPAM_COUNT=50     containers per mode (each ADDed then DELed once)
//   BENCH_IPAM_DHCP=0       leave out the dhcp mode
//   BENCH_CNI_REF_DIR=/usr/lib/cni   where the IPAM plugins are (CNI_PATH of the delegating modes)

import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { must, run } from "../src/lib/process.js";
import { waitFor } from "../src/lib/wait.js";
import { bridgeName } from "../src/datapath/names.js";
import { Api } from "../test/harness/api.js";
import { TestAgent } from "../test/harness/agent.js";
import { runPrefix, TestNetns } from "../test/harness/netns.js";
import { call, ourExecutable, type Op, type Plugin } from "./cni-latency.js";
import { Background, envNumber, isMain, missingPrerequisite, printTable, Teardown } from "./lab.js";
import { fmt, median, percentile } from "./stats.js";

const COUNT = envNumber("BENCH_IPAM_COUNT", 50);
const WITH_DHCP = envNumber("BENCH_IPAM_DHCP", 1) !== 0;
const REF_DIR = process.env.BENCH_CNI_REF_DIR ?? "/usr/lib/cni";

const TENANT = "bipam";
const SUBNET = "198.18.64.0/20"; // netmaster allocates from its start; host-local and static use 198.18.66-68.x
const GATEWAY = "198.18.79.254";
const DHCP_NET = "dh";
const DHCP_SUBNET = "198.18.80.0/24";
const DHCP_GATEWAY = "198.18.80.254";
const DHCP_SERVER = "198.18.80.253/24";
const DHCP_RANGE = "198.18.80.10,198.18.80.250";

interface Mode {
  label: string;
  plugin: Plugin;
  /** Per-container config changes (static's address). */
  configFor?: (i: number) => Record<string, unknown>;
  tag: string;
  nss: TestNetns[];
  samples: Record<Op, number[]>;
}

const staticAddress = (i: number) => `198.18.68.${i + 1}/20`;

export async function benchIpamLatency(): Promise<void> {
  const missing = await missingPrerequisite(["nsenter", "ip", join(REF_DIR, "host-local"), join(REF_DIR, "static")]);
  if (missing) {
    console.log(`\nIPAM latency: skipped (${missing})`);
    return;
  }
  if (COUNT + 1 > 240) throw new Error("BENCH_IPAM_COUNT: at most 239 (static addresses and the DHCP range are one /24 each)");
  const prefix = runPrefix("nbi");
  const teardown = new Teardown();
  const unhook = teardown.onSignals();
  const modes: Mode[] = [];
  let dhcpSkipped = WITH_DHCP ? "" : "BENCH_IPAM_DHCP=0";
  let how = "";
  try {
    const agent = await TestAgent.start();
    teardown.add("remove the one-host cluster and everything its agent made", () => agent.destroy());
    const api = new Api(agent.apiBase);
    await api.create(`/api/v1/tenants/${TENANT}/`, { tenantName: TENANT });
    await api.create(`/api/v1/networks/${TENANT}:net/`, { tenantName: TENANT, networkName: "net", encap: "vxlan", subnet: SUBNET, gateway: GATEWAY });
    if (WITH_DHCP) {
      await api.create(`/api/v1/networks/${TENANT}:${DHCP_NET}/`, {
        tenantName: TENANT, networkName: DHCP_NET, encap: "vlan", ipam: "dhcp", subnet: DHCP_SUBNET, gateway: DHCP_GATEWAY,
      });
    }
    const dataDir = mkdtempSync(join(tmpdir(), `${prefix}-ipam-`));
    teardown.add("remove host-local data dir and dnsmasq files", () => rmSync(dataDir, { recursive: true, force: true }));

    const exe = ourExecutable();
    how = exe.how;
    const base = { cniVersion: "1.0.0", type: "netplugin", socket: agent.socket, tenant: TENANT };
    const plugin = (label: string, config: Record<string, unknown>): Plugin => ({ label, argv: exe.argv, env: exe.env, cniPath: REF_DIR, config: { ...base, ...config } });
    const mode = (label: string, tag: string, p: Plugin, configFor?: (i: number) => Record<string, unknown>): Mode =>
      ({ label, tag, plugin: p, nss: [], samples: { ADD: [], DEL: [] }, ...(configFor ? { configFor } : {}) });

    modes.push(mode("netmaster (no ipam)", "n", plugin("netmaster", { name: "nbi-nm", network: "net" })));
    modes.push(mode("host-local", "h", plugin("host-local", {
      name: "nbi-hl", network: "net",
      ipam: { type: "host-local", dataDir, ranges: [[{ subnet: SUBNET, rangeStart: "198.18.66.1", rangeEnd: "198.18.66.250" }]] },
    })));
    const stat = plugin("static", { name: "nbi-st", network: "net" });
    modes.push(mode("static", "s", stat, (i) => ({ ...stat.config, ipam: { type: "static", addresses: [{ address: staticAddress(i) }] } })));

    const container = async (m: Mode, i: number) => {
      const ns = await TestNetns.create(`${prefix}-${m.tag}${i}`);
      teardown.add(`delete ${ns.name}`, () => ns.destroy());
      m.nss.push(ns);
    };
    const id = (m: Mode, i: number) => `${prefix}${m.tag}${i}`;
    const cni = (m: Mode, op: Op, i: number) =>
      call(m.configFor ? { ...m.plugin, config: m.configFor(i) } : m.plugin, op, id(m, i), m.nss[i]!.path);

    // Anchors: container 0 of each mode, added first and kept to the end, so no measured call creates
    // the tenant namespace or a bridge, and each IPAM plugin binary has been run once (page cache).
    for (const m of modes) {
      for (let i = 0; i <= COUNT; i++) await container(m, i);
      await cni(m, "ADD", 0);
    }

    if (WITH_DHCP) {
      try {
        const started = performance.now();
        const m = mode("dhcp (dnsmasq)", "d", plugin("dhcp", { name: "nbi-dh", network: DHCP_NET }));
        for (let i = 0; i <= COUNT; i++) await container(m, i);
        await dhcpServer(agent, prefix, dataDir, teardown);
        await cni(m, "ADD", 0);
        modes.push(m);
        console.log(`\nIPAM latency: dhcp mode set up in ${fmt(performance.now() - started, 0)} ms (dnsmasq on a macvlan of ${bridgeName(DHCP_NET)})`);
      } catch (err) {
        dhcpSkipped = `setup failed: ${(err as Error).message.split("\n")[0]}`;
      }
    }

    for (const op of ["ADD", "DEL"] as const) {
      for (let i = 1; i <= COUNT; i++) {
        for (let k = 0; k < modes.length; k++) {
          const m = modes[(i + k) % modes.length]!;
          m.samples[op].push((await cni(m, op, i)).ms);
        }
      }
    }
  } finally {
    await teardown.run();
    unhook();
  }

  const nm = modes[0]!;
  console.log(`\nIPAM latency: our executable (${how}) + agent, per IPAM mode, one host; ${COUNT} ADDs then ${COUNT} DELs per mode,`);
  console.log(`interleaved in rounds; ms from exec to exit; x = this mode / netmaster allocator, same run\n`);
  printTable(
    ["ipam", "ADD p50", "ADD p90", "x p50", "x p90", "DEL p50", "DEL p90", "x p50", "x p90"],
    modes.map((m) => {
      const cells = (op: Op) => {
        const [p50, p90] = [median(m.samples[op]), percentile(m.samples[op], 90)];
        return [fmt(p50), fmt(p90), fmt(p50 / median(nm.samples[op]), 2), fmt(p90 / percentile(nm.samples[op], 90), 2)];
      };
      return [m.label, ...cells("ADD"), ...cells("DEL")];
    }),
  );
  if (dhcpSkipped) console.log(`dhcp (dnsmasq): skipped (${dhcpSkipped})`);
}

/** dnsmasq in its own namespace, its port a macvlan on the dhcp network's bridge in the tenant namespace. */
async function dhcpServer(agent: TestAgent, prefix: string, dir: string, teardown: Teardown): Promise<void> {
  const ns = `${prefix}-srv`;
  const tenantNs = `${agent.prefix}-t-${TENANT}`;
  await must(["ip", "netns", "add", ns]);
  teardown.add(`delete ${ns}`, () => run(["ip", "netns", "del", ns]));
  // The tenant namespace is the agent's, per run: the link is made there and moved out at once.
  await must(["ip", "-n", tenantNs, "link", "add", "srv0", "link", bridgeName(DHCP_NET), "type", "macvlan", "mode", "bridge"]);
  await must(["ip", "-n", tenantNs, "link", "set", "srv0", "netns", ns]);
  await must(["ip", "-n", ns, "addr", "add", DHCP_SERVER, "dev", "srv0"]);
  await must(["ip", "-n", ns, "link", "set", "srv0", "up"]);
  await must(["ip", "-n", ns, "link", "set", "lo", "up"]);
  const logFile = join(dir, "dnsmasq.log");
  const background = new Background();
  teardown.add("stop dnsmasq (by its PID)", () => background.stopAll());
  // `ip netns exec` execs dnsmasq in place: the PID Background holds is dnsmasq's.
  const proc = await background.start(["ip", "netns", "exec", ns, "dnsmasq", "--keep-in-foreground", "--port=0", "--interface=srv0", "--bind-interfaces",
    "--no-ping", `--dhcp-range=${DHCP_RANGE},255.255.255.0,2m`, `--dhcp-leasefile=${join(dir, "dnsmasq.leases")}`, `--log-facility=${logFile}`,
    "--conf-file=/dev/null", "--pid-file="]);
  await waitFor(() => existsSync(logFile) && proc.exitCode === null, { timeoutMs: 5000, what: () => "dnsmasq started" });
}

if (isMain(import.meta.url)) await benchIpamLatency();
