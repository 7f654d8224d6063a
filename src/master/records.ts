// Runtime records netmaster keeps beside the config objects (see keys.ts for
// where each lives). Allocator fields hold the allocators' own toJSON() output.

import { z } from "zod";

export interface NetworkState {
  /** VLAN id for vlan networks; the cluster-wide local VLAN for vxlan networks (as Contiv). */
  pktTag: number;
  /** VXLAN VNI; 0 for vlan networks. */
  extPktTag: number;
  ipv4: unknown;
  ipv6?: unknown;
}

export interface GroupState {
  /** Persisted, never reused: see EPG_ID_KEY. */
  groupId: number;
  /** Allocator over the group's ipPool, when it has one. */
  pool?: unknown;
}

export interface ServiceState {
  vip: string;
}

/**
 * The shape of an EndpointState record, checked where agents take records in: a record that is not one (a
 * store written by hand, a version that spells it otherwise) is named as such instead of breaking whoever reads it.
 */
export const EndpointRecord = z.object({
  endpointID: z.string(),
  tenantName: z.string(),
  networkName: z.string(),
  groupName: z.string(),
  containerID: z.string(),
  containerName: z.string(),
  ipAddress: z.string(),
  ipv6Address: z.string(),
  macAddress: z.string(),
  homingHost: z.string(),
  intfName: z.string(),
  vtepIP: z.string(),
  labels: z.record(z.string(), z.string()),
  requestedIp: z.boolean(),
});

export interface EndpointState {
  endpointID: string;
  tenantName: string;
  networkName: string;
  /** "" when the endpoint joined the network without a group. */
  groupName: string;
  containerID: string;
  containerName: string;
  ipAddress: string;
  ipv6Address: string;
  macAddress: string;
  homingHost: string;
  intfName: string;
  vtepIP: string;
  labels: Record<string, string>;
  /** True when the IPv4 address was asked for rather than chosen by netmaster. */
  requestedIp: boolean;
}

/** The endpoint that holds a MAC address on a network (keys.ts macKey). */
export interface MacHolder {
  endpointID: string;
}

export interface EpgIdCounter {
  next: number;
}

export interface TenantState {
  /** 1..16383: the tenant's uplinks use 169.254.0.0/16's /30 number `index` (see agent/compile.ts). */
  index: number;
}

/** Endpoints of hosts on infra networks carry this container id prefix (reference contiv.md §3.11). */
export const HOST_ENDPOINT_PREFIX = "host-";
