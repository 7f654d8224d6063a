// Runtime records netmaster keeps beside the config objects (see contract/keys.ts for where each lives).
// Allocator fields hold the allocators' own toJSON() output; what agents get of them is in contract/records.ts.

import type { GroupRecord, NetworkTags } from "../contract/records.js";

export { EndpointRecord, HOST_ENDPOINT_PREFIX, type EndpointState, type ServiceState, type TenantState } from "../contract/records.js";

export interface NetworkState extends NetworkTags {
  ipv4: unknown;
  ipv6?: unknown;
}

export interface GroupState extends GroupRecord {
  /** Allocator over the group's ipPool, when it has one. */
  pool?: unknown;
}

/** The endpoint that holds a MAC address on a network (keys.ts macKey). */
export interface MacHolder {
  endpointID: string;
}

export interface EpgIdCounter {
  next: number;
}

