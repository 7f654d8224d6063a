// A cluster of simulated hosts on one machine, for tests, benchmarks and the
// demo. Every host is a network namespace with one interface on an underlay
// bridge (in its own namespace, never connected to the machine's uplink);
// netmaster (and etcd, when asked) live on the underlay; one real netplugin
// agent runs in each host namespace. Everything carries the run's prefix and
// down() removes all of it, also after a failure part-way through up().
//
// netmaster serves HTTPS with the CA it generates in its state directory (netmaster/ in the cluster's
// directory, kept across a restart); the agents and netctl trust that CA (--ca-file). This process reaches
// netmaster on its unix socket instead, which the underlay does not route to.
//
// Underlay 198.18.0.0/24: .1 netmaster (and etcd), .11… hosts, .250 "outside"; the same segment carries
// fd00:198:18::/64 (::1 the underlay namespace, ::11… hosts), so that routed IPv6 has next hops on it.

import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { hostPrefix } from "../datapath/names.js";
import { PrivateOvs } from "../datapath/ovs/private-ovs.js";
import { CA_CERT_FILE } from "../lib/pki-store.js";
import { must, run, type RunResult } from "../lib/process.js";
import { StopWaiting, waitFor } from "../lib/wait.js";
import { unixRequest } from "./http.js";
import { NsProcess } from "./process.js";

const BIN = (name: string) => fileURLToPath(new URL(`../bin/${name}.js`, import.meta.url));
export const UNDERLAY_PREFIX = "198.18.0";
export const NETMASTER_ADDRESS = `${UNDERLAY_PREFIX}.1`;
export const OUTSIDE_ADDRESS = `${UNDERLAY_PREFIX}.250`;
export const UNDERLAY6_PREFIX = "fd00:198:18:";
const UNDERLAY_MTU = 1500;

export interface ClusterOptions {
  hosts: number;
  /** Name prefix of everything the cluster makes; random when omitted. */
  prefix?: string;
  /** Where sockets, state and logs go; a temp directory when omitted (removed by down()). */
  dir?: string;
  store?: "sqlite" | "etcd";
  fwdMode?: "bridge" | "routing";
  logLevel?: string;
  /** More flags for every agent, e.g. ["--endpoint-gc-grace", "2"]. */
  agentArgs?: string[];
  /**
   * The agents' datapath driver (default linux). ovs: each host runs its own private Open vSwitch (userspace
   * datapath) in its namespace, its underlay address on an OVS bridge `ul` holding eth0, as OVS's native
   * tunnelling needs (README, OVS datapath).
   */
  datapath?: "linux" | "ovs";
}

export interface ClusterHost {
  index: number;
  name: string;
  namespace: string;
  address: string;
  /** The host's IPv6 address on the underlay ("fd00:198:18::11"): BGP's IPv6 next hop for its containers. */
  address6: string;
  socket: string;
  stateDir: string;
  agent: NsProcess | undefined;
  /** The Docker driver socket this host's agent serves ("" = none: simulated hosts share /run/docker/plugins). */
  dockerPluginSocket: string;
  /** Flags for this host's agent alone, after the cluster's (a later flag wins), e.g. the dockerd it serves. */
  agentArgs: string[];
  /** The host's Open vSwitch (datapath ovs). */
  ovs?: PrivateOvs;
}

/**
 * The datapath of clusters that name none: linux, or NETPLUGIN_CLUSTER_DATAPATH=ovs, which runs any test or bench
 * built on clusters against the OVS driver (`make test-ovs`).
 */
export function defaultDatapath(): "linux" | "ovs" {
  const env = process.env["NETPLUGIN_CLUSTER_DATAPATH"];
  if (env !== undefined && env !== "" && env !== "linux" && env !== "ovs") throw new Error(`NETPLUGIN_CLUSTER_DATAPATH=${env}: expected linux or ovs`);
  return env === "ovs" ? "ovs" : "linux";
}

/** The agent flags of a host's datapath: its own Open vSwitch's, with datapath ovs. */
function datapathArgs(host: ClusterHost): string[] {
  return host.ovs === undefined ? [] : ["--datapath", "ovs", "--ovs-db", host.ovs.db, "--ovs-rundir", host.ovs.dir];
}

export interface CniOutcome {
  /** The executable's exit status; null when it was killed (it outran its 90 s). */
  code: number | null;
  out: Record<string, unknown>;
}

export class Cluster {
  readonly underlay: string;
  readonly hosts: ClusterHost[] = [];
  readonly netmasterSocket: string;
  readonly netmasterUrl = `https://${NETMASTER_ADDRESS}:9999`;
  /** netmaster's --state-dir: its generated CA and serving certificate. */
  readonly netmasterStateDir: string;
  private netmaster: NsProcess | undefined;
  private etcd: NsProcess | undefined;
  private storeUrl = "";
  private readonly containers = new Set<string>();
  private outside = false;

  private constructor(
    readonly prefix: string,
    readonly dir: string,
    private readonly ownsDir: boolean,
    private readonly options: ClusterOptions,
  ) {
    this.underlay = `${prefix}-ul`;
    this.netmasterSocket = join(dir, "netmaster.sock");
    this.netmasterStateDir = join(dir, "netmaster");
  }

  /** The CA netmaster's certificate chains to (there once netmaster has started). */
  get caFile(): string {
    return join(this.netmasterStateDir, CA_CERT_FILE);
  }

  /** The token agents trade for their host's credential (netmaster writes it in its state directory). */
  get joinTokenFile(): string {
    return join(this.netmasterStateDir, "join-token");
  }

  /** The first admin's password, which netmaster made and wrote in its state directory. */
  adminPassword(): string {
    return readFileSync(join(this.netmasterStateDir, "admin-password"), "utf8").trim();
  }

  /** netctl's flags to reach this cluster's netmaster from a namespace on the underlay. */
  get netctlFlags(): string[] {
    return ["--netmaster", this.netmasterUrl, "--ca-file", this.caFile];
  }

  /** The HOME of the cluster's netctl: its ~/.netctl/config.json holds the admin's token (loginNetctl). */
  get netctlHome(): string {
    return join(this.dir, "netctl");
  }

  /** netctl as the cluster's admin, for a namespace on the underlay: argv up to the command. */
  get netctl(): string[] {
    return ["env", `HOME=${this.netctlHome}`, process.execPath, BIN("netctl"), ...this.netctlFlags];
  }

  /**
   * `netctl login` as the admin, as a user would (the password on stdin), into netctlHome. netmaster writes
   * the password's file just before it stores the user (the password must not be lost), so a login may
   * come too early: it is tried until it works.
   */
  async loginNetctl(): Promise<void> {
    mkdirSync(this.netctlHome, { recursive: true, mode: 0o700 });
    let last = "";
    await waitFor(
      async () => {
        const r = await run([...this.netctl, "login", "--username", "admin", "--password-stdin"], { netns: this.underlay, stdin: `${this.adminPassword()}\n` });
        last = `${r.stderr}${r.stdout}`;
        return r.code === 0;
      },
      { timeoutMs: 20_000, what: () => `netctl login: ${last}` },
    );
  }

  /** Brings the whole cluster up; on failure removes what it made and rethrows. */
  static async up(options: ClusterOptions): Promise<Cluster> {
    if (!Number.isInteger(options.hosts) || options.hosts < 1 || options.hosts > 200) throw new Error("hosts must be 1..200");
    const prefix = options.prefix ?? `npc${randomBytes(2).toString("hex")}`;
    const ownsDir = options.dir === undefined;
    const dir = options.dir ?? mkdtempSync(join(tmpdir(), `${prefix}-`));
    mkdirSync(dir, { recursive: true });
    const cluster = new Cluster(prefix, dir, ownsDir, options);
    try {
      await cluster.makeUnderlay();
      await cluster.startStore();
      for (let i = 1; i <= options.hosts; i++) await cluster.makeHost(i);
      await Promise.all(cluster.hosts.map((h) => cluster.startAgent(h)));
    } catch (err) {
      await cluster.down();
      throw err;
    }
    return cluster;
  }

  /** For the netmaster REST API from this process: "unix:<socket>" (the underlay is not routed here). */
  get apiBase(): string {
    return `unix:${this.netmasterSocket}`;
  }

  async api(method: string, path: string, body?: unknown): Promise<{ status: number; text: string }> {
    return unixRequest(this.netmasterSocket, method, path, body);
  }

  private log(name: string): string {
    return join(this.dir, `${name}.log`);
  }

  private async makeUnderlay(): Promise<void> {
    await must(["ip", "netns", "add", this.underlay]);
    await must(["ip", "-n", this.underlay, "link", "set", "lo", "up"]);
    await must(["ip", "-n", this.underlay, "link", "add", "ul0", "mtu", String(UNDERLAY_MTU), "type", "bridge"]);
    await must(["ip", "-n", this.underlay, "addr", "add", `${NETMASTER_ADDRESS}/24`, "dev", "ul0"]);
    await must(["ip", "-n", this.underlay, "addr", "add", `${UNDERLAY6_PREFIX}:1/64`, "dev", "ul0", "nodad"]);
    await must(["ip", "-n", this.underlay, "link", "set", "ul0", "up"]);
  }

  private async startStore(): Promise<void> {
    let storeUrl = `sqlite://${join(this.dir, "netmaster.db")}`;
    if (this.options.store === "etcd") {
      const data = join(this.dir, "etcd");
      this.etcd = NsProcess.start(
        this.underlay,
        ["etcd", "--name", "ul", "--data-dir", data, "--listen-client-urls", `http://${NETMASTER_ADDRESS}:2379`, "--advertise-client-urls", `http://${NETMASTER_ADDRESS}:2379`, "--listen-peer-urls", `http://${NETMASTER_ADDRESS}:2380`, "--initial-advertise-peer-urls", `http://${NETMASTER_ADDRESS}:2380`, "--initial-cluster", `ul=http://${NETMASTER_ADDRESS}:2380`],
        this.log("etcd"),
      );
      storeUrl = `etcd://${NETMASTER_ADDRESS}:2379`;
      await waitFor(async () => (await this.etcdctl(["endpoint", "health"])).code === 0, { timeoutMs: 20_000, what: () => `etcd: ${this.etcd?.logs()}` });
    }
    this.storeUrl = storeUrl;
    await this.startNetmaster();
    await this.loginNetctl();
  }

  /** etcdctl against the cluster's etcd (store "etcd" only), from the underlay namespace. */
  etcdctl(args: string[]): Promise<RunResult> {
    if (!this.etcd) throw new Error("this cluster's store is not etcd");
    return run(["etcdctl", "--endpoints", `${NETMASTER_ADDRESS}:2379`, ...args], { netns: this.underlay });
  }

  /** Kills netmaster (SIGKILL, by its PID) as a crash would: agents lose their state stream. */
  async killNetmaster(): Promise<void> {
    await this.netmaster?.kill();
  }

  /** Starts netmaster on the cluster's store (again, after killNetmaster) and waits until it answers. */
  async startNetmaster(): Promise<void> {
    if (this.netmaster?.alive) throw new Error("netmaster is running already");
    const args = [process.execPath, BIN("netmaster"), "--listen-url", `${NETMASTER_ADDRESS}:9999`, "--listen-socket", this.netmasterSocket, "--state-dir", this.netmasterStateDir, "--store", this.storeUrl, "--log-level", this.options.logLevel ?? "info"];
    if (this.options.fwdMode) args.push("--fwdmode", this.options.fwdMode);
    this.netmaster = NsProcess.start(this.underlay, args, this.log("netmaster"));
    await waitFor(
      async () => {
        if (!this.netmaster?.alive) throw new StopWaiting(`netmaster exited: ${this.netmaster?.logs()}`);
        // Agents join with the token netmaster writes once it leads.
        return (await this.api("GET", "/api/v1/globals/global/")).status === 200 && existsSync(this.joinTokenFile);
      },
      { timeoutMs: 20_000, what: () => `netmaster: ${this.netmaster?.logs()}` },
    );
  }

  private async makeHost(index: number): Promise<void> {
    const host: ClusterHost = {
      index,
      name: `${this.prefix}-h${index}`,
      namespace: `${this.prefix}-h${index}`,
      address: `${UNDERLAY_PREFIX}.${10 + index}`,
      address6: `${UNDERLAY6_PREFIX}:${10 + index}`,
      socket: join(this.dir, `h${index}.sock`),
      stateDir: join(this.dir, `h${index}`),
      agent: undefined,
      dockerPluginSocket: "",
      agentArgs: [],
    };
    this.hosts.push(host);
    await must(["ip", "netns", "add", host.namespace]);
    await must(["ip", "-n", host.namespace, "link", "set", "lo", "up"]);
    await must(["ip", "-n", this.underlay, "link", "add", `h${index}`, "mtu", String(UNDERLAY_MTU), "type", "veth", "peer", "name", "eth0", "mtu", String(UNDERLAY_MTU), "netns", host.namespace]);
    await must(["ip", "-n", this.underlay, "link", "set", `h${index}`, "master", "ul0", "up"]);
    await must(["ip", "-n", host.namespace, "addr", "add", `${host.address}/24`, "dev", "eth0"]);
    // nodad: usable at once (BGP picks its IPv6 next hop from it when the session comes up).
    await must(["ip", "-n", host.namespace, "addr", "add", `${host.address6}/64`, "dev", "eth0", "nodad"]);
    await must(["ip", "-n", host.namespace, "link", "set", "eth0", "up"]);
    if ((this.options.datapath ?? defaultDatapath()) === "ovs") await this.startOvs(host);
  }

  /** The host's own Open vSwitch, its underlay address moved from eth0 to the OVS bridge `ul` that holds eth0. */
  private async startOvs(host: ClusterHost): Promise<void> {
    const ovs = await PrivateOvs.start({ dir: join(this.dir, `h${host.index}-ovs`), netns: host.namespace });
    host.ovs = ovs;
    await must(["ovs-vsctl", `--db=${ovs.db}`, "add-br", "ul", "--", "set", "bridge", "ul", "datapath_type=netdev", "--", "add-port", "ul", "eth0"]);
    await must(["ip", "-n", host.namespace, "addr", "flush", "dev", "eth0"]);
    await must(["ip", "-n", host.namespace, "addr", "add", `${host.address}/24`, "dev", "ul"]);
    await must(["ip", "-n", host.namespace, "addr", "add", `${host.address6}/64`, "dev", "ul", "nodad"]);
    await must(["ip", "-n", host.namespace, "link", "set", "ul", "mtu", String(UNDERLAY_MTU), "up"]);
  }

  /** Starts the host's agent (again, after its agent was stopped) and waits until it has synced and serves Docker if asked. */
  async startAgent(host: ClusterHost): Promise<void> {
    host.agent = NsProcess.start(
      host.namespace,
      [process.execPath, BIN("netplugin"), "--netmaster", this.netmasterUrl, "--ca-file", this.caFile, "--join-token-file", this.joinTokenFile, "--host", host.name, "--vtep-ip", host.address, "--socket", host.socket, "--state-dir", host.stateDir, "--log-level", this.options.logLevel ?? "info",
        "--docker-plugin-socket", host.dockerPluginSocket, ...datapathArgs(host), ...(this.options.agentArgs ?? []), ...host.agentArgs],
      this.log(`h${host.index}`),
    );
    await waitFor(
      async () => {
        if (!host.agent?.alive) throw new StopWaiting(`agent ${host.name} exited: ${host.agent?.logs()}`);
        const r = await unixRequest(host.socket, "GET", "/health");
        return r.status === 200 && (JSON.parse(r.text) as { synced: boolean }).synced && (host.dockerPluginSocket === "" || existsSync(host.dockerPluginSocket));
      },
      { timeoutMs: 30_000, what: () => `agent ${host.name}: ${host.agent?.logs()}` },
    );
  }

  /** An "outside" namespace on the underlay at OUTSIDE_ADDRESS: stands for anything beyond the cluster. */
  async addOutside(): Promise<string> {
    const ns = `${this.prefix}-out`;
    if (this.outside) return ns;
    this.outside = true;
    await must(["ip", "netns", "add", ns]);
    await must(["ip", "-n", ns, "link", "set", "lo", "up"]);
    await must(["ip", "-n", this.underlay, "link", "add", "out", "type", "veth", "peer", "name", "eth0", "netns", ns]);
    await must(["ip", "-n", this.underlay, "link", "set", "out", "master", "ul0", "up"]);
    await must(["ip", "-n", ns, "addr", "add", `${OUTSIDE_ADDRESS}/24`, "dev", "eth0"]);
    await must(["ip", "-n", ns, "link", "set", "eth0", "up"]);
    return ns;
  }

  /** A container namespace on a host, attached through the host's agent with the real CNI executable. */
  async addContainer(hostIndex: number, name: string, config: Record<string, unknown>, cniArgs = ""): Promise<{ namespace: string; path: string; result: CniOutcome }> {
    const host = this.hosts[hostIndex - 1];
    if (!host) throw new Error(`no host ${hostIndex}`);
    const namespace = `${this.prefix}-c-${name}`;
    await must(["ip", "netns", "add", namespace]);
    this.containers.add(namespace);
    await must(["ip", "-n", namespace, "link", "set", "lo", "up"]);
    const path = `/var/run/netns/${namespace}`;
    const result = await this.cni(host, "ADD", `${this.prefix}${name}`, path, config, cniArgs);
    return { namespace, path, result };
  }

  async removeContainer(hostIndex: number, name: string, config: Record<string, unknown>): Promise<CniOutcome> {
    const host = this.hosts[hostIndex - 1]!;
    const namespace = `${this.prefix}-c-${name}`;
    const r = await this.cni(host, "DEL", `${this.prefix}${name}`, `/var/run/netns/${namespace}`, config, "");
    await run(["ip", "netns", "del", namespace]);
    this.containers.delete(namespace);
    return r;
  }

  /** Runs the real CNI executable against a host's agent, as a runtime on that host would. */
  /** cniPath: the CNI_PATH the executable gets (where delegated IPAM plugins are looked up). */
  async cni(host: ClusterHost, command: string, containerId: string, netns: string, config: Record<string, unknown>, cniArgs: string, ifname = "eth0", cniPath = "/opt/cni/bin"): Promise<CniOutcome> {
    const stdin = JSON.stringify({ cniVersion: "1.0.0", name: "cluster", type: "netplugin", socket: host.socket, ...config });
    const r = await run([process.execPath, BIN("netplugin-cni")], {
      stdin,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", CNI_COMMAND: command, CNI_CONTAINERID: containerId, CNI_NETNS: netns, CNI_IFNAME: ifname, CNI_ARGS: cniArgs, CNI_PATH: cniPath },
      timeoutMs: 90_000,
    });
    let out: Record<string, unknown> = {};
    try {
      out = r.stdout.trim() ? (JSON.parse(r.stdout) as Record<string, unknown>) : {};
    } catch {
      out = { unparsable: r.stdout };
    }
    return { code: r.code, out };
  }

  /** Stops everything and removes every namespace, link and file the cluster made. Safe to call twice. */
  async down(): Promise<void> {
    await Promise.all(this.hosts.map((h) => h.agent?.stop()));
    for (const h of this.hosts) {
      await run(["nsenter", `--net=/var/run/netns/${h.namespace}`, "--", process.execPath, BIN("netplugin"), "--cleanup", "--host", h.name, "--socket", h.socket, "--state-dir", h.stateDir, "--docker-plugin-socket", h.dockerPluginSocket, ...datapathArgs(h)]);
      await h.ovs?.stop();
    }
    await this.netmaster?.stop();
    await this.etcd?.stop();
    for (const ns of this.containers) await run(["ip", "netns", "del", ns]);
    this.containers.clear();
    await removeNamespaces(this.prefix);
    if (this.ownsDir) rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Deletes every network namespace of a cluster run: those named `<prefix>-…`, and the tenant namespaces
 * its agents made (named after each host's own prefix), so a crashed run can be cleaned up by its prefix.
 */
export async function removeNamespaces(prefix: string): Promise<string[]> {
  const list = await run(["ip", "netns", "list"]);
  const owners = [`${prefix}-`, ...Array.from({ length: 200 }, (_, i) => `${hostPrefix(`${prefix}-h${i + 1}`)}-`)];
  const mine = list.stdout
    .split("\n")
    .map((l) => l.split(" ")[0] ?? "")
    .filter((n) => owners.some((o) => n.startsWith(o)));
  for (const ns of mine) await run(["ip", "netns", "del", ns]);
  return mine;
}

/** How a person at this machine uses netctl against the cluster: logged in as the admin, or logging in. */
export function netctlHint(cluster: Cluster): string[] {
  const netctl = `ip netns exec ${cluster.underlay} bin/netctl ${cluster.netctlFlags.join(" ")}`;
  return [
    `netctl, as the admin (its token is in ${cluster.netctlHome}/.netctl):`,
    `  HOME=${cluster.netctlHome} ${netctl} net ls -a`,
    `or log in as a user would (user admin, password in ${join(cluster.netmasterStateDir, "admin-password")}):`,
    `  ${netctl} login`,
  ];
}
