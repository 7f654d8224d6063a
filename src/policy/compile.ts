// Policy compiler: Contiv endpoint-group policy → one nft script per tenant namespace.
//
// SEMANTICS (what a tenant's policy means; README material)
//
//  * Where: one `table inet netplugin` in the tenant's namespace judges every IPv4 and IPv6
//    packet the namespace forwards (bridged, via br_netfilter on the bridges of policed endpoints,
//    or routed between its networks),
//    receives (to the gateway/host addresses) and sends. The source does not matter: another
//    container on this or another host, the gateway, the host, another network.
//  * Stateful: packets of established or related connections (conntrack) always pass; only
//    packets that open a connection (ct state new, and untracked/invalid ones) are judged.
//    Replies of an allowed connection therefore pass in every direction, for every protocol
//    (ICMP echo replies too). A policy change replaces the table but not conntrack: it never
//    cuts an established connection, it only judges new ones. A TCP segment without SYN that
//    conntrack sees first, bridged within one network (a connection begun before its bridge
//    passed netfilter), passes too.
//  * Membership: an endpoint belongs to its group by address (addresses are unique in a tenant;
//    if one is listed in several groups, the group with the lowest id owns it).
//  * `in` rules of group G judge packets whose destination belongs to G; `out` rules of G judge
//    packets whose source belongs to G. A packet between two groups must be allowed by the
//    sender's `out` decision and then by the receiver's `in` decision.
//  * Decision of one group and direction: among its rules that match the packet, the highest
//    priority wins; at equal priority deny wins over allow (Contiv left this undefined). If no
//    rule matches, the packet is allowed (Contiv's default allow); so is every packet of a
//    group without rules.
//  * A rule matches when
//      - peer: `peerGroupId` → the other address (source for `in`, destination for `out`)
//        belongs to that group; `peerCidrs` → it lies in one of them (IPv4 or IPv6; single
//        addresses, CIDRs, Contiv's "a.b.c.d-e" last-octet range, "addr-addr"); both → both;
//        neither → any address. A rule with only IPv4 CIDRs never matches IPv6 packets.
//      - protocol: undefined or 0 → any; 1 (icmp) matches ICMP in IPv4 and ICMPv6 in IPv6;
//        any other number matches that IP protocol (meta l4proto, after IPv6 extension headers).
//      - port (destination port): only tcp (6), udp (17) and sctp (132) carry one. With one of
//        these protocols, port N matches destination port N and 0/undefined any port. With no
//        protocol, port N matches tcp, udp and sctp packets to port N (and no other protocol).
//        With any other protocol the port is ignored (a warning says so).
//  * Always allowed, before policy: ICMPv6 neighbour discovery (types 133-137), the IPv6
//    equivalent of ARP (which never reaches the IP hooks). MLD and IGMP are judged like
//    any other traffic.
//  * bridge forwarding mode: traffic routed between two different networks (bridges) of the
//    tenant is dropped before anything else, even for established connections, except a
//    connection the datapath DNATed from a service's VIP to a provider on another network
//    (conntrack status dnat): that one is judged like any other, with the provider's address.
//  * DSCP: every packet whose source belongs to a group with a DSCP ≠ 0 leaves with that DSCP
//    (IPv4 and IPv6), set in prerouting at mangle priority.
//  * Counters: every verdict element counts the packets and bytes it judged; each element
//    stands for exactly one rule (the winner for that cell), so ruleCounters() sums them per
//    rule key. When two rules tie exactly (same priority and action, overlapping match), the
//    one listed first in the input is credited.
//
// DESIGN (why it looks like this)
//
//  Per-packet cost is independent of the number of rules: the chains are fixed, all
//  decisions are lookups. A packet to judge goes:
//    policy → out_check: `ip saddr vmap @out_groups4` → goto out_g<G> (the sender's group)
//      out_g<G>: mark := the class of peers matching none of G's selectors;
//                mark := `ip daddr map @out_g<G>_peers4` (interval map: address → class id);
//                goto judge_ported | judge_portless
//      judge_ported:   `mark . l4proto . dport vmap @ported_exact`, else `mark . l4proto vmap @ported_any`
//      judge_portless: `mark . nfproto . l4proto vmap @portless_exact`, else `mark vmap @portless_any`
//      (deny → drop, allow → return; no element → return = allow)
//    then in_check the same way on the destination's group and the source address.
//  A peer class is a set of addresses that every selector of G's rules treats alike (the
//  atoms of a sweep over the selectors' intervals). Each class gets its partition of
//  (protocol, port) into winners (cells.ts); classes with identical partitions share one id,
//  across groups too (one policy attached to many groups costs its elements once). The judge
//  maps are plain hash maps (no intervals): a rule names one port and one protocol, so "exact
//  key, else any" is an exact partition. The address maps are rbtree interval maps.
//  The packet mark is scratch space: packets judged by a group chain leave with the mark set to
//  a class id. Nothing else in the tenant namespace may rely on the mark of such packets.
//  See render.ts for the script and trace.ts for the same walk in TypeScript.

import { computeCells, cellsIdentity, isEmptyCells, type Cells } from "./cells.js";
import { coalesce, sweepAtoms, type Span } from "./intervals.js";
import { normalizeInput, type NormRule } from "./normalize.js";
import { denyRuleKeys, elementId, renderScript } from "./render.js";
import type {
  AddrInterval,
  CompiledPolicy,
  Direction,
  GroupChain,
  JudgeElement,
  PolicyInput,
  PolicyTables,
} from "./types.js";

export function groupChainName(direction: Direction, groupId: number): string {
  return `${direction}_g${groupId}`;
}

interface ClassRegistry {
  ids: Map<string, number>;
  cells: Map<number, Cells>;
}

function classIdOf(reg: ClassRegistry, cells: Cells): number {
  if (isEmptyCells(cells)) return 0;
  const identity = cellsIdentity(cells);
  let id = reg.ids.get(identity);
  if (id === undefined) {
    id = reg.ids.size + 1;
    reg.ids.set(identity, id);
    reg.cells.set(id, cells);
  }
  return id;
}

/** Builds the chain of one group and direction; undefined when it could never judge anything. */
function compileGroupChain(reg: ClassRegistry, groupId: number, direction: Direction, rules: NormRule[]): GroupChain | undefined {
  // Selectors of this group's rules; each rule's position in `rules` is its precedence rank.
  const selectorIds = new Map<string, number>();
  const selectors: { id: number; spans4: readonly Span[]; spans6: readonly Span[]; ranks: number[] }[] = [];
  const anyRanks: number[] = [];
  rules.forEach((r, rank) => {
    if (r.peer.kind === "any") {
      anyRanks.push(rank);
      return;
    }
    let id = selectorIds.get(r.peer.key);
    if (id === undefined) {
      id = selectors.length;
      selectorIds.set(r.peer.key, id);
      selectors.push({ id, spans4: r.peer.spans4, spans6: r.peer.spans6, ranks: [] });
    }
    selectors[id]!.ranks.push(rank);
  });

  const memo = new Map<string, number>();
  const classOf = (ids: readonly number[]): number => {
    const key = ids.join(",");
    let cls = memo.get(key);
    if (cls === undefined) {
      const ranks = [...anyRanks];
      for (const id of ids) ranks.push(...selectors[id]!.ranks);
      ranks.sort((a, b) => a - b);
      cls = classIdOf(reg, computeCells(ranks.map((k) => rules[k]!)));
      memo.set(key, cls);
    }
    return cls;
  };

  const noneClass = classOf([]);
  const peersOf = (family: 4 | 6): AddrInterval<number>[] => {
    const atoms = sweepAtoms(selectors.map((s) => ({ id: s.id, spans: family === 4 ? s.spans4 : s.spans6 })));
    const list: AddrInterval<number>[] = [];
    for (const a of atoms) {
      const value = classOf(a.ids);
      if (value !== noneClass) list.push({ lo: a.lo, hi: a.hi, value });
    }
    return coalesce(list);
  };
  const peers4 = peersOf(4);
  const peers6 = peersOf(6);
  if (noneClass === 0 && peers4.length === 0 && peers6.length === 0) return undefined;
  return { groupId, direction, chain: groupChainName(direction, groupId), noneClass, peers4, peers6 };
}

function membersWithChain(members: AddrInterval<number>[], chains: Map<number, GroupChain>): AddrInterval<number>[] {
  return coalesce(members.filter((m) => chains.has(m.value)));
}

function judgeElement(r: NormRule): JudgeElement {
  return { action: r.action, ruleKey: r.key };
}

export function compilePolicy(input: PolicyInput): CompiledPolicy {
  const started = performance.now();
  const norm = normalizeInput(input);

  const byGroup = new Map<string, { groupId: number; direction: Direction; rules: NormRule[] }>();
  for (const r of norm.rules) {
    const k = `${r.groupId}/${r.direction}`;
    let entry = byGroup.get(k);
    if (!entry) byGroup.set(k, (entry = { groupId: r.groupId, direction: r.direction, rules: [] }));
    entry.rules.push(r); // norm.rules is in precedence order, so each list is too
  }

  const reg: ClassRegistry = { ids: new Map(), cells: new Map() };
  const outChains = new Map<number, GroupChain>();
  const inChains = new Map<number, GroupChain>();
  const entries = [...byGroup.values()].sort((a, b) => a.groupId - b.groupId || (a.direction < b.direction ? -1 : 1));
  for (const { groupId, direction, rules } of entries) {
    const spans = norm.groupSpans.get(groupId);
    if (!spans || (spans.spans4.length === 0 && spans.spans6.length === 0)) continue; // no member: nothing to judge
    const chain = compileGroupChain(reg, groupId, direction, rules);
    if (chain) (direction === "out" ? outChains : inChains).set(groupId, chain);
  }

  const portedExact = new Map<string, JudgeElement>();
  const portedAny = new Map<string, JudgeElement>();
  const portlessExact = new Map<string, JudgeElement>();
  const portlessAny = new Map<string, JudgeElement>();
  const elementRules = new Map<string, string>();
  for (const [cls, cells] of reg.cells) {
    for (const [k, r] of cells.portedExact) {
      portedExact.set(`${cls}.${k}`, judgeElement(r));
      elementRules.set(elementId("ported_exact", `${cls}.${k}`), r.key);
    }
    for (const [p, r] of cells.portedAny) {
      portedAny.set(`${cls}.${p}`, judgeElement(r));
      elementRules.set(elementId("ported_any", `${cls}.${p}`), r.key);
    }
    for (const [k, r] of cells.portlessExact) {
      portlessExact.set(`${cls}.${k}`, judgeElement(r));
      elementRules.set(elementId("portless_exact", `${cls}.${k}`), r.key);
    }
    if (cells.portlessAny) {
      portlessAny.set(`${cls}`, judgeElement(cells.portlessAny));
      elementRules.set(elementId("portless_any", `${cls}`), cells.portlessAny.key);
    }
  }

  const bridges = [...new Set(input.networks.map((n) => n.bridge))].sort();
  const crossBridge: [string, string][] = [];
  if (input.fwdMode === "bridge") {
    for (const a of bridges) for (const b of bridges) if (a !== b) crossBridge.push([a, b]);
  }
  const dscpOf = (members: AddrInterval<number>[]) =>
    coalesce(members.filter((m) => norm.dscp.has(m.value)).map((m) => ({ ...m, value: norm.dscp.get(m.value)! })));

  const tables: PolicyTables = {
    fwdMode: input.fwdMode,
    crossBridge,
    dscp4: dscpOf(norm.members4),
    dscp6: dscpOf(norm.members6),
    outGroups4: membersWithChain(norm.members4, outChains),
    outGroups6: membersWithChain(norm.members6, outChains),
    inGroups4: membersWithChain(norm.members4, inChains),
    inGroups6: membersWithChain(norm.members6, inChains),
    outChains,
    inChains,
    portedExact,
    portedAny,
    portlessExact,
    portlessAny,
  };
  const flowRules = input.flowSets === undefined ? [] : denyRuleKeys(tables);
  const script = renderScript(tables, input.flowSets, flowRules);

  const elements: Record<string, number> = {
    out_groups: tables.outGroups4.length + tables.outGroups6.length,
    in_groups: tables.inGroups4.length + tables.inGroups6.length,
    peers: [...outChains.values(), ...inChains.values()].reduce((n, c) => n + c.peers4.length + c.peers6.length, 0),
    ported_exact: portedExact.size,
    ported_any: portedAny.size,
    portless_exact: portlessExact.size,
    portless_any: portlessAny.size,
    dscp: tables.dscp4.length + tables.dscp6.length,
    cross_bridge: crossBridge.length,
  };
  return {
    script,
    elementRules,
    ruleKeys: [...new Set(input.rules.map((r) => r.key))],
    flowRules,
    tables,
    warnings: norm.warnings,
    stats: {
      rules: input.rules.length,
      groups: input.groups.length,
      groupChains: outChains.size + inChains.size,
      classes: reg.cells.size,
      elements,
      totalElements: Object.values(elements).reduce((a, b) => a + b, 0),
      scriptBytes: Buffer.byteLength(script),
      compileMs: performance.now() - started,
    },
  };
}

