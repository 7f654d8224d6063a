// "Why can A not reach B": the verdict of a new connection from one end to the other, and the rule (or the
// default) that decides it at the sender's host (hop "egress") and at the receiver's host (hop "ingress"),
// judged by tracePacket (policy/trace.ts) on the compiled structures the hosts load: no second evaluator.
//
// Where the linux datapath judges: each host whose filter sees the packet runs the tenant's whole enforce chain on
// it, the sender's `out` rules and then the receiver's `in` rules (policy/README.md). So a sender's host
// whose bridge is filtered drops a packet the receiver's `in` rule denies before it leaves, and a host whose
// bridge carries nothing with rules does not look at it at all ("not-filtered"). Both ends on one host: one
// hop, as the packet passes that host's filter once.
//
// What a host has in force: netmaster keeps no copy of each host's compiled tables, but each agent reports
// the revision its last sync applied and what in it failed (realization.ts). A host that applied the newest
// change to the tenant with nothing of the endpoint failing holds exactly what the newest state compiles to;
// any other host is `pending`, and its hop says what the newest state would decide there, not what it does
// now (which netmaster cannot know).
//
// A service VIP as destination is translated as the hosts do (DNAT to a provider, then the provider's
// address and target port are judged): each backend is traced, since the load balancer may pick any, and
// the verdict is allow only if every backend allows; `backend` narrows it to one.
//
// Each host is judged as its own datapath judges, as its agent last reported it (none reported: linux). An OVS host
// splits the chain (policy/split-chain.ts): the sender's `out` rules where the sender is, the receiver's `in`
// rules where the receiver is, on every packet of its bridge (no "not-filtered"). So on OVS a receiver's `in` rule
// drops at the receiver's host, where on Linux the sender's host drops it already: the same verdict once both
// hosts applied the change, other hops while one has not. An endpoint attached directly to a host interface is
// judged in its own namespace by the linux datapath's module on either datapath.

import { NotFoundError, ValidationError } from "../lib/errors.js";
import { canonicalIp } from "../lib/ip.js";
import { parseSelector, parseServicePort, type Rule, type ServiceLB } from "../model/index.js";
import { objectKey, objectPrefix, serviceStateKey } from "../contract/keys.js";
import type { EndpointState, ServiceState } from "../contract/records.js";
import { compilePolicy, splitChainTables, tracePacket, type CompiledPolicy, type Packet } from "../policy/index.js";
import { realization, type RealizationReport } from "./realization.js";
import { fwdModeOf, tenantEndpoints, tenantPolicyInput, type StateReader } from "./trace-policy.js";
import type { TraceQuery } from "./trace-query.js";

export interface TraceEnd {
  ip: string;
  endpoint: string | null;
  host: string | null;
  group: string | null;
  network: string | null;
}

export interface TraceRule {
  id: string;
  policy: string;
  priority: number;
  action: "allow" | "deny";
  text: string;
}

export interface TraceHop {
  host: string;
  direction: "egress" | "ingress";
  verdict: "allow" | "deny";
  /** What decided: the rule that dropped it, else this end's own matching rule, else the other's; null: `reason` did. */
  rule: TraceRule | null;
  /** The sender's winning `out` rule and the receiver's winning `in` rule at this host, if any matched. */
  outRule: TraceRule | null;
  inRule: TraceRule | null;
  /** The host has not applied the newest change to the tenant (or failed it): this is what it would decide. */
  pending: boolean;
  /**
   * "rule"; "default" (no rule matched); "cross-network" (bridge mode: networks do not meet); "not-filtered"
   * (the host's filter does not see this bridge's packets: nothing of its end has rules there).
   */
  reason: "rule" | "default" | "cross-network" | "not-filtered";
  /** With a service: the backend this hop leads to. */
  backend?: string;
  /** Why the host is pending, when it reported a failure of the tenant, network or endpoint. */
  errors?: string[];
  /** The host's datapath, as its agent last reported it (absent: not reported yet, or an older agent). */
  datapath?: "linux" | "ovs";
}

export interface TraceBackend {
  endpoint: string;
  ip: string;
  port: number | null;
  verdict: "allow" | "deny";
}

export interface TraceResult {
  tenant: string;
  proto: TraceQuery["proto"];
  from: TraceEnd;
  to: TraceEnd & { port: number | null };
  service: null | { name: string; vip: string; port: number | null; backends: TraceBackend[] };
  verdict: "allow" | "deny";
  hops: TraceHop[];
  /** The state revision the trace read, and the newest change to the tenant in it. */
  revision: number;
}

/** What the trace needs of netmaster besides its state: revisions and the hosts' last reports. */
export interface TraceFacts {
  state: StateReader;
  /** The newest revision of any record that makes up the tenant's policy, membership or services. */
  tenantRevision: number;
  currentRevision: number;
  reports: ReadonlyMap<string, RealizationReport>;
}

const PROTO_NUMBER = { tcp: 6, udp: 17 } as const;

function endOf(ep: EndpointState, ip: string): TraceEnd {
  return { ip, endpoint: ep.endpointID, host: ep.homingHost || null, group: ep.groupName || null, network: ep.networkName };
}

function outside(ip: string): TraceEnd {
  return { ip, endpoint: null, host: null, group: null, network: null };
}

/** The endpoints an end names: by id, by container name (with or without Docker's "/"), by container id, by address. */
function endpointsNamed(endpoints: EndpointState[], name: string): EndpointState[] {
  const byId = endpoints.filter((ep) => ep.endpointID === name);
  if (byId.length > 0) return byId;
  const bare = name.replace(/^\//, "");
  return endpoints.filter((ep) => ep.containerName.replace(/^\//, "") === bare || ep.containerID === name);
}

type Resolved = { kind: "end"; end: TraceEnd; family: 4 | 6 } | { kind: "service"; svc: ServiceLB; vip: string; family: 4 | 6 };

/** An end as a query names it; `family` chooses the address of a named endpoint (the other end's family, if an address). */
function resolve(state: StateReader, tenant: string, what: string, name: string, family: 4 | 6 | undefined, services: boolean): Resolved {
  const endpoints = tenantEndpoints(state, tenant);
  const ip = canonicalIp(name);
  if (ip !== null) {
    const fam = ip.includes(":") ? 6 : 4;
    const ep = endpoints.find((e) => canonicalIp(e.ipAddress) === ip || canonicalIp(e.ipv6Address) === ip);
    if (ep) return { kind: "end", end: endOf(ep, ip), family: fam };
    if (services) {
      for (const svc of state.list<ServiceLB>(objectPrefix("serviceLB") + tenant + ":").map(([, s]) => s)) {
        const st = state.get<ServiceState>(serviceStateKey(svc.key));
        if (st && (canonicalIp(st.vip) === ip || (st.vip6 && canonicalIp(st.vip6) === ip))) return { kind: "service", svc, vip: ip, family: fam };
      }
    }
    return { kind: "end", end: outside(ip), family: fam };
  }
  const named = endpointsNamed(endpoints, name);
  if (named.length === 0) throw new NotFoundError(`Cannot trace: ${what} ${JSON.stringify(name)} is no endpoint id, container name or address of tenant ${tenant}`);
  if (named.length > 1) {
    throw new ValidationError(`Cannot trace: ${what} ${JSON.stringify(name)} names ${named.length} endpoints (${named.map((e) => e.endpointID).join(", ")}): name one by its id`);
  }
  const ep = named[0]!;
  const want = family ?? (ep.ipAddress ? 4 : 6);
  const addr = want === 4 ? ep.ipAddress : ep.ipv6Address;
  if (!addr) throw new ValidationError(`Cannot trace: ${what} ${ep.endpointID} has no IPv${want} address${ep.ipAddress === "" && ep.ipv6Address === "" ? " (yet)" : ""}`);
  return { kind: "end", end: endOf(ep, canonicalIp(addr) ?? addr), family: want };
}

function ruleOf(state: StateReader, key: string | undefined): TraceRule | null {
  if (key === undefined) return null;
  const r = state.get<Rule>(objectKey("rule", key));
  const [, policy = "", id = key] = key.split(":");
  if (!r) return { id, policy, priority: 0, action: "allow", text: `rule ${key} (no longer in the state)` };
  return { id: r.ruleId, policy: r.policyName, priority: r.priority, action: r.action as "allow" | "deny", text: describeRule(r) };
}

/** "deny in from group client tcp/8080 (priority 10)". */
export function describeRule(r: Rule): string {
  const inbound = r.direction === "in";
  const group = inbound ? r.fromEndpointGroup : r.toEndpointGroup;
  const net = inbound ? r.fromNetwork : r.toNetwork;
  const ip = inbound ? r.fromIpAddress : r.toIpAddress;
  const peers = [group ? `group ${group}` : "", net ? `network ${net}` : "", ip ? `address ${ip}` : ""].filter(Boolean);
  const proto = r.protocol === "" ? "any protocol" : r.port ? `${r.protocol}/${r.port}` : r.protocol;
  return `${r.action} ${r.direction} ${inbound ? "from" : "to"} ${peers.length > 0 ? peers.join(" and ") : "anyone"}, ${proto} (priority ${r.priority}, policy ${r.policyName})`;
}

interface Leg {
  from: TraceEnd;
  to: TraceEnd;
  dport: number | null;
  dnat: boolean;
  backend?: string;
  /** With a service: the VIP's network. */
  vipNetwork?: string;
}

function packetOf(q: TraceQuery, family: 4 | 6, leg: Leg): Packet {
  const protocol = q.proto === "icmp" ? (family === 6 ? 58 : 1) : PROTO_NUMBER[q.proto];
  // Bridges are named after networks (trace-policy.ts); an outside address comes in by no tenant bridge.
  return {
    saddr: leg.from.ip,
    daddr: leg.to.ip,
    protocol,
    ...(leg.dport !== null ? { dport: leg.dport } : {}),
    ...(q.proto === "icmp" ? { icmpType: family === 6 ? 128 : 8 } : {}),
    ...(leg.from.network ? { iif: leg.from.network } : {}),
    ...(leg.to.network ? { oif: leg.to.network } : {}),
    dnat: leg.dnat,
  };
}

/**
 * Whether the host's filter sees the packet on its way between `from` and `to` (agent/pipeline/compile.ts
 * netfilteredNetworks): routed packets always; bridged ones only on a bridge that holds a local endpoint of a
 * group with rules or DSCP, or any bridge of a tenant with services (their replies are un-NATed there).
 */
function judgedAt(ctx: HopContext, host: string, leg: Leg): boolean {
  // An outside address comes and goes through the tenant's uplink: routed.
  if (leg.from.network === null || leg.to.network === null || leg.from.network !== leg.to.network) return true;
  if (ctx.hasServices) return true;
  return ctx.endpoints.some((ep) => ep.homingHost === host && ep.networkName === leg.from.network && ctx.policedGroups.has(ep.groupName));
}

interface HopContext {
  q: TraceQuery;
  facts: TraceFacts;
  compiled: CompiledPolicy;
  family: 4 | 6;
  endpoints: EndpointState[];
  /** Groups with rules or DSCP. */
  policedGroups: Set<string>;
  /** Networks with a bridge (the others are attached directly to a host interface). */
  bridged: Set<string>;
  hasServices: boolean;
}

/**
 * One host's judgment. A linux host's filter runs the whole enforce chain (the sender's `out` rules, then the
 * receiver's `in` rules) on every packet it sees, so a sender's host may drop for the receiver's `in` rule; an OVS
 * host judges only the rules of the end it holds.
 */
function judge(ctx: HopContext, host: string, end: TraceEnd, direction: "egress" | "ingress", leg: Leg): TraceHop {
  const r = realization([host], ctx.facts.reports, { tenant: ctx.q.tenant, network: end.network!, endpoint: end.endpoint! }, ctx.facts.tenantRevision);
  const datapath = ctx.facts.reports.get(host)?.datapath;
  const state = {
    pending: r.pendingHosts.length > 0,
    ...(r.errors ? { errors: r.errors.map((e) => e.message) } : {}),
    ...(leg.backend !== undefined ? { backend: leg.backend } : {}),
    ...(datapath === undefined ? {} : { datapath }),
  };
  // The OVS bridge judges every packet of the tenant, but only the chain's half whose end is here.
  const split = datapath === "ovs" && end.network !== null && ctx.bridged.has(end.network);
  if (!split && !judgedAt(ctx, host, leg)) return { host, direction, verdict: "allow", rule: null, outRule: null, inRule: null, reason: "not-filtered", ...state };
  // OVS balances a VIP in bridge mode only for clients on its network (datapath/ovs/service-flows.ts): the others'
  // packets to it are dropped on their host, where Linux translates them and lets them cross (policy/trace.ts).
  if (split && leg.vipNetwork !== undefined && leg.from.host === host && ctx.compiled.tables.fwdMode === "bridge" && leg.from.network !== leg.vipNetwork) {
    return { host, direction, verdict: "deny", rule: null, outRule: null, inRule: null, reason: "cross-network", ...state };
  }
  const tables = split ? splitChainTables(ctx.compiled.tables, { out: leg.from.host === host, in: leg.to.host === host }) : ctx.compiled;
  const t = tracePacket(tables, packetOf(ctx.q, ctx.family, leg));
  const outRule = ruleOf(ctx.facts.state, t.outRule);
  const inRule = ruleOf(ctx.facts.state, t.inRule);
  const verdict = t.verdict === "accept" ? "allow" : "deny";
  // What decided: the rule that dropped it, else this end's own rule, else the other end's, else the default.
  const rule = t.reason === "out-rule" ? outRule : t.reason === "in-rule" ? inRule : direction === "egress" ? (outRule ?? inRule) : (inRule ?? outRule);
  const reason = t.reason === "cross-network" ? "cross-network" : rule !== null ? "rule" : "default";
  return { host, direction, verdict, rule: t.reason === "cross-network" ? null : rule, outRule, inRule, reason, ...state };
}

/** The sender's host, then the receiver's (once when they are one host); a hop that drops ends the path. */
function hopsOf(ctx: HopContext, leg: Leg): TraceHop[] {
  const hops: TraceHop[] = [];
  if (leg.from.host !== null) hops.push(judge(ctx, leg.from.host, leg.from, "egress", leg));
  if (hops.some((h) => h.verdict === "deny")) return hops;
  if (leg.to.host !== null && leg.to.host !== leg.from.host) hops.push(judge(ctx, leg.to.host, leg.to, "ingress", leg));
  return hops;
}

/**
 * The service's providers as the hosts load them (agent/pipeline/compile.ts tenantServices): endpoints with an
 * address whose labels match every selector, on the service's network in bridge mode, on any in routing mode.
 */
function matchingProviders(svc: ServiceLB, endpoints: EndpointState[], mode: "bridge" | "routing"): EndpointState[] {
  const selectors = svc.selectors.map(parseSelector);
  return endpoints
    .filter((ep) => ep.ipAddress !== "" && (mode === "routing" || ep.networkName === svc.networkName) && selectors.every(({ key, value }) => ep.labels[key] === value))
    .sort((a, b) => (a.endpointID < b.endpointID ? -1 : 1));
}

function verdictOf(hops: TraceHop[]): "allow" | "deny" {
  return hops.every((h) => h.verdict === "allow") ? "allow" : "deny";
}

/** Pure. Throws NotFoundError (unknown tenant or end) and ValidationError (ends that cannot meet). */
export function traceFlow(q: TraceQuery, facts: TraceFacts): TraceResult {
  const { state } = facts;
  if (!state.get(objectKey("tenant", q.tenant))) throw new NotFoundError(`Cannot trace: tenant ${JSON.stringify(q.tenant)} not found`);
  const fromIp = canonicalIp(q.from);
  const toIp = canonicalIp(q.to);
  const hint = fromIp !== null ? (fromIp.includes(":") ? 6 : 4) : toIp !== null ? (toIp.includes(":") ? 6 : 4) : undefined;
  const src = resolve(state, q.tenant, "from", q.from, hint, false);
  if (src.kind !== "end") throw new ValidationError("Cannot trace: from must be an endpoint or an address");
  const dst = resolve(state, q.tenant, "to", q.to, src.family, true);
  if (dst.family !== src.family) throw new ValidationError(`Cannot trace: from ${src.end.ip} and to ${q.to} are of different address families`);
  const input = tenantPolicyInput(state, q.tenant);
  const policed = new Set([...input.rules.map((r) => r.groupId), ...input.groups.filter((g) => g.dscp > 0).map((g) => g.id)]);
  const networks = new Set(input.networks.map((n) => n.name));
  const ctx: HopContext = {
    q,
    facts,
    compiled: compilePolicy(input),
    family: src.family,
    endpoints: tenantEndpoints(state, q.tenant),
    policedGroups: new Set(input.groups.filter((g) => policed.has(g.id)).map((g) => g.name)),
    bridged: networks,
    hasServices: state.list<ServiceLB>(objectPrefix("serviceLB") + q.tenant + ":").some(([, svc]) => networks.has(svc.networkName) && state.get(serviceStateKey(svc.key)) !== undefined),
  };
  const base = { tenant: q.tenant, proto: q.proto, from: src.end, revision: facts.currentRevision };

  if (dst.kind === "end") {
    if (src.end.host === null && dst.end.host === null) throw new ValidationError("Cannot trace: neither end is an endpoint of the tenant");
    const hops = hopsOf(ctx, { from: src.end, to: dst.end, dport: q.port, dnat: false });
    if (q.backend !== null) throw new ValidationError("Cannot trace: backend is only for a service VIP as to");
    return { ...base, to: { ...dst.end, port: q.port }, service: null, verdict: verdictOf(hops), hops };
  }

  const { svc, vip } = dst;
  const ports = svc.ports.map(parseServicePort);
  const svcPort = q.proto === "icmp" ? undefined : ports.find((p) => p.protocol === q.proto && p.svcPort === q.port);
  if (q.proto !== "icmp" && svcPort === undefined) {
    throw new ValidationError(`Cannot trace: service ${svc.serviceName} has no ${q.proto} port ${q.port} (it has ${ports.map((p) => `${p.protocol}/${p.svcPort}`).join(", ") || "none"})`);
  }
  let providers = matchingProviders(svc, tenantEndpoints(state, q.tenant), fwdModeOf(state)).filter((ep) => (src.family === 4 ? ep.ipAddress : ep.ipv6Address) !== "");
  if (q.backend !== null) {
    const b = q.backend;
    const ip = canonicalIp(b);
    providers = ip !== null ? providers.filter((ep) => canonicalIp(ep.ipAddress) === ip || canonicalIp(ep.ipv6Address) === ip) : endpointsNamed(providers, b);
    if (providers.length === 0) throw new NotFoundError(`Cannot trace: backend ${JSON.stringify(b)} is no backend of service ${svc.serviceName}`);
  }
  const hops: TraceHop[] = [];
  const backends: TraceBackend[] = [];
  for (const ep of providers) {
    const ip = canonicalIp(src.family === 4 ? ep.ipAddress : ep.ipv6Address)!;
    const port = svcPort?.provPort ?? null;
    const legHops = hopsOf(ctx, { from: src.end, to: endOf(ep, ip), dport: port, dnat: true, backend: ep.endpointID, vipNetwork: svc.networkName });
    hops.push(...legHops);
    backends.push({ endpoint: ep.endpointID, ip, port, verdict: verdictOf(legHops) });
  }
  const to = { ip: vip, port: q.port, endpoint: null, host: null, group: null, network: svc.networkName };
  // No backend: the VIP answers nothing.
  const verdict = backends.length > 0 && backends.every((b) => b.verdict === "allow") ? "allow" : "deny";
  return { ...base, to, service: { name: svc.serviceName, vip, port: q.port, backends }, verdict, hops };
}
