// The desired state of one host's datapath, as the agent computes it from
// netmaster's state and its own endpoint attachments. Plain data: the datapath
// driver renders it into kernel objects, observes the kernel, and applies the
// difference. Every name here is already final (see names.ts): the driver
// invents nothing, so a restarted agent finds exactly what it made before.

export type FwdMode = "bridge" | "routing";

export interface DesiredHost {
  /**
   * Short tag derived from the host name (names.ts hostPrefix). Every kernel
   * object the agent makes outside its own namespace carries it, so several
   * agents share one machine and `--cleanup` finds all of one agent's objects.
   */
  prefix: string;
  tenants: DesiredTenant[];
}

export interface DesiredTenant {
  name: string;
  /** Network namespace holding this tenant's bridges, gateways and policy (names.ts tenantNamespace). */
  namespace: string;
  /** routing: the namespace routes between the tenant's networks; bridge: each network is its own segment. */
  fwdMode: FwdMode;
  networks: DesiredNetwork[];
  endpoints: DesiredEndpoint[];
  /** Complete nft script for the tenant's private table (policy/compile.ts), applied as one transaction. */
  nftScript: string;
}

export interface DesiredNetwork {
  name: string;
  /** Bridge name inside the tenant namespace (names.ts bridgeName). */
  bridge: string;
  /** IPv4 subnet in CIDR form with the network address, e.g. "10.1.1.0/24". */
  subnet: string;
  /** Gateway address without prefix, or "" when the network has none. */
  gateway: string;
  /** IPv6 subnet in CIDR form, or "". */
  ipv6Subnet: string;
  /** IPv6 gateway, or "". */
  ipv6Gateway: string;
  /** MTU of the bridge and every endpoint on it. */
  mtu: number;
}

export interface EndpointQos {
  /** Limit on what the container sends, bits per second; 0 = none. */
  egressBps: number;
  /** Limit on what the container receives, bits per second; 0 = none. */
  ingressBps: number;
  /** Burst in bytes for both limits; 0 = a sensible default derived from the rate. */
  burstBytes: number;
}

export interface DesiredEndpoint {
  /** Endpoint id as netmaster knows it. */
  id: string;
  network: string;
  /** Host-side veth, inside the tenant namespace, enslaved to the network's bridge (names.ts endpointLinkName). */
  hostLink: string;
  /** The container's network namespace: a path (/proc/PID/ns/net, /var/run/netns/NAME). */
  netns: string;
  /** Interface name inside the container (CNI_IFNAME). */
  ifname: string;
  mac: string;
  /** "a.b.c.d/len" */
  ipv4: string;
  /** "addr/len", or "". */
  ipv6: string;
  /** Default route targets inside the container ("" = no default route). */
  gateway: string;
  ipv6Gateway: string;
  mtu: number;
  qos: EndpointQos;
}
