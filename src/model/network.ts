// network: an L2/L3 segment of a tenant. Key `tenantName:networkName` (reference §1.3).

import { z } from "zod";
import {
  goEnum,
  goInt,
  goString,
  IPV4_OR_EMPTY,
  IPV4_SUBNET,
  IPV6_OR_EMPTY,
  IPV6_SUBNET_OR_EMPTY,
  NAME,
  NAME_OR_EMPTY,
  objectKey,
  ONCE_FIELDS_ARE_VALID,
} from "./common.js";
import { EndpointOper } from "./endpoint.js";
import { addressProblems } from "./network-addresses.js";
import { attachProblems, ATTACH_MODES, IFNAME } from "./network-attach.js";

const S = "Network";

/** Largest pktTag the original accepts (a VNI is 24 bits; the original allows 2^24 itself). */
export const MAX_PKT_TAG = 16777216;

// Fields in the ASCII order of their JSON names: the order the original checks them in.
/** Where a network's containers get their IPv4 addresses. */
export const NETWORK_IPAM = ["netmaster", "dhcp"] as const;
export type NetworkIpam = (typeof NETWORK_IPAM)[number];

export const Network = z.object({
  /**
   * How containers join the network on a host (ours, not Contiv's; absent = "bridge"): a veth on the network's
   * bridge, or directly on a host interface (macvlan, ipvlan L2) or a whole host interface (host-device).
   * See the README "NIC attach modes" and network-attach.ts.
   */
  attachMode: z.enum(ATTACH_MODES, { error: `attachMode must be one of ${ATTACH_MODES.join(", ")}` }).optional(),
  /** "" → the derived tag `<network>.<tenant>`. */
  cfgdTag: goString(S, "cfgdTag", { max: 128, pattern: NAME_OR_EMPTY }),
  /** host-device: the host interface moved into the container (one container at a time holds it). */
  device: z.string().regex(IFNAME, { error: "device must be an interface name (1-15 of A-Z a-z 0-9 . _ -)" }).optional(),
  /** Required at REST level (netctl sends vxlan by default). */
  encap: goEnum(S, "encap", ["vlan", "vxlan"]),
  gateway: goString(S, "gateway", { pattern: IPV4_OR_EMPTY }),
  /**
   * Where containers' IPv4 addresses come from: "netmaster" (its allocator; "" and absent mean it) or "dhcp"
   * (the site's DHCP server on the network's segment; the agent leases them, see src/agent/dhcp). Not Contiv's.
   */
  ipam: goEnum(S, "ipam", NETWORK_IPAM, { fallback: "netmaster", message: 'ipam must be "netmaster" or "dhcp"' }),
  ipv6Gateway: goString(S, "ipv6Gateway", { pattern: IPV6_OR_EMPTY }),
  /** Accepts prefix lengths /1-/128 (the original's regex rejected a few; see common.ts). */
  ipv6Subnet: goString(S, "ipv6Subnet", { pattern: IPV6_SUBNET_OR_EMPTY }),
  networkName: goString(S, "networkName", { max: 64, pattern: NAME }),
  /** "" → "data", as the original's Validate does. */
  nwType: goEnum(S, "nwType", ["infra", "data"], { fallback: "data" }),
  /** vlan: the 802.1Q id; vxlan: the VNI. 0 = allocate one. */
  pktTag: goInt(S, "pktTag", { max: MAX_PKT_TAG }),
  /** `a.b.c.d/len` or `a.b.c.d-e.f.g.h/len`; required. */
  subnet: goString(S, "subnet", { pattern: IPV4_SUBNET }),
  tenantName: goString(S, "tenantName", { max: 64, pattern: NAME }),
  /** macvlan/ipvlan: the host interface the containers' interfaces sit on; it wins over the agent's --uplink-if, which is the host's default. */
  uplinkIf: z.string().regex(IFNAME, { error: "uplinkIf must be an interface name (1-15 of A-Z a-z 0-9 . _ -)" }).optional(),
  key: objectKey,
}).superRefine((net, ctx) => {
  for (const { path, message } of addressProblems(net)) ctx.addIssue({ code: "custom", path: [path], message });
  for (const { path, message } of attachProblems(net)) ctx.addIssue({ code: "custom", path: [path], message });
  const dhcp = dhcpProblem(net);
  if (dhcp !== undefined) ctx.addIssue({ code: "custom", path: ["ipam"], message: dhcp });
}, ONCE_FIELDS_ARE_VALID);
export type Network = z.infer<typeof Network>;

/**
 * Why a network cannot take its addresses from DHCP, or undefined. The server must answer on the network's
 * L2 segment: a vlan network's bridge, which a site's server (or its relay) reaches. A vxlan network's segment
 * is our overlay, where no site server sits, and an infra network's host endpoints are netmaster's.
 */
export function dhcpProblem(net: { ipam: string; encap: string; nwType: string; attachMode?: string | undefined }): string | undefined {
  if (net.ipam !== "dhcp") return undefined;
  if (net.attachMode !== undefined && net.attachMode !== "bridge") {
    return `ipam dhcp needs attachMode bridge: the agent leases for a container on the network's bridge, not on a ${net.attachMode} attachment`;
  }
  if (net.encap !== "vlan") {
    return `ipam dhcp needs encap vlan: a DHCP server answers on the network's segment, and a ${net.encap} network's segment is the overlay, where the site's server is not`;
  }
  if (net.nwType === "infra") return "ipam dhcp is for data networks: the hosts' own addresses on an infra network come from netmaster";
  return undefined;
}

export const NetworkOper = z.object({
  /** Addresses handed out automatically (the gateway is not counted). */
  allocatedAddressesCount: z.int().optional(),
  /** Comma+space separated ranges, e.g. "10.1.1.1-10.1.1.3, 10.1.1.254". */
  allocatedIPAddresses: z.string().optional(),
  availableIPAddresses: z.string().optional(),
  endpoints: z.array(EndpointOper).optional(),
  /** The VXLAN VNI; 0 (absent) for vlan networks. */
  externalPktTag: z.int().optional(),
  networkTag: z.string().optional(),
  numEndpoints: z.int().optional(),
  /** The VLAN: the 802.1Q id, or the host-local VLAN of a vxlan network. */
  pktTag: z.int().optional(),
  /** Ours, not Contiv's: the hosts' blocks of the network's addresses, each with how many of its `size` are assigned. */
  addressBlocks: z.array(z.object({ host: z.string(), cidr: z.string(), assigned: z.int(), size: z.int() })).optional(),
});
export type NetworkOper = z.infer<typeof NetworkOper>;
