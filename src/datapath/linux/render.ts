// Pure: DesiredHost → the kernel state the host must have (HostState). Every decision
// about what exists and how it is configured is made here or in diff.ts; apply.ts only
// carries out a plan. Input that cannot be rendered is a ValidationError listing each path.

import { hostNftTable, tenantNamespace } from "../names.js";
import type { DatapathOwner, DatapathProblem, DesiredEndpoint, DesiredHost, DesiredNetwork, DesiredTenant, FwdMode } from "../types.js";
import { ValidationError } from "../../lib/errors.js";
import { canonicalCidr, canonicalIp, canonicalMac, familyOf, gatewayMac, ifbName, networkOf, parseCidr } from "./addr.js";
import { hostNatTable, renderHostEndpoint, renderUplink, renderVxlan, tenantNatTable, tenantRoute6Table, type VxlanSocket } from "./renderOverlay.js";
import { compileEach, renderPolicy, type PolicyCompiler } from "./policies.js";
import { checkHostPorts, hostPortForwards, renderPortForwards } from "./renderPorts.js";
import { addVips, renderServices } from "./renderServices.js";
import type { BridgeState, EndpointState, HostNamespaceState, HostState, Shaper, Sysctl, TenantState, UplinkState, VxlanState } from "./state.js";
import { byName, compareText, IFNAME, IssueList, TOKEN } from "./validate.js";

/** Queueing latency of the tbf shapers: bounds the queue to rate × 50 ms + burst. */
export const TBF_LATENCY = "50ms";


/** Forwarding a bridge-mode tenant needs all the same, by family (routing mode forwards both anyway). */
export interface ForwardNeeds {
  /** An uplink, or services. */
  ipv4?: boolean;
  /** Routed IPv6 through the uplink, or IPv6 VIPs. */
  ipv6?: boolean;
}

/**
 * Sysctls of a tenant namespace. DAD is off for every link made there (bridges, host veths), so
 * gateway addresses are usable at once; br_netfilter is off for the namespace as a whole and switched
 * on per bridge (BridgeState.netfilter) where policy must see traffic between two ports of one
 * network, so bridges without policed endpoints skip the hooks and conntrack; forwarding is on only in routing
 * mode, which is what keeps bridge-mode networks apart at L3. A bridge-mode tenant with an uplink or services
 * forwards IPv4 too, and one that routes IPv6 or has IPv6 VIPs IPv6 (`needs`); their tables drop routing between
 * its bridges (renderOverlay.ts confineBridges).
 */
export function tenantSysctls(fwdMode: FwdMode, needs: ForwardNeeds = {}): Sysctl[] {
  const forward = (needed: boolean | undefined): string => (fwdMode === "routing" || needed === true ? "1" : "0");
  return [
    { key: "net.ipv6.conf.all.accept_dad", value: "0" },
    { key: "net.ipv6.conf.default.accept_dad", value: "0" },
    { key: "net.bridge.bridge-nf-call-iptables", value: "0" },
    { key: "net.bridge.bridge-nf-call-ip6tables", value: "0" },
    { key: "net.ipv4.ip_forward", value: forward(needs.ipv4) },
    { key: "net.ipv6.conf.all.forwarding", value: forward(needs.ipv6) },
  ];
}

/**
 * Sysctls of a network's bridge. A routed network's bridge answers ARP for every address of its subnet
 * that it routes elsewhere (proxy_arp: the route to it does not go back out of the bridge), and neighbour
 * solicitations for the IPv6 addresses of its containers elsewhere (proxy_ndp, with an entry per address;
 * the kernel answers only while forwarding, which a tenant with routed IPv6 has on), at once instead of after
 * a random delay of up to 0.8 s (proxy_delay). Off on every other bridge.
 */
export function bridgeSysctls(bridge: string, routed: boolean, ipv6 = false): Sysctl[] {
  const on = (yes: boolean): string => (yes ? "1" : "0");
  return [
    { key: `net.ipv4.conf.${bridge}.proxy_arp`, value: on(routed) },
    ...(routed ? [{ key: `net.ipv4.neigh.${bridge}.proxy_delay`, value: "0" }] : []),
    { key: `net.ipv6.conf.${bridge}.proxy_ndp`, value: on(routed && ipv6) },
    ...(routed && ipv6 ? [{ key: `net.ipv6.neigh.${bridge}.proxy_delay`, value: "0" }] : []),
  ];
}

/** What a bridge's sysctl (bridgeSysctls) holds when the bridge is new: proxying off. Unknown keys: undefined. */
export function newBridgeSysctl(key: string): string | undefined {
  return key.endsWith(".proxy_arp") || key.endsWith(".proxy_ndp") ? "0" : undefined;
}

/** Burst when none is given: 10 ms at the rate, at least four full frames. */
export function defaultBurst(rateBytes: number, mtu: number): number {
  return Math.max(Math.ceil(rateBytes / 100), 4 * (mtu + 14));
}

/** A tbf shaper for a rate in bit/s; null for no limit. The burst defaults from the rate and MTU. */
export function shaper(bps: number, burstBytes: number, mtu: number): Shaper | null {
  if (bps <= 0) return null;
  const rateBytes = Math.max(1, Math.floor(bps / 8));
  return { rateBytes, burstBytes: burstBytes > 0 ? burstBytes : defaultBurst(rateBytes, mtu) };
}

function renderBridge(network: DesiredNetwork, path: string, issues: IssueList): BridgeState {
  issues.name(`${path}.bridge`, network.bridge, IFNAME, "bridge name");
  if (!Number.isInteger(network.mtu) || network.mtu < 68) issues.add(`${path}.mtu`, `invalid MTU ${network.mtu}`);
  const routed = network.routed === true;
  if (routed && network.vxlan !== undefined) issues.add(`${path}.routed`, "a routed network has no VXLAN device");
  const addresses: string[] = [];
  const noPrefixRoute: string[] = [];
  const gateway = (value: string, subnet: string, field: string, subnetField: string): void => {
    if (value === "") return;
    const address = canonicalIp(value);
    const cidr = parseCidr(subnet);
    if (address === null) issues.add(`${path}.${field}`, `invalid address "${value}"`);
    else if (cidr === null) issues.add(`${path}.${subnetField}`, `invalid subnet "${subnet}"`);
    else {
      addresses.push(`${address}/${cidr[1]}`);
      // Routed: no connected route for the subnet, only host routes to the local containers.
      if (routed) noPrefixRoute.push(`${address}/${cidr[1]}`);
    }
  };
  gateway(network.gateway, network.subnet, "gateway", "subnet");
  gateway(network.ipv6Gateway, network.ipv6Subnet, "ipv6Gateway", "ipv6Subnet");
  const ipv6 = network.ipv6Gateway !== "";
  const proxyNeighbours = new Set<string>();
  const remotes = network.remoteIpv6 ?? [];
  if (remotes.length > 0 && !(routed && ipv6)) {
    issues.add(`${path}.remoteIpv6`, "only a routed network with an IPv6 gateway has remote IPv6 addresses");
  } else {
    remotes.forEach((value, i) => {
      const address = canonicalIp(value);
      if (address === null || familyOf(address) !== 6) issues.add(`${path}.remoteIpv6[${i}]`, `invalid IPv6 address "${value}"`);
      else proxyNeighbours.add(address);
    });
  }
  return {
    name: network.bridge,
    network: network.name,
    mac: gatewayMac(network.bridge),
    mtu: network.mtu,
    mcastSnooping: true,
    mcastQuerier: true,
    netfilter: network.netfilter,
    addresses,
    noPrefixRoute,
    sysctls: bridgeSysctls(network.bridge, routed, ipv6),
    hostRoutes: [],
    proxyNeighbours: [...proxyNeighbours].sort(compareText),
  };
}

/** Subnets ("network/len") of the tenant's routed networks in one family, sorted: their addresses are never NATed. */
export function routedSubnets(networks: DesiredNetwork[], family: 4 | 6): string[] {
  const subnets = new Set<string>();
  for (const n of networks) {
    if (n.routed !== true) continue;
    const cidr = parseCidr(family === 4 ? n.subnet : n.ipv6Subnet);
    if (cidr === null || familyOf(cidr[0]) !== family) continue;
    subnets.add(networkOf(cidr[0], cidr[1]));
  }
  return [...subnets].sort(compareText);
}

function renderEndpoint(
  endpoint: DesiredEndpoint,
  path: string,
  networks: Map<string, DesiredNetwork>,
  issues: IssueList,
): EndpointState {
  const network = networks.get(endpoint.network);
  if (network === undefined) issues.add(`${path}.network`, `unknown network "${endpoint.network}"`);
  issues.name(`${path}.hostLink`, endpoint.hostLink, IFNAME, "interface name");
  issues.name(`${path}.ifname`, endpoint.ifname, IFNAME, "interface name");
  issues.name(`${path}.netns`, endpoint.netns, TOKEN, "namespace path");
  if (!endpoint.netns.startsWith("/")) issues.add(`${path}.netns`, `namespace path "${endpoint.netns}" is not absolute`);
  const mtu = endpoint.mtu > 0 ? endpoint.mtu : (network?.mtu ?? 0);
  if (!Number.isInteger(mtu) || mtu < 68) issues.add(`${path}.mtu`, `invalid MTU ${endpoint.mtu}`);
  const mac = canonicalMac(endpoint.mac);
  if (mac === null) issues.add(`${path}.mac`, `invalid MAC "${endpoint.mac}"`);

  const addresses: string[] = [];
  for (const field of ["ipv4", "ipv6"] as const) {
    const value = endpoint[field];
    if (value === "") continue;
    const cidr = canonicalCidr(value);
    if (cidr === null) issues.add(`${path}.${field}`, `invalid address "${value}"`);
    else addresses.push(cidr);
  }
  // No IPv4 address: an endpoint waiting for its DHCP lease (types.ts DesiredEndpoint.ipv4); no IPv4 gateway then.
  if (endpoint.ipv4 === "" && endpoint.gateway !== "") issues.add(`${path}.gateway`, "an IPv4 default route needs the endpoint's IPv4 address");

  const routes: EndpointState["container"]["routes"] = [];
  for (const [field, family] of [["gateway", 4], ["ipv6Gateway", 6]] as const) {
    const value = endpoint[field];
    if (value === "") continue;
    const via = canonicalIp(value);
    if (via === null) issues.add(`${path}.${field}`, `invalid address "${value}"`);
    else routes.push({ family, via });
  }

  const { egressBps, ingressBps, burstBytes } = endpoint.qos;
  const egress = shaper(egressBps, burstBytes, mtu);
  const containerSide = endpoint.containerSide ?? "ours";
  return {
    id: endpoint.id,
    network: endpoint.network,
    hostLink: endpoint.hostLink,
    bridge: network?.bridge ?? "",
    mtu,
    containerSide,
    // The runtime sets the container's routes: none are ours to want.
    container: { netns: endpoint.netns, ifname: endpoint.ifname, mac: mac ?? endpoint.mac, mtu, addresses, routes: containerSide === "ours" ? routes : [] },
    ingressLimit: shaper(ingressBps, burstBytes, mtu),
    egressLimit: egress === null ? null : { ifb: ifbName(endpoint.hostLink), shaper: egress },
    hairpin: false,
  };
}

/** Link names of one namespace must not collide across kinds (bridge, veth, ifb, VXLAN device). */
class LinkNames {
  private readonly seen = new Map<string, string>();
  constructor(private readonly issues: IssueList) {}
  claim(name: string, path: string): void {
    const other = this.seen.get(name);
    if (other !== undefined && other !== path) this.issues.add(path, `link name "${name}" is also used by ${other}`);
    else this.seen.set(name, path);
  }
}

function renderTenant(
  tenant: DesiredTenant,
  path: string,
  prefix: string,
  issues: IssueList,
  hostLinks: LinkNames,
  compile: PolicyCompiler,
): TenantState {
  if (!tenant.namespace.startsWith(tenantNamespace(prefix, ""))) {
    issues.add(`${path}.namespace`, `namespace "${tenant.namespace}" is not a tenant namespace of "${prefix}"`);
  }
  issues.name(`${path}.namespace`, tenant.namespace, /^[A-Za-z0-9_.-]{1,200}$/, "namespace name");
  const names = new LinkNames(issues);
  const networks = new Map<string, DesiredNetwork>();
  const vxlans: VxlanState[] = [];
  const bridges = tenant.networks.map((network, i) => {
    const at = `${path}.networks[${i}]`;
    if (networks.has(network.name)) issues.add(`${at}.name`, `duplicate network "${network.name}"`);
    networks.set(network.name, network);
    names.claim(network.bridge, `${at}.bridge`);
    const vxlan = renderVxlan(network, `${at}.vxlan`, issues);
    if (vxlan !== null) {
      names.claim(vxlan.device, `${at}.vxlan.device`);
      vxlans.push(vxlan);
    }
    return renderBridge(network, at, issues);
  });
  const endpoints = tenant.endpoints.map((endpoint, i) => {
    const at = `${path}.endpoints[${i}]`;
    names.claim(endpoint.hostLink, `${at}.hostLink`);
    names.claim(ifbName(endpoint.hostLink), `${at}.hostLink`);
    return renderEndpoint(endpoint, at, networks, issues);
  });
  bridges.sort(byName);
  // Routed networks: a host route on the bridge per local container (the subnet itself has no route), IPv6
  // only where the bridge has an IPv6 gateway (the uplink then routes IPv6 to it).
  for (const bridge of bridges) {
    const network = tenant.networks.find((n) => n.bridge === bridge.name);
    if (network?.routed !== true) continue;
    const routes = new Set<string>();
    for (const e of endpoints) {
      if (e.bridge !== bridge.name) continue;
      for (const cidr of e.container.addresses) {
        const address = cidr.split("/")[0]!;
        if (familyOf(address) === 4) routes.add(`${address}/32`);
        else if (network.ipv6Gateway !== "") routes.add(`${address}/128`);
      }
    }
    bridge.hostRoutes = [...routes].sort(compareText);
  }

  let uplink: UplinkState | null = null;
  if (tenant.uplink !== undefined) {
    uplink = renderUplink(tenant.uplink, prefix, `${path}.uplink`, issues);
    names.claim(uplink.tenantLink, `${path}.uplink.tenantLink`);
    hostLinks.claim(uplink.hostLink, `${path}.uplink.hostLink`);
  }
  const hostEndpoints = (tenant.hostEndpoints ?? []).map((endpoint, i) => {
    const at = `${path}.hostEndpoints[${i}]`;
    names.claim(endpoint.tenantLink, `${at}.tenantLink`);
    hostLinks.claim(endpoint.hostLink, `${at}.hostLink`);
    return renderHostEndpoint(endpoint, prefix, at, networks, issues);
  });
  const portForwards = renderPortForwards(tenant.endpoints, `${path}.endpoints`, issues);
  const services = renderServices(tenant, path, networks, bridges, endpoints, uplink, issues);
  for (const bridge of bridges) addVips(bridge, services.vips.get(bridge.name) ?? []);
  for (const e of endpoints) e.hairpin = services.hairpin.has(e.id);

  return {
    tenant: tenant.name,
    namespace: tenant.namespace,
    sysctls: tenantSysctls(tenant.fwdMode, {
      ipv4: uplink !== null || services.forward.ipv4,
      ipv6: uplink?.ipv6 === true || services.forward.ipv6,
    }),
    bridges,
    endpoints: endpoints.sort((a, b) => byName({ name: a.hostLink }, { name: b.hostLink })),
    nftScript: renderPolicy(tenant.namespace, tenant.policy, `${path}.policy`, compile, issues),
    vxlans: vxlans.sort((a, b) => byName({ name: a.device }, { name: b.device })),
    uplink,
    natTable: uplink === null ? null : tenantNatTable(uplink, tenant.fwdMode, bridges, routedSubnets(tenant.networks, 4), portForwards),
    route6Table: uplink?.ipv6 === true ? tenantRoute6Table(uplink, tenant.fwdMode, bridges, routedSubnets(tenant.networks, 6)) : null,
    hostEndpoints: hostEndpoints.sort((a, b) => byName({ name: a.tenantLink }, { name: b.tenantLink })),
    portForwards,
    lbTable: services.table,
    lbBackends: services.backends,
  };
}

function renderHostNamespace(desired: DesiredHost, tenants: TenantState[]): HostNamespaceState {
  const nat = desired.host?.natOutbound === true;
  const name = hostNftTable(desired.prefix);
  const sockets = new Map<string, VxlanSocket>();
  for (const v of tenants.flatMap((t) => t.vxlans)) {
    if (familyOf(v.local) === 4) sockets.set(`${v.local}:${v.port}`, { address: v.local, port: v.port });
  }
  // Routed IPv6 crosses this namespace between the underlay and the uplinks. Like ip_forward, never switched
  // back off (forwarding also stops the namespace's interfaces from taking router advertisements).
  const routes6 = tenants.some((t) => t.uplink?.ipv6 === true);
  return {
    sysctls: [
      ...(nat ? [{ key: "net.ipv4.ip_forward", value: "1" }] : []),
      ...(routes6 ? [{ key: "net.ipv6.conf.all.forwarding", value: "1" }] : []),
    ],
    nftName: name,
    nftTable: nat
      ? hostNatTable(
          desired.prefix,
          name,
          [...sockets.values()].sort((a, b) => compareText(`${a.address}:${a.port}`, `${b.address}:${b.port}`)),
          hostPortForwards(tenants),
          desired.host.uplinkRange,
        )
      : null,
  };
}

/** Renders every tenant, collecting what cannot be rendered instead of stopping at it. */
function renderTenants(desired: DesiredHost, compile: PolicyCompiler): { tenants: TenantState[]; issues: IssueList } {
  const issues = new IssueList();
  if (!/^[A-Za-z0-9]{3,}$/.test(desired.prefix)) issues.add("prefix", `invalid prefix "${desired.prefix}"`);
  const seen = new Set<string>();
  const hostLinks = new LinkNames(issues);
  const vnis = new Map<number, string>();
  const tenants = desired.tenants.map((tenant, i) => {
    if (seen.has(tenant.namespace)) issues.add(`tenants[${i}].namespace`, `duplicate namespace "${tenant.namespace}"`);
    seen.add(tenant.namespace);
    const state = renderTenant(tenant, `tenants[${i}]`, desired.prefix, issues, hostLinks, compile);
    // Every VXLAN socket lives in the agent's namespace, where the kernel allows a VNI once per port.
    tenant.networks.forEach((network, j) => {
      if (network.vxlan === undefined) return;
      const other = vnis.get(network.vxlan.vni);
      if (other !== undefined) issues.add(`tenants[${i}].networks[${j}].vxlan.vni`, `VNI ${network.vxlan.vni} is also used in ${other}`);
      else vnis.set(network.vxlan.vni, tenant.namespace);
    });
    return state;
  });
  checkHostPorts(desired.tenants, tenants, issues);
  return { tenants, issues };
}

const ISSUE_PATH = /^tenants\[(\d+)\](?:\.(networks|endpoints|hostEndpoints)\[(\d+)\](?:\.vxlan\.remotes\[(\d+)\])?)?\.?(.*)$/;

/** The unit an issue path of renderTenants (or of the OVS driver's own checks, same paths) concerns, and the rest of the path (the field within it). */
export function ownerOf(desired: DesiredHost, path: string): { owner: DatapathOwner; field: string } {
  const m = ISSUE_PATH.exec(path);
  const tenant = m === null ? undefined : desired.tenants[Number(m[1])];
  if (m === null || tenant === undefined) return { owner: {}, field: path };
  const [, , list, index, remote, field = ""] = m;
  const owner: DatapathOwner = { tenant: tenant.name };
  if (list === "networks") {
    const network = tenant.networks[Number(index)];
    if (network !== undefined) owner.network = network.name;
    const endpoint = remote === undefined ? undefined : network?.vxlan?.remotes[Number(remote)]?.id;
    if (endpoint !== undefined) owner.endpoint = endpoint;
  } else if (list === "endpoints") {
    const endpoint = tenant.endpoints[Number(index)];
    if (endpoint !== undefined) Object.assign(owner, { network: endpoint.network, endpoint: endpoint.id });
  } else if (list === "hostEndpoints") {
    const endpoint = tenant.hostEndpoints[Number(index)];
    if (endpoint !== undefined) owner.network = endpoint.network;
  }
  return { owner, field };
}

/**
 * Pure: what in `desired` cannot be rendered, each problem with the smallest unit it concerns (an endpoint, a
 * network, a tenant, or the host), so a caller can leave that unit out and render the rest. Empty: renderHost
 * will not throw.
 */
export function checkHost(desired: DesiredHost, compile: PolicyCompiler = compileEach): DatapathProblem[] {
  return renderTenants(desired, compile).issues.issues.map((issue) => {
    const { owner, field } = ownerOf(desired, issue.path);
    return { owner, message: field === "" ? issue.message : `${field}: ${issue.message}` };
  });
}

/** Computes the kernel state for a host; throws ValidationError listing every bad field (checkHost says which). */
export function renderHost(desired: DesiredHost, compile: PolicyCompiler = compileEach): HostState {
  const { tenants, issues } = renderTenants(desired, compile);
  if (issues.issues.length > 0) {
    const first = issues.issues[0]!;
    throw new ValidationError(
      `Cannot render the datapath of "${desired.prefix}": ${first.path}: ${first.message}`,
      issues.issues,
    );
  }
  tenants.sort((a, b) => byName({ name: a.namespace }, { name: b.namespace }));
  // The agent's namespace has one routing table: an address routed to two tenants (overlapping routed
  // subnets) goes to the first of them only.
  const routed = new Set<string>();
  for (const tenant of tenants) {
    if (tenant.uplink === null) continue;
    tenant.uplink.routes = tenant.uplink.routes.filter((dst) => !routed.has(dst));
    for (const dst of tenant.uplink.routes) routed.add(dst);
  }
  const frozen = (desired.frozen ?? []).filter((ns) => !tenants.some((t) => t.namespace === ns)).sort(compareText);
  return { prefix: desired.prefix, tenants, host: renderHostNamespace(desired, tenants), frozen };
}
