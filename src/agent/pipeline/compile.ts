// From netmaster's state (the mirror) and this host's attachments to what the
// host's datapath, policy and DNS should be. Pure: the reconciler feeds it and
// hands the result to the datapath driver and the DNS supervisor.

import type { EndpointGroup, NetProfile, Network, Policy, Rule, ServiceLB } from "../../model/index.js";
import { parseBandwidth, parseSelector, parseServicePort } from "../../model/index.js";
import type { DesiredEndpoint, DesiredHost, DesiredNetwork, DesiredTenant, FwdMode } from "../../datapath/types.js";
import {
  bridgeName,
  endpointLinkName,
  hostEndpointLink,
  hostEndpointTenantLink,
  tenantNamespace,
  UPLINK_TENANT_LINK,
  uplinkHostLink,
  vxlanName,
} from "../../datapath/names.js";
import type { DesiredHostEndpoint, DesiredPortMapping, DesiredService, DesiredUplink } from "../../datapath/types.js";
import type { UnitFailure } from "./contain.js";
import { ENDPOINT_PREFIX, endpointKey, ROOT, groupStateKey, hostKey, networkStateKey, objectKey, objectPrefix, serviceStateKey, tenantStateKey } from "../../contract/keys.js";
import { HOST_ENDPOINT_PREFIX, type EndpointState, type GroupRecord, type NetworkTags, type ServiceState, type TenantState } from "../../contract/records.js";
import type { HostRecord } from "../../contract/records.js";
import type { Bgp } from "../../model/index.js";
import type { BgpConfig } from "../bgp/index.js";
import type { PolicyInput } from "../../policy/index.js";
import { policyInputOf } from "../../contract/policy-input.js";
import { formatIpv4, parseIpv4Subnet } from "../../lib/ipv4.js";
import type { Attachment } from "../attachments.js";
import { grantPorts } from "../ports.js";
import { leasesOnInterface } from "../../cni/ipam.js";

/** The agent's copy of its slice (mirror.ts): records checked as they arrived, and those set apart. */
export interface StateView {
  get<T>(key: string): T | undefined;
  list<T>(prefix: string): [string, T][];
  /** Keys whose record is not what the key says, and why. */
  malformedRecords(): ReadonlyMap<string, string>;
}

export interface HostContext {
  host: string;
  prefix: string;
  /** MTU for endpoints and bridges (the underlay's minus the VXLAN overhead in a cluster). */
  mtu: number;
  /** This host's underlay address; "" for a host on its own (no overlay). */
  vtepIP: string;
  vxlanPort: number;
  /** The agent's --uplink-if: where macvlan/ipvlan networks that name no uplinkIf of their own attach on this host. */
  uplinkIf?: string;
}

/**
 * The VXLAN network identifier of a network. VLAN networks ride the overlay too (the kernels here have no
 * 802.1Q devices): they take VNIs from a block above anything Contiv's VXLAN range can hand out.
 */
export function networkVni(net: Network, state: NetworkTags): number {
  return net.encap === "vxlan" ? state.extPktTag : 0xfff000 + state.pktTag;
}

export interface TenantDns {
  namespace: string;
  /** Gateway addresses in the tenant namespace: where containers send DNS queries. */
  addresses: string[];
  records: {
    services: { name: string; ipv4: string[]; ipv6: string[] }[];
    groups: { name: string; ipv4: string[]; ipv6: string[] }[];
    endpoints: { name: string; ipv4: string[]; ipv6: string[] }[];
  };
}

export interface CompiledHost {
  desired: DesiredHost;
  /** BGP for this host (a Bgp object named after it), announcing its containers' addresses; undefined: none. */
  bgp: BgpConfig | undefined;
  policies: Map<string, PolicyInput>;
  dns: TenantDns[];
  /** Attachments whose endpoint netmaster no longer has (deleted while we were away). */
  orphans: Attachment[];
  /** Units left out of `desired` because they could not be compiled (contain.ts keeps them as they run). */
  failures: UnitFailure[];
}


function values<T>(view: StateView, prefix: string): T[] {
  return view.list<T>(prefix).map(([, v]) => v);
}

/** The container id of a host's own endpoint on an infra network. */
export function hostEndpointContainer(host: string): string {
  return `${HOST_ENDPOINT_PREFIX}${host}`;
}

/** Where tenant uplinks take their addresses when the global object names none (the global pvtSubnet). */
export const DEFAULT_UPLINK_RANGE = "169.254.0.0/16";

/**
 * Tenant uplink addresses: the index-th /30 of `range`, the global pvtSubnet (.1 host side, .2 tenant side).
 * `routes`: IPv4 addresses of the tenant's local containers on routed networks, routed to the tenant from the host.
 */
export function uplinkFor(prefix: string, tenant: string, index: number, routes: string[] = [], range = DEFAULT_UPLINK_RANGE): DesiredUplink {
  const base = parseIpv4Subnet(range).network + index * 4;
  const addr = (n: number) => `${formatIpv4(base + n)}/30`;
  return { hostLink: uplinkHostLink(prefix, tenant), tenantLink: UPLINK_TENANT_LINK, hostAddr: addr(1), tenantAddr: addr(2), routes };
}

/**
 * Routed mode (Contiv's routing + VLAN with BGP): on a host that has a Bgp object, `vlan` networks are routed
 * to the physical network instead of riding the VXLAN overlay; `vxlan` networks stay on the overlay, and so
 * do infra networks (the host's own endpoint on them needs the subnet on the bridge).
 */
export function isRouted(net: Network, hasBgp: boolean): boolean {
  return hasBgp && net.encap === "vlan" && net.nwType !== "infra";
}

function prefixLen(cidr: string): string {
  return cidr.split("/")[1] ?? "32";
}

/** Contiv networks may use the range form "a.b.c.d-e.f.g.h/len": the bridge gets the whole CIDR. */
function networkCidr(subnet: string): string {
  const parsed = parseIpv4Subnet(subnet);
  return `${formatIpv4(parsed.network)}/${parsed.prefixLen}`;
}

function fwdMode(view: StateView): FwdMode {
  return view.get<{ fwdMode: string }>(objectKey("global", "global"))?.fwdMode === "routing" ? "routing" : "bridge";
}

/** Everything a tenant's compile needs that is the same for every tenant of the host. */
interface HostFacts {
  view: StateView;
  ctx: HostContext;
  mode: FwdMode;
  /** The /16 tenant uplinks take their addresses from (the global pvtSubnet). */
  uplinkRange: string;
  hasBgp: boolean;
  arpMode: "proxy" | "flood";
  vtepOf: (host: string) => string;
  /** Every endpoint netmaster has, and those it made for us that the stream has not shown yet. */
  endpoints: Map<string, EndpointState>;
  /** This host's own endpoints (on infra networks). */
  hostEndpoints: EndpointState[];
  /** Whether an attachment is its container's first interface: only that one gets default routes and ports. */
  primary: (a: Attachment) => boolean;
  ports: Map<string, DesiredPortMapping[]>;
}

interface LocalEndpoint {
  attachment: Attachment;
  ep: EndpointState;
}

interface CompiledTenant {
  desired: DesiredTenant;
  policy: PolicyInput;
  dns: TenantDns;
  failures: UnitFailure[];
}

/** Every endpoint netmaster has (pending ones too), by id. */
function knownEndpoints(view: StateView, pending: Map<string, EndpointState>): Map<string, EndpointState> {
  const endpoints = new Map<string, EndpointState>(pending);
  for (const ep of values<EndpointState>(view, ENDPOINT_PREFIX)) endpoints.set(ep.endpointID, ep);
  return endpoints;
}

/**
 * The failures of records set apart as malformed that belong to units present on this host: a network's
 * records fail the network, any other record of a tenant fails the tenant. A local endpoint's own record
 * fails that endpoint (localEndpoints).
 */
function malformedFailures(malformed: ReadonlyMap<string, string>, present: ReadonlySet<string>): UnitFailure[] {
  const failures: UnitFailure[] = [];
  for (const [key, problem] of malformed) {
    const [area, kind, rest = ""] = key.slice(ROOT.length).split("/");
    const tenant = rest.split(":")[0] ?? "";
    if ((area !== "obj" && area !== "state") || !present.has(tenant) || kind === "eps") continue;
    const message = `netmaster's record ${key} cannot be read: ${problem}`;
    const network = (area === "obj" && kind === "network") || (area === "state" && kind === "nets") ? rest.split(":")[1] : undefined;
    failures.push({ owner: network === undefined ? { tenant } : { tenant, network }, message });
  }
  return failures;
}

/**
 * The host's attachments by tenant, those whose endpoint netmaster no longer has, and the failures of those
 * whose record is not an endpoint record (kept as they run, never forgotten for it).
 */
function localEndpoints(
  attachments: Attachment[],
  endpoints: Map<string, EndpointState>,
  malformed: ReadonlyMap<string, string>,
): { byTenant: Map<string, LocalEndpoint[]>; orphans: Attachment[]; failures: UnitFailure[] } {
  const orphans: Attachment[] = [];
  const failures: UnitFailure[] = [];
  const byTenant = new Map<string, LocalEndpoint[]>();
  for (const a of attachments) {
    const ep = endpoints.get(a.endpointId);
    const problem = ep === undefined ? malformed.get(endpointKey(a.endpointId)) : undefined;
    if (problem !== undefined) {
      failures.push({ owner: { tenant: a.tenant, network: a.network, endpoint: a.endpointId }, message: `netmaster's record of it cannot be read: ${problem}` });
      continue;
    }
    if (!ep) {
      orphans.push(a);
      continue;
    }
    const list = byTenant.get(ep.tenantName) ?? [];
    list.push({ attachment: a, ep });
    byTenant.set(ep.tenantName, list);
  }
  return { byTenant, orphans, failures };
}

/** A container's first interface (by name) carries its default routes and published ports. */
function firstInterfaces(attachments: Attachment[]): (a: Attachment) => boolean {
  const first = new Map<string, string>();
  for (const a of attachments) {
    const seen = first.get(a.containerId);
    if (seen === undefined || a.ifname < seen) first.set(a.containerId, a.ifname);
  }
  return (a) => first.get(a.containerId) === a.ifname;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * The host's desired state. A tenant, network or endpoint that cannot be compiled (a record netmaster would
 * never write, planted in its store) is left out and named in `failures`; the rest compiles as usual.
 */
export function compileHost(
  view: StateView,
  attachments: Attachment[],
  pending: Map<string, EndpointState>,
  ctx: HostContext,
): CompiledHost {
  const endpoints = knownEndpoints(view, pending);
  const { byTenant, orphans, failures } = localEndpoints(attachments, endpoints, view.malformedRecords());
  const primary = firstInterfaces(attachments);
  // Published ports go to the interface with the default route: the replies leave by it; and only in
  // tenants that have an uplink (an index at netmaster), which is their way in.
  const hasUplink = (tenant: string) => Boolean(view.get<TenantState>(tenantStateKey(tenant))?.index);
  const ports = grantPorts(
    attachments
      // An endpoint waiting for its DHCP lease has no address to forward to yet.
      .filter((a) => primary(a) && endpoints.has(a.endpointId) && endpoints.get(a.endpointId)!.ipAddress !== "" && hasUplink(endpoints.get(a.endpointId)!.tenantName))
      .map((a) => ({ containerId: a.containerId, endpointId: a.endpointId, tenant: endpoints.get(a.endpointId)!.tenantName, portMappings: a.portMappings })),
    ctx.vxlanPort,
  );
  const facts: HostFacts = {
    view,
    ctx,
    mode: fwdMode(view),
    uplinkRange: view.get<{ pvtSubnet?: string }>(objectKey("global", "global"))?.pvtSubnet || DEFAULT_UPLINK_RANGE,
    hasBgp: view.get<Bgp>(objectKey("Bgp", ctx.host)) !== undefined,
    arpMode: view.get<{ arpMode: string }>(objectKey("global", "global"))?.arpMode === "flood" ? "flood" : "proxy",
    vtepOf: (host) => view.get<HostRecord>(hostKey(host))?.vtepIP ?? "",
    endpoints,
    // Tenants with an infra network are on every host: the host's own endpoint lives on it.
    hostEndpoints: [...endpoints.values()].filter((ep) => ep.homingHost === ctx.host && ep.containerID === hostEndpointContainer(ctx.host)),
    primary,
    ports,
  };
  for (const ep of facts.hostEndpoints) if (!byTenant.has(ep.tenantName)) byTenant.set(ep.tenantName, []);
  failures.push(...malformedFailures(view.malformedRecords(), new Set(byTenant.keys())));

  const tenants: DesiredTenant[] = [];
  const policies = new Map<string, PolicyInput>();
  const dns: TenantDns[] = [];
  for (const [tenant, locals] of [...byTenant].sort(([a], [b]) => (a < b ? -1 : 1))) {
    try {
      const compiled = compileTenant(facts, tenant, locals);
      tenants.push(compiled.desired);
      policies.set(tenant, compiled.policy);
      dns.push(compiled.dns);
      failures.push(...compiled.failures);
    } catch (err) {
      failures.push({ owner: { tenant }, message: `Cannot compile tenant ${tenant}: ${messageOf(err)}` });
    }
  }

  const natOutbound = tenants.some((t) => t.uplink !== undefined);
  const sdnController = view.get<{ sdnController?: string }>(objectKey("global", "global"))?.sdnController ?? "";
  const host = { natOutbound, uplinkRange: facts.uplinkRange, ...(ctx.uplinkIf ? { uplinkIf: ctx.uplinkIf } : {}), ...(sdnController === "" ? {} : { sdnController }) };
  return { desired: { prefix: ctx.prefix, tenants, host }, bgp: bgpFor(view, ctx.host, tenants), policies, dns, orphans, failures };
}

/** A network of a tenant present on this host, before it is known which bridges policy must see. */
function bridgedNetwork(facts: HostFacts, n: Network, tenantEndpoints: EndpointState[], peers: string[]): BridgedNetwork {
  const { view, ctx, vtepOf } = facts;
  const desired: BridgedNetwork = {
    name: n.networkName,
    bridge: bridgeName(n.networkName),
    subnet: networkCidr(n.subnet),
    gateway: n.gateway,
    ipv6Subnet: n.ipv6Subnet,
    ipv6Gateway: n.ipv6Gateway,
    mtu: ctx.mtu,
    routed: isRouted(n, facts.hasBgp),
  };
  // Routed IPv6: the bridge answers neighbour solicitations for the network's containers elsewhere.
  if (desired.routed && n.ipv6Gateway !== "") {
    desired.remoteIpv6 = tenantEndpoints
      .filter((ep) => ep.networkName === n.networkName && ep.homingHost !== ctx.host && ep.ipv6Address !== "")
      .map((ep) => ep.ipv6Address)
      .sort();
  }
  const state = view.get<NetworkTags>(networkStateKey(n.key));
  if (state && n.encap === "vlan" && !desired.routed) desired.vlan = state.pktTag;
  if (ctx.vtepIP && state && !desired.routed) {
    const vni = networkVni(n, state);
    desired.vxlan = {
      vni,
      device: vxlanName(vni),
      localVtep: ctx.vtepIP,
      port: ctx.vxlanPort,
      peers,
      arpMode: facts.arpMode,
      remotes: tenantEndpoints
        .filter((ep) => ep.networkName === n.networkName && ep.homingHost !== ctx.host && vtepOf(ep.homingHost) !== "")
        .map((ep) => ({ id: ep.endpointID, mac: ep.macAddress, ipv4: ep.ipAddress, ipv6: ep.ipv6Address, vtep: vtepOf(ep.homingHost) }))
        .sort((a, b) => (a.mac < b.mac ? -1 : 1)),
    };
  }
  return desired;
}

/** Whether an endpoint's IPv4 address is a DHCP lease held on its interface: ipam dhcp, or CNI dhcp (DesiredEndpoint.dhcp). */
function leasedOnInterface(ipamSource: string | undefined): boolean {
  return ipamSource === "dhcp" || (ipamSource?.startsWith("cni:") === true && leasesOnInterface(ipamSource.slice("cni:".length)));
}

/** One of this host's containers on `net`, as the datapath must plumb it. */
function desiredEndpoint(facts: HostFacts, { attachment, ep }: LocalEndpoint, net: Network, p: NetProfile | undefined): DesiredEndpoint {
  const bps = p ? (parseBandwidth(p.bandwidth) ?? 0) : 0;
  const primary = facts.primary(attachment);
  return {
    id: ep.endpointID,
    network: ep.networkName,
    hostLink: endpointLinkName(ep.endpointID),
    netns: attachment.netns,
    ifname: attachment.ifname,
    containerSide: attachment.containerSide,
    mac: ep.macAddress,
    // "" while the endpoint waits for its DHCP lease (ipam dhcp): the interface is on the bridge without IPv4
    // (the lease client's requests go out on it), and without the IPv4 default route, which needs the address.
    ipv4: ep.ipAddress === "" ? "" : `${ep.ipAddress}/${prefixLen(net.subnet)}`,
    ...(leasedOnInterface(ep.ipamSource) ? { dhcp: true } : {}),
    ipv6: ep.ipv6Address ? `${ep.ipv6Address}/${prefixLen(net.ipv6Subnet)}` : "",
    // One default route per container: on its first interface (a second one would clash with it).
    gateway: primary && ep.ipAddress !== "" ? net.gateway : "",
    ipv6Gateway: primary ? net.ipv6Gateway : "",
    mtu: facts.ctx.mtu,
    qos: { egressBps: bps, ingressBps: bps, burstBytes: p ? p.burst * 1024 : 0 },
    portMappings: facts.ports.get(ep.endpointID) ?? [],
  };
}

/** Whether an endpoint's labels include every `key=value` selector. */
export function matchesSelectors(labels: Record<string, string>, selectors: string[]): boolean {
  return selectors.every((s) => {
    const { key, value } = parseSelector(s);
    return labels[key] === value;
  });
}

/**
 * The tenant's service load balancers on this host: their VIPs on the service's network, their ports, and
 * their providers: the tenant's endpoints, on any host, whose labels match every selector (in bridge mode only
 * those on the service's network: the tenant's networks are separate segments there). Services on a network
 * not built here are left out.
 */
function tenantServices(view: StateView, tenant: string, mode: FwdMode, nets: Map<string, Network>, endpoints: EndpointState[]): DesiredService[] {
  const out: DesiredService[] = [];
  for (const s of values<ServiceLB>(view, objectPrefix("serviceLB") + tenant + ":")) {
    const state = view.get<ServiceState>(serviceStateKey(s.key));
    if (state === undefined || !nets.has(s.networkName)) continue;
    const providers = endpoints
      .filter((ep) => ep.ipAddress !== "" && (mode === "routing" ? nets.has(ep.networkName) : ep.networkName === s.networkName) && matchesSelectors(ep.labels, s.selectors))
      .map((ep) => ({ endpoint: ep.endpointID, ipv4: ep.ipAddress, ipv6: ep.ipv6Address }))
      .sort((a, b) => (a.endpoint < b.endpoint ? -1 : 1));
    const ports = s.ports.map(parseServicePort).map((p) => ({ protocol: p.protocol, port: p.svcPort, targetPort: p.provPort }));
    out.push({ name: s.serviceName, network: s.networkName, vip: state.vip, vip6: state.vip6 ?? "", ports, providers });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : 1));
}

/** The names the tenant's DNS answers: its services, groups and containers. */
function tenantDns(view: StateView, tenant: string, namespace: string, networks: DesiredNetwork[], groups: EndpointGroup[], tenantEndpoints: EndpointState[]): TenantDns {
  const services = values<ServiceLB>(view, objectPrefix("serviceLB") + tenant + ":");
  return {
    namespace,
    addresses: networks.flatMap((n) => [n.gateway, n.ipv6Gateway]).filter((a) => a !== ""),
    records: {
      services: services
        .map((s) => {
          const state = view.get<ServiceState>(serviceStateKey(s.key));
          return { name: s.serviceName, ipv4: [state?.vip ?? ""].filter(Boolean), ipv6: [state?.vip6 ?? ""].filter(Boolean) };
        })
        .filter((s) => s.ipv4.length > 0),
      groups: groups.map((g) => {
        const members = tenantEndpoints.filter((ep) => ep.groupName === g.groupName);
        return { name: g.groupName, ipv4: members.map((ep) => ep.ipAddress).filter(Boolean), ipv6: members.map((ep) => ep.ipv6Address).filter(Boolean) };
      }),
      // A container answers to its name and to its aliases (podman's network aliases).
      endpoints: tenantEndpoints.flatMap((ep) =>
        [ep.containerName.replace(/^\//, ""), ...(ep.aliases ?? [])]
          .filter((name) => name !== "")
          .map((name) => ({ name, ipv4: ep.ipAddress ? [ep.ipAddress] : [], ipv6: ep.ipv6Address ? [ep.ipv6Address] : [] })),
      ),
    },
  };
}

/**
 * One tenant present on this host. A network or endpoint that cannot be compiled is left out and named in
 * `failures`; anything else that throws fails the tenant (the caller contains it).
 */
function compileTenant(facts: HostFacts, tenant: string, locals: LocalEndpoint[]): CompiledTenant {
  const { view, ctx } = facts;
  const failures: UnitFailure[] = [];
  const namespace = tenantNamespace(ctx.prefix, tenant);
  const netPrefix = objectPrefix("network") + tenant + ":";
  const nets = view.list<Network>(netPrefix).map(([key, n]) => ({ name: key.slice(netPrefix.length), n }));
  const tenantEndpoints = [...facts.endpoints.values()].filter((ep) => ep.tenantName === tenant);
  // Head-end replication goes to every other host where the tenant has endpoints: they have all its networks.
  const peers = [...new Set(tenantEndpoints.map((ep) => ep.homingHost))]
    .filter((h) => h !== ctx.host)
    .map(facts.vtepOf)
    .filter((v) => v !== "" && v !== ctx.vtepIP)
    .sort();
  const bridged: BridgedNetwork[] = [];
  const netByName = new Map<string, Network>();
  for (const { name, n } of nets) {
    try {
      bridged.push(bridgedNetwork(facts, n, tenantEndpoints, peers));
      netByName.set(name, n);
    } catch (err) {
      failures.push({ owner: { tenant, network: name }, message: messageOf(err) });
    }
  }
  const groups = values<EndpointGroup>(view, objectPrefix("endpointGroup") + tenant + ":");
  const groupByName = new Map(groups.map((g) => [g.groupName, g]));
  const profile = (g: EndpointGroup | undefined): NetProfile | undefined =>
    g?.netProfile ? view.get<NetProfile>(objectKey("netprofile", `${tenant}:${g.netProfile}`)) : undefined;

  const desiredEndpoints: DesiredEndpoint[] = [];
  for (const local of locals) {
    const net = netByName.get(local.ep.networkName);
    if (!net) continue; // the network went away (netmaster refuses that while endpoints exist) or failed: its failure says why
    try {
      const endpoint = desiredEndpoint(facts, local, net, profile(groupByName.get(local.ep.groupName)));
      desiredEndpoints.push(isDirect(net) ? directEndpoint(facts, local, net, endpoint) : endpoint);
    } catch (err) {
      failures.push({ owner: { tenant, network: local.ep.networkName, endpoint: local.ep.endpointID }, message: messageOf(err) });
    }
  }

  // A direct network has no bridge in the tenant namespace (its containers sit on the host's segment): the
  // tenant's rules may still name it as a peer.
  const policy = policyInputOf(
    view,
    tenant,
    facts.mode,
    bridged.map((n) => ({ name: n.name, bridge: isDirect(netByName.get(n.name)) ? undefined : n.bridge, subnet: n.subnet, ipv6Subnet: n.ipv6Subnet })),
    groups,
    tenantEndpoints,
    (g) => profile(g)?.DSCP ?? 0,
  );
  const bridgedOnly = bridged.filter((n) => !isDirect(netByName.get(n.name)));
  const services = tenantServices(view, tenant, facts.mode, netByName, tenantEndpoints);
  // Replies of a service's connections are un-NATed by conntrack wherever they cross a bridge of the client.
  const filtered = services.length > 0 ? new Set(bridgedOnly.map((n) => n.name)) : netfilteredNetworks(policy, locals.map(({ ep }) => ep));
  // Docker's embedded resolver asks outside resolvers for the names it does not know: the tenant's DNS answers.
  const networks: DesiredNetwork[] = bridgedOnly.map((n) => ({ ...n, netfilter: filtered.has(n.name), ...(n.gateway !== "" ? { interceptDns: true } : {}) }));
  const tenantIndex = view.get<TenantState>(tenantStateKey(tenant))?.index;
  const ownHostEndpoints: DesiredHostEndpoint[] = facts.hostEndpoints
    .filter((ep) => ep.tenantName === tenant && netByName.get(ep.networkName)?.nwType === "infra")
    .map((ep) => ({
      network: ep.networkName,
      hostLink: hostEndpointLink(ctx.prefix, tenant, ep.networkName),
      tenantLink: hostEndpointTenantLink(ep.networkName),
      address: `${ep.ipAddress}/${prefixLen(netByName.get(ep.networkName)!.subnet)}`,
      mac: ep.macAddress,
      mtu: ctx.mtu,
    }));
  const desired: DesiredTenant = {
    name: tenant,
    namespace,
    fwdMode: facts.mode,
    networks,
    endpoints: desiredEndpoints,
    policy,
    hostEndpoints: ownHostEndpoints,
    ...(services.length > 0 ? { services } : {}),
    ...(tenantIndex ? { uplink: uplinkFor(ctx.prefix, tenant, tenantIndex, routedAddresses(networks, desiredEndpoints), facts.uplinkRange) } : {}),
  };
  return { desired, policy, dns: tenantDns(view, tenant, namespace, networks, groups, tenantEndpoints), failures };
}

function isDirect(net: Network | undefined): boolean {
  return net?.attachMode !== undefined && net.attachMode !== "bridge";
}

/**
 * An endpoint of a network with a direct attach mode (README "NIC attach modes"): on the host interface the
 * network names (`uplinkIf`), else the agent's `--uplink-if` (a network's own choice wins: it is set on purpose
 * for that network; the flag is the host's default), or the network's `device` moved in. Its MTU is the host
 * interface's. What these modes cannot do is refused rather than dropped: published host ports.
 */
function directEndpoint(facts: HostFacts, { attachment }: LocalEndpoint, net: Network, endpoint: DesiredEndpoint): DesiredEndpoint {
  const mode = net.attachMode as "macvlan" | "ipvlan" | "host-device";
  if (attachment.portMappings.length > 0) throw new Error(`attachMode ${mode} cannot publish host ports: there is no uplink of the tenant in its path`);
  const hostIf = mode === "host-device" ? net.device : (net.uplinkIf ?? facts.ctx.uplinkIf);
  if (hostIf === undefined || hostIf === "") {
    throw new Error(
      mode === "host-device"
        ? "attachMode host-device needs the network's device (netctl net create --device)"
        : `attachMode ${mode} needs a host interface: the network's uplinkIf (netctl net create --uplink-if) or the agent's --uplink-if`,
    );
  }
  return { ...endpoint, mtu: 0, portMappings: [], direct: { mode, hostIf } };
}

/** A network as the tenant's policy input needs it: before it is known which bridges policy must see. */
type BridgedNetwork = Omit<DesiredNetwork, "netfilter">;

/**
 * Networks whose bridge must pass bridged frames through the tenant's inet hooks: those with a local
 * endpoint in a group that has rules or sets DSCP. A packet is judged by the sender's `out` rules and the
 * receiver's `in` rules, and each of those lives on the host of its endpoint, which sees the packet on that
 * endpoint's bridge; so a bridge with no such endpoint has nothing to judge, and its traffic skips
 * br_netfilter and conntrack (the costliest part of the path for small packets). Routed packets pass the
 * hooks whatever this says.
 */
export function netfilteredNetworks(input: PolicyInput, locals: EndpointState[]): Set<string> {
  const policedIds = new Set([...input.rules.map((r) => r.groupId), ...input.groups.filter((g) => g.dscp > 0).map((g) => g.id)]);
  const policed = new Set(input.groups.filter((g) => policedIds.has(g.id)).map((g) => g.name));
  return new Set(locals.filter((ep) => policed.has(ep.groupName)).map((ep) => ep.networkName));
}

/**
 * IPv4 and IPv6 addresses (no prefix) of the local containers on the tenant's routed networks, sorted; IPv6
 * only on networks with an IPv6 gateway (the bridge routes IPv6 only there).
 */
function routedAddresses(networks: BridgedNetwork[], endpoints: DesiredEndpoint[]): string[] {
  const routed = new Map(networks.filter((n) => n.routed).map((n) => [n.name, n]));
  const addresses = endpoints.flatMap((e) => {
    const net = routed.get(e.network);
    if (net === undefined) return [];
    return [e.ipv4, ...(e.ipv6 !== "" && net.ipv6Gateway !== "" ? [e.ipv6] : [])].map((cidr) => cidr.split("/")[0]!);
  });
  return [...new Set(addresses)].sort();
}

/**
 * Contiv's routed mode has one routing domain: the /32 (and /128) of every local container on a routed
 * network is announced (each tenant's uplink carries it to the tenant; a tenant without an uplink has no
 * way in). Containers on the overlay are not: nothing on this host routes to them from outside.
 */
function bgpFor(view: StateView, host: string, tenants: DesiredTenant[]): BgpConfig | undefined {
  const b = view.get<Bgp>(objectKey("Bgp", host));
  if (!b) return undefined;
  return { routerIp: b.routerip, as: b.as, neighbor: b.neighbor, neighborAs: b["neighbor-as"], announce: announced(tenants) };
}

/** Exactly what the tenants' uplinks route from the host to the containers, as host prefixes. */
export function announced(tenants: DesiredTenant[]): string[] {
  const announce = tenants.flatMap((t) => (t.uplink?.routes ?? []).map((ip) => `${ip}/${ip.includes(":") ? 128 : 32}`));
  return [...new Set(announce)].sort();
}

