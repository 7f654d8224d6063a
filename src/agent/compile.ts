// From netmaster's state (the mirror) and this host's attachments to what the
// host's datapath, policy and DNS should be. Pure: the reconciler feeds it and
// hands the result to the datapath driver and the DNS supervisor.

import type { EndpointGroup, NetProfile, Network, Policy, Rule, ServiceLB } from "../model/index.js";
import { parseBandwidth } from "../model/index.js";
import type { DesiredEndpoint, DesiredHost, DesiredNetwork, DesiredTenant, FwdMode } from "../datapath/types.js";
import {
  bridgeName,
  endpointLinkName,
  hostEndpointLink,
  hostEndpointTenantLink,
  tenantNamespace,
  UPLINK_TENANT_LINK,
  uplinkHostLink,
  vxlanName,
} from "../datapath/names.js";
import type { DesiredHostEndpoint, DesiredUplink } from "../datapath/types.js";
import { ENDPOINT_PREFIX, groupStateKey, hostKey, networkStateKey, objectKey, objectPrefix, serviceStateKey, tenantStateKey } from "../master/keys.js";
import { HOST_ENDPOINT_PREFIX, type EndpointState, type GroupState, type NetworkState, type ServiceState, type TenantState } from "../master/records.js";
import type { HostRecord } from "../master/hosts.js";
import type { Bgp } from "../model/index.js";
import type { BgpConfig } from "./bgp/index.js";
import type { PolicyInput } from "../policy/index.js";
import { formatIpv4, parseIpv4Subnet } from "../lib/ipv4.js";
import type { Attachment } from "./attachments.js";
import { grantPorts } from "./ports.js";

export interface StateView {
  get<T>(key: string): T | undefined;
  list<T>(prefix: string): [string, T][];
}

export interface HostContext {
  host: string;
  prefix: string;
  /** MTU for endpoints and bridges (the underlay's minus the VXLAN overhead in a cluster). */
  mtu: number;
  /** This host's underlay address; "" for a host on its own (no overlay). */
  vtepIP: string;
  vxlanPort: number;
}

/**
 * The VXLAN network identifier of a network. VLAN networks ride the overlay too (the kernels here have no
 * 802.1Q devices): they take VNIs from a block above anything Contiv's VXLAN range can hand out.
 */
export function networkVni(net: Network, state: NetworkState): number {
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
}

const PROTOCOLS: Record<string, number> = { tcp: 6, udp: 17, icmp: 1 };

function values<T>(view: StateView, prefix: string): T[] {
  return view.list<T>(prefix).map(([, v]) => v);
}

/** The container id of a host's own endpoint on an infra network. */
export function hostEndpointContainer(host: string): string {
  return `${HOST_ENDPOINT_PREFIX}${host}`;
}

/**
 * Tenant uplink addresses: the index-th /30 of 169.254.0.0/16 (.1 host side, .2 tenant side). `routes`: IPv4
 * addresses of the tenant's local containers on routed networks, routed to the tenant from the host.
 */
export function uplinkFor(prefix: string, tenant: string, index: number, routes: string[] = []): DesiredUplink {
  const base = index * 4;
  const addr = (n: number) => `169.254.${(base + n) >> 8}.${(base + n) & 255}/30`;
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

export function compileHost(
  view: StateView,
  attachments: Attachment[],
  pending: Map<string, EndpointState>,
  ctx: HostContext,
  nftScriptFor: (namespace: string, input: PolicyInput) => string,
): CompiledHost {
  const endpoints = new Map<string, EndpointState>(pending);
  for (const ep of values<EndpointState>(view, ENDPOINT_PREFIX)) endpoints.set(ep.endpointID, ep);

  const orphans: Attachment[] = [];
  const localByTenant = new Map<string, { attachment: Attachment; ep: EndpointState }[]>();
  for (const a of attachments) {
    const ep = endpoints.get(a.endpointId);
    if (!ep) {
      orphans.push(a);
      continue;
    }
    const list = localByTenant.get(ep.tenantName) ?? [];
    list.push({ attachment: a, ep });
    localByTenant.set(ep.tenantName, list);
  }

  const firstIfname = new Map<string, string>();
  for (const a of attachments) {
    const seen = firstIfname.get(a.containerId);
    if (seen === undefined || a.ifname < seen) firstIfname.set(a.containerId, a.ifname);
  }
  const primary = (a: Attachment) => firstIfname.get(a.containerId) === a.ifname;
  // Published ports go to the interface with the default route: the replies leave by it; and only in
  // tenants that have an uplink (an index at netmaster), which is their way in.
  const hasUplink = (tenant: string) => Boolean(view.get<TenantState>(tenantStateKey(tenant))?.index);
  const ports = grantPorts(
    attachments
      .filter((a) => primary(a) && endpoints.has(a.endpointId) && hasUplink(endpoints.get(a.endpointId)!.tenantName))
      .map((a) => ({ containerId: a.containerId, endpointId: a.endpointId, tenant: endpoints.get(a.endpointId)!.tenantName, portMappings: a.portMappings })),
    ctx.vxlanPort,
  );

  const mode = fwdMode(view);
  const hasBgp = view.get<Bgp>(objectKey("Bgp", ctx.host)) !== undefined;
  const arpMode = view.get<{ arpMode: string }>(objectKey("global", "global"))?.arpMode === "flood" ? "flood" : "proxy";
  const vtepOf = (host: string): string => view.get<HostRecord>(hostKey(host))?.vtepIP ?? "";
  const tenants: DesiredTenant[] = [];
  const policies = new Map<string, PolicyInput>();
  const dns: TenantDns[] = [];

  // Tenants with an infra network are on every host: the host's own endpoint lives on it.
  const hostEndpoints = [...endpoints.values()].filter((ep) => ep.homingHost === ctx.host && ep.containerID === hostEndpointContainer(ctx.host));
  for (const ep of hostEndpoints) if (!localByTenant.has(ep.tenantName)) localByTenant.set(ep.tenantName, []);

  for (const [tenant, locals] of [...localByTenant].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const namespace = tenantNamespace(ctx.prefix, tenant);
    const nets = values<Network>(view, objectPrefix("network") + tenant + ":");
    const tenantEndpoints = [...endpoints.values()].filter((ep) => ep.tenantName === tenant);
    // Head-end replication goes to every other host where the tenant has endpoints: they have all its networks.
    const peers = [...new Set(tenantEndpoints.map((ep) => ep.homingHost))]
      .filter((h) => h !== ctx.host)
      .map(vtepOf)
      .filter((v) => v !== "" && v !== ctx.vtepIP)
      .sort();
    const bridged: BridgedNetwork[] = nets.map((n) => {
      const desired: BridgedNetwork = {
        name: n.networkName,
        bridge: bridgeName(n.networkName),
        subnet: networkCidr(n.subnet),
        gateway: n.gateway,
        ipv6Subnet: n.ipv6Subnet,
        ipv6Gateway: n.ipv6Gateway,
        mtu: ctx.mtu,
        routed: isRouted(n, hasBgp),
      };
      // Routed IPv6: the bridge answers neighbour solicitations for the network's containers elsewhere.
      if (desired.routed && n.ipv6Gateway !== "") {
        desired.remoteIpv6 = tenantEndpoints
          .filter((ep) => ep.networkName === n.networkName && ep.homingHost !== ctx.host && ep.ipv6Address !== "")
          .map((ep) => ep.ipv6Address)
          .sort();
      }
      const state = view.get<NetworkState>(networkStateKey(n.key));
      if (ctx.vtepIP && state && !desired.routed) {
        const vni = networkVni(n, state);
        desired.vxlan = {
          vni,
          device: vxlanName(vni),
          localVtep: ctx.vtepIP,
          port: ctx.vxlanPort,
          peers,
          arpMode,
          remotes: tenantEndpoints
            .filter((ep) => ep.networkName === n.networkName && ep.homingHost !== ctx.host && vtepOf(ep.homingHost) !== "")
            .map((ep) => ({ mac: ep.macAddress, ipv4: ep.ipAddress, ipv6: ep.ipv6Address, vtep: vtepOf(ep.homingHost) }))
            .sort((a, b) => (a.mac < b.mac ? -1 : 1)),
        };
      }
      return desired;
    });
    const netByName = new Map(nets.map((n) => [n.networkName, n]));
    const groups = values<EndpointGroup>(view, objectPrefix("endpointGroup") + tenant + ":");
    const groupByName = new Map(groups.map((g) => [g.groupName, g]));
    const profile = (g: EndpointGroup | undefined): NetProfile | undefined =>
      g?.netProfile ? view.get<NetProfile>(objectKey("netprofile", `${tenant}:${g.netProfile}`)) : undefined;

    const desiredEndpoints: DesiredEndpoint[] = [];
    for (const { attachment, ep } of locals) {
      const net = netByName.get(ep.networkName);
      if (!net) continue; // the network went away; netmaster refuses that while endpoints exist
      const p = profile(groupByName.get(ep.groupName));
      const bps = p ? (parseBandwidth(p.bandwidth) ?? 0) : 0;
      desiredEndpoints.push({
        id: ep.endpointID,
        network: ep.networkName,
        hostLink: endpointLinkName(ep.endpointID),
        netns: attachment.netns,
        ifname: attachment.ifname,
        containerSide: attachment.containerSide,
        mac: ep.macAddress,
        ipv4: `${ep.ipAddress}/${prefixLen(net.subnet)}`,
        ipv6: ep.ipv6Address ? `${ep.ipv6Address}/${prefixLen(net.ipv6Subnet)}` : "",
        // One default route per container: on its first interface (a second one would clash with it).
        gateway: primary(attachment) ? net.gateway : "",
        ipv6Gateway: primary(attachment) ? net.ipv6Gateway : "",
        mtu: ctx.mtu,
        qos: { egressBps: bps, ingressBps: bps, burstBytes: p ? p.burst * 1024 : 0 },
        portMappings: ports.get(ep.endpointID) ?? [],
      });
    }

    const policyInput = policyFor(view, tenant, mode, bridged, groups, tenantEndpoints, profile);
    policies.set(tenant, policyInput);
    const filtered = netfilteredNetworks(policyInput, locals.map(({ ep }) => ep));
    const networks: DesiredNetwork[] = bridged.map((n) => ({ ...n, netfilter: filtered.has(n.name) }));
    const tenantIndex = view.get<TenantState>(tenantStateKey(tenant))?.index;
    const ownHostEndpoints: DesiredHostEndpoint[] = hostEndpoints
      .filter((ep) => ep.tenantName === tenant && netByName.get(ep.networkName)?.nwType === "infra")
      .map((ep) => ({
        network: ep.networkName,
        hostLink: hostEndpointLink(ctx.prefix, tenant, ep.networkName),
        tenantLink: hostEndpointTenantLink(ep.networkName),
        address: `${ep.ipAddress}/${prefixLen(netByName.get(ep.networkName)!.subnet)}`,
        mac: ep.macAddress,
        mtu: ctx.mtu,
      }));
    tenants.push({
      name: tenant,
      namespace,
      fwdMode: mode,
      networks,
      endpoints: desiredEndpoints,
      nftScript: nftScriptFor(namespace, policyInput),
      hostEndpoints: ownHostEndpoints,
      ...(tenantIndex ? { uplink: uplinkFor(ctx.prefix, tenant, tenantIndex, routedAddresses(networks, desiredEndpoints)) } : {}),
    });

    const services = values<ServiceLB>(view, objectPrefix("serviceLB") + tenant + ":");
    dns.push({
      namespace,
      addresses: networks.flatMap((n) => [n.gateway, n.ipv6Gateway]).filter((a) => a !== ""),
      records: {
        services: services
          .map((s) => ({ name: s.serviceName, ipv4: [view.get<ServiceState>(serviceStateKey(s.key))?.vip ?? ""].filter(Boolean), ipv6: [] }))
          .filter((s) => s.ipv4.length > 0),
        groups: groups.map((g) => {
          const members = tenantEndpoints.filter((ep) => ep.groupName === g.groupName);
          return { name: g.groupName, ipv4: members.map((ep) => ep.ipAddress), ipv6: members.map((ep) => ep.ipv6Address).filter(Boolean) };
        }),
        endpoints: tenantEndpoints
          .filter((ep) => ep.containerName)
          .map((ep) => ({ name: ep.containerName.replace(/^\//, ""), ipv4: [ep.ipAddress], ipv6: ep.ipv6Address ? [ep.ipv6Address] : [] })),
      },
    });
  }

  const natOutbound = tenants.some((t) => t.uplink !== undefined);
  return { desired: { prefix: ctx.prefix, tenants, host: { natOutbound } }, bgp: bgpFor(view, ctx.host, tenants), policies, dns, orphans };
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
  // Exactly what the tenants' uplinks route from the host to the containers.
  const announce = tenants.flatMap((t) => (t.uplink?.routes ?? []).map((ip) => `${ip}/${ip.includes(":") ? 128 : 32}`));
  return { routerIp: b.routerip, as: b.as, neighbor: b.neighbor, neighborAs: b["neighbor-as"], announce: [...new Set(announce)].sort() };
}

function policyFor(
  view: StateView,
  tenant: string,
  mode: FwdMode,
  networks: BridgedNetwork[],
  groups: EndpointGroup[],
  endpoints: EndpointState[],
  profile: (g: EndpointGroup) => NetProfile | undefined,
): PolicyInput {
  const groupId = (name: string) => view.get<GroupState>(groupStateKey(`${tenant}:${name}`))?.groupId;
  const netByName = new Map(networks.map((n) => [n.name, n]));
  const rules: PolicyInput["rules"] = [];
  for (const g of groups) {
    const id = groupId(g.groupName);
    if (id === undefined) continue;
    for (const policyName of g.policies) {
      if (!view.get<Policy>(objectKey("policy", `${tenant}:${policyName}`))) continue;
      for (const r of values<Rule>(view, objectPrefix("rule") + `${tenant}:${policyName}:`)) {
        const inbound = r.direction === "in";
        const peerGroup = inbound ? r.fromEndpointGroup : r.toEndpointGroup;
        const peerNet = inbound ? r.fromNetwork : r.toNetwork;
        const peerIp = inbound ? r.fromIpAddress : r.toIpAddress;
        const peerGroupId = peerGroup ? groupId(peerGroup) : undefined;
        if (peerGroup && peerGroupId === undefined) continue; // group not there yet: the rule waits for it
        const peerCidrs: string[] = [];
        if (peerNet) {
          const n = netByName.get(peerNet);
          if (!n) continue;
          peerCidrs.push(n.subnet, ...(n.ipv6Subnet ? [n.ipv6Subnet] : []));
        }
        // An `in` rule's toIpAddress (Contiv's Kubernetes form) would narrow the protected group to one address: not modelled yet.
        if (peerIp) peerCidrs.push(peerIp);
        const protocol = r.protocol === "" ? undefined : (PROTOCOLS[r.protocol] ?? Number(r.protocol));
        rules.push({
          key: r.key,
          groupId: id,
          direction: r.direction as "in" | "out",
          priority: r.priority,
          action: r.action as "allow" | "deny",
          ...(peerGroupId !== undefined ? { peerGroupId } : {}),
          ...(peerCidrs.length > 0 ? { peerCidrs } : {}),
          ...(protocol !== undefined ? { protocol } : {}),
          ...(r.port ? { port: r.port } : {}),
        });
      }
    }
  }
  return {
    fwdMode: mode,
    networks: networks.map((n) => ({ name: n.name, bridge: n.bridge, subnet: n.subnet, ipv6Subnet: n.ipv6Subnet })),
    groups: groups
      .map((g) => {
        const members = endpoints.filter((ep) => ep.groupName === g.groupName);
        return {
          id: groupId(g.groupName) ?? 0,
          name: g.groupName,
          ipv4: members.map((ep) => ep.ipAddress),
          ipv6: members.map((ep) => ep.ipv6Address).filter(Boolean),
          dscp: profile(g)?.DSCP ?? 0,
        };
      })
      .filter((g) => g.id > 0),
    rules,
  };
}
