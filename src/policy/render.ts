// Renders PolicyTables as one `nft -f` script. The script is a single
// transaction that replaces `table inet netplugin` wholesale and is idempotent:
// `table … {}` creates the table if missing, `delete table` removes it with
// everything in it, and the full definition follows. Conntrack entries are not
// part of the table, so established connections survive a reload.
//
// The chains are the same for every input; only map elements change. Hook
// priorities: prerouting at mangle (-150) for DSCP, forward/input/output at
// filter (0) for policy.

import { formatInterval } from "./addr.js";
import { denyChainName, renderFlowSets, type FlowSetOptions } from "./flowsets.js";
import { NFPROTO_IPV4 } from "./normalize.js";
import type { AddrInterval, GroupChain, JudgeElement, PolicyTables } from "./types.js";

export const TABLE_NAME = "netplugin";
/** Bridges whose connections are being picked up mid-stream, as `"br" . "br"` elements with a timeout. */
export const PICKUP_SET = "bridged";
export const JUDGE_MAPS = ["ported_exact", "ported_any", "portless_exact", "portless_any"] as const;
export type JudgeMap = (typeof JUDGE_MAPS)[number];

/** Identity of one verdict-map element: map name and its key as dotted integers ("ported_exact:3.6.80"). */
export function elementId(map: JudgeMap, key: string): string {
  return `${map}:${key}`;
}

const PORTED_NAMES = new Map([
  [6, "tcp"],
  [17, "udp"],
  [132, "sctp"],
]);

const ND_TYPES = "nd-router-solicit, nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert, nd-redirect";

function elementsBlock(items: string[]): string[] {
  if (items.length === 0) return [];
  return ["\t\telements = {", ...items.map((e, i) => `\t\t\t${e}${i < items.length - 1 ? "," : ""}`), "\t\t}"];
}

function intervalMap(name: string, keyType: string, dataType: string, list: AddrInterval<string>[], family: 4 | 6): string[] {
  return [
    `\tmap ${name} {`,
    `\t\ttypeof ${keyType} : ${dataType}`,
    "\t\tflags interval",
    ...elementsBlock(list.map((m) => `${formatInterval(family, m.lo, m.hi)} : ${m.value}`)),
    "\t}",
  ];
}

function numericKey(k: string): number[] {
  return k.split(".").map(Number);
}

function compareKeys(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? -1) - (b[i] ?? -1);
    if (d !== 0) return d;
  }
  return 0;
}

/** With flow sets, a deny element goes to its rule's chain (flowsets.ts), which counts the attempt before it drops. */
type VerdictOf = (e: JudgeElement) => string;

function verdictsFor(denyChains: Map<string, number> | undefined): VerdictOf {
  return (e) => (e.action !== "deny" ? "return" : denyChains === undefined ? "drop" : `goto ${denyChainName(denyChains.get(e.ruleKey)!)}`);
}

/** A verdict map keyed by `typeof`, elements printed by `fmt` from the numeric key. */
function judgeMap(name: JudgeMap, keyType: string, elements: Map<string, JudgeElement>, fmt: (k: number[]) => string, verdictOf: VerdictOf): string[] {
  const sorted = [...elements.entries()].map(([k, e]) => ({ k: numericKey(k), e })).sort((a, b) => compareKeys(a.k, b.k));
  return [
    `\tmap ${name} {`,
    `\t\ttypeof ${keyType} : verdict`,
    "\t\tcounter",
    ...elementsBlock(sorted.map(({ k, e }) => `${fmt(k)} : ${verdictOf(e)}`)),
    "\t}",
  ];
}

const withValue = <T>(list: AddrInterval<T>[], f: (v: T) => string): AddrInterval<string>[] =>
  list.map((m) => ({ lo: m.lo, hi: m.hi, value: f(m.value) }));

function peersMapName(c: GroupChain, family: 4 | 6): string {
  return `${c.chain}_peers${family}`;
}

function groupChainParts(c: GroupChain): { maps: string[]; chain: string[] } {
  // `out` classifies the destination, `in` the source.
  const field = c.direction === "out" ? "daddr" : "saddr";
  const maps: string[] = [];
  const chain = [`\tchain ${c.chain} {`, `\t\tmeta mark set ${c.noneClass}`];
  for (const [family, list, proto] of [
    [4, c.peers4, "ip"],
    [6, c.peers6, "ip6"],
  ] as const) {
    if (list.length === 0) continue;
    const name = peersMapName(c, family);
    maps.push(...intervalMap(name, `${proto} ${field}`, "meta mark", withValue(list, String), family));
    chain.push(`\t\tmeta mark set ${proto} ${field} map @${name}`);
  }
  chain.push("\t\tmeta l4proto { tcp, udp, sctp } goto judge_ported", "\t\tgoto judge_portless", "\t}");
  return { maps, chain };
}

/** Keys of the rules that deny in some element, sorted: their index names their chain and their flow id. */
export function denyRuleKeys(t: PolicyTables): string[] {
  const keys = new Set<string>();
  for (const m of [t.portedExact, t.portedAny, t.portlessExact, t.portlessAny]) for (const e of m.values()) if (e.action === "deny") keys.add(e.ruleKey);
  return [...keys].sort();
}

/** The script; with flow sets, `denyKeys` are denyRuleKeys(t) (the caller keeps them to name the flow ids). */
export function renderScript(t: PolicyTables, flowSets?: FlowSetOptions, denyKeys: string[] = []): string {
  const log = flowSets === undefined ? undefined : renderFlowSets(flowSets, denyKeys);
  const verdictOf = verdictsFor(flowSets === undefined ? undefined : new Map(denyKeys.map((k, i) => [k, i])));
  const out: string[] = [
    "# netplugin tenant policy (src/policy/compile.ts): one transaction replacing the table.",
    `table inet ${TABLE_NAME} {}`,
    `delete table inet ${TABLE_NAME}`,
    `table inet ${TABLE_NAME} {`,
  ];
  if (log) out.push(...log.objects);
  out.push(
    // Filled by the datapath, not here (see the enforce chain).
    `\tset ${PICKUP_SET} {`,
    "\t\ttypeof iifname . oifname",
    "\t\tflags timeout",
    "\t}",
    "\tset cross_bridge {",
    "\t\ttypeof iifname . oifname",
    ...elementsBlock(t.crossBridge.map(([a, b]) => `"${a}" . "${b}"`)),
    "\t}",
  );
  const dscpValues = [...new Set([...t.dscp4, ...t.dscp6].map((m) => m.value))].sort((a, b) => a - b);
  out.push(...intervalMap("dscp4", "ip saddr", "verdict", withValue(t.dscp4, (v) => `goto dscp_${v}`), 4));
  out.push(...intervalMap("dscp6", "ip6 saddr", "verdict", withValue(t.dscp6, (v) => `goto dscp_${v}`), 6));
  const gotoGroup = (dir: string) => (gid: number) => `goto ${dir}_g${gid}`;
  out.push(...intervalMap("out_groups4", "ip saddr", "verdict", withValue(t.outGroups4, gotoGroup("out")), 4));
  out.push(...intervalMap("out_groups6", "ip6 saddr", "verdict", withValue(t.outGroups6, gotoGroup("out")), 6));
  out.push(...intervalMap("in_groups4", "ip daddr", "verdict", withValue(t.inGroups4, gotoGroup("in")), 4));
  out.push(...intervalMap("in_groups6", "ip6 daddr", "verdict", withValue(t.inGroups6, gotoGroup("in")), 6));

  const groupChains = [...t.outChains.values(), ...t.inChains.values()].sort(
    (a, b) => a.groupId - b.groupId || (a.direction < b.direction ? -1 : 1),
  );
  const parts = groupChains.map(groupChainParts);
  for (const p of parts) out.push(...p.maps);

  const proto = (p: number) => PORTED_NAMES.get(p) ?? String(p);
  const family = (nf: number) => (nf === NFPROTO_IPV4 ? "ipv4" : "ipv6");
  out.push(...judgeMap("ported_exact", "meta mark . meta l4proto . th dport", t.portedExact, ([c, p, port]) => `${c} . ${proto(p!)} . ${port}`, verdictOf));
  out.push(...judgeMap("ported_any", "meta mark . meta l4proto", t.portedAny, ([c, p]) => `${c} . ${proto(p!)}`, verdictOf));
  out.push(
    ...judgeMap("portless_exact", "meta mark . meta nfproto . meta l4proto", t.portlessExact, ([c, nf, p]) => `${c} . ${family(nf!)} . ${p}`, verdictOf),
  );
  out.push(...judgeMap("portless_any", "meta mark", t.portlessAny, ([c]) => `${c}`, verdictOf));

  // Hooks cost every packet, established ones included: leave out what has nothing to do.
  if (dscpValues.length > 0) {
    out.push(
      "\tchain prerouting {",
      "\t\ttype filter hook prerouting priority mangle; policy accept;",
      "\t\tip saddr vmap @dscp4",
      "\t\tip6 saddr vmap @dscp6",
      "\t}",
    );
  }
  out.push(
    "\tchain forward {",
    "\t\ttype filter hook forward priority filter; policy accept;",
    // A service's VIP DNATed (datapath, prerouting) to a provider on another network may cross; policy judges it.
    ...(t.crossBridge.length > 0 ? ["\t\tiifname . oifname @cross_bridge ct status ! dnat drop"] : []),
    "\t\tjump enforce",
    "\t}",
    "\tchain input {",
    "\t\ttype filter hook input priority filter; policy accept;",
    "\t\tjump enforce",
    "\t}",
    "\tchain output {",
    "\t\ttype filter hook output priority filter; policy accept;",
    "\t\tjump enforce",
    "\t}",
    "\tchain enforce {",
    "\t\tct state established,related accept",
    // Conntrack's first sight of a TCP segment without SYN, bridged within one network that has just begun to
    // pass netfilter (its first policed endpoint, DesiredNetwork.netfilter): a connection that began before,
    // picked up mid-stream. It is let on and tracked from here, as any established connection survives a policy
    // change; new connections begin with SYN and are judged. The datapath puts the bridge in the set for a few
    // minutes only (datapath/linux/pickup.ts): afterwards a bare ACK or FIN is judged like any new packet.
    // Routed and uplink traffic always passed the hooks, so there conntrack saw every connection begin.
    `\t\tct state new tcp flags & syn == 0 iifname . oifname @${PICKUP_SET} accept`,
    `\t\ticmpv6 type { ${ND_TYPES} } accept`,
    "\t\tjump out_check",
    "\t\tjump in_check",
    // Here the attempt has passed both checks: the allowed one is counted, when asked.
    ...(log?.allowRules ?? []),
    "\t}",
    "\tchain out_check {",
    "\t\tip saddr vmap @out_groups4",
    "\t\tip6 saddr vmap @out_groups6",
    "\t}",
    "\tchain in_check {",
    "\t\tip daddr vmap @in_groups4",
    "\t\tip6 daddr vmap @in_groups6",
    "\t}",
    "\tchain judge_ported {",
    "\t\tmeta mark . meta l4proto . th dport vmap @ported_exact",
    "\t\tmeta mark . meta l4proto vmap @ported_any",
    "\t}",
    "\tchain judge_portless {",
    "\t\tmeta mark . meta nfproto . meta l4proto vmap @portless_exact",
    "\t\tmeta mark vmap @portless_any",
    "\t}",
  );
  for (const v of dscpValues) out.push(`\tchain dscp_${v} {`, `\t\tip dscp set ${v}`, `\t\tip6 dscp set ${v}`, "\t}");
  for (const p of parts) out.push(...p.chain);
  if (log) out.push(...log.chains);
  out.push("}", "");
  return out.join("\n");
}
