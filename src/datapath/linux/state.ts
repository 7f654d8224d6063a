// Kernel state as plain data, in the kernel's nouns. render() produces the wanted
// TenantState list from a DesiredHost; observe() reads the kernel into ObservedTenant
// (the same objects plus what only the kernel knows: ifindexes, veth peers, flags).
// Addresses are canonical text ("198.18.1.254/24", "fd00::fe/64"), MACs lower case, so
// diff() compares strings.

import type { ContainerSide } from "../types.js";

/** One sysctl inside a tenant namespace. */
export interface Sysctl {
  key: string;
  value: string;
}

/** A token-bucket shaper (tc tbf) as the kernel stores it: bytes per second and bytes. */
export interface Shaper {
  rateBytes: number;
  burstBytes: number;
}

/** A network's bridge inside the tenant namespace: always up, holding the gateway addresses. */
export interface BridgeState {
  name: string;
  /** The network it carries (DesiredNetwork.name). */
  network: string;
  /** Fixed so the gateway MAC does not follow the lowest port MAC as endpoints come and go. */
  mac: string;
  mtu: number;
  mcastSnooping: boolean;
  /** The bridge sends IGMP/MLD queries itself, so snooping has memberships to act on. */
  mcastQuerier: boolean;
  /** nf_call_iptables and nf_call_ip6tables: bridged frames pass the namespace's inet hooks (DesiredNetwork.netfilter). */
  netfilter: boolean;
  /** "addr/len", v4 first then v6; only global-scope addresses are ours. */
  addresses: string[];
  /** Those of `addresses` that carry `noprefixroute` (the gateways of a routed network). */
  noPrefixRoute: string[];
  /**
   * Sysctls of the bridge device (net.ipv4.conf.BR.proxy_arp, net.ipv4.neigh.BR.proxy_delay, and for IPv6
   * net.ipv6.conf.BR.proxy_ndp, net.ipv6.neigh.BR.proxy_delay), set once it exists: a routed network's bridge
   * answers ARP and neighbour solicitations for the addresses of its subnet that live elsewhere.
   */
  sysctls: Sysctl[];
  /** Routed network: a host route ("a.b.c.d/32", "x::y/128") on the bridge per local container, sorted. */
  hostRoutes: string[];
  /**
   * Routed network: IPv6 addresses of its containers on other hosts, sorted. The bridge answers neighbour
   * solicitations for each (`ip neigh add proxy ADDR dev BR`): Linux proxies NDP per address only.
   */
  proxyNeighbours: string[];
}

export type Family = 4 | 6;

/** A default route inside a container, through the endpoint's interface. */
export interface DefaultRoute {
  family: Family;
  via: string;
}

/** The container side of an endpoint's veth. */
export interface ContainerLinkState {
  /** Path of the container's network namespace. */
  netns: string;
  ifname: string;
  mac: string;
  mtu: number;
  addresses: string[];
  routes: DefaultRoute[];
}

/**
 * Limit on what the container sends: the host-side veth's ingress is redirected (u32 + mirred) to
 * an ifb device whose root qdisc is a tbf (the kernel here has no police action).
 */
export interface EgressLimit {
  ifb: string;
  shaper: Shaper;
}

export interface EndpointState {
  id: string;
  /** Its network (DesiredNetwork.name). */
  network: string;
  /** Host-side veth in the tenant namespace. */
  hostLink: string;
  bridge: string;
  mtu: number;
  /** "runtime": `container` says only where the pair is made; its addresses are the routed host routes' input, never applied. */
  containerSide: ContainerSide;
  container: ContainerLinkState;
  /** Limit on what the container receives: tbf as the host-side veth's root qdisc; null = none. */
  ingressLimit: Shaper | null;
  egressLimit: EgressLimit | null;
  /**
   * The host-side veth's bridge port sends frames back out of the port they came in by: a local provider of a
   * service, whose connection to its own service may be load-balanced to itself (renderServices.ts).
   */
  hairpin: boolean;
}

/** A remote MAC: a static entry in the VXLAN device's FDB (→ VTEP) and in the bridge's (→ the VXLAN port). */
export interface RemoteMac {
  mac: string;
  vtep: string;
  /** The remote endpoint's id (the first, should two share the MAC). */
  endpoint: string;
}

/** A static neighbour on the VXLAN device, from which it answers ARP/ND itself (proxy mode). */
export interface ProxyNeighbour {
  ip: string;
  mac: string;
  /** The remote endpoint's id. */
  endpoint: string;
}

/**
 * A network's VXLAN device: created from the agent's namespace straight into the tenant namespace (its UDP
 * socket stays in the agent's namespace), a bridge port with learning off and a permanent multicast-router
 * flag (every multicast frame goes out to the peers; each receiving bridge prunes by its own memberships).
 */
export interface VxlanState {
  device: string;
  bridge: string;
  /** The network it carries (DesiredNetwork.name). */
  network: string;
  vni: number;
  local: string;
  port: number;
  proxy: boolean;
  mtu: number;
  /** Flood list: one all-zero FDB entry per peer VTEP (canonical, sorted, unique). */
  peers: string[];
  remotes: RemoteMac[];
  /** Empty unless proxy. */
  neighbours: ProxyNeighbour[];
}

/** Tenant uplink: veth agent namespace ↔ tenant namespace, default route and NAT in the tenant. */
export interface UplinkState {
  hostLink: string;
  tenantLink: string;
  /** "169.254.a.b/30" */
  hostAddr: string;
  tenantAddr: string;
  /** hostAddr without its length: the tenant's default route. */
  gateway: string;
  /**
   * "a.b.c.d/32" and "x::y/128" of the tenant's containers on routed networks: routes in the agent's namespace
   * via tenantGateway (IPv4) or UPLINK_TENANT_LL (IPv6), over hostLink; IPv4 first, each family sorted.
   */
  routes: string[];
  /** tenantAddr without its length: the next hop of the IPv4 `routes`. */
  tenantGateway: string;
  /**
   * The tenant routes IPv6 (it has a routed network with IPv6): both ends carry fixed link-local addresses
   * (UPLINK_HOST_LL, UPLINK_TENANT_LL) and the tenant an IPv6 default route via the agent's end.
   */
  ipv6: boolean;
}

/** A host endpoint: veth whose agent-namespace end holds the host's address on an infra network. */
export interface HostEndpointState {
  network: string;
  bridge: string;
  hostLink: string;
  tenantLink: string;
  /** "addr/len" */
  address: string;
  mac: string;
  mtu: number;
}

/**
 * An nft table we own that is rendered whole from constants and the desired state. Its script carries
 * `comment "netplugin:<tag>"` with a hash of the rest, so reading the comment back tells whether the
 * kernel holds exactly this text (no re-apply after a restart).
 */
export interface OwnedNftTable {
  family: "ip" | "ip6" | "inet";
  name: string;
  tag: string;
  script: string;
}

/**
 * One provider of one service port in one family, as the services table DNATs to it: a connection to
 * `vip`:`port`/`protocol` may go to `address`:`targetPort`. Addresses canonical, of one family.
 */
export interface ServiceBackend {
  vip: string;
  protocol: "tcp" | "udp";
  port: number;
  address: string;
  targetPort: number;
}

export interface TenantState {
  /** The tenant's name, for reports. */
  tenant: string;
  namespace: string;
  sysctls: Sysctl[];
  bridges: BridgeState[];
  endpoints: EndpointState[];
  /** Complete nft script for the tenant's private table (the tenant's compiled policy). */
  nftScript: string;
  vxlans: VxlanState[];
  uplink: UplinkState | null;
  /** `table ip netplugin_nat` (uplink masquerade, inbound guard); null when the tenant has no uplink. */
  natTable: OwnedNftTable | null;
  /** `table ip6 netplugin_route6` (only routed IPv6 subnets cross the uplink); null unless uplink.ipv6. */
  route6Table: OwnedNftTable | null;
  hostEndpoints: HostEndpointState[];
  /** Host ports published to this tenant's containers (renderPorts.ts), sorted; empty without an uplink. */
  portForwards: PortForward[];
  /**
   * `table inet netplugin_lb` (service load balancers, DNS interception: renderServices.ts); null when the tenant
   * has neither.
   */
  lbTable: OwnedNftTable | null;
  /** What lbTable DNATs to, sorted by backendKey: when the table changes, entries to backends not here go (diffServices.ts). */
  lbBackends: ServiceBackend[];
}

/**
 * A published host port: the agent's namespace DNATs it to the tenant's uplink address at the same port,
 * the tenant namespace DNATs what arrives through its uplink at that port to the container.
 */
export interface PortForward {
  protocol: "tcp" | "udp" | "sctp";
  /** Canonical IPv4 address of the host, or "" for every address of the host. */
  hostIP: string;
  hostPort: number;
  containerIp: string;
  containerPort: number;
}

/** What we own in the agent's own namespace apart from the veth ends (which their tenants manage). */
export interface HostNamespaceState {
  /** Set only when wanted; nothing is ever switched back off in the agent's namespace. */
  sysctls: Sysctl[];
  /** Name of our table there (hostNftTable(prefix)), wanted or not. */
  nftName: string;
  /** The outbound NAT table; null = it must not exist. */
  nftTable: OwnedNftTable | null;
}

/** The wanted kernel state of one host. */
export interface HostState {
  prefix: string;
  tenants: TenantState[];
  host: HostNamespaceState;
  /** Tenant namespaces to leave exactly as they are (DesiredHost.frozen): neither read, changed nor removed. */
  frozen: string[];
}

// --- observed ---------------------------------------------------------------------------------

export interface ObservedBridge {
  name: string;
  mac: string;
  mtu: number;
  up: boolean;
  mcastSnooping: boolean;
  mcastQuerier: boolean;
  netfilter: boolean;
  addresses: string[];
  /** Those of `addresses` flagged noprefixroute. */
  noPrefixRoute: string[];
}

export interface ObservedVeth {
  name: string;
  ifindex: number;
  /** ifindex of the peer in its own namespace (ip's "link_index"); null when unknown. */
  peerIfindex: number | null;
  master: string | null;
  mtu: number;
  up: boolean;
  /** Global-scope addresses (only the uplink's tenant end has one). */
  addresses: string[];
  /** Link-local addresses (the kernel's own and the uplink's fixed one). */
  linkLocal: string[];
  /** Bridge port flag hairpin (false when the veth is no bridge port). */
  hairpin: boolean;
}

export interface ObservedVxlan {
  name: string;
  vni: number | null;
  local: string | null;
  port: number | null;
  proxy: boolean;
  learning: boolean;
  ttl: number | null;
  mtu: number;
  up: boolean;
  master: string | null;
  /** Bridge port flags; null when the device is no bridge port. */
  portLearning: boolean | null;
  mcastRouter: number | null;
}

/** One entry of `bridge fdb show` on a VXLAN device. */
export interface ObservedFdb {
  dev: string;
  mac: string;
  /** The VXLAN remote of a `self` entry; null for bridge (`master`) entries. */
  dst: string | null;
  self: boolean;
  /** Bridge the entry belongs to (`master` entries), or null. */
  master: string | null;
  /** "permanent", "static", "" (learned), … */
  state: string;
}

export interface ObservedNeighbour {
  dev: string;
  ip: string;
  mac: string | null;
  permanent: boolean;
}

/** A default route in a tenant namespace (main table). */
export interface ObservedRoute {
  family: Family;
  via: string;
  dev: string;
}

/** A host route without gateway on a bridge of a tenant namespace (main table, not the kernel's): "a.b.c.d/32". */
export interface ObservedHostRoute {
  dst: string;
  dev: string;
}

/** A host route through a gateway on one of our links in the agent's namespace (main table). */
export interface ObservedGatewayRoute {
  dst: string;
  via: string;
  dev: string;
}

export interface ObservedIfb {
  name: string;
  mtu: number;
  up: boolean;
}

export interface ObservedQdisc {
  dev: string;
  kind: string;
  handle: string;
  root: boolean;
  /** Set for tbf. */
  shaper: Shaper | null;
}

/** An ingress u32 filter that redirects a device's packets to another device (mirred). */
export interface ObservedRedirect {
  dev: string;
  toDev: string;
}

export interface ObservedContainerLink {
  ifname: string;
  ifindex: number;
  peerIfindex: number | null;
  kind: string;
  mac: string;
  mtu: number;
  up: boolean;
  addresses: string[];
}

/** What a desired endpoint's container namespace holds, read through its path. */
export interface ObservedContainer {
  hostLink: string;
  netns: string;
  /** The namespace path could not be opened (the container is gone). */
  netnsMissing: boolean;
  /** The interface named ifname, null when absent. */
  link: ObservedContainerLink | null;
  /** Default routes through that interface (main table). */
  routes: DefaultRoute[];
}

export interface ObservedTenant {
  namespace: string;
  /** The namespace exists; when false every list below is empty except containers. */
  exists: boolean;
  sysctls: Record<string, string>;
  loopbackUp: boolean;
  bridges: ObservedBridge[];
  veths: ObservedVeth[];
  ifbs: ObservedIfb[];
  qdiscs: ObservedQdisc[];
  redirects: ObservedRedirect[];
  containers: ObservedContainer[];
  /** Our nft table exists in the namespace. */
  nftTable: boolean;
  vxlans: ObservedVxlan[];
  /** Entries on VXLAN devices (read only when the tenant wants a VXLAN device). */
  fdb: ObservedFdb[];
  neighbours: ObservedNeighbour[];
  /** IPv4 and IPv6 default routes. */
  routes: ObservedRoute[];
  /** Host routes (IPv4 /32, IPv6 /128) on bridges, other than the kernel's. */
  hostRoutes: ObservedHostRoute[];
  /** Proxy neighbour entries (`ip neigh show proxy`) on bridges: "x::y" and the bridge. */
  proxyNeighbours: { ip: string; dev: string }[];
  /** Tag of `table ip netplugin_nat`, "" when it has none, null when the table does not exist. */
  natTag: string | null;
  /** Tag of `table ip6 netplugin_route6`, likewise. */
  route6Tag: string | null;
  /** Tag of `table inet netplugin_lb`, likewise. */
  lbTag: string | null;
  /**
   * What that table DNATs to (read from its chains), when it is about to be replaced or deleted (its tag is not
   * the wanted one); null when it was not read.
   */
  lbBackends: ServiceBackend[] | null;
  /**
   * Offload features (`ethtool -k`) of the wanted host-side veths and VXLAN devices that exist, by device; read
   * only when the tenant is read whole (offloads.ts). Absent: not read in this run.
   */
  offloads?: Record<string, DeviceFeatures>;
}

/** A link of ours in the agent's namespace (name starts with the prefix). */
export interface ObservedHostLink {
  name: string;
  kind: string;
  ifindex: number;
  peerIfindex: number | null;
  mac: string;
  mtu: number;
  up: boolean;
  addresses: string[];
  /** Link-local addresses (the kernel's own and the uplink's fixed one). */
  linkLocal: string[];
}

export interface ObservedHostNamespace {
  links: ObservedHostLink[];
  /** Host routes with a gateway through links carrying the prefix (routed containers behind uplinks). */
  routes: ObservedGatewayRoute[];
  sysctls: Record<string, string>;
  /** Tag of our nft table there, "" when it has none, null when it does not exist. */
  nftTag: string | null;
}

export interface ObservedHost {
  /** Every tenant namespace of our prefix that exists, wanted or not. */
  namespaces: string[];
  /** Observation of each wanted tenant read (also those whose namespace is still missing); diff plans nothing for the others. */
  tenants: ObservedTenant[];
  /**
   * Veths in each tenant namespace that is no longer wanted. Deleting them before the namespace makes
   * the container sides disappear at once; the kernel tears a deleted namespace down asynchronously.
   */
  unwanted: UnwantedTenant[];
  /** Wanted tenants that could not be read; diff leaves them alone. */
  failures: ObserveFailure[];
  /** The agent's own namespace; null when it could not be read (a failure names it) or was not read (incremental.ts). */
  host: ObservedHostNamespace | null;
}

export interface UnwantedTenant {
  namespace: string;
  /** All veths, also the tenant ends of uplinks and host endpoints (that removes their agent-side ends). */
  veths: string[];
  /** VXLAN devices: deleted before the namespace so their VNIs are free at once. */
  vxlans: string[];
}

export interface ObserveFailure {
  namespace: string;
  error: Error;
}

export interface FeatureState {
  on: boolean;
  /** The kernel does not let it change ("[fixed]"). */
  fixed: boolean;
}

/** A device's features as `ethtool -k` printed them, by name. */
export type DeviceFeatures = Record<string, FeatureState>;
