// netplugin, the host agent: registers its host, follows netmaster's state,
// keeps the host's datapath and DNS converged to it, and serves the CNI
// executable on a unix socket and Docker's network and IPAM driver on a plugin
// socket. Wiring only; each part lives in its own module.

import { readFileSync } from "node:fs";
import type { Server } from "node:http";
import { Hono } from "hono";
import type { Logger } from "pino";
import { hostPrefix } from "../datapath/names.js";
import { createDatapath, type DatapathName } from "../datapath/index.js";
import { agentExecutor } from "../lib/spawner.js";
import { NetmasterFetch, type NetmasterFetchOptions } from "../lib/netmaster-fetch.js";
import { makePrivateDir } from "../lib/private-files.js";
import { endpointKey } from "../contract/keys.js";
import type { EndpointState } from "../contract/records.js";
import { VERSION_INFO } from "../lib/version.js";
import { CounterCollector } from "./counters.js";
import { DEFAULT_FLOW_SETTINGS, flowSetsOf, type FlowSettings } from "./flows/config.js";
import { FlowRecorder } from "./flows/recorder.js";
import { AgentCredential } from "./credential.js";
import { AttachmentStore } from "./attachments.js";
import { CniHandler } from "./cni-handler.js";
import { DnsSupervisor } from "./dns/index.js";
import { TenantDnsServers } from "./dns/tenants.js";
import { listenOnPort, listenOnSocket, localApi } from "./local-api.js";
import { AgentMetrics } from "./metrics.js";
import { realizationOf, RealizationReporter } from "./realization.js";
import { serveMetrics } from "../lib/metrics.js";
import { MasterClient, retryUntilDone } from "./master-client.js";
import { StateMirror } from "./pipeline/mirror.js";
import { Reconciler } from "./pipeline/reconciler.js";
import { detectMtu } from "./mtu.js";
import { InfraEndpoints } from "./infra.js";
import { BgpSpeaker } from "./bgp/index.js";
import { HostBgp } from "./bgp/host.js";
import { meteredDatapath } from "./pipeline/metered.js";
import { forgetOrphans } from "./orphans.js";
import { DockerPlugin } from "./docker/index.js";
import { DockerStore } from "./docker/state.js";
import { EndpointPlumber } from "./endpoints.js";
import { DEFAULT_GRACE_MS, EndpointCollector } from "./endpoint-gc.js";
import { join } from "node:path";
import { DhcpLeases } from "./dhcp/leases.js";
import { LocalIpam } from "./ipam/local-ipam.js";

export interface AgentOptions {
  host: string;
  netmasterUrls: string[];
  /** How to reach netmaster: the CA to trust (default: the system's). */
  netmasterFetch?: NetmasterFetchOptions;
  /** netmaster's join token, traded for this host's credential when stateDir has none (credential.ts). */
  joinTokenFile?: string;
  /** Which datapath driver makes the host's networking. */
  datapath: DatapathName;
  /** --datapath ovs: where Open vSwitch is. */
  ovs?: { db?: string; rundir?: string; controller?: string; uplinkAccessVlan?: number };
  vtepIP: string;
  /** Host interface macvlan/ipvlan networks that name no uplinkIf of their own attach to on this host (--uplink-if). */
  uplinkIf?: string;
  socketPath: string;
  stateDir: string;
  /** Undefined: detected from the VTEP interface (detectMtu). */
  mtu: number | undefined;
  /** How long an endpoint homed here may go unheld before it is deleted at netmaster (endpoint-gc.ts); default 60 s. */
  endpointGcGraceMs?: number;
  /** How long one of the host's address blocks stays empty before it goes back to netmaster (ipam/local-ipam.ts); default 10 min. */
  addressBlockIdleMs?: number;
  /** The Docker network and IPAM driver; undefined: none. */
  docker?: {
    /** Plugin socket, e.g. /run/docker/plugins/netplugin.sock (the driver is named after it). */
    socketPath: string;
    /** dockerd's network namespace, as a path. */
    netns: string;
    /** dockerd's Engine API socket. */
    apiSocket: string;
    /** Where netmaster picks a pool when Docker asks for any. */
    poolRange: string;
    /** Make netmaster's networks and groups Docker networks. */
    sync: boolean;
  };
  /** Where the tenants' DNS asks for names it does not know; undefined: the host's resolvers (/etc/resolv.conf). */
  dnsUpstream?: string[];
  /** Where to serve GET /metrics over TCP too (it is always on the local socket); undefined: nowhere. */
  metricsListen?: { host: string; port: number };
  /** Flow records (flows/config.ts); default DEFAULT_FLOW_SETTINGS. */
  flows?: FlowSettings;
  log: Logger;
}

/** The overlay's UDP port (IANA's VXLAN port). */
const VXLAN_PORT = 4789;

/** Nameservers of the host, for names the tenant DNS does not know (relayed from the agent's namespace, so loopback ones work). */
function hostResolvers(): string[] {
  try {
    return readFileSync("/etc/resolv.conf", "utf8")
      .split("\n")
      .map((l) => /^\s*nameserver\s+(\S+)/.exec(l)?.[1])
      .filter((s): s is string => s !== undefined);
  } catch {
    return [];
  }
}

export class Agent {
  private constructor(
    private readonly o: AgentOptions,
    /** Ends what runs until netmaster answers: the first join, the registration. */
    private readonly abort: AbortController,
    private readonly mirror: StateMirror,
    private readonly reconciler: Reconciler,
    private readonly dns: DnsSupervisor,
    /** The local API socket, and the metrics port if any. */
    private readonly servers: Server[],
    private readonly counters: CounterCollector,
    private readonly docker: DockerPlugin | undefined,
    private readonly bgp: HostBgp,
    private readonly collector: EndpointCollector,
    private readonly realized: RealizationReporter,
    private readonly dhcp: DhcpLeases,
    private readonly localIpam: LocalIpam,
    private readonly flows: FlowRecorder | undefined,
  ) {}

  static async start(o: AgentOptions): Promise<Agent> {
    const { log } = o;
    const prefix = hostPrefix(o.host);
    const flowSettings = o.flows ?? DEFAULT_FLOW_SETTINGS;
    // The ovs datapath judges policy in OpenFlow, where no nft flow set is: its bridge learns the records itself
    // (datapath/ovs/flow-record-flows.ts).
    const flowSets = o.datapath === "ovs" ? undefined : flowSetsOf(flowSettings);
    const ovsFlowRecords = o.datapath === "ovs" && flowSettings.mode !== "off" ? { flowRecords: { mode: flowSettings.mode, cap: flowSettings.cap } } : {};
    const datapath = await createDatapath(o.datapath, {
      prefix,
      logger: log,
      ...(o.ovs === undefined && o.datapath !== "ovs" ? {} : { ovs: { ...o.ovs, ...ovsFlowRecords } }),
      ...(flowSets === undefined ? {} : { flowSets }),
    });
    const executor = agentExecutor();
    const mtu = o.mtu ?? (await detectMtu(executor, o.vtepIP));

    // Every part of the agent keeps its state below it (attachments, Docker, BGP, its credential), root's alone.
    makePrivateDir(o.stateDir);
    let master!: MasterClient;
    const credential = new AgentCredential({
      stateDir: o.stateDir,
      host: o.host,
      ...(o.joinTokenFile === undefined ? {} : { joinTokenFile: o.joinTokenFile }),
      // Joins happen at the first start and when netmaster refuses the credential (MasterClient renews it).
      join: async (host, joinToken) => {
        const joined = await master.join(host, joinToken);
        log.info({ host }, "joined netmaster with the join token");
        return joined;
      },
    });
    master = new MasterClient(o.netmasterUrls, { http: new NetmasterFetch(o.netmasterFetch), credential });
    const abort = new AbortController();
    await credential.load({ signal: abort.signal, onRetry: (err) => log.warn({ err: err.message }, "cannot join netmaster; retrying") });
    const attachments = new AttachmentStore(o.stateDir);
    const pending = new Map<string, EndpointState>();
    // The gauges are read at scrape time only, when the mirror exists.
    const metrics = new AgentMetrics({ revision: () => mirror.currentRevision, attachments: () => attachments.all().length });
    // First, before anything runs: a port that cannot be had stops the agent with nothing started.
    const servers: Server[] = [];
    if (o.metricsListen) {
      const scrape = new Hono();
      scrape.get("/metrics", (c) => serveMetrics(c, metrics.registry));
      const at = `${o.metricsListen.host}:${o.metricsListen.port}`;
      servers.push(await listenOnPort(scrape, o.metricsListen).catch((err: Error) => Promise.reject(new Error(`Cannot serve metrics on ${at}: ${err.message}`))));
    }
    const mirror = new StateMirror(
      master,
      // The Docker driver makes Docker networks for every network and group netmaster has.
      { host: o.host, catalog: o.docker?.sync === true },
      (err) => log.warn({ err: err.message }, "state stream interrupted; reconnecting"),
      () => metrics.snapshots.inc(),
    );
    const dns = new DnsSupervisor({ log });
    const tenantDns = new TenantDnsServers(dns, o.dnsUpstream ?? hostResolvers());
    const bgp = new HostBgp(new BgpSpeaker({ run: (argv, opts) => executor.run(argv, opts), stateDir: join(o.stateDir, "bgp"), log }), log);
    // No run may happen before the Docker driver has loaded its state (its attachments are brought up to date then).
    let docker: DockerPlugin | undefined;
    let dockerLoaded!: () => void;
    const dockerReady = new Promise<void>((resolve) => (dockerLoaded = resolve));
    const realized = new RealizationReporter(master, o.host, log);
    // Leases of containers on ipam dhcp networks (cni-handler.ts); their problems are reported as the endpoints'.
    let cni!: CniHandler;
    let reconciler!: Reconciler;
    const dhcp = new DhcpLeases({
      scriptDir: o.stateDir,
      log,
      onAddress: (owner, lease) => void cni.leaseMoved(owner, lease),
      onProblem: () => reconciler.trigger(),
    });
    reconciler = new Reconciler({
      startAfter: dockerReady,
      view: mirror,
      attachments,
      pending,
      ctx: { host: o.host, prefix, mtu, vtepIP: o.vtepIP, vxlanPort: VXLAN_PORT, ...(o.uplinkIf === undefined ? {} : { uplinkIf: o.uplinkIf }) },
      stateMark: () => mirror.completeRevision,
      onSynced: ({ compiled, errors, unapplied, mark }) => {
        const report = realizationOf(compiled, errors, mark, unapplied);
        realized.report({ ...report, failures: [...report.failures, ...dhcp.failures(), ...localIpam.failures()], datapath: o.datapath });
      },
      datapath: meteredDatapath(datapath, metrics),
      dns: tenantDns,
      bgp,
      forget: (orphans) => {
        forgetOrphans({ attachments, pending, synced: () => mirror.synced, log }, orphans);
        // A forgotten endpoint's DHCP lease goes too (best effort: its interface may be gone already).
        for (const o of orphans) if (!attachments.get(o.containerId, o.ifname)) void dhcp.release(o.endpointId);
      },
      log,
    });

    // The running driver's store, else its file (read once: nothing writes it while the driver is off):
    // endpoints of a driver that is off now are still Docker's.
    let dockerFile: DockerStore | undefined;
    const dockerEndpointIds = () => [...(docker?.store ?? (dockerFile ??= new DockerStore(o.stateDir))).endpoints.values()].map((r) => r.endpointId);
    // Before the stream can change anything: its changes flush the outbox. Docker's endpoints hold their block
    // addresses between CreateEndpoint and Join, before they have an attachment.
    const localIpam = new LocalIpam({
      host: o.host, stateDir: o.stateDir, view: mirror, master, pending, attachments, holds: (id) => dockerEndpointIds().includes(id),
      idleReleaseMs: o.addressBlockIdleMs ?? 600_000, log,
    });
    const infra = new InfraEndpoints(mirror, master, o.host, pending, () => reconciler.trigger(), log);
    mirror.onChange(() => {
      // Endpoints the stream now shows are no longer only ours to know.
      for (const id of pending.keys()) if (mirror.get(endpointKey(id))) pending.delete(id);
      // The stream answers again: netmaster may be back for what waits in the outbox.
      localIpam.flush();
      if (!mirror.synced) return;
      infra.ensure();
      reconciler.trigger();
    });
    mirror.start();

    const counters = new CounterCollector(async () => (await datapath.counters?.()) ?? {}, master, o.host, log);
    counters.start();
    // BGP session and routes, for `netctl bgp inspect` (netmaster keeps the last report in memory).
    bgp.startReports((state) => master.request("PUT", `/api/v1/agent/hosts/${encodeURIComponent(o.host)}/bgp`, state));
    const collector = new EndpointCollector({ host: o.host, view: mirror, attachments, pending, dockerEndpointIds, master, graceMs: o.endpointGcGraceMs ?? DEFAULT_GRACE_MS, log });
    const plumber = new EndpointPlumber({ attachments, pending, reconciler, waitForRevision: (revision, ms) => mirror.waitForRevision(revision, ms), log });
    cni = new CniHandler({
      host: o.host, master, attachments, reconciler, plumber, ready: () => mirror.synced, vxlanPort: VXLAN_PORT, claim: (id) => collector.claim(id), dhcp, localIpam, view: mirror, log,
    });
    const flowSource = datapath.readFlows && datapath.forgetFlows ? { readFlows: datapath.readFlows.bind(datapath), forgetFlows: datapath.forgetFlows.bind(datapath) } : undefined;
    const flows =
      flowSettings.mode === "off" || flowSource === undefined
        ? undefined
        : new FlowRecorder({ host: o.host, prefix, allowed: flowSettings.mode === "all", cap: flowSettings.cap, source: flowSource, master, registry: metrics.registry, log });
    flows?.start();
    const app = localApi({ host: o.host, prefix, cni, metrics, counters, mirror, attachments, reconciler });
    // Flow records (flows/recorder.ts): 404 when the agent records none.
    app.get("/flows", (c) => (flows ? c.json(flows.report()) : c.json({ error: "This agent records no flows (--flow-records off, or the ovs datapath)" }, 404)));
    servers.push(await listenOnSocket(app, o.socketPath));
    if (o.docker) {
      docker = await DockerPlugin.start({
        host: o.host,
        prefix,
        socketPath: o.docker.socketPath,
        dockerNetns: o.docker.netns,
        engineSocket: o.docker.apiSocket,
        defaultPoolRange: o.docker.poolRange,
        sync: o.docker.sync,
        stateDir: o.stateDir,
        master,
        view: mirror,
        synced: () => mirror.waitSynced(),
        onStateChange: (listener) => mirror.onChange(listener),
        attachments,
        vxlanPort: VXLAN_PORT,
        plumber,
        localIpam,
        reconciler,
        executor,
        log,
      })
        .catch((err: Error) => (log.error({ err: err.message }, "cannot start the docker driver"), undefined));
    }
    dockerLoaded();

    const agent = new Agent(o, abort, mirror, reconciler, dns, servers, counters, docker, bgp, collector, realized, dhcp, localIpam, flows);
    void agent.register(master, mtu);
    void mirror.waitSynced().then(() => {
      log.info({ revision: mirror.currentRevision }, "following netmaster's state");
      reconciler.start();
      // After a restart: the containers on ipam dhcp networks get their lease clients again, asking for their address.
      void cni.resumeLeases(mirror);
      if (!agent.abort.signal.aborted) {
        localIpam.start();
        collector.start();
        realized.start();
      }
    });
    log.info({ host: o.host, prefix, socket: o.socketPath }, "netplugin agent started");
    return agent;
  }

  /** Registers the host, retrying until netmaster answers. */
  private register(master: MasterClient, mtu: number): Promise<void> {
    const register = async () => {
      await master.registerHost(this.o.host, { vtepIP: this.o.vtepIP, mtu, agentVersion: VERSION_INFO.Version });
      this.o.log.info({ host: this.o.host }, "host registered");
    };
    return retryUntilDone(register, (err) => this.o.log.warn({ err: err.message }, "cannot register host; retrying"), this.abort.signal);
  }

  /** Stops serving and following; the kernel state stays as it is, so containers keep working. */
  async stop(): Promise<void> {
    this.abort.abort();
    this.reconciler.stop();
    this.collector.stop();
    this.localIpam.stop();
    this.realized.stop();
    this.bgp.stop();
    this.counters.stop();
    await this.flows?.stop();
    this.mirror.stop();
    await Promise.all(this.servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
    await this.docker?.stop();
    await this.dns.stopAll();
    // Not released: the containers keep their addresses, and a restarted agent asks for them again.
    await this.dhcp.abandonAll();
  }
}
