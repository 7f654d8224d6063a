// The verdict partition of one peer class. Given the rules that apply to a
// class (its group's rules of one direction whose peer selector contains the
// class), in precedence order, it computes which rule wins for every
// (protocol, port) — as the few hash-map elements that represent that
// partition exactly:
//
//   tcp/udp/sctp:  exact[proto.port]  — ports some rule names, where that rule beats every any-port rule
//                  any[proto]         — the best any-port rule, for every other port
//   other:         exact[nfproto.proto] — protocols some rule names, where it beats every any-protocol rule
//                  any                — the best any-protocol rule
//
// A packet is looked up in `exact` first and falls back to `any`; no element
// means no rule matches (default allow). Because a rule names at most one port
// and one protocol, these two levels are a complete partition: every key the
// fallback serves has the same winner. Processing rules best-first, the first
// rule to claim a key wins it, and once an any-port rule is seen nothing below
// it can win a port. Cost O(rules × 3).

import { NFPROTO_IPV4, NFPROTO_IPV6, protocolForFamily, type NormRule } from "./normalize.js";

export interface Cells {
  /** "proto.port" → winner. */
  portedExact: Map<string, NormRule>;
  /** proto → winner. */
  portedAny: Map<number, NormRule>;
  /** "nfproto.proto" → winner. */
  portlessExact: Map<string, NormRule>;
  portlessAny?: NormRule;
}

export function computeCells(rulesByPrecedence: Iterable<NormRule>): Cells {
  const cells: Cells = { portedExact: new Map(), portedAny: new Map(), portlessExact: new Map() };
  for (const r of rulesByPrecedence) {
    if (r.ported) {
      for (const p of r.ported.protocols) {
        if (cells.portedAny.has(p)) continue; // a better any-port rule owns every port still unclaimed
        if (r.ported.port === undefined) cells.portedAny.set(p, r);
        else {
          const k = `${p}.${r.ported.port}`;
          if (!cells.portedExact.has(k)) cells.portedExact.set(k, r);
        }
      }
    }
    if (r.portless !== undefined && cells.portlessAny === undefined) {
      if (r.portless === "any") cells.portlessAny = r;
      else {
        for (const [family, nfproto] of [
          [4, NFPROTO_IPV4],
          [6, NFPROTO_IPV6],
        ] as const) {
          const k = `${nfproto}.${protocolForFamily(r.portless, family)}`;
          if (!cells.portlessExact.has(k)) cells.portlessExact.set(k, r);
        }
      }
    }
  }
  return cells;
}

export function isEmptyCells(c: Cells): boolean {
  return c.portedExact.size === 0 && c.portedAny.size === 0 && c.portlessExact.size === 0 && c.portlessAny === undefined;
}

/** Canonical text of a partition, so classes (of any group) with the same elements share one class id. */
export function cellsIdentity(c: Cells): string {
  const parts: string[] = [];
  const tag = (r: NormRule) => `${r.action === "deny" ? "D" : "A"}${JSON.stringify(r.key)}`;
  for (const [k, r] of c.portedExact) parts.push(`e${k}=${tag(r)}`);
  for (const [k, r] of c.portedAny) parts.push(`a${k}=${tag(r)}`);
  for (const [k, r] of c.portlessExact) parts.push(`x${k}=${tag(r)}`);
  if (c.portlessAny) parts.push(`y=${tag(c.portlessAny)}`);
  return parts.sort().join(";");
}
