// A tenant's PolicyInput as its hosts' agents build it from the same records (contract/policy-input.ts, which
// the agents' compile.ts calls too), so the trace judges packets with the structures the hosts load. The input
// is the same on every host of the tenant: it names every network and every group cluster-wide, so one input
// per tenant stands for each host that applied the newest state.

import type { EndpointGroup, Network, NetProfile } from "../model/index.js";
import { policyInputOf, type RecordReader } from "../contract/policy-input.js";
import { ENDPOINT_PREFIX, groupStateKey, networkStateKey, objectKey, objectPrefix, serviceStateKey } from "../contract/keys.js";
import type { EndpointState } from "../contract/records.js";
import { formatIpv4, parseIpv4Subnet } from "../lib/ipv4.js";
import type { PolicyInput } from "../policy/index.js";

/** What the trace reads of netmaster's state (a Tx, or a map in tests). */
export type StateReader = RecordReader;

function values<T>(state: StateReader, prefix: string): T[] {
  return state.list<T>(prefix).map(([, v]) => v);
}

/** The IPv4 subnet as the bridge gets it (Contiv's range form "a.b.c.d-e.f.g.h/len" included); undefined when it cannot be built. */
function networkCidr(subnet: string): string | undefined {
  try {
    const parsed = parseIpv4Subnet(subnet);
    return `${formatIpv4(parsed.network)}/${parsed.prefixLen}`;
  } catch {
    return undefined;
  }
}

export function tenantEndpoints(state: StateReader, tenant: string): EndpointState[] {
  return values<EndpointState>(state, ENDPOINT_PREFIX).filter((ep) => ep.tenantName === tenant);
}

export function fwdModeOf(state: StateReader): "bridge" | "routing" {
  return state.get<{ fwdMode: string }>(objectKey("global", "global"))?.fwdMode === "routing" ? "routing" : "bridge";
}

/**
 * Pure. Bridges are named after their networks: the trace compares them only with each other (cross-bridge
 * drops in bridge mode), never with the kernel's names.
 */
export function tenantPolicyInput(state: StateReader, tenant: string): PolicyInput {
  const networks = values<Network>(state, objectPrefix("network") + tenant + ":").flatMap((n) => {
    const subnet = networkCidr(n.subnet);
    // An agent fails a network it cannot build and leaves it out of the policy; direct networks have no bridge.
    if (subnet === undefined) return [];
    const direct = n.attachMode !== undefined && n.attachMode !== "bridge";
    return [{ name: n.networkName, bridge: direct ? undefined : n.networkName, subnet, ipv6Subnet: n.ipv6Subnet }];
  });
  const groups = values<EndpointGroup>(state, objectPrefix("endpointGroup") + tenant + ":");
  const dscp = (g: EndpointGroup) => (g.netProfile ? (state.get<NetProfile>(objectKey("netprofile", `${tenant}:${g.netProfile}`))?.DSCP ?? 0) : 0);
  return policyInputOf(state, tenant, fwdModeOf(state), networks, groups, tenantEndpoints(state, tenant), dscp);
}

/** What tenantRevision reads: records with the revision of their last change (master's StateCache). */
export interface RevisionReader {
  list(prefix: string): [string, { value: unknown; modRevision: number }][];
}

/**
 * The newest change to what the tenant's policy and services are compiled from. Deletions count where they
 * re-write a record: a removed rule re-writes its policy, a removed endpoint its network's allocator record.
 */
export function tenantRevision(state: RevisionReader, tenant: string): number {
  const prefixes = [
    objectPrefix("tenant") + tenant,
    objectKey("global", "global"),
    ...["network", "endpointGroup", "policy", "rule", "serviceLB", "netprofile"].map((kind) => objectPrefix(kind) + tenant + ":"),
    groupStateKey(`${tenant}:`),
    networkStateKey(`${tenant}:`),
    serviceStateKey(`${tenant}:`),
  ];
  let newest = 0;
  for (const prefix of prefixes) for (const [, e] of state.list(prefix)) newest = Math.max(newest, e.modRevision);
  for (const [, e] of state.list(ENDPOINT_PREFIX)) if ((e.value as EndpointState).tenantName === tenant) newest = Math.max(newest, e.modRevision);
  return newest;
}
