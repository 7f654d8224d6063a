// netplugin: the host agent. Parses flags, then either removes everything this
// host's agent ever made (--cleanup) or runs the agent until SIGTERM/SIGINT.

import { existsSync, rmSync } from "node:fs";
import { hostname } from "node:os";
import { Command, CommanderError, Option } from "commander";
import { join } from "node:path";
import { parseUpstream } from "../agent/dns/forward.js";
import { IFNAME, sdnControllerProblem } from "../model/index.js";
import { DEFAULT_FLOW_SETTINGS, parseFlowSettings, type FlowSettings } from "../agent/flows/config.js";
import { Agent } from "../agent/agent.js";
import {
  DEFAULT_DOCKER_API_SOCKET,
  DEFAULT_DOCKER_NETNS,
  DEFAULT_DOCKER_PLUGIN_SOCKET,
  DEFAULT_DOCKER_POOL_RANGE,
  removeStalePluginSocket,
} from "../agent/docker/index.js";
import { BgpSpeaker } from "../agent/bgp/index.js";
import { DEFAULT_SOCKET } from "../cni/wire.js";
import { createDatapath, DATAPATH_DRIVERS, isDatapathName, type DatapathName } from "../datapath/index.js";
import { hostPrefix } from "../datapath/names.js";
import { errorMessage } from "../lib/errors.js";
import { parseHostPort } from "../lib/host-port.js";
import { parseIpv4Subnet } from "../lib/ipv4.js";
import { readCaFile } from "../lib/netmaster-fetch.js";
import { createLogger, parseLogLevel } from "../lib/log.js";
import { RealExecutor } from "../lib/process.js";

const EXIT_BAD_FLAGS = 22;
/** Where a netmaster on this machine keeps the CA it generated (its default --state-dir), or where one is copied to. */
const DEFAULT_CA_FILE = "/var/lib/netplugin/ca.crt";
const IPV4 = /^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$/;

interface Flags {
  netmaster: string[];
  /** Undefined: the system's CAs. */
  caFile: string | undefined;
  joinTokenFile: string | undefined;
  host: string;
  datapath: DatapathName;
  ovs: { db: string; rundir: string; controller?: string; uplinkAccessVlan?: number };
  vtepIp: string;
  /** Host interface for macvlan/ipvlan networks that name no uplinkIf; "": none (each such network must name one). */
  uplinkIf: string;
  socket: string;
  stateDir: string;
  mtu: number | undefined;
  endpointGcGraceMs: number;
  addressBlockIdleMs: number;
  /** "" = no Docker driver. */
  dockerPluginSocket: string;
  dockerNetns: string;
  dockerApiSocket: string;
  dockerPoolRange: string;
  dockerSync: boolean;
  /** Undefined: metrics only on the local socket. */
  metricsListen: { host: string; port: number } | undefined;
  dnsUpstream: string[] | undefined;
  flows: FlowSettings;
  cleanup: boolean;
  logLevel: string;
  useJsonLog: boolean;
}

/** A plain CIDR block (no range form) from which /24 pools can be cut. */
function isPoolRange(text: string): boolean {
  if (text.includes("-")) return false;
  try {
    return parseIpv4Subnet(text).prefixLen <= 24;
  } catch {
    return false;
  }
}

function parseFlags(argv: string[]): Flags {
  const program = new Command("netplugin")
    .description("netplugin host agent: converges this host's container networking to netmaster's intent")
    .exitOverride()
    .addOption(new Option("--netmaster <urls>", "netmaster URL(s), comma separated; https:// unless given").default("https://127.0.0.1:9999"))
    .addOption(new Option("--ca-file <file>", `the CA netmaster's certificate chains to (default: ${DEFAULT_CA_FILE} if it exists, else the system's CAs)`))
    .addOption(new Option("--join-token-file <file>", "netmaster's join token (its <state-dir>/join-token), traded once for this host's credential, which is kept in --state-dir"))
    .addOption(new Option("--host <name>", "this host's name in the cluster").default(hostname()))
    .addOption(new Option("--host-label <name>").hideHelp())
    .addOption(new Option("--datapath <driver>", `what makes the host's networking: ${DATAPATH_DRIVERS.join(", ")}`).default("linux"))
    .addOption(new Option("--ovs-db <unix:path>", "--datapath ovs: Open vSwitch's database").default("unix:/var/run/openvswitch/db.sock"))
    .addOption(new Option("--ovs-rundir <dir>", "--datapath ovs: where ovs-vswitchd keeps its sockets (<bridge>.mgmt)").default("/var/run/openvswitch"))
    .addOption(new Option("--ovs-controller <target>", "--datapath ovs: an SDN controller for the bridge, tcp:IP:PORT or ssl:IP:PORT (it owns the hook tables 15 and 40); overrides the global sdnController on this host (\"\": none here)"))
    .addOption(new Option("--uplink-access-vlan <tag>", "--datapath ovs: --uplink-if is an access port of this VLAN on its switch (default: a trunk): the vlan network with this tag goes there untagged"))
    .addOption(new Option("--vtep-ip <ip>", "this host's address on the underlay").default(""))
    .addOption(new Option("--ctrl-ip <ip>").hideHelp())
    .addOption(new Option("--uplink-if <ifname>", "host interface macvlan and ipvlan networks that name no uplinkIf of their own attach containers to").default(""))
    .addOption(new Option("--socket <path>", "local API socket for the CNI executable").default(DEFAULT_SOCKET))
    .addOption(new Option("--state-dir <path>", "where the agent keeps its endpoint attachments (default /var/lib/netplugin/agent-<host>)"))
    .addOption(new Option("--mtu <bytes>", "MTU of bridges and container interfaces (default: the VTEP interface's minus 50, or 1500)").argParser(Number))
    .addOption(new Option("--endpoint-gc-grace <seconds>", "how long an endpoint netmaster keeps for this host may go without a container before it is released").default("60"))
    .addOption(new Option("--address-block-idle <seconds>", "how long one of the host's address blocks stays empty before it goes back to netmaster").default("600"))
    .addOption(new Option("--docker-plugin-socket <path>", 'Docker network and IPAM driver socket, named after its base name ("" = none)').default(DEFAULT_DOCKER_PLUGIN_SOCKET))
    .addOption(new Option("--docker-netns <path>", "dockerd's network namespace").default(DEFAULT_DOCKER_NETNS))
    .addOption(new Option("--docker-api-socket <path>", "dockerd's Engine API socket (network names; netctl's networks made in Docker)").default(DEFAULT_DOCKER_API_SOCKET))
    .addOption(new Option("--docker-pool-range <cidr>", "where pools come from when Docker asks for any (no --subnet); /24 each").default(DEFAULT_DOCKER_POOL_RANGE))
    .addOption(new Option("--no-docker-sync", "do not make netmaster's networks and groups Docker networks"))
    .addOption(new Option("--dns-upstream <servers>", "where the tenants' DNS asks for names it does not know: IP or IP:port, comma separated (default: /etc/resolv.conf's nameservers)"))
    .addOption(new Option("--metrics-listen <host:port>", "also serve Prometheus metrics (GET /metrics) on this TCP address; they are always on the local socket"))
    .addOption(new Option("--flow-records <mode>", "record connection attempts from the kernel: off, denied, or all (allowed ones too)").default(DEFAULT_FLOW_SETTINGS.mode))
    .addOption(new Option("--flow-records-cap <n>", "flow records kept, and flows each tenant's kernel set holds per address family (1..5000); the least recently seen go first").default(String(DEFAULT_FLOW_SETTINGS.cap)))
    .addOption(new Option("--cleanup", "remove every kernel object and record this host's agent made, then exit").default(false))
    .addOption(new Option("--mode <mode>").hideHelp())
    .addOption(new Option("--netmode <mode>").hideHelp())
    .addOption(new Option("--fwdmode <mode>").hideHelp())
    .addOption(new Option("--log-level <level>", "trace, debug, info, warn, error").default("info"))
    .addOption(new Option("--use-json-log", "log JSON lines").default(false))
    .allowExcessArguments(false);
  program.parse(argv, { from: "user" });
  const o = program.opts();
  const host: string = o.hostLabel ?? o.host;
  const netmaster = String(o.netmaster)
    .split(",")
    .map((u) => u.trim())
    .filter(Boolean)
    .map((u) => (/^https?:\/\//.test(u) ? u : `https://${u}`).replace(/\/+$/, ""));
  if (netmaster.length === 0) throw new Error("--netmaster needs at least one URL");
  if (!/^[A-Za-z0-9]([A-Za-z0-9._-]{0,253}[A-Za-z0-9])?$/.test(host)) throw new Error(`Invalid --host "${host}"`);
  const datapath = String(o.datapath);
  if (!isDatapathName(datapath)) throw new Error(`Invalid --datapath "${datapath}": expected ${DATAPATH_DRIVERS.join(" or ")}`);
  const ovsDb = String(o.ovsDb);
  if (!/^unix:\/\S+$/.test(ovsDb)) throw new Error(`Invalid --ovs-db "${ovsDb}": expected unix:/path/to/db.sock`);
  const ovsRundir = String(o.ovsRundir);
  if (!ovsRundir.startsWith("/")) throw new Error(`Invalid --ovs-rundir "${ovsRundir}": an absolute path`);
  const ovsController: string | undefined = o.ovsController;
  const accessVlan = o.uplinkAccessVlan === undefined ? undefined : Number(o.uplinkAccessVlan);
  if (accessVlan !== undefined && !(Number.isInteger(accessVlan) && accessVlan >= 1 && accessVlan <= 4094)) {
    throw new Error(`Invalid --uplink-access-vlan "${o.uplinkAccessVlan}": expected a VLAN id, 1..4094`);
  }
  for (const [flag, given] of [["--ovs-controller", ovsController], ["--uplink-access-vlan", accessVlan]] as const) {
    if (given !== undefined && o.datapath !== "ovs") throw new Error(`${flag} is for --datapath ovs only`);
  }
  if (accessVlan !== undefined && String(o.uplinkIf) === "") throw new Error("--uplink-access-vlan needs --uplink-if, the interface it describes");
  const controllerProblem = ovsController === undefined ? undefined : sdnControllerProblem(ovsController);
  if (controllerProblem !== undefined) throw new Error(`Invalid --ovs-controller "${ovsController}": ${controllerProblem}`);
  const vtepIp: string = o.vtepIp || o.ctrlIp || "";
  if (vtepIp && !IPV4.test(vtepIp)) throw new Error(`Invalid --vtep-ip "${vtepIp}": expected an IPv4 address`);
  const uplinkIf = String(o.uplinkIf);
  if (uplinkIf !== "" && !IFNAME.test(uplinkIf)) throw new Error(`Invalid --uplink-if "${uplinkIf}": expected an interface name (1-15 of A-Z a-z 0-9 . _ -)`);
  if (o.mtu !== undefined && (!Number.isInteger(o.mtu) || o.mtu < 576 || o.mtu > 65535)) throw new Error(`Invalid --mtu "${o.mtu}": expected 576..65535`);
  const grace = String(o.endpointGcGrace);
  if (!/^\d{1,6}$/.test(grace) || Number(grace) < 1) throw new Error(`Invalid --endpoint-gc-grace "${grace}": expected whole seconds, 1..999999`);
  const blockIdle = String(o.addressBlockIdle);
  if (!/^\d{1,6}$/.test(blockIdle) || Number(blockIdle) < 1) throw new Error(`Invalid --address-block-idle "${blockIdle}": expected whole seconds, 1..999999`);
  if (!String(o.socket).startsWith("/") || String(o.socket).length > 107) throw new Error(`Invalid --socket "${o.socket}": an absolute path of at most 107 bytes`);
  const dockerSocket = String(o.dockerPluginSocket);
  if (dockerSocket !== "" && (!dockerSocket.startsWith("/") || !dockerSocket.endsWith(".sock") || dockerSocket.length > 107)) {
    throw new Error(`Invalid --docker-plugin-socket "${dockerSocket}": an absolute path ending in .sock, at most 107 bytes, or ""`);
  }
  if (!String(o.dockerNetns).startsWith("/")) throw new Error(`Invalid --docker-netns "${o.dockerNetns}": an absolute path`);
  if (!isPoolRange(String(o.dockerPoolRange))) throw new Error(`Invalid --docker-pool-range "${o.dockerPoolRange}": an IPv4 block of /8 to /24`);
  const joinTokenFile: string | undefined = o.joinTokenFile;
  const caFile: string | undefined = o.caFile ?? (existsSync(DEFAULT_CA_FILE) ? DEFAULT_CA_FILE : undefined);
  if (caFile !== undefined) readCaFile(caFile);
  const dnsUpstream = o.dnsUpstream === undefined ? undefined : String(o.dnsUpstream).split(",").map((u) => u.trim()).filter(Boolean);
  for (const u of dnsUpstream ?? []) if (parseUpstream(u) === undefined) throw new Error(`Invalid --dns-upstream "${u}": expected IP or IP:port ([IPv6]:port)`);
  const flows = parseFlowSettings(String(o.flowRecords), String(o.flowRecordsCap));
  return {
    netmaster,
    caFile,
    joinTokenFile,
    host,
    datapath,
    ovs: {
      db: ovsDb,
      rundir: ovsRundir,
      ...(ovsController === undefined ? {} : { controller: ovsController }),
      ...(accessVlan === undefined ? {} : { uplinkAccessVlan: accessVlan }),
    },
    vtepIp,
    uplinkIf,
    socket: o.socket,
    stateDir: o.stateDir ?? `/var/lib/netplugin/agent-${host}`,
    mtu: o.mtu,
    endpointGcGraceMs: Number(grace) * 1000,
    addressBlockIdleMs: Number(blockIdle) * 1000,
    dockerPluginSocket: dockerSocket,
    dockerNetns: o.dockerNetns,
    dockerApiSocket: o.dockerApiSocket,
    dockerPoolRange: o.dockerPoolRange,
    dockerSync: o.dockerSync,
    metricsListen: o.metricsListen === undefined ? undefined : parseHostPort(String(o.metricsListen), "--metrics-listen"),
    dnsUpstream,
    flows,
    cleanup: o.cleanup,
    logLevel: o.logLevel,
    useJsonLog: o.useJsonLog,
  };
}

async function main(): Promise<void> {
  let flags: Flags;
  let level;
  try {
    flags = parseFlags(process.argv.slice(2));
    level = parseLogLevel(flags.logLevel);
  } catch (err) {
    if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : EXIT_BAD_FLAGS);
    process.stderr.write(`netplugin: ${errorMessage(err)}\n`);
    process.exit(EXIT_BAD_FLAGS);
  }
  const log = createLogger({ name: "netplugin", level, json: flags.useJsonLog });

  if (flags.cleanup) {
    const executor = new RealExecutor();
    const prefix = hostPrefix(flags.host);
    // No probe: removing needs less than building, and must work on a machine that cannot build.
    const datapath = await createDatapath(flags.datapath, { prefix, probe: false, logger: log, ovs: flags.ovs });
    // The BGP speaker first: its pid file lives in the state directory removed below.
    await new BgpSpeaker({ run: (argv, opts) => executor.run(argv, opts), stateDir: join(flags.stateDir, "bgp"), log }).apply(undefined);
    if (datapath.cleanup === undefined) log.warn({ datapath: flags.datapath }, "this datapath cannot clean up: what it made stays");
    const removed = (await datapath.cleanup?.(prefix)) ?? [];
    rmSync(flags.stateDir, { recursive: true, force: true });
    rmSync(flags.socket, { force: true });
    if (flags.dockerPluginSocket) await removeStalePluginSocket(flags.dockerPluginSocket);
    log.info({ host: flags.host, removed: removed.length }, "cleaned up");
    return;
  }

  const agent = await Agent.start({
    host: flags.host,
    netmasterUrls: flags.netmaster,
    netmasterFetch: flags.caFile === undefined ? {} : { caFile: flags.caFile },
    ...(flags.joinTokenFile === undefined ? {} : { joinTokenFile: flags.joinTokenFile }),
    datapath: flags.datapath,
    ovs: flags.ovs,
    vtepIP: flags.vtepIp,
    ...(flags.uplinkIf ? { uplinkIf: flags.uplinkIf } : {}),
    socketPath: flags.socket,
    stateDir: flags.stateDir,
    mtu: flags.mtu,
    endpointGcGraceMs: flags.endpointGcGraceMs,
    addressBlockIdleMs: flags.addressBlockIdleMs,
    ...(flags.metricsListen ? { metricsListen: flags.metricsListen } : {}),
    ...(flags.dnsUpstream ? { dnsUpstream: flags.dnsUpstream } : {}),
    flows: flags.flows,
    ...(flags.dockerPluginSocket
      ? { docker: { socketPath: flags.dockerPluginSocket, netns: flags.dockerNetns, apiSocket: flags.dockerApiSocket, poolRange: flags.dockerPoolRange, sync: flags.dockerSync } }
      : {}),
    log,
  });
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "stopping; containers keep their networking");
    await agent.stop();
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
}

main().catch((err: unknown) => {
  process.stderr.write(`netplugin: ${errorMessage(err)}\n`);
  process.exit(1);
});
