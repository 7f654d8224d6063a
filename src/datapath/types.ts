// The desired state of one host's datapath, as the agent computes it from
// netmaster's state and its own endpoint attachments. Plain data: the datapath
// driver renders it into kernel objects, observes the kernel, and applies the
// difference. Every name here is already final (see names.ts): the driver
// invents nothing, so a restarted agent finds exactly what it made before.

import type { PolicyInput } from "../policy/index.js";

export type FwdMode = "bridge" | "routing";

export interface DesiredHost {
  /**
   * Short tag derived from the host name (names.ts hostPrefix). Every kernel
   * object the agent makes outside its own namespace carries it, so several
   * agents share one machine and `--cleanup` finds all of one agent's objects.
   */
  prefix: string;
  tenants: DesiredTenant[];
  /** Objects in the agent's own namespace (the host's): NAT for tenants' outbound traffic. */
  host: DesiredHostNamespace;
  /**
   * Tenant namespaces of the prefix that are not in `tenants` but must be left exactly as they are, neither
   * read nor changed nor removed: tenants whose desired state could not be made (DatapathProblem), so a
   * problem there never takes down what already runs. None when absent.
   */
  frozen?: string[];
}

/**
 * What a problem concerns, from the smallest unit up: an endpoint (of a network, of a tenant), a network (of a
 * tenant), a tenant; nothing set: the host as a whole. An endpoint of a network on another host (a VXLAN
 * remote) has its network and tenant set too.
 */
export interface DatapathOwner {
  tenant?: string;
  network?: string;
  endpoint?: string;
}

/** Why part of a DesiredHost cannot be rendered, and the unit it concerns. */
export interface DatapathProblem {
  owner: DatapathOwner;
  /** The field and what is wrong with it, e.g. `ipv6Subnet: invalid subnet ""`. */
  message: string;
}

export interface DesiredHostNamespace {
  /**
   * Outbound NAT in the agent's namespace: traffic arriving from tenant uplinks (169.254.0.0/16 after the
   * tenant's own NAT) and leaving through any other interface is masqueraded to that interface's address.
   * Needs ip_forward in the agent's namespace. Our nft table there is named names.ts hostNftTable(prefix).
   */
  natOutbound: boolean;
  /**
   * The /16 the tenants' uplinks take their /30s from (Contiv's global pvtSubnet): what arrives from an uplink
   * with a source in it is the tenants' own traffic. Default 169.254.0.0/16.
   */
  uplinkRange?: string;
  /**
   * The agent's --uplink-if: the host's interface to the physical network. A driver that can tag frames (ovs)
   * makes it a trunk for the `vlan` networks; the Linux driver uses it only for direct attachments.
   */
  uplinkIf?: string;
  /**
   * The global sdnController (model/sdn-controller.ts): the OpenFlow controller the host's bridge connects to,
   * tcp:IP:PORT or ssl:IP:PORT; none when absent or "". A driver without a bridge (linux) cannot use one and
   * says so (DatapathDriver.unapplied); the ovs driver's own --ovs-controller, when given, wins over it.
   */
  sdnController?: string;
}

export interface DesiredTenant {
  name: string;
  /** Network namespace holding this tenant's bridges, gateways and policy (names.ts tenantNamespace). */
  namespace: string;
  /** routing: the namespace routes between the tenant's networks; bridge: each network is its own segment. */
  fwdMode: FwdMode;
  networks: DesiredNetwork[];
  endpoints: DesiredEndpoint[];
  /**
   * The tenant's endpoint-group policy (groups, rules, DSCP) as the driver is to enforce it in the tenant
   * namespace. The driver compiles it into its own mechanism (the Linux driver: one nft table, policy/compile.ts).
   */
  policy: PolicyInput;
  /**
   * A veth between the agent's namespace and the tenant namespace, for traffic to addresses outside the
   * cluster: the tenant namespace gets a default route through it and masquerades to tenantAddr what
   * leaves through it (tenants may share subnets, so their traffic must be told apart before the host's
   * own NAT); the host side routes replies back by conntrack. Absent: the tenant reaches nothing outside.
   */
  uplink?: DesiredUplink;
  /**
   * Host endpoints: for each infra network, a veth whose host side (in the agent's namespace) holds the
   * host's own address on that network, and whose tenant side is enslaved to the network's bridge, so
   * containers reach their host (reference contiv.md §3.11).
   */
  hostEndpoints: DesiredHostEndpoint[];
  /**
   * Service load balancers (Contiv's serviceLB): a new connection from anywhere in the tenant to a VIP and
   * port goes to one of the providers, chosen evenly, at the provider port; replies come back from the VIP.
   * The provider's own policy judges the connection as a direct one. None when absent.
   */
  services?: DesiredService[];
}

export interface DesiredService {
  /** The service's name, for errors and logs. */
  name: string;
  /** The network whose bridge holds the VIPs (on every host of the tenant: ARP and ND are answered locally). */
  network: string;
  /** IPv4 VIP, no prefix. */
  vip: string;
  /** IPv6 VIP, no prefix, or "" (the network has no IPv6 subnet). */
  vip6: string;
  ports: DesiredServicePort[];
  /**
   * Where connections go, sorted. Empty: a connection to the VIP is refused at once (TCP reset, ICMP port
   * unreachable), not left to time out. An IPv6 connection goes to the providers with an IPv6 address.
   */
  providers: DesiredServiceProvider[];
}

export interface DesiredServicePort {
  protocol: "tcp" | "udp";
  /** The port on the VIP. */
  port: number;
  /** The port on the provider. */
  targetPort: number;
}

export interface DesiredServiceProvider {
  /** The provider's endpoint id. */
  endpoint: string;
  ipv4: string;
  /** "" when it has none. */
  ipv6: string;
}

export interface DesiredUplink {
  /** veth end in the agent's namespace (names.ts uplinkHostLink: carries the prefix). */
  hostLink: string;
  /** veth end in the tenant namespace (names.ts uplinkTenantLink). */
  tenantLink: string;
  /** "169.254.a.b/30" on hostLink. */
  hostAddr: string;
  /** "169.254.a.c/30" on tenantLink; the tenant's default route goes via hostAddr's address. */
  tenantAddr: string;
  /**
   * IPv4 and IPv6 addresses (no prefix) of this tenant's local containers on routed networks: the agent's
   * namespace routes each as a /32 via tenantAddr's address (a /128 via the tenant end's fixed link-local
   * address) over hostLink, so traffic from the physical network (BGP) reaches them. An IPv6 address here also
   * gives the uplink IPv6 (link-local addresses, the tenant's IPv6 default route). Empty when the tenant has
   * no routed network.
   */
  routes: string[];
}

export interface DesiredHostEndpoint {
  network: string;
  /** veth end in the agent's namespace, holding `address` (names.ts hostEndpointLink: carries the prefix). */
  hostLink: string;
  /** veth end in the tenant namespace, enslaved to the network's bridge. */
  tenantLink: string;
  /** "a.b.c.d/len": the host's address on the infra network. */
  address: string;
  mac: string;
  mtu: number;
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
  /**
   * Routed to the physical network (Contiv's routing + VLAN with BGP) instead of bridged across hosts: no
   * VXLAN device; the IPv4 gateway carries no subnet route (noprefixroute), each local container gets a
   * host route on the bridge, and the bridge answers ARP for every other address of the subnet (proxy ARP),
   * so traffic to containers on other hosts takes the tenant's default route to its uplink and from there
   * the host's BGP routes. Needs the tenant's uplink (and DesiredUplink.routes for the way back). IPv6 the
   * same way: the IPv6 gateway carries no subnet route either, each local container gets a /128 on the bridge,
   * and the bridge answers neighbour solicitations for `remoteIpv6` (Linux proxies NDP per address only).
   * Never set together with `vxlan`.
   */
  routed: boolean;
  /** Routed network: IPv6 addresses (no prefix) of its containers on other hosts. None when absent. */
  remoteIpv6?: string[];
  /**
   * Bridged packets pass the tenant's inet hooks (br_netfilter, per bridge): needed where a local endpoint's
   * group has rules or sets DSCP. Off, frames between the bridge's ports skip netfilter and conntrack
   * entirely; routed packets pass the hooks either way.
   */
  netfilter: boolean;
  /** Present for VXLAN networks in a cluster: the overlay device on the bridge and what it must know. */
  vxlan?: DesiredVxlan;
  /**
   * An `encap vlan` network's VLAN tag (its pktTag). The Linux driver carries such networks on the overlay
   * (`vxlan`: these kernels have no 802.1Q devices); a driver that can tag frames (ovs) hands them to the physical
   * network on DesiredHostNamespace.uplinkIf, tagged, when the host has one.
   */
  vlan?: number;
  /**
   * DNS queries that containers on this network send to resolvers elsewhere (Docker's embedded resolver
   * forwards names it does not know from inside the container) are answered by the tenant's DNS at the
   * network's gateway instead: it knows the tenant's names on every host, and asks upstream for the rest.
   */
  interceptDns?: boolean;
}

/**
 * The network's VXLAN device: created in the agent's namespace (so its UDP socket and underlay routing stay
 * there, bound to localVtep), then moved into the tenant namespace and enslaved to the network's bridge,
 * with bridge learning off on that port. No data-plane learning anywhere: every remote MAC is a static FDB
 * entry pointing at its host's VTEP, broadcast/unknown/multicast frames are replicated to every peer VTEP
 * (an all-zero FDB entry per peer), and in proxy mode the device answers ARP/ND for remote endpoints from
 * static neighbour entries instead of flooding the request.
 */
export interface DesiredVxlan {
  vni: number;
  /** Device name (names.ts vxlanName). */
  device: string;
  /** This host's underlay address. */
  localVtep: string;
  /** UDP port, 4789 unless configured. */
  port: number;
  /** VTEPs of the other hosts that have this network: the flood list. */
  peers: string[];
  /** proxy: ARP/ND answered by the device from `remotes`; flood: requests replicated to peers. */
  arpMode: "proxy" | "flood";
  /** Endpoints of this network on other hosts. */
  remotes: DesiredRemoteEndpoint[];
}

export interface DesiredRemoteEndpoint {
  /** Endpoint id as netmaster knows it: names it in a DatapathProblem. */
  id: string;
  mac: string;
  /** Addresses without prefix; ipv6 may be "". */
  ipv4: string;
  ipv6: string;
  /** VTEP of the host it lives on. */
  vtep: string;
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
  /**
   * Who owns the container side of the veth. "ours" (absent): the datapath creates it in `netns` as `ifname`,
   * configures it (MAC, MTU, addresses, default routes) and re-creates it when it is gone. "runtime": a runtime
   * that takes the interface itself (Docker moves it into the sandbox, renames and configures it): when the
   * host-side veth is missing the datapath makes the pair with the container end in `netns` as `ifname`, down,
   * with `mac` and `mtu` (where the runtime picks it up), and otherwise manages the host side alone; it never
   * reads or changes the container side, wherever the runtime has put it.
   */
  containerSide?: ContainerSide;
  mac: string;
  /**
   * "a.b.c.d/len"; "" for an endpoint waiting for its DHCP lease (an ipam dhcp network): plumbed on its bridge
   * without IPv4 and without an IPv4 gateway, until the agent has the lease and netmaster recorded it.
   */
  ipv4: string;
  /**
   * The IPv4 address is (or will be) a DHCP lease held on the container's interface (an ipam dhcp network, or a
   * delegated IPAM plugin that leases there, CNI dhcp): its DHCP client keeps asking from 0.0.0.0 after the address
   * is recorded (a lease sought again after an agent restart or a lost lease, a plugin's renewals). A datapath that
   * holds endpoints to their addresses lets those packets pass. Absent: false.
   */
  dhcp?: boolean;
  /** "addr/len", or "". */
  ipv6: string;
  /** Default route targets inside the container ("" = no default route). */
  gateway: string;
  ipv6Gateway: string;
  mtu: number;
  qos: EndpointQos;
  /**
   * Host ports published to this container (`-p`, CNI portMappings): traffic to the host's address and
   * port goes through the tenant's uplink to the container's IPv4 address. Needs the tenant's uplink. The
   * agent gives them only to a container's interface with the default route (replies leave by it). None when absent.
   */
  portMappings?: DesiredPortMapping[];
  /**
   * A direct attachment (NIC attach modes) instead of the veth on the network's bridge: the container's
   * interface is made on a host interface (macvlan, ipvlan) or is a whole host interface moved in
   * (host-device); the tenant's policy and the endpoint's qos are enforced inside the container's namespace.
   * `hostLink` and `containerSide` are unused then, `mtu` 0 means the host interface's, and the network need not
   * be among the tenant's `networks` (it has no bridge). Absent: the bridge path.
   */
  direct?: DesiredDirect;
}

export interface DesiredDirect {
  mode: "macvlan" | "ipvlan" | "host-device";
  /** macvlan/ipvlan: the host interface it is made on (the uplink); host-device: the host interface moved in. */
  hostIf: string;
}

export type ContainerSide = "ours" | "runtime";

export type PortProtocol = "tcp" | "udp" | "sctp";

export interface DesiredPortMapping {
  protocol: PortProtocol;
  hostPort: number;
  containerPort: number;
  /** An IPv4 address of the host, or "" for every address of the host (loopback included). */
  hostIP: string;
}
