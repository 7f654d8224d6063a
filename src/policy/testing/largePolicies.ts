// Policy inputs of a given size, for load tests and benchmarks.

import type { PolicyGroup, PolicyInput, PolicyRule } from "../types.js";

function groupsOf(count: number, size: number): PolicyGroup[] {
  return Array.from({ length: count }, (_, i) => ({
    id: i + 1,
    name: `g${i + 1}`,
    // Group i: 198.18.<i / 2>.<(i % 2) * 128 + k> and fd00::<i>:<k>; scattered enough to need intervals.
    ipv4: Array.from({ length: size }, (_, k) => `198.18.${Math.floor(i / 2)}.${(i % 2) * 128 + k + 1}`),
    ipv6: Array.from({ length: size }, (_, k) => `fd00::${(i + 1).toString(16)}:${(k + 1).toString(16)}`),
    dscp: i % 10 === 0 ? 10 : 0,
  }));
}

/**
 * One policy on one group: `rules` times "allow tcp port N from group 2" (N = 1, 2, ...),
 * under a "deny tcp" at priority 1 — Contiv's whitelist idiom at scale.
 */
export function portWhitelist(rules: number): PolicyInput {
  const list: PolicyRule[] = [{ key: "t:wl:deny", groupId: 1, direction: "in", priority: 1, action: "deny", protocol: 6 }];
  for (let n = 1; n < rules; n++) {
    list.push({ key: `t:wl:r${n}`, groupId: 1, direction: "in", priority: 10, action: "allow", protocol: 6, port: n, peerGroupId: 2 });
  }
  return { fwdMode: "routing", networks: [{ name: "n", bridge: "nb0", subnet: "198.18.0.0/15", ipv6Subnet: "fd00::/64" }], groups: groupsOf(2, 100), rules: rules === 0 ? [] : list };
}

/**
 * `rules` rules spread over 100 groups of 10 endpoints: both directions, peers by group, by CIDR
 * or any, tcp/udp/icmp/any, mixed priorities and actions. Deterministic.
 */
export function manyGroups(rules: number): PolicyInput {
  const groups = groupsOf(100, 10);
  const list: PolicyRule[] = [];
  let x = 12345;
  const next = (n: number) => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return (x >>> 8) % n;
  };
  for (let i = 0; i < rules; i++) {
    const r: PolicyRule = {
      key: `t:p${next(50)}:r${i}`,
      groupId: next(100) + 1,
      direction: next(2) === 0 ? "in" : "out",
      priority: next(100) + 1,
      action: next(3) === 0 ? "deny" : "allow",
    };
    const peer = next(3);
    if (peer === 0) r.peerGroupId = next(100) + 1;
    if (peer === 1) r.peerCidrs = [`198.18.${next(50)}.0/25`];
    const proto = next(4);
    if (proto < 2) {
      r.protocol = proto === 0 ? 6 : 17;
      r.port = next(2000) + 1;
    } else if (proto === 2) r.protocol = 1;
    list.push(r);
  }
  return { fwdMode: "bridge", networks: [{ name: "a", bridge: "nb0", subnet: "198.18.0.0/16", ipv6Subnet: "fd00::/64" }, { name: "b", bridge: "nb1", subnet: "198.19.0.0/16", ipv6Subnet: "" }], groups, rules: list };
}
