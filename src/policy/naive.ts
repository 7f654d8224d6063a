// The reference meaning of a policy, written as plainly as possible: find the
// packet's groups by scanning, filter every rule linearly, sort by precedence.
// Slow on purpose and independent of the compiler (it shares only address
// parsing), so the property tests can hold the compiled lookups against it.

import { parseAddress, parseAddressRange } from "./addr.js";
import { ND_TYPES } from "./trace.js";
import type { Packet, PolicyInput, PolicyRule, TraceResult } from "./types.js";

const PORTED = [6, 17, 132];

function groupOf(input: PolicyInput, family: 4 | 6, value: bigint): number | undefined {
  const groups = [...input.groups].sort((a, b) => a.id - b.id);
  for (const g of groups) {
    for (const text of family === 4 ? g.ipv4 : g.ipv6) {
      const a = parseAddress(text);
      if (a && a.family === family && a.value === value) return g.id;
    }
  }
  return undefined;
}

function ruleMatches(input: PolicyInput, r: PolicyRule, family: 4 | 6, peer: bigint, p: Packet): boolean {
  if (r.peerGroupId !== undefined && groupOf(input, family, peer) !== r.peerGroupId) return false;
  const cidrs = r.peerCidrs ?? [];
  if (cidrs.length > 0) {
    const inside = cidrs.some((c) => {
      const range = parseAddressRange(c);
      return range !== undefined && range.family === family && range.lo <= peer && peer <= range.hi;
    });
    if (!inside) return false;
  }
  const protocol = r.protocol ?? 0;
  const port = r.port ?? 0;
  const dport = p.dport ?? 0;
  const ported = PORTED.includes(p.protocol);
  if (protocol === 0) return port === 0 || (ported && dport === port);
  if (PORTED.includes(protocol)) return p.protocol === protocol && (port === 0 || dport === port);
  return p.protocol === (protocol === 1 && family === 6 ? 58 : protocol);
}

function decide(input: PolicyInput, groupId: number, direction: "in" | "out", family: 4 | 6, peer: bigint, p: Packet) {
  const matching = input.rules
    .map((r, index) => ({ r, index }))
    .filter(({ r }) => r.groupId === groupId && r.direction === direction && ruleMatches(input, r, family, peer, p));
  matching.sort((a, b) => {
    if (a.r.priority !== b.r.priority) return b.r.priority - a.r.priority;
    if (a.r.action !== b.r.action) return a.r.action === "deny" ? -1 : 1;
    return a.index - b.index;
  });
  return matching[0]?.r;
}

export function evaluateNaive(input: PolicyInput, p: Packet): TraceResult {
  const s = parseAddress(p.saddr);
  const d = parseAddress(p.daddr);
  if (!s || !d || s.family !== d.family) throw new Error(`Cannot evaluate packet: bad addresses "${p.saddr}" → "${p.daddr}"`);
  const family = s.family;
  const bridges = input.networks.map((n) => n.bridge);
  if (
    input.fwdMode === "bridge" &&
    (p.hook ?? "forward") === "forward" &&
    p.dnat !== true &&
    p.iif !== undefined &&
    p.oif !== undefined &&
    bridges.includes(p.iif) &&
    bridges.includes(p.oif) &&
    p.iif !== p.oif
  ) {
    return { verdict: "drop", reason: "cross-network" };
  }
  const ct = p.ctState ?? "new";
  if (ct === "established" || ct === "related") return { verdict: "accept", reason: "established" };
  if (family === 6 && p.protocol === 58 && p.icmpType !== undefined && ND_TYPES.includes(p.icmpType)) {
    return { verdict: "accept", reason: "neighbor-discovery" };
  }
  const result: TraceResult = { verdict: "accept", reason: "default" };
  const sender = groupOf(input, family, s.value);
  if (sender !== undefined) {
    const r = decide(input, sender, "out", family, d.value, p);
    if (r) result.outRule = r.key;
    if (r?.action === "deny") return { ...result, verdict: "drop", reason: "out-rule" };
  }
  const receiver = groupOf(input, family, d.value);
  if (receiver !== undefined) {
    const r = decide(input, receiver, "in", family, s.value, p);
    if (r) result.inRule = r.key;
    if (r?.action === "deny") return { ...result, verdict: "drop", reason: "in-rule" };
  }
  return result;
}
