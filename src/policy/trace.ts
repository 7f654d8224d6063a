// Walks a packet through the compiled lookup structures exactly as the
// rendered chains do (render.ts): the same maps, the same order, the same
// fall-throughs. Tests compare it with evaluateNaive() (naive.ts) to prove the
// compilation right, and the kernel tests prove the script does what this says.

import { parseAddress } from "./addr.js";
import { lookupInterval } from "./intervals.js";
import { NFPROTO_IPV4, NFPROTO_IPV6, PORTED_PROTOCOLS } from "./normalize.js";
import { compilePolicy } from "./compile.js";
import type { CompiledPolicy, GroupChain, JudgeElement, Packet, PolicyInput, PolicyTables, TraceResult } from "./types.js";

/** ICMPv6 neighbour discovery: router solicit/advert, neighbour solicit/advert, redirect. */
export const ND_TYPES: readonly number[] = [133, 134, 135, 136, 137];

function judge(t: PolicyTables, mark: number, family: 4 | 6, p: Packet): JudgeElement | undefined {
  if ((PORTED_PROTOCOLS as readonly number[]).includes(p.protocol)) {
    return t.portedExact.get(`${mark}.${p.protocol}.${p.dport ?? 0}`) ?? t.portedAny.get(`${mark}.${p.protocol}`);
  }
  const nf = family === 4 ? NFPROTO_IPV4 : NFPROTO_IPV6;
  return t.portlessExact.get(`${mark}.${nf}.${p.protocol}`) ?? t.portlessAny.get(`${mark}`);
}

function runGroupChain(t: PolicyTables, chain: GroupChain, family: 4 | 6, peer: bigint, p: Packet): JudgeElement | undefined {
  let mark = chain.noneClass;
  const cls = lookupInterval(family === 4 ? chain.peers4 : chain.peers6, peer);
  if (cls !== undefined) mark = cls;
  return judge(t, mark, family, p);
}

/** Traces a packet through compiled structures (or compiles the input first). */
export function tracePacket(policy: CompiledPolicy | PolicyTables | PolicyInput, p: Packet): TraceResult {
  const t = "tables" in policy ? policy.tables : "rules" in policy ? compilePolicy(policy).tables : policy;
  const s = parseAddress(p.saddr);
  const d = parseAddress(p.daddr);
  if (!s || !d || s.family !== d.family) throw new Error(`Cannot trace packet: bad addresses "${p.saddr}" → "${p.daddr}"`);
  const family = s.family;
  const hook = p.hook ?? "forward";
  const ct = p.ctState ?? "new";

  if (hook === "forward" && p.dnat !== true && t.crossBridge.some(([a, b]) => a === p.iif && b === p.oif)) {
    return { verdict: "drop", reason: "cross-network" };
  }
  if (ct === "established" || ct === "related") return { verdict: "accept", reason: "established" };
  if (family === 6 && p.protocol === 58 && p.icmpType !== undefined && ND_TYPES.includes(p.icmpType)) {
    return { verdict: "accept", reason: "neighbor-discovery" };
  }

  const result: TraceResult = { verdict: "accept", reason: "default" };
  const outGid = lookupInterval(family === 4 ? t.outGroups4 : t.outGroups6, s.value);
  const outChain = outGid === undefined ? undefined : t.outChains.get(outGid);
  if (outChain) {
    const e = runGroupChain(t, outChain, family, d.value, p);
    if (e) result.outRule = e.ruleKey;
    if (e?.action === "deny") return { ...result, verdict: "drop", reason: "out-rule" };
  }
  const inGid = lookupInterval(family === 4 ? t.inGroups4 : t.inGroups6, d.value);
  const inChain = inGid === undefined ? undefined : t.inChains.get(inGid);
  if (inChain) {
    const e = runGroupChain(t, inChain, family, s.value, p);
    if (e) result.inRule = e.ruleKey;
    if (e?.action === "deny") return { ...result, verdict: "drop", reason: "in-rule" };
  }
  return result;
}
