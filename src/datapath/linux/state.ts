// Kernel state as plain data, in the kernel's nouns. render() produces the wanted
// TenantState list from a DesiredHost; observe() reads the kernel into ObservedTenant
// (the same objects plus what only the kernel knows: ifindexes, veth peers, flags).
// Addresses are canonical text ("198.18.1.254/24", "fd00::fe/64"), MACs lower case, so
// diff() compares strings.

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
  /** Fixed so the gateway MAC does not follow the lowest port MAC as endpoints come and go. */
  mac: string;
  mtu: number;
  mcastSnooping: boolean;
  /** "addr/len", v4 first then v6; only global-scope addresses are ours. */
  addresses: string[];
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
  /** Host-side veth in the tenant namespace. */
  hostLink: string;
  bridge: string;
  mtu: number;
  container: ContainerLinkState;
  /** Limit on what the container receives: tbf as the host-side veth's root qdisc; null = none. */
  ingressLimit: Shaper | null;
  egressLimit: EgressLimit | null;
}

export interface TenantState {
  /** The tenant's name, for reports. */
  tenant: string;
  namespace: string;
  sysctls: Sysctl[];
  bridges: BridgeState[];
  endpoints: EndpointState[];
  /** Complete nft script for the tenant's private table; "" = the table must not exist. */
  nftScript: string;
}

/** The wanted kernel state of one host. */
export interface HostState {
  prefix: string;
  tenants: TenantState[];
}

// --- observed ---------------------------------------------------------------------------------

export interface ObservedBridge {
  name: string;
  mac: string;
  mtu: number;
  up: boolean;
  mcastSnooping: boolean;
  addresses: string[];
}

export interface ObservedVeth {
  name: string;
  ifindex: number;
  /** ifindex of the peer in its own namespace (ip's "link_index"); null when unknown. */
  peerIfindex: number | null;
  master: string | null;
  mtu: number;
  up: boolean;
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
}

export interface ObservedHost {
  /** Every tenant namespace of our prefix that exists, wanted or not. */
  namespaces: string[];
  /** Observation of each wanted tenant (also those whose namespace is still missing). */
  tenants: ObservedTenant[];
  /**
   * Veths in each tenant namespace that is no longer wanted. Deleting them before the namespace makes
   * the container sides disappear at once; the kernel tears a deleted namespace down asynchronously.
   */
  unwanted: UnwantedTenant[];
  /** Wanted tenants that could not be read; diff leaves them alone. */
  failures: ObserveFailure[];
}

export interface UnwantedTenant {
  namespace: string;
  veths: string[];
}

export interface ObserveFailure {
  namespace: string;
  error: Error;
}
