// Checks a PolicyInput and brings it into the shape the compiler works on:
// every address parsed, each address resolved to exactly one group, each rule
// reduced to (peer selector, ported part, port-less part) in precedence order.
// Everything that can never be right throws one ValidationError listing every
// issue; things that are legal but odd become warnings.

import { ValidationError, type Issue } from "../lib/errors.js";
import { parseAddress, parseAddressRange } from "./addr.js";
import { mergeSpans, intersectSpans, type Span } from "./intervals.js";
import type { AddrInterval, Direction, PolicyInput, RuleAction } from "./types.js";

/** Protocols whose packets are judged on (protocol, destination port): tcp, udp, sctp. */
export const PORTED_PROTOCOLS = [6, 17, 132] as const;
export const NFPROTO_IPV4 = 2;
export const NFPROTO_IPV6 = 10;

/** Which port-less protocol number a rule's protocol means for a family: icmp (1) is ICMPv6 (58) for IPv6. */
export function protocolForFamily(protocol: number, family: 4 | 6): number {
  return protocol === 1 && family === 6 ? 58 : protocol;
}

export type PeerSelector =
  | { kind: "any" }
  | {
      kind: "set";
      /** Identity of the selector within a group's rules: equal keys select equal address sets. */
      key: string;
      spans4: Span[];
      spans6: Span[];
    };

export interface NormRule {
  /** Position in input.rules: the last tie-breaker. */
  index: number;
  key: string;
  groupId: number;
  direction: Direction;
  priority: number;
  action: RuleAction;
  peer: PeerSelector;
  /** What the rule says about tcp/udp/sctp packets: which of them, and which port (undefined = any). */
  ported?: { protocols: number[]; port?: number };
  /** What it says about every other protocol: "any", or one protocol number (mapped per family). */
  portless?: "any" | number;
}

export interface NormalizedInput {
  /** Rules in precedence order: priority descending, deny before allow, then input order. */
  rules: NormRule[];
  /** Resolved address → group id, sorted, touching addresses of one group merged. */
  members4: AddrInterval<number>[];
  members6: AddrInterval<number>[];
  /** Group id → its resolved addresses as spans. */
  groupSpans: Map<number, { spans4: Span[]; spans6: Span[] }>;
  dscp: Map<number, number>;
  warnings: string[];
}

function isInt(x: unknown, min: number, max: number): x is number {
  return typeof x === "number" && Number.isInteger(x) && x >= min && x <= max;
}

/** Precedence order used everywhere (compiler and reference evaluator). */
export function comparePrecedence(
  a: { priority: number; action: RuleAction; index: number },
  b: { priority: number; action: RuleAction; index: number },
): number {
  if (a.priority !== b.priority) return b.priority - a.priority;
  if (a.action !== b.action) return a.action === "deny" ? -1 : 1;
  return a.index - b.index;
}

function resolveMembers(input: PolicyInput, issues: Issue[], warnings: string[]) {
  const owner = [new Map<bigint, number>(), new Map<bigint, number>()] as const;
  const byId = [...input.groups].map((g, i) => ({ g, i })).sort((a, b) => a.g.id - b.g.id);
  for (const { g, i } of byId) {
    for (const [family, list, field] of [
      [4, g.ipv4, "ipv4"],
      [6, g.ipv6, "ipv6"],
    ] as const) {
      list.forEach((text, j) => {
        const a = parseAddress(text);
        if (!a || a.family !== family) {
          issues.push({ path: `groups[${i}].${field}[${j}]`, message: `invalid IPv${family} address "${text}"` });
          return;
        }
        const map = owner[family === 4 ? 0 : 1];
        const prev = map.get(a.value);
        if (prev === undefined) map.set(a.value, g.id);
        else if (prev !== g.id) warnings.push(`address ${text} is in groups ${prev} and ${g.id}: group ${prev} (lowest id) owns it`);
      });
    }
  }
  const toIntervals = (map: Map<bigint, number>): AddrInterval<number>[] => {
    const sorted = [...map.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const out: AddrInterval<number>[] = [];
    for (const [value, gid] of sorted) {
      const last = out[out.length - 1];
      if (last && last.value === gid && last.hi + 1n === value) last.hi = value;
      else out.push({ lo: value, hi: value, value: gid });
    }
    return out;
  };
  const members4 = toIntervals(owner[0]);
  const members6 = toIntervals(owner[1]);
  const groupSpans = new Map<number, { spans4: Span[]; spans6: Span[] }>();
  for (const g of input.groups) groupSpans.set(g.id, { spans4: [], spans6: [] });
  for (const m of members4) (groupSpans.get(m.value)!.spans4 as Span[]).push([m.lo, m.hi]);
  for (const m of members6) (groupSpans.get(m.value)!.spans6 as Span[]).push([m.lo, m.hi]);
  return { members4, members6, groupSpans };
}

export function normalizeInput(input: PolicyInput): NormalizedInput {
  const issues: Issue[] = [];
  const warnings: string[] = [];
  if (input.fwdMode !== "bridge" && input.fwdMode !== "routing") {
    issues.push({ path: "fwdMode", message: `must be "bridge" or "routing", not "${String(input.fwdMode)}"` });
  }
  const ids = new Set<number>();
  const dscp = new Map<number, number>();
  input.groups.forEach((g, i) => {
    if (!isInt(g.id, 1, 0xffffffff)) issues.push({ path: `groups[${i}].id`, message: `invalid group id ${String(g.id)}` });
    else if (ids.has(g.id)) issues.push({ path: `groups[${i}].id`, message: `duplicate group id ${g.id}` });
    ids.add(g.id);
    if (!isInt(g.dscp, 0, 63)) issues.push({ path: `groups[${i}].dscp`, message: `DSCP must be 0..63, not ${String(g.dscp)}` });
    else if (g.dscp !== 0) dscp.set(g.id, g.dscp);
  });
  input.networks.forEach((n, i) => {
    if (!/^[^\s"\\/]{1,15}$/.test(n.bridge)) issues.push({ path: `networks[${i}].bridge`, message: `invalid interface name "${n.bridge}"` });
  });
  const { members4, members6, groupSpans } = resolveMembers(input, issues, warnings);

  const rules: NormRule[] = [];
  input.rules.forEach((r, i) => {
    const at = `rules[${i}]`;
    const bad = (field: string, message: string) => issues.push({ path: `${at}.${field}`, message });
    if (typeof r.key !== "string" || r.key === "") bad("key", "rule key is required");
    if (r.direction !== "in" && r.direction !== "out") bad("direction", `must be "in" or "out", not "${String(r.direction)}"`);
    if (r.action !== "allow" && r.action !== "deny") bad("action", `must be "allow" or "deny", not "${String(r.action)}"`);
    if (typeof r.priority !== "number" || !Number.isFinite(r.priority)) bad("priority", `invalid priority ${String(r.priority)}`);
    const protocol = r.protocol ?? 0;
    const port = r.port ?? 0;
    if (!isInt(protocol, 0, 255)) bad("protocol", `protocol must be 0..255, not ${String(r.protocol)}`);
    if (!isInt(port, 0, 65535)) bad("port", `port must be 0..65535, not ${String(r.port)}`);
    if (!ids.has(r.groupId)) warnings.push(`rule ${r.key}: group ${r.groupId} does not exist, rule ignored`);

    let peer: PeerSelector = { kind: "any" };
    const cidrs = r.peerCidrs ?? [];
    if (r.peerGroupId !== undefined || cidrs.length > 0) {
      const keyParts: string[] = [];
      let spans4: Span[] | undefined;
      let spans6: Span[] | undefined;
      if (cidrs.length > 0) {
        const s4: Span[] = [];
        const s6: Span[] = [];
        cidrs.forEach((c, j) => {
          const range = parseAddressRange(c);
          if (!range) bad(`peerCidrs[${j}]`, `invalid address, CIDR or range "${c}"`);
          else (range.family === 4 ? s4 : s6).push([range.lo, range.hi]);
        });
        spans4 = mergeSpans(s4);
        spans6 = mergeSpans(s6);
        keyParts.push(`c${spans4.map((s) => `${s[0]}-${s[1]}`).join(",")}|${spans6.map((s) => `${s[0]}-${s[1]}`).join(",")}`);
      }
      if (r.peerGroupId !== undefined) {
        const members = groupSpans.get(r.peerGroupId);
        if (!members) warnings.push(`rule ${r.key}: peer group ${r.peerGroupId} does not exist, rule matches nothing`);
        const g4 = members?.spans4 ?? [];
        const g6 = members?.spans6 ?? [];
        spans4 = spans4 ? intersectSpans(spans4, g4) : g4;
        spans6 = spans6 ? intersectSpans(spans6, g6) : g6;
        keyParts.push(`g${r.peerGroupId}`);
      }
      peer = { kind: "set", key: keyParts.join("&"), spans4: spans4 ?? [], spans6: spans6 ?? [] };
    }

    const norm: NormRule = {
      index: i,
      key: r.key,
      groupId: r.groupId,
      direction: r.direction,
      priority: r.priority,
      action: r.action,
      peer,
    };
    if (protocol === 0) {
      norm.ported = port === 0 ? { protocols: [...PORTED_PROTOCOLS] } : { protocols: [...PORTED_PROTOCOLS], port };
      if (port === 0) norm.portless = "any";
    } else if ((PORTED_PROTOCOLS as readonly number[]).includes(protocol)) {
      norm.ported = port === 0 ? { protocols: [protocol] } : { protocols: [protocol], port };
    } else {
      norm.portless = protocol;
      if (port !== 0) warnings.push(`rule ${r.key}: protocol ${protocol} has no ports, port ${port} ignored`);
    }
    if (ids.has(r.groupId)) rules.push(norm);
  });
  if (issues.length > 0) {
    throw new ValidationError(`Cannot compile policy: ${issues.length} invalid field(s): ${issues[0]!.path}: ${issues[0]!.message}`, issues);
  }
  rules.sort(comparePrecedence);
  return { rules, members4, members6, groupSpans, dscp, warnings };
}
