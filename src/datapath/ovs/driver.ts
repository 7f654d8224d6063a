// The Open vSwitch datapath of one host: one bridge (fail mode secure: without our flows nothing passes), a
// port per local endpoint (the host side of its veth), a flow-based VXLAN port when networks span hosts, the
// host's uplink as a trunk (or access) port for vlan networks, each tenant's gateway namespace with a veth port per
// network (gateway.ts: DNS, and routing in fwdMode routing), and the whole pipeline of layout.ts as flows with
// our cookie. reconcile() = observe the bridge's ports → add and remove ports (and the veths and container sides
// behind them) → the gateway namespaces where they differ (gateway-ns.ts) → the tbf shapers of endpoints'
// bandwidth limits where they differ (shapers.ts), add and modify the meters of limits that cannot be shaped
// (meters.ts) and the groups of services (groups.ts) where they differ from the bridge's (not read when what they
// are made of is what the last run without failure made them of and the bridge kept our flows) → render every flow
// (render.ts, policy-flows.ts, service-flows.ts) → have OVS compare them with the bridge's and apply only the differences in one atomic bundle
// → delete meters and groups no flow uses any more → delete the conntrack entries of service providers that
// left a group (service-flows.ts leftProviders; nothing else in conntrack is touched). Packets never meet a
// half-applied pipeline, flows that stay keep their counters, and a restarted agent whose bridge is right
// changes nothing.
//
// Driven through ovs-vsctl (the database) and ovs-ofctl (OpenFlow 1.5 on the bridge's management socket),
// spawned through the process seam like the Linux driver's tools.

import type { Logger } from "pino";

import type { DatapathChange, DatapathDriver, DatapathError, DatapathReport, FlowCounts, FlowListChoice, RuleCounters } from "../driver.js";
import type { DatapathProblem, DesiredHost, DesiredTenant } from "../types.js";
import { hostNftTable, tenantNamespace } from "../names.js";
import { checkDirect, DirectAttachments, withoutDirect } from "../linux/direct.js";
import { checkHost } from "../linux/render.js";
import { PolicyCache } from "../linux/policies.js";
import { POLICY_TABLE, policyFlows } from "./policy-flows.js";
import { policyRuleCounters } from "./policy-counters.js";
import { accumulateCounters, NO_COUNTER_HISTORY, type CounterHistory } from "../counters.js";
import type { CompiledPolicy, RuleCounter } from "../../policy/index.js";
import { ValidationError } from "../../lib/errors.js";
import { ProcessError, type Executor } from "../../lib/process.js";
import { OvsGroups } from "./groups.js";
import { ctFlushArgs, leftProviders, serviceGroups, type LeftProvider } from "./service-flows.js";
import { diffMeters, meterSpec, parseMeters, type Meter } from "./meters.js";
import { endpointShapers } from "./shapers.js";
import { OvsShapers } from "./shapers-tc.js";
import { GATEWAY_ROLE } from "./gateway.js";
import { TABLE } from "./layout.js";
import { GatewayNamespaces } from "./gateway-ns.js";
import { checkOutside, wantedOutside } from "./outside.js";
import { OutsideNamespaces } from "./outside-ns.js";
import { OUR_COOKIES, ourFlowCount, syncFlows, type Ofctl } from "./flow-sync.js";
import { vswitchdControl } from "./datapath-cache.js";
import { tenantRecordsCookie, type FlowRecordMode } from "./flow-record-flows.js";
import { syncFlowRecordTable } from "./flow-record-table.js";
import { countedFlow, readFlowRecords, type OvsFlowRecord } from "./flow-records.js";
import { EndpointPorts, type ObservedPort } from "./ports.js";
import {
  bridgeName,
  checkOvs,
  gatewaysOf,
  needsTunnel,
  renderFlows,
  snoopingVlans,
  withHostEndpoints,
  renderMeters,
  tenantNumbers,
  ROLE_KEY,
  uplinkOf,
  tunnelPortName,
  wantedPorts,
} from "./render.js";

export type OvsDatapathType = "system" | "netdev";

export interface OvsDatapathOptions {
  /** The OVS database: "unix:PATH" (default unix:/var/run/openvswitch/db.sock). */
  db?: string;
  /** Directory of ovs-vswitchd's sockets: the bridge's management socket is <rundir>/<bridge>.mgmt. */
  rundir?: string;
  /** system: the kernel module; netdev: the userspace datapath (machines without the module). */
  datapathType: OvsDatapathType;
  /** Named namespace standing in for the agent's own (tests): veths are made there, as ovs-vswitchd runs there. */
  hostNamespace?: string;
  /**
   * An SDN controller for the bridge ("tcp:IP:PORT", "ssl:IP:PORT"): it owns the hook tables (layout.ts); the
   * bridge stays in fail mode secure, so its coming and going changes none of our flows. When given (""
   * included: none), it wins over DesiredHost.host.sdnController, the global one.
   */
  controller?: string;
  /** --uplink-if is an access port of this VLAN on its switch (default: a trunk): see render.ts Uplink. */
  uplinkAccessVlan?: number;
  /**
   * Flow records (--flow-records, --flow-records-cap): learned into the bridge's record table, at most `cap` of
   * them (flow-record-flows.ts, flow-record-table.ts), read with flowRecords(). Absent: none.
   */
  flowRecords?: { mode: FlowRecordMode; cap: number };
  logger?: Logger;
}

/** A tenant's number and rule keys (by rule number - 1) in the flows of a run. */
interface AppliedRules {
  tenant: number;
  ruleKeys: string[];
  /** The policy the flows were rendered from: an allowed record's rule is traced on it. */
  compiled: CompiledPolicy;
}

const DEFAULT_DB = "unix:/var/run/openvswitch/db.sock";

const DEFAULT_RUNDIR = "/var/run/openvswitch";

/** The bridge's multicast snooping (render.ts snoopingVlans): groups without members are not flooded. */
const SNOOPING = ["mcast_snooping_enable=true", "other_config:mcast-snooping-disable-flood-unregistered=true"];

export class OvsDatapath implements DatapathDriver {
  private readonly db: string;
  private readonly rundir: string;
  /** The flows this process last applied without failure ("" before the first run). */
  private applied = "";
  private running: Promise<unknown> = Promise.resolve();
  /** Each tenant's last compiled policy: most runs change none, and compiling a large one takes long. */
  private readonly policies = new PolicyCache();
  /** Per tenant name: its number and rule keys in the flows last applied (what counters() maps cookies with). */
  private appliedRules = new Map<string, AppliedRules>();
  private renderedRules = new Map<string, AppliedRules>();
  /** Per tenant name: its number and rule keys when readFlows last read its records. */
  private readNumbering = new Map<string, string>();
  private counterHistory: CounterHistory = NO_COUNTER_HISTORY;
  /** Our OpenFlow groups (services), put before the flows that use them. */
  private readonly groups = new OvsGroups((args) => this.ofctl(args));
  /** The tenants' gateway namespaces (gateway.ts). */
  private readonly gateways: GatewayNamespaces;
  /** The tenants' ways out of the cluster and the host's published ports (outside.ts). */
  private readonly outside: OutsideNamespaces;
  /** Endpoints with a direct attachment (macvlan, ipvlan, host-device): off the bridge, made as the Linux driver makes them. */
  private readonly direct: DirectAttachments;
  /** The tbf shapers of endpoints' bandwidth limits (shapers.ts). */
  private readonly shapers: OvsShapers;

  constructor(
    private readonly executor: Executor,
    private readonly o: OvsDatapathOptions,
  ) {
    this.db = o.db ?? DEFAULT_DB;
    this.rundir = o.rundir ?? DEFAULT_RUNDIR;
    this.gateways = new GatewayNamespaces(executor, {
      ...(o.hostNamespace === undefined ? {} : { hostNamespace: o.hostNamespace }),
      netdev: o.datapathType === "netdev",
      vsctl: (args) => this.vsctl(args),
    });
    const host = o.hostNamespace === undefined ? {} : { hostNamespace: o.hostNamespace };
    this.outside = new OutsideNamespaces(executor, host);
    this.direct = new DirectAttachments(executor, host);
    this.shapers = new OvsShapers(executor, { ...host, vsctl: (args) => this.vsctl(args) });
    this.endpointPorts = new EndpointPorts({ executor, vsctl: (args) => this.vsctl(args), ip: (args, stdin) => this.ip(args, stdin), datapathType: o.datapathType, shapers: this.shapers });
  }

  /** The bridge's endpoint ports (ports.ts). */
  private readonly endpointPorts: EndpointPorts;
  private readonly ofctlOf: Ofctl = (args, stdin) => this.ofctl(args, stdin);

  /**
   * What this driver cannot make of `desired`: what the Linux driver could not render either (the same fields and
   * words: a bad MAC, address, name, rule, a port published twice), what this one does not do (checkOvs), the
   * ways out and published ports (outside.ts), and the direct attachments (the Linux driver's module). Each
   * problem once.
   */
  private problemsOf(desired: DesiredHost): DatapathProblem[] {
    const bridged = withoutDirect(desired);
    const all = [
      ...checkHost(bridged, this.policies.compile),
      ...checkOvs(bridged),
      ...checkOutside(bridged, gatewaysOf(bridged, uplinkOf(bridged, this.o.uplinkAccessVlan))),
      ...checkDirect(desired, this.policies.compile),
    ];
    const seen = new Set<string>();
    return all.filter((p) => {
      const key = JSON.stringify([p.owner, p.message]);
      return !seen.has(key) && seen.add(key) !== undefined;
    });
  }

  check(desired: DesiredHost): DatapathProblem[] {
    const problems = this.problemsOf(desired);
    for (const t of desired.tenants) {
      if (this.hasMeters !== false) continue;
      for (const e of t.endpoints.filter((e) => e.direct === undefined && e.containerSide === "runtime" && e.qos.egressBps > 0)) {
        problems.push({ owner: { tenant: t.name, network: e.network, endpoint: e.id }, message: "a bandwidth limit on what a runtime's container sends needs OpenFlow meters, and this Open vSwitch datapath has none" });
      }
    }
    return problems;
  }

  /** Whether the bridge's datapath has meters (ovs-ofctl meter-features), once a run has asked. */
  private hasMeters: boolean | undefined;

  /** The tenant's policy as flows: `in` rules judged here only for its containers on this host. */
  private policyOf(t: DesiredTenant, tenantNumber: number): string[] {
    const ips = t.endpoints.map((e) => e.ipv4.split("/")[0]!).filter((ip) => ip !== "");
    const ipv6 = t.endpoints.map((e) => e.ipv6.split("/")[0]!).filter((ip) => ip !== "");
    const compiled = this.policies.compile(t.namespace, t.policy);
    const rendered = policyFlows({
      tenant: tenantNumber,
      tables: compiled.tables,
      localIps: { ipv4: ips, ipv6 },
      ...(this.o.flowRecords === undefined ? {} : { flowRecords: this.o.flowRecords.mode }),
    });
    this.renderedRules.set(t.name, { tenant: tenantNumber, ruleKeys: rendered.ruleKeys, compiled });
    return rendered.flows;
  }

  /** Per-rule counters of every tenant of the last applied pipeline, as running totals (../counters.ts). */
  counters(): Promise<RuleCounters> {
    return this.serial(async () => {
      const readings = new Map<string, ReadonlyMap<string, RuleCounter> | null>();
      let dump: string | undefined;
      try {
        if (this.appliedRules.size > 0) dump = await this.ofctl(["dump-flows", `table=${POLICY_TABLE.JUDGE},cookie=${OUR_COOKIES}`]);
      } catch (err) {
        this.o.logger?.debug({ op: "counters", err: (err as Error).message }, "cannot read rule counters");
      }
      for (const [name, { tenant, ruleKeys }] of this.appliedRules) {
        readings.set(name, dump === undefined ? null : policyRuleCounters(dump, tenant, ruleKeys));
      }
      // Only changed flows are re-added (their counters restart): a reading below the last one starts a new
      // generation (../counters.ts), flows that stayed keep counting.
      const { history, totals } = accumulateCounters(this.counterHistory, readings, new Set());
      this.counterHistory = history;
      return totals;
    });
  }

  /**
   * The flow records on the bridge (flow-records.ts) of the tenants of the last applied pipeline, with their rules
   * as it numbered them; [] when records are off or nothing was applied yet. Throws when OVS cannot answer.
   */
  flowRecords(): Promise<OvsFlowRecord[]> {
    return this.serial(async () => {
      if (this.o.flowRecords === undefined || this.appliedRules.size === 0) return [];
      const tenants = new Map([...this.appliedRules].map(([name, { tenant, ruleKeys }]) => [tenant, { name, ruleKeys }]));
      return readFlowRecords(this.executor, `unix:${this.rundir}/${bridgeName(this.prefix)}.mgmt`, tenants);
    });
  }

  /**
   * The flow records as the recorder reads them (DatapathDriver.readFlows): per tenant of the last applied
   * pipeline, its records' attempts summed, and its records when `list` asks (one dump of the records table
   * serves all tenants). `restarted` when the tenant's rule numbering is not the one the last reading saw: its
   * records were deleted then (dropStaleRecords). Nothing overflows: OVS evicts the least recently seen record
   * instead (flow-record-table.ts), so a record counted again after its eviction starts from 1.
   */
  readFlows(list: FlowListChoice): Promise<{ counts: FlowCounts[]; unreadable: string[] }> {
    return this.serial(async () => {
      const applied = [...this.appliedRules];
      if (this.o.flowRecords === undefined || applied.length === 0) return { counts: [], unreadable: [] };
      const tenants = new Map(applied.map(([name, { tenant, ruleKeys }]) => [tenant, { name, ruleKeys }]));
      let records: OvsFlowRecord[];
      try {
        records = await readFlowRecords(this.executor, `unix:${this.rundir}/${bridgeName(this.prefix)}.mgmt`, tenants);
      } catch (err) {
        this.o.logger?.debug({ op: "flows", err: (err as Error).message }, "cannot read the flow records");
        return { counts: [], unreadable: applied.map(([name]) => tenantNamespace(this.prefix, name)) };
      }
      const now = Date.now();
      const numbering = new Map<string, string>();
      const counts = applied.map(([name, rules]): FlowCounts => {
        const namespace = tenantNamespace(this.prefix, name);
        const identity = JSON.stringify([rules.tenant, rules.ruleKeys]);
        const restarted = this.readNumbering.get(name) !== identity;
        numbering.set(name, identity);
        const own = records.filter((r) => r.tenant === name);
        const totals = { counted: own.reduce((sum, r) => sum + r.packets, 0), overflowPackets: 0 };
        const flows = list(namespace, totals, restarted) ? own.map((r) => countedFlow(r, rules.compiled, now)) : undefined;
        return { namespace, restarted, ...totals, flows, capacity: 0 };
      });
      this.readNumbering = numbering;
      return { counts, unreadable: [] };
    });
  }

  /** Nothing to do: OVS makes room itself, evicting the least recently seen record beyond the cap (capacity 0 asks for none). */
  async forgetFlows(): Promise<void> {}

  /**
   * Deletes the records of tenants whose rule numbers may mean other rules now: their rule keys changed since this
   * process last applied them, or it applied none for them (a new tenant, whose number an old one may have had;
   * a restarted agent's first run). Records are what OVS learned, not our pipeline: not reported as changes.
   */
  private async dropStaleRecords(before: ReadonlyMap<string, AppliedRules>, after: ReadonlyMap<string, AppliedRules>): Promise<void> {
    const byNumber = (m: ReadonlyMap<string, AppliedRules>) => new Map([...m.values()].map((r) => [r.tenant, JSON.stringify(r.ruleKeys)]));
    const [was, is] = [byNumber(before), byNumber(after)];
    for (const tenant of new Set([...was.keys(), ...is.keys()])) {
      if (was.get(tenant) !== undefined && was.get(tenant) === is.get(tenant)) continue;
      await this.ofctl(["del-flows", `table=${TABLE.FLOW_RECORDS},cookie=${tenantRecordsCookie(tenant)}`]);
      this.o.logger?.debug({ op: "flow-records", tenantNumber: tenant }, "flow records of a changed policy deleted");
    }
  }

  reconcile(desired: DesiredHost, options: { full: boolean }): Promise<DatapathReport> {
    return this.serial(() => this.reconcileNow(desired, options));
  }

  /** One call at a time: the ports and flows of two runs must not interleave, nor a reading with a run. */
  private serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.running.then(work);
    this.running = next.catch(() => undefined);
    return next;
  }

  private vsctl(args: string[]): Promise<string> {
    return this.executor.run(["ovs-vsctl", `--db=${this.db}`, "--timeout=10", ...args]);
  }

  private ofctl(args: string[], stdin?: string): Promise<string> {
    const bridge = `unix:${this.rundir}/${bridgeName(this.prefix)}.mgmt`;
    const [command, ...rest] = args;
    return this.executor.run(["ovs-ofctl", "-O", "OpenFlow15", ...(stdin === undefined ? [] : ["--bundle"]), command!, bridge, ...rest], stdin === undefined ? {} : { stdin });
  }

  private ip(args: string[], stdin?: string): Promise<string> {
    return this.executor.run(["ip", ...(this.o.hostNamespace === undefined ? [] : ["-n", this.o.hostNamespace]), ...args], stdin === undefined ? {} : { stdin });
  }

  private prefix = "";

  private async reconcileNow(desired: DesiredHost, options: { full: boolean }): Promise<DatapathReport> {
    const problems = this.problemsOf(desired);
    if (problems.length > 0) {
      throw new ValidationError(`Cannot reconcile: ${problems.map((p) => p.message).join("; ")}`);
    }
    desired = this.withFrozen(desired);
    // Host endpoints (infra networks) are ports of the bridge whose "container" is the agent's own namespace.
    const agentNetns = this.o.hostNamespace === undefined ? "/proc/self/ns/net" : `/var/run/netns/${this.o.hostNamespace}`;
    const bridge = await this.reconcileBridge(withHostEndpoints(withoutDirect(desired), agentNetns), options);
    // Direct attachments after the bridge and the tenants' namespaces, as the Linux driver makes them: their policy
    // is the tenant's, in the container's own namespace.
    const direct = await this.direct.reconcile(desired, { full: options.full, compile: this.policies.compile });
    return {
      changes: [...bridge.changes, ...direct.changes.map(({ namespace, action, object }) => ({ namespace, action, object }))],
      errors: [...bridge.errors, ...direct.errors.map(({ owner, namespace, objects, message }) => ({ owner, namespace, objects, message }))],
    };
  }

  /** The bridge and controller the last run found right (`<bridge> <controller>`), "" after a run that failed. */
  private checkedBridge = "";
  /** The network VLANs the ports' tags were last brought to. */
  private syncedVlans = "";
  /** What the last run made of the gateway namespaces and ways out without failure ("" : read them next run). */
  private madeGateways = "";
  private madeOutside = "";
  /** What the last run without failure made the shapers, meters and groups of ("": read them next run). */
  private settledKey = "";

  /** Each tenant as the last run made it, by name: what a frozen tenant keeps (withFrozen). */
  private lastTenants = new Map<string, DesiredTenant>();

  /**
   * A frozen tenant (DesiredHost.frozen) must stay exactly as it runs; the bridge's flows are one pipeline for all
   * tenants, so a tenant this process has made is kept by making it again as it last was (its ports, namespaces
   * and flows unchanged), and the others go on. Only one it has not made (frozen since this agent started) holds
   * the whole bridge as it is (reconcileBridge), as it stays in `frozen`. Remembers the tenants made now.
   */
  private withFrozen(desired: DesiredHost): DesiredHost {
    const start = tenantNamespace(desired.prefix, "");
    const kept: DesiredTenant[] = [];
    const unknown: string[] = [];
    for (const namespace of desired.frozen ?? []) {
      const last = this.lastTenants.get(namespace.slice(start.length));
      if (last !== undefined && last.namespace === namespace && !desired.tenants.some((t) => t.name === last.name)) kept.push(last);
      else unknown.push(namespace);
    }
    const tenants = [...desired.tenants, ...kept];
    this.lastTenants = new Map(tenants.map((t) => [t.name, t]));
    return { ...desired, tenants, frozen: unknown };
  }

  /** The bridge, its ports and flows, and the tenants' gateway namespaces and ways out. */
  private async reconcileBridge(desired: DesiredHost, options: { full: boolean }): Promise<DatapathReport> {
    this.prefix = desired.prefix;
    const changes: DatapathChange[] = [];
    const errors: DatapathError[] = [];
    const change = (action: DatapathChange["action"], object: string) => changes.push({ namespace: "host", action, object });
    const fail = (owner: DatapathError["owner"], objects: string[], err: unknown) =>
      errors.push({ owner, namespace: "host", objects, message: err instanceof ProcessError ? `${err.argv.join(" ")}: ${err.stderr.trim()}` : (err as Error).message });

    const bridge = bridgeName(desired.prefix);
    // --ovs-controller, when given, wins over the global sdnController on this host.
    const wantedController = this.o.controller ?? desired.host.sdnController ?? "";
    // The bridge and its controller as this process last found them right: read again on a full run, or after a
    // run that failed (as the Linux driver reads only what changed).
    const bridgeKey = `${bridge} ${wantedController}`;
    const bridgeChecked = !options.full && this.checkedBridge === bridgeKey;
    this.checkedBridge = "";
    const lastSettledKey = this.settledKey;
    this.settledKey = "";
    if (!bridgeChecked) {
      try {
        if (!(await this.bridgeExists(bridge))) {
          // The fail mode is set as the bridge is made: setting it later wipes every flow and group of the bridge.
          // OpenFlow 1.3 too: what most controllers speak.
          await this.vsctl(["add-br", bridge, "--", "set", "bridge", bridge, `datapath_type=${this.o.datapathType}`, "fail_mode=secure", "protocols=OpenFlow13,OpenFlow15", "other_config:disable-in-band=true", ...SNOOPING]);
          change("create", `bridge ${bridge}`);
          this.applied = "";
        } else {
          // A bridge of that name made otherwise (by hand, or changed since): in standalone mode it would switch
          // as a learning switch whenever our flows are gone. Putting it right wipes its flows; the sync below
          // puts ours back.
          const [failMode, protocols, datapathType, snooping] = (await this.vsctl(["get", "bridge", bridge, "fail_mode", "protocols", "datapath_type", "mcast_snooping_enable"])).split("\n");
          if (datapathType?.replace(/"/g, "") !== this.o.datapathType) {
            throw new Error(`bridge ${bridge} has datapath_type ${datapathType}, not ${this.o.datapathType}: remove it (netplugin --cleanup) and start again`);
          }
          if (snooping !== "true") {
            await this.vsctl(["set", "bridge", bridge, ...SNOOPING]);
            change("update", `bridge ${bridge} (multicast snooping)`);
          }
          if (failMode !== "secure" || !protocols?.includes("OpenFlow15")) {
            await this.vsctl(["set", "bridge", bridge, "fail_mode=secure", "protocols=OpenFlow13,OpenFlow15"]);
            change("update", `bridge ${bridge} (fail mode secure, OpenFlow 1.3 and 1.5)`);
            this.applied = "";
          }
        }
      } catch (err) {
        fail({}, [`bridge ${bridge}`], err);
        return { changes, errors };
      }

      try {
        const table = await syncFlowRecordTable((args) => this.vsctl(args), bridge, this.o.flowRecords?.cap);
        if (table !== undefined) change(this.o.flowRecords === undefined ? "delete" : "update", table);
      } catch (err) {
        fail({}, [`flow record table of ${bridge}`], err);
      }

      try {
        const controller = (await this.vsctl(["get-controller", bridge])).trim();
        if (controller !== wantedController) {
          await this.vsctl(wantedController === "" ? ["del-controller", bridge] : ["set-controller", bridge, wantedController]);
          change(wantedController === "" ? "delete" : "update", `controller of ${bridge}${wantedController === "" ? "" : ` (${wantedController})`}`);
        }
      } catch (err) {
        fail({}, [`controller of ${bridge}`], err);
      }
    }

    let observed = await this.endpointPorts.list(bridge);
    const wanted = wantedPorts(desired);
    const wantedNames = new Set(wanted.map((w) => w.name));
    // A tenant whose desired state could not be made is left exactly as it runs (DesiredHost.frozen): its ports
    // stay, and so do the flows, meters and groups of the whole bridge (they are not kept per tenant), until it can.
    const frozen = new Set(desired.frozen ?? []);
    const isFrozen = (p: ObservedPort) => p.endpoint !== "" && !wantedNames.has(p.name) && (p.tenant === "" ? frozen.size > 0 : frozen.has(tenantNamespace(desired.prefix, p.tenant)));
    const held = [...new Set(observed.filter(isFrozen).map((p) => p.tenant || "?"))];
    // Ports of endpoints that are gone: the port and its veth (the container side goes with it).
    for (const p of observed.filter((p) => p.endpoint !== "" && !wantedNames.has(p.name) && !isFrozen(p))) {
      try {
        // The veth first: a port left behind is found and retried by the next run, a veth without a port is not.
        await this.ip(["link", "del", p.name]).catch((err: unknown) => {
          if (!(err instanceof ProcessError && /Cannot find device/.test(err.stderr))) throw err;
        });
        await this.vsctl(["--if-exists", "del-port", bridge, p.name]);
        change("delete", `port ${p.name}`);
      } catch (err) {
        fail({}, [`port ${p.name}`], err);
      }
    }
    const have = new Set(observed.map((p) => p.name));
    for (const w of wanted.filter((w) => !have.has(w.name) || (options.full && observed.find((p) => p.name === w.name)!.ofport < 0))) {
      try {
        await this.endpointPorts.plumb(bridge, w);
        change("create", `port ${w.name} for endpoint ${w.endpoint.id}`);
      } catch (err) {
        fail({ tenant: w.tenant, network: w.endpoint.network, endpoint: w.endpoint.id }, [`port ${w.name}`], err);
        await this.endpointPorts.unplumb(bridge, w.name);
      }
    }
    // Endpoints whose IPv4 address changed since their port was made: the one waiting for its DHCP lease gets it
    // (and its default route) once the agent has recorded it, a new lease's address replaces the old one.
    const observedByName = new Map(observed.map((p) => [p.name, p]));
    for (const w of wanted) {
      const p = observedByName.get(w.name);
      if (p?.ipv4 === undefined || p.ipv4 === w.endpoint.ipv4 || w.endpoint.containerSide === "runtime") continue;
      try {
        await this.endpointPorts.readdress(w, p.ipv4);
        change("update", `IPv4 address of endpoint ${w.endpoint.id} (${w.endpoint.ipv4 || "none"})`);
      } catch (err) {
        fail({ tenant: w.tenant, network: w.endpoint.network, endpoint: w.endpoint.id }, [`address of ${w.endpoint.ifname} in ${w.endpoint.netns}`], err);
      }
    }
    // A port whose network's VLAN moved (snoopingVlans) follows it. New ports are made with theirs.
    const vlansKey = JSON.stringify([...snoopingVlans(desired)]);
    if (options.full || vlansKey !== this.syncedVlans) {
      try {
        const tags = await this.endpointPorts.tags();
        for (const w of wanted.filter((w) => tags.has(w.name) && tags.get(w.name) !== w.vlan)) {
          await this.vsctl(["set", "port", w.name, `tag=${w.vlan}`]);
          change("update", `port ${w.name} (VLAN ${w.vlan})`);
        }
        this.syncedVlans = vlansKey;
      } catch (err) {
        this.syncedVlans = "";
        fail({}, ["port VLANs"], err);
      }
    }
    const tunnel = tunnelPortName(desired.prefix);
    const uplink = uplinkOf(desired, this.o.uplinkAccessVlan);
    const tunnelWanted = needsTunnel(desired, uplink);
    try {
      const port = tunnelWanted ? desired.tenants.flatMap((t) => t.networks).find((n) => n.vxlan !== undefined)!.vxlan!.port : 0;
      if (tunnelWanted && !have.has(tunnel)) {
        const options = ["options:remote_ip=flow", "options:key=flow", `options:dst_port=${port}`, "options:tos=inherit"];
        await this.vsctl(["add-port", bridge, tunnel, "--", "set", "interface", tunnel, "type=vxlan", ...options]);
        change("create", `port ${tunnel}`);
      } else if (tunnelWanted && (await this.vsctl(["get", "interface", tunnel, "options:dst_port"])).trim().replace(/"/g, "") !== String(port)) {
        // The overlay's port changed (another --vxlan-port): the tunnel follows.
        await this.vsctl(["set", "interface", tunnel, `options:dst_port=${port}`]);
        change("update", `port ${tunnel} (UDP ${port})`);
      } else if (!tunnelWanted && have.has(tunnel)) {
        await this.vsctl(["--if-exists", "del-port", bridge, tunnel]);
        change("delete", `port ${tunnel}`);
      }
    } catch (err) {
      fail({}, [`port ${tunnel}`], err);
    }

    // The host's interface to the physical network, a trunk for vlan networks: added and taken back, never deleted.
    const trunk = uplink?.name;
    for (const p of observed.filter((p) => p.role === "uplink" && p.name !== trunk)) {
      try {
        await this.vsctl(["--if-exists", "del-port", bridge, p.name]);
        change("delete", `trunk ${p.name}`);
      } catch (err) {
        fail({}, [`trunk ${p.name}`], err);
      }
    }
    if (trunk !== undefined && !have.has(trunk)) {
      try {
        await this.ip(["link", "set", trunk, "up"]);
        await this.vsctl(["add-port", bridge, trunk, "--", "set", "interface", trunk, `external_ids:${ROLE_KEY}=uplink`]);
        change("create", `trunk ${trunk}`);
      } catch (err) {
        fail({}, [`trunk ${trunk}`], err);
      }
    }

    // Each tenant's gateway namespace, a veth per network with a gateway (its DNS, and routing in fwdMode routing).
    const gatewayPorts = observed.filter((p) => p.role === GATEWAY_ROLE).map((p) => ({ name: p.name, namespace: p.namespace }));
    const gateways = gatewaysOf(desired, uplink);
    const frozenNamespaces = desired.frozen ?? [];
    // Made as wanted by an earlier run of this process (and their ports still on the bridge): nothing to read
    // unless the run is full, as the Linux driver reads only what changed.
    const gatewaysKey = JSON.stringify({ gateways, frozenNamespaces, ports: gatewayPorts.map((p) => p.name).sort() });
    const portsThere = gateways.every((g) => g.links.every((l) => gatewayPorts.some((p) => p.name === l.hostLink)));
    if (options.full || !portsThere || gatewaysKey !== this.madeGateways) {
      const before = errors.length;
      await this.gateways.sync({ prefix: desired.prefix, bridge, wanted: gateways, ports: gatewayPorts, frozen: frozenNamespaces }, change, fail);
      this.madeGateways = errors.length === before && portsThere ? gatewaysKey : "";
    }
    // Their ways out and the host's published ports: the namespaces' NAT and the agent namespace's.
    const gatewayNamespaces = [...new Set([...gateways.map((g) => g.name), ...gatewayPorts.map((p) => p.namespace)])];
    const outside = wantedOutside(desired, gateways);
    const outsideKey = JSON.stringify({ outside, gatewayNamespaces, frozenNamespaces });
    if (options.full || outsideKey !== this.madeOutside) {
      const before = errors.length;
      await this.outside.sync({ wanted: outside, gatewayNamespaces, frozen: frozenNamespaces }, change, fail);
      this.madeOutside = errors.length === before ? outsideKey : "";
    }

    if (held.length > 0) {
      fail({}, [`flows of ${bridge}`], new Error(`flows, shapers, meters and groups held as they are while tenant(s) ${held.join(", ")} cannot be made (their own failures say why)`));
      return { changes, errors };
    }

    if (this.hasMeters === undefined) {
      const features = await this.ofctl(["meter-features"]).catch(() => "");
      this.hasMeters = Number(/max_meter:(\d+)/.exec(features)?.[1] ?? 0) > 0;
      this.o.logger?.info({ bridge, meters: this.hasMeters }, "OpenFlow meters of the datapath");
    }

    // Ports made or taken away by this run (or failing to be) have changed numbers: read them again. A run that
    // changed nothing so far (most runs the agent makes after a CNI ADD or DEL) has them already.
    if (changes.length > 0 || errors.length > 0) observed = await this.endpointPorts.list(bridge);
    const ofports = new Map(observed.filter((p) => p.ofport > 0).map((p) => [p.name, p.ofport]));
    // Shapers and meters before the flows that use them. A port whose shaper or meter could not be made gets no
    // flows: nothing of it passes unlimited (the next run tries again).
    const shaped = wanted.filter((w) => ofports.has(w.name)).map(endpointShapers);
    if (options.full) await this.shapers.ensureNoopQos(bridge, shaped.map((s) => s.port.name), change, fail);
    for (const name of await this.shapers.sync(shaped, options.full, change, fail)) ofports.delete(name);
    // What the meters and groups are made of. When it is what the last run without failure made them of, they
    // are as that run left them (nothing but this process changes them), unless ovs-vswitchd restarted: it keeps
    // no meter, group or flow across a restart, so our flows being all there says they are too. Then they are not
    // read: two processes fewer on most runs (those after a CNI ADD or DEL that change no port). The shapers are
    // read on every run still: a bridge side's tbf deleted behind our back comes back with the next run.
    const groupsWanted = serviceGroups(desired);
    const settledKey = JSON.stringify([renderMeters(desired, ofports), groupsWanted]);
    const settled = !options.full && settledKey === lastSettledKey && (await this.flowsIntact());
    const meters = settled ? { stale: [], failed: new Set<string>() } : await this.applyMeters(desired, ofports, change, fail);
    for (const name of meters.failed) ofports.delete(name);
    this.renderedRules = new Map();
    const flows = renderFlows(desired, { ofports, ...(uplink === undefined ? {} : { uplink }), policy: (t, tenantNumber) => this.policyOf(t, tenantNumber) });
    const text = flows.join("\n");
    let stale: number[] | undefined = settled ? [] : undefined;
    let left: LeftProvider[] = [];
    /** The rules of the flows applied before this run's, when this run applied its own. */
    let rulesBefore: ReadonlyMap<string, AppliedRules> | undefined;
    try {
      if (!settled) {
        const put = await this.groups.putGroups(groupsWanted);
        for (const d of put.done) change(d.action, d.object);
        stale = put.stale;
        left = leftProviders(desired, tenantNumbers(desired.tenants.map((t) => t.name)), put.before);
      }
    } catch (err) {
      fail({}, [`groups of ${bridge}`], err);
    }
    try {
      // A run whose pipeline is what this process applied trusts it, unless the bridge lost flows (ovs-vswitchd
      // restarted: a settled run has counted them) or the run is full; anything else is compared with the bridge
      // by OVS itself.
      const trusted = text === this.applied && !options.full && (settled || (await this.flowsIntact()));
      if (!trusted) {
        const changed = await syncFlows(this.ofctlOf, flows);
        if (changed > 0) {
          change("update", `flows of ${bridge} (${changed} of ${flows.length} changed)`);
          // Not one cached translation of the tables before (datapath-cache.ts).
          await this.executor.run(["ovs-appctl", "-t", vswitchdControl(this.rundir), "revalidator/purge"]);
        }
        this.applied = text;
        rulesBefore = this.appliedRules;
        this.appliedRules = this.renderedRules;
      }
    } catch (err) {
      this.applied = "";
      stale = undefined; // the flows on the bridge may still use them
      fail({}, [`flows of ${bridge}`], err);
      return { changes, errors };
    }
    if (this.o.flowRecords !== undefined && rulesBefore !== undefined) {
      try {
        await this.dropStaleRecords(rulesBefore, this.appliedRules);
      } catch (err) {
        fail({}, [`flow records of ${bridge}`], err);
      }
    }
    // Only now: deleting a meter deletes the flows that use it, and none of ours do any more.
    for (const id of meters.stale) {
      try {
        await this.ofctl(["del-meter", `meter=${id}`]);
        change("delete", `meter ${id}`);
      } catch (err) {
        fail({}, [`meter ${id}`], err);
      }
    }
    try {
      await this.groups.prune(stale ?? []);
      for (const id of stale ?? []) change("delete", `group ${id}`);
    } catch (err) {
      fail({}, [`groups of ${bridge}`], err);
    }
    // Once the groups no longer send there: the conntrack entries that still would (service-flows.ts leftProviders).
    for (const l of left) {
      const object = `conntrack entries ${l.vip.includes(":") ? `[${l.vip}]` : l.vip}:${l.port}/${l.protocol} → ${l.provider.includes(":") ? `[${l.provider}]` : l.provider}:${l.targetPort} (zone ${l.zone})`;
      try {
        await this.ofctl(["ct-flush", ...ctFlushArgs(l)]);
        change("delete", object);
      } catch (err) {
        fail({}, [object], err);
      }
    }
    if (errors.length === 0) {
      this.checkedBridge = bridgeKey;
      this.settledKey = settledKey;
    }
    return { changes, errors };
  }

  /** Whether the bridge has as many flows of ours as this process last applied (ovs-vswitchd keeps none across a restart). */
  private async flowsIntact(): Promise<boolean> {
    return this.applied !== "" && (await ourFlowCount(this.ofctlOf)) === this.applied.split("\n").length;
  }

  /**
   * Adds and modifies the meters of local endpoints' limits (renderMeters) so that the bridge's match: only what
   * differs from `dump-meters` is sent, so a second run, or a restarted agent, sends nothing. Returns our meters
   * that nobody wants (deleted after the flows) and the ports whose new meter could not be added.
   */
  private async applyMeters(
    desired: DesiredHost,
    ofports: ReadonlyMap<string, number>,
    change: (action: DatapathChange["action"], object: string) => void,
    fail: (owner: DatapathError["owner"], objects: string[], err: unknown) => void,
  ): Promise<{ stale: number[]; failed: Set<string> }> {
    const wanted = renderMeters(desired, ofports);
    const owners = new Map(wanted.map((w) => [w.meter.id, w]));
    const ownerOf = (m: Meter) => owners.get(m.id)!;
    const label = (m: Meter) => `meter ${m.id} (what endpoint ${ownerOf(m).port.endpoint.id} sends, ${m.kbps} kbit/s, burst ${m.burstKb} kbit)`;
    const endpointOf = (m: Meter) => ({ tenant: ownerOf(m).port.tenant, network: ownerOf(m).port.endpoint.network, endpoint: ownerOf(m).port.endpoint.id });
    let observed: Meter[];
    try {
      observed = parseMeters(await this.ofctl(["dump-meters"]));
    } catch (err) {
      fail({}, [`meters of ${bridgeName(this.prefix)}`], err);
      return { stale: [], failed: new Set(wanted.map((w) => w.port.name)) };
    }
    const plan = diffMeters(wanted.map((w) => w.meter), observed);
    const failed = new Set<string>();
    // A meter that could not be added leaves its port without flows; one that could not be changed keeps its old limit.
    const steps = [...plan.add.map((m) => ["add-meter", m] as const), ...plan.modify.map((m) => ["mod-meter", m] as const)];
    for (const [verb, m] of steps) {
      try {
        await this.ofctl([verb, meterSpec(m)]);
        change(verb === "add-meter" ? "create" : "update", label(m));
      } catch (err) {
        fail(endpointOf(m), [`meter ${m.id}`], err);
        if (verb === "add-meter") failed.add(ownerOf(m).port.name);
      }
    }
    return { stale: plan.remove, failed };
  }

  private async bridgeExists(bridge: string): Promise<boolean> {
    try {
      await this.vsctl(["br-exists", bridge]);
      return true;
    } catch (err) {
      if (err instanceof ProcessError && err.exitCode === 2) return false;
      throw err;
    }
  }

  /** Removes the bridge of hosts of `prefix`, every endpoint and gateway veth on it, and the gateway namespaces. */
  async cleanup(prefix: string): Promise<string[]> {
    const bridge = bridgeName(prefix);
    const removed: string[] = [];
    let gatewayPorts: { name: string; namespace: string }[] = [];
    if (await this.bridgeExists(bridge)) {
      const ports = await this.endpointPorts.list(bridge);
      await this.vsctl(["--if-exists", "del-br", bridge]);
      for (const p of ports.filter((p) => p.endpoint !== "")) await this.ip(["link", "del", p.name]).catch(() => undefined);
      removed.push(`bridge ${bridge}`, ...ports.filter((p) => p.role !== GATEWAY_ROLE).map((p) => `port ${p.name}`));
      gatewayPorts = ports.filter((p) => p.role === GATEWAY_ROLE);
    }
    removed.push(...(await this.shapers.removeNoopQos(bridge)));
    return [...removed, ...(await this.outside.remove(prefix, hostNftTable(prefix))), ...(await this.gateways.remove(prefix, gatewayPorts))];
  }
}
