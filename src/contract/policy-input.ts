// A tenant's PolicyInput from the records netmaster and its agents share: the agents compile it into the nft
// table each tenant namespace loads (agent/pipeline/compile.ts), netmaster into what its trace judges packets
// with (master/trace-policy.ts). One function for both, so the trace cannot drift from what the hosts load.

import type { EndpointGroup, Policy, Rule } from "../model/index.js";
import type { PolicyInput } from "../policy/index.js";
import { groupStateKey, objectKey, objectPrefix } from "./keys.js";
import type { EndpointState, GroupRecord } from "./records.js";

/** The part of the shared state the input is read from (an agent's mirror, netmaster's Tx). */
export interface RecordReader {
  get<T>(key: string): T | undefined;
  list<T>(prefix: string): [string, T][];
}

/** A network of the tenant as the policy sees it: bridged ones get a bridge, every one may be a rule's peer. */
export interface PolicyNetwork {
  name: string;
  /** Undefined: no bridge in the tenant namespace (a network attached directly to a host interface). */
  bridge: string | undefined;
  subnet: string;
  ipv6Subnet: string;
}

const PROTOCOLS: Record<string, number> = { tcp: 6, udp: 17, icmp: 1 };

/**
 * Pure. The tenant's groups (with their members' addresses and DSCP), rules and bridged networks. A group with no
 * id yet, and a rule whose peer group has none or whose peer network is not among `networks`, wait: they are
 * left out until their records arrive.
 */
export function policyInputOf(
  view: RecordReader,
  tenant: string,
  fwdMode: PolicyInput["fwdMode"],
  networks: PolicyNetwork[],
  groups: EndpointGroup[],
  endpoints: EndpointState[],
  dscp: (g: EndpointGroup) => number,
): PolicyInput {
  const groupId = (name: string) => view.get<GroupRecord>(groupStateKey(`${tenant}:${name}`))?.groupId;
  const netByName = new Map(networks.map((n) => [n.name, n]));
  const rules: PolicyInput["rules"] = [];
  for (const g of groups) {
    const id = groupId(g.groupName);
    if (id === undefined) continue;
    for (const policyName of g.policies) {
      if (!view.get<Policy>(objectKey("policy", `${tenant}:${policyName}`))) continue;
      for (const [, r] of view.list<Rule>(objectPrefix("rule") + `${tenant}:${policyName}:`)) {
        const inbound = r.direction === "in";
        const peerGroup = inbound ? r.fromEndpointGroup : r.toEndpointGroup;
        const peerNet = inbound ? r.fromNetwork : r.toNetwork;
        const peerIp = inbound ? r.fromIpAddress : r.toIpAddress;
        const peerGroupId = peerGroup ? groupId(peerGroup) : undefined;
        if (peerGroup && peerGroupId === undefined) continue;
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
  return {
    fwdMode,
    networks: networks.flatMap((n) => (n.bridge === undefined ? [] : [{ name: n.name, bridge: n.bridge, subnet: n.subnet, ipv6Subnet: n.ipv6Subnet }])),
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
