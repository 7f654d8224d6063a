// The records agents receive on the state stream, one zod schema each: the TypeScript type and the check an
// agent runs once, when a record arrives. Netmaster keeps more in some of them (address allocators, ip-pool
// bitmaps); those parts never leave it (slices.ts projects them away), so the agent's schemas name only what
// it gets. Config objects (keys.ts objectKey) are the model's (src/model) and are checked with its schemas.

import { z } from "zod";

/**
 * Where an endpoint's addresses came from: "netmaster" (its allocator, or an address the runtime asked for
 * by name), "cni:<type>", the IPAM plugin a CNI config delegates to (src/cni/delegate.ts), or "dhcp", a lease
 * the agent holds from the DHCP server on an `ipam: dhcp` network's segment. Records also say "docker": a
 * Docker endpoint's address from the Docker network's own IPAM driver (netmaster tells, master/docker); no
 * request may claim it.
 */
export const IpamSource = z
  .string()
  .max(140)
  .regex(/^(netmaster|dhcp|cni:[A-Za-z0-9][A-Za-z0-9._+-]*)$/, 'ipamSource must be "netmaster", "dhcp" or "cni:<IPAM plugin>"');
export type IpamSource = z.infer<typeof IpamSource>;

/** A container's (or a host's own) attachment to a network: stored at endpointKey(endpointID). */
export const EndpointRecord = z.object({
  endpointID: z.string(),
  tenantName: z.string(),
  networkName: z.string(),
  /** "" when the endpoint joined the network without a group. */
  groupName: z.string(),
  containerID: z.string(),
  containerName: z.string(),
  ipAddress: z.string(),
  ipv6Address: z.string(),
  macAddress: z.string(),
  homingHost: z.string(),
  intfName: z.string(),
  vtepIP: z.string(),
  /** The runtime's labels and netmaster's io.contiv.tenant, io.contiv.network and io.contiv.net-group. */
  labels: z.record(z.string(), z.string()),
  /** True when the IPv4 address was asked for rather than chosen by netmaster. */
  requestedIp: z.boolean(),
  /** More names the tenant's DNS answers with the endpoint's addresses. */
  aliases: z.array(z.string()).optional(),
  /** Where its addresses came from (IpamSource); absent: "netmaster" (and records written before the field). */
  ipamSource: z.string().optional(),
});
export type EndpointState = z.infer<typeof EndpointRecord>;

/** Endpoints of hosts on infra networks carry this container id prefix (reference contiv.md §3.11). */
export const HOST_ENDPOINT_PREFIX = "host-";

/** A network's packet tags, at networkStateKey (netmaster's record also holds its address allocators). */
export const NetworkTags = z.object({
  /** VLAN id for vlan networks; the cluster-wide local VLAN for vxlan networks (as Contiv). */
  pktTag: z.int(),
  /** VXLAN VNI; 0 for vlan networks. */
  extPktTag: z.int(),
});
export type NetworkTags = z.infer<typeof NetworkTags>;

/** An endpoint group's id, at groupStateKey (netmaster's record also holds its ip-pool allocator). */
export const GroupRecord = z.object({
  /** Persisted, never reused (keys.ts EPG_ID_KEY). */
  groupId: z.int(),
});
export type GroupRecord = z.infer<typeof GroupRecord>;

/** A service load balancer's VIPs, at serviceStateKey: IPv4, and IPv6 when its network has an IPv6 subnet. */
export const ServiceRecord = z.object({ vip: z.string(), vip6: z.string().optional() });
export type ServiceState = z.infer<typeof ServiceRecord>;

/**
 * A block of a network's IPv4 addresses held by one host, at blockKey: the host's agent assigns them to its
 * containers without a round trip and registers each endpoint after (EndpointRequest.fromBlock). Netmaster's
 * allocator counts the whole block as taken while it exists.
 */
export const AddressBlockRecord = z.object({
  tenantName: z.string(),
  networkName: z.string(),
  host: z.string(),
  /** Aligned, inside the network's subnet. */
  cidr: z.string(),
  /** The addresses of the CIDR the block holds, ascending: those free when it was granted (never the gateway). */
  addresses: z.array(z.string()),
  /** Address → id of the endpoint registered with it, as netmaster knows them. */
  assigned: z.record(z.string(), z.string()),
});
export type AddressBlock = z.infer<typeof AddressBlockRecord>;

/** A tenant's index, at tenantStateKey: its uplinks use 169.254.0.0/16's /30 number `index` on every host. */
export const TenantRecord = z.object({ index: z.int() });
export type TenantState = z.infer<typeof TenantRecord>;

/** A host as its agent registered it, at hostKey(name). */
export const HostRecord = z.object({
  name: z.string(),
  vtepIP: z.string(),
  mtu: z.int(),
  agentVersion: z.string(),
});
export type HostRecord = z.infer<typeof HostRecord>;

/** An address Docker's IPAM handed out (keys.ts reservationKey), as the agent of its host reads it. */
export const DockerReservationRecord = z.object({
  host: z.string(),
  /** The endpoint that adopted the address; "" while the reservation holds it. */
  endpointId: z.string(),
});
