// Per-rule packet/byte counters from the judge maps, each listed by name (RULE_COUNTERS_ARGVS: nft fetches
// that map alone, where `list maps` or `list table` fetch every set's elements, the flow sets' thousands too;
// and the agent's process starter answers these over netlink without starting nft: netlink/nft-list.ts). `-n`
// for numeric output is best, names work too (`list table` gives the same maps and is read the same). Every verdict-map element
// carries a counter and stands for one rule (CompiledPolicy.elementRules), so a
// rule's counter is the sum over its elements. Counters restart at zero each
// time the script is loaded (the table is recreated).

import { ValidationError } from "../lib/errors.js";
import { elementId, JUDGE_MAPS, TABLE_NAME, type JudgeMap } from "./render.js";
import type { CompiledPolicy, RuleCounter } from "./types.js";

/** What the counters are read with: one listing per judge map. */
export const RULE_COUNTERS_ARGVS = JUDGE_MAPS.map((map) => ["nft", "-j", "-n", "list", "map", "inet", TABLE_NAME, map]);

/** Names nft prints for protocol numbers without -n (netbase /etc/protocols), and for nfproto. */
const NAMES: Record<string, number> = {
  ipv4: 2,
  ipv6: 10,
  ip: 0,
  hopopt: 0,
  icmp: 1,
  igmp: 2,
  ggp: 3,
  ipencap: 4,
  st: 5,
  tcp: 6,
  egp: 8,
  igp: 9,
  pup: 12,
  udp: 17,
  hmp: 20,
  "xns-idp": 22,
  rdp: 27,
  "iso-tp4": 29,
  dccp: 33,
  xtp: 36,
  ddp: 37,
  "idpr-cmtp": 38,
  "ipv6-route": 43,
  "ipv6-frag": 44,
  idrp: 45,
  rsvp: 46,
  gre: 47,
  esp: 50,
  ah: 51,
  skip: 57,
  "ipv6-icmp": 58,
  "ipv6-nonxt": 59,
  "ipv6-opts": 60,
  rspf: 73,
  vmtp: 81,
  eigrp: 88,
  ospf: 89,
  "ax.25": 93,
  ipip: 94,
  etherip: 97,
  encap: 98,
  pim: 103,
  ipcomp: 108,
  vrrp: 112,
  l2tp: 115,
  isis: 124,
  sctp: 132,
  fc: 133,
  "mobility-header": 135,
  udplite: 136,
  "mpls-in-ip": 137,
  manet: 138,
  hip: 139,
  shim6: 140,
  wesp: 141,
  rohc: 142,
  ethernet: 143,
};

/**
 * Protocol 41 prints as "ipv6" too, which clashes with nfproto "ipv6" (10): position decides.
 * In our keys the nfproto is always the second of three components of portless_exact.
 */
function toNumber(v: unknown, map: JudgeMap, position: number): number | undefined {
  if (typeof v === "number") return v;
  if (typeof v !== "string") return undefined;
  if (/^(0x[0-9a-f]+|\d+)$/i.test(v)) return Number(v);
  const isNfproto = map === "portless_exact" && position === 1;
  if (!isNfproto && v === "ipv6") return 41;
  return NAMES[v];
}

interface JsonElem {
  val: unknown;
  counter?: { packets: number; bytes: number };
}

function unwrap(key: unknown): JsonElem {
  if (key && typeof key === "object" && "elem" in key) return (key as { elem: JsonElem }).elem;
  return { val: key };
}

function nftItems(nftJsonText: string): unknown[] {
  let doc: unknown;
  try {
    doc = JSON.parse(nftJsonText);
  } catch (err) {
    throw new ValidationError("Cannot read nft counters: output is not JSON", [], { cause: err });
  }
  const items = (doc as { nftables?: unknown } | null)?.nftables;
  if (!Array.isArray(items)) throw new ValidationError("Cannot read nft counters: no \"nftables\" array in the output");
  return items;
}

/**
 * Sums the element counters of the compiled policy's verdict maps per rule key, over one listing or several
 * (RULE_COUNTERS_ARGVS' outputs). Every rule key of the input appears, with zeros if it judged nothing.
 * Throws ValidationError if a text is not nft JSON.
 */
export function ruleCounters(nftJsonTexts: string | string[], compiled: CompiledPolicy): Map<string, RuleCounter> {
  const items = (typeof nftJsonTexts === "string" ? [nftJsonTexts] : nftJsonTexts).flatMap(nftItems);
  const totals = new Map<string, RuleCounter>();
  for (const key of compiled.ruleKeys) totals.set(key, { packets: 0, bytes: 0 });
  for (const item of items) {
    const m = (item as { map?: { family?: string; table?: string; name?: string; elem?: unknown[] } }).map;
    if (!m || m.family !== "inet" || m.table !== TABLE_NAME || !(JUDGE_MAPS as readonly string[]).includes(m.name ?? "")) continue;
    const map = m.name as JudgeMap;
    for (const pair of m.elem ?? []) {
      if (!Array.isArray(pair)) continue;
      const { val, counter } = unwrap(pair[0]);
      if (!counter) continue;
      const parts = val && typeof val === "object" && "concat" in val ? (val as { concat: unknown[] }).concat : [val];
      const nums = parts.map((v, i) => toNumber(v, map, i));
      if (nums.some((n) => n === undefined)) continue;
      const rule = compiled.elementRules.get(elementId(map, nums.join(".")));
      if (rule === undefined) continue;
      const t = totals.get(rule) ?? { packets: 0, bytes: 0 };
      t.packets += counter.packets;
      t.bytes += counter.bytes;
      totals.set(rule, t);
    }
  }
  return totals;
}
