// A tenant's PolicyInput as its hosts' agents build it from the same records (agent/pipeline/compile.ts
// policyFor), so the trace judges packets with the structures the hosts load. Netmaster may not import the
// agent; this mirrors its rules, and the e2e test (test/e2e/trace.test.ts) holds the two together with real
// packets. The input is the same on every host of the tenant: it names every network and every group
// cluster-wide, so one input per tenant stands for each host that applied the newest state.

import type { EndpointGroup, Network, NetProfile, Policy, Rule } from "../model/index.js";
import { ENDPOINT_PREFIX, groupStateKey, networkStateKey, objectKey, objectPrefix, serviceStateKey } from "../contract/keys.js";
import type { EndpointState, GroupRecord } from "../contract/records.js";
import { formatIpv4, parseIpv4Subnet } from "../lib/ipv4.js";
import type { PolicyInput } from "../policy/index.js";

/** What the trace reads of netmaster's state (a Tx, or a map in tests). */
export interface StateReader {
  get<T>(key: string): T | undefined;
  list<T>(prefix: string): [string, T][];
}

const PROTOCOLS: Record<string, number> = { tcp: 6, udp: 17, icmp: 1 };

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
  const netPrefix = objectPrefix("network") + tenant + ":";
  const networks = values<Network>(state, netPrefix).flatMap((n) => {
    const subnet = networkCidr(n.subnet);
    // An agent fails a network it cannot build and leaves it out of the policy; direct networks have no bridge.
    if (subnet === undefined) return [];
    return [{ name: n.networkName, subnet, ipv6Subnet: n.ipv6Subnet, direct: n.attachMode !== undefined && n.attachMode !== "bridge" }];
  });
  const netByName = new Map(networks.map((n) => [n.name, n]));
  const groups = values<EndpointGroup>(state, objectPrefix("endpointGroup") + tenant + ":");
  const endpoints = tenantEndpoints(state, tenant);
  const groupId = (name: string) => state.get<GroupRecord>(groupStateKey(`${tenant}:${name}`))?.groupId;
  const rules: PolicyInput["rules"] = [];
  for (const g of groups) {
    const id = groupId(g.groupName);
    if (id === undefined) continue;
    for (const policyName of g.policies) {
      if (!state.get<Policy>(objectKey("policy", `${tenant}:${policyName}`))) continue;
      for (const r of values<Rule>(state, objectPrefix("rule") + `${tenant}:${policyName}:`)) {
        const inbound = r.direction === "in";
        const peerGroup = inbound ? r.fromEndpointGroup : r.toEndpointGroup;
        const peerNet = inbound ? r.fromNetwork : r.toNetwork;
        const peerIp = inbound ? r.fromIpAddress : r.toIpAddress;
        const peerGroupId = peerGroup ? groupId(peerGroup) : undefined;
        if (peerGroup && peerGroupId === undefined) continue; // as the agent: the rule waits for its group
        const peerCidrs: string[] = [];
        if (peerNet) {
          const n = netByName.get(peerNet);
          if (!n) continue;
          peerCidrs.push(n.subnet, ...(n.ipv6Subnet ? [n.ipv6Subnet] : []));
        }
        if (peerIp) peerCidrs.push(peerIp);
        const protocol = r.protocol === "" ? undefined : (PROTOCOLS[r.protocol] ?? Number(r.protocol));
        rules.push({
          key: r.key,
          groupId: id,
          direction: r.direction as "in" | "out",
          priority: r.priority,
          action: r.action as "allow" | "deny",
          ...(peerGroupId !== undefined ? { peerGroupId } : {}),
          ...(peerCidrs.length > 0 ? { peerCidrs } : {}),
          ...(protocol !== undefined ? { protocol } : {}),
          ...(r.port ? { port: r.port } : {}),
        });
      }
    }
  }
  const dscp = (g: EndpointGroup) => (g.netProfile ? (state.get<NetProfile>(objectKey("netprofile", `${tenant}:${g.netProfile}`))?.DSCP ?? 0) : 0);
  return {
    fwdMode: fwdModeOf(state),
    networks: networks.filter((n) => !n.direct).map((n) => ({ name: n.name, bridge: n.name, subnet: n.subnet, ipv6Subnet: n.ipv6Subnet })),
    groups: groups
      .map((g) => {
        const members = endpoints.filter((ep) => ep.groupName === g.groupName);
        return {
          id: groupId(g.groupName) ?? 0,
          name: g.groupName,
          ipv4: members.map((ep) => ep.ipAddress).filter(Boolean),
          ipv6: members.map((ep) => ep.ipv6Address).filter(Boolean),
          dscp: dscp(g),
        };
      })
      .filter((g) => g.id > 0),
    rules,
  };
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
