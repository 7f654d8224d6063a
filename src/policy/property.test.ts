// Property test: on thousands of random policies and packets, walking the
// compiled lookup structures (tracePacket) gives exactly what the plain linear
// reference evaluator (evaluateNaive) gives: verdict, reason and the winning
// rules. Seeded, so a failure names the seed that reproduces it
// (POLICY_SEED=<n> POLICY_CASES=1 to rerun just that case).

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { compilePolicy } from "./compile.js";
import { evaluateNaive } from "./naive.js";
import { tracePacket } from "./trace.js";
import type { Packet, PolicyGroup, PolicyInput, PolicyRule } from "./types.js";

/** mulberry32: small, fast, good enough for test data. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Gen {
  constructor(readonly rnd: () => number) {}
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.rnd() * (hi - lo + 1));
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.rnd() * items.length)]!;
  }
  chance(p: number): boolean {
    return this.rnd() < p;
  }
}

// A small address space, so groups, CIDRs and packets collide often.
const v4 = (n: number) => `198.18.0.${n}`;
const v6 = (n: number) => `fd00::${n.toString(16)}`;
const PROTOCOLS_IN_RULES = [undefined, 0, 6, 17, 132, 1, 58, 47, 2];
const PORTS = [undefined, 0, 22, 53, 80, 443, 8080];
const PACKET_PROTOCOLS = [6, 17, 132, 1, 58, 47, 2, 50];
const PACKET_PORTS = [0, 22, 53, 80, 443, 8080, 65535, 1];

function randomSelector(g: Gen): string {
  const family = g.chance(0.6) ? 4 : 6;
  const a = g.int(0, 40);
  switch (g.int(0, 3)) {
    case 0:
      return family === 4 ? v4(a) : v6(a);
    case 1: {
      const len = g.int(family === 4 ? 26 : 122, family === 4 ? 32 : 128);
      return family === 4 ? `${v4(a)}/${len}` : `${v6(a)}/${len}`;
    }
    case 2: {
      const b = a + g.int(0, 10);
      return family === 4 ? `${v4(a)}-${Math.min(b, 255)}` : `${v6(a)}-${v6(b)}`;
    }
    default:
      return family === 4 ? `${v4(a)}-${v4(a + g.int(0, 20))}` : `${v6(a)}/${g.pick([120, 124, 126])}`;
  }
}

function randomInput(g: Gen): PolicyInput {
  const ids = [...new Set(Array.from({ length: g.int(1, 5) }, () => g.int(1, 8)))];
  const groups: PolicyGroup[] = ids.map((id) => {
    const members = Array.from({ length: g.int(0, 8) }, () => g.int(0, 40));
    return {
      id,
      name: `g${id}`,
      ipv4: members.filter(() => g.chance(0.7)).map(v4),
      ipv6: members.filter(() => g.chance(0.5)).map(v6),
      dscp: g.chance(0.3) ? g.int(1, 63) : 0,
    };
  });
  const rules: PolicyRule[] = [];
  const n = g.int(0, 14);
  for (let i = 0; i < n; i++) {
    const rule: PolicyRule = {
      key: `t:p:r${i}`,
      groupId: g.chance(0.9) ? g.pick(ids) : 9,
      direction: g.pick(["in", "out"] as const),
      priority: g.pick([1, 1, 2, 3, 50, 100]),
      action: g.pick(["allow", "deny"] as const),
    };
    const peer = g.int(0, 4);
    if (peer === 1 || peer === 3) rule.peerGroupId = g.chance(0.9) ? g.pick(ids) : 9;
    if (peer === 2 || peer === 3) rule.peerCidrs = Array.from({ length: g.int(1, 2) }, () => randomSelector(g));
    if (peer === 4) rule.peerCidrs = [];
    const protocol = g.pick(PROTOCOLS_IN_RULES);
    if (protocol !== undefined) rule.protocol = protocol;
    const port = g.pick(PORTS);
    if (port !== undefined) rule.port = port;
    rules.push(rule);
    // The same rule attached to another group (one policy on several groups): same key.
    if (g.chance(0.15)) rules.push({ ...rule, groupId: g.pick(ids) });
  }
  return {
    fwdMode: g.pick(["bridge", "routing"] as const),
    networks: [
      { name: "a", bridge: "nba", subnet: "198.18.0.0/24", ipv6Subnet: "fd00::/64" },
      { name: "b", bridge: "nbb", subnet: "198.18.1.0/24", ipv6Subnet: "" },
    ],
    groups,
    rules,
  };
}

function randomPacket(g: Gen, pi: PolicyInput): Packet {
  const family = g.chance(0.6) ? 4 : 6;
  // Mostly members (so rules apply), sometimes any address of the small space.
  const members = pi.groups.flatMap((x) => (family === 4 ? x.ipv4 : x.ipv6));
  const addr = () => (members.length > 0 && g.chance(0.75) ? g.pick(members) : family === 4 ? v4(g.int(0, 45)) : v6(g.int(0, 45)));
  const protocol = g.pick(PACKET_PROTOCOLS);
  const packet: Packet = { saddr: addr(), daddr: addr(), protocol };
  if ([6, 17, 132].includes(protocol)) packet.dport = g.pick(PACKET_PORTS);
  if (protocol === 58) packet.icmpType = g.pick([128, 129, 135, 136, 1]);
  if (g.chance(0.1)) packet.ctState = g.pick(["established", "related", "invalid", "untracked"] as const);
  if (g.chance(0.1)) packet.hook = g.pick(["input", "output"] as const);
  if (g.chance(0.2)) {
    packet.iif = g.pick(["nba", "nbb", "eth0"]);
    packet.oif = g.pick(["nba", "nbb", "eth0"]);
    if (g.chance(0.3)) packet.dnat = true;
  }
  return packet;
}

describe("compiled lookups agree with the reference evaluator", () => {
  const base = Number(process.env.POLICY_SEED ?? 20240601);
  const cases = Number(process.env.POLICY_CASES ?? 3000);
  it(`${cases} random policies × 40 packets (seed ${base})`, () => {
    let packets = 0;
    const seen = new Map<string, number>();
    for (let c = 0; c < cases; c++) {
      const seed = base + c;
      const g = new Gen(prng(seed));
      const pi = randomInput(g);
      const compiled = compilePolicy(pi);
      for (let k = 0; k < 40; k++) {
        const packet = randomPacket(g, pi);
        const want = evaluateNaive(pi, packet);
        const got = tracePacket(compiled, packet);
        if (JSON.stringify(got) !== JSON.stringify(want)) {
          assert.deepEqual(
            got,
            want,
            `seed ${seed}, packet ${JSON.stringify(packet)}\ninput ${JSON.stringify(pi, null, 1)}`,
          );
        }
        packets++;
        const outcome = `${want.verdict}/${want.reason}/${want.outRule ? "out" : ""}${want.inRule ? "in" : ""}`;
        seen.set(outcome, (seen.get(outcome) ?? 0) + 1);
      }
    }
    assert.equal(packets, cases * 40);
    // Keep the generator honest: every kind of outcome must occur often.
    for (const outcome of [
      "accept/default/",
      "accept/default/out",
      "accept/default/in",
      "accept/default/outin",
      "drop/out-rule/out",
      "drop/in-rule/in",
      "drop/in-rule/outin",
      "drop/cross-network/",
      "accept/established/",
      "accept/neighbor-discovery/",
    ]) {
      assert.ok((seen.get(outcome) ?? 0) >= 100, `outcome ${outcome} seen ${seen.get(outcome) ?? 0} times: ${JSON.stringify([...seen])}`);
    }
  });

  it("also on policies with many rules per group", () => {
    for (let c = 0; c < 60; c++) {
      const seed = base + 100000 + c;
      const g = new Gen(prng(seed));
      const pi = randomInput(g);
      // Widen: 150-300 rules over the same groups.
      const more = g.int(150, 300);
      const ids = pi.groups.map((x) => x.id);
      for (let i = 0; i < more; i++) {
        pi.rules.push({
          key: `t:q:r${i}`,
          groupId: g.pick(ids),
          direction: g.pick(["in", "out"] as const),
          priority: g.int(1, 100),
          action: g.pick(["allow", "deny"] as const),
          ...(g.chance(0.4) ? { peerGroupId: g.pick(ids) } : {}),
          ...(g.chance(0.3) ? { peerCidrs: [randomSelector(g)] } : {}),
          ...(g.chance(0.8) ? { protocol: g.pick([6, 17, 1, 47]) } : {}),
          ...(g.chance(0.7) ? { port: g.int(1, 100) } : {}),
        });
      }
      const compiled = compilePolicy(pi);
      for (let k = 0; k < 150; k++) {
        const packet = randomPacket(g, pi);
        if (packet.dport !== undefined && g.chance(0.7)) packet.dport = g.int(1, 100);
        const want = evaluateNaive(pi, packet);
        const got = tracePacket(compiled, packet);
        if (JSON.stringify(got) !== JSON.stringify(want)) {
          assert.deepEqual(got, want, `seed ${seed}, packet ${JSON.stringify(packet)}`);
        }
      }
    }
  });
});
