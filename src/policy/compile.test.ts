import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ValidationError } from "../lib/errors.js";
import { compilePolicy } from "./compile.js";
import { evaluateNaive } from "./naive.js";
import { tracePacket } from "./trace.js";
import type { Packet, PolicyInput, PolicyRule, TraceResult } from "./types.js";

// Group 1 "web": 198.18.0.1-2, fd00::1. Group 2 "db": 198.18.0.3, fd00::3. 198.18.0.9 / fd00::9: in no group.
function input(rules: Omit<PolicyRule, "key">[], extra: Partial<PolicyInput> = {}): PolicyInput {
  return {
    fwdMode: "routing",
    networks: [{ name: "n1", bridge: "nb1", subnet: "198.18.0.0/24", ipv6Subnet: "fd00::/64" }],
    groups: [
      { id: 1, name: "web", ipv4: ["198.18.0.1", "198.18.0.2"], ipv6: ["fd00::1"], dscp: 0 },
      { id: 2, name: "db", ipv4: ["198.18.0.3"], ipv6: ["fd00::3"], dscp: 0 },
    ],
    rules: rules.map((r, i) => ({ key: `t:p:r${i}`, ...r })),
    ...extra,
  };
}

const tcp = (saddr: string, daddr: string, dport: number): Packet => ({ saddr, daddr, protocol: 6, dport });

/** Checks the compiled lookups and the reference evaluator agree with the expectation. */
function expectVerdict(pi: PolicyInput, packet: Packet, want: TraceResult) {
  const compiled = compilePolicy(pi);
  assert.deepEqual(tracePacket(compiled, packet), want, `compiled: ${JSON.stringify(packet)}`);
  assert.deepEqual(evaluateNaive(pi, packet), want, `naive: ${JSON.stringify(packet)}`);
}

const allow = (extra: Partial<TraceResult> = {}): TraceResult => ({ verdict: "accept", reason: "default", ...extra });
const dropIn = (inRule: string, extra: Partial<TraceResult> = {}): TraceResult => ({ verdict: "drop", reason: "in-rule", inRule, ...extra });
const dropOut = (outRule: string): TraceResult => ({ verdict: "drop", reason: "out-rule", outRule });

describe("policy semantics", () => {
  it("allows everything without rules (default allow)", () => {
    expectVerdict(input([]), tcp("198.18.0.1", "198.18.0.3", 22), allow());
  });

  it("higher priority wins, whatever the order of the rules", () => {
    const rules: Omit<PolicyRule, "key">[] = [
      { groupId: 2, direction: "in", priority: 1, action: "deny", protocol: 6 },
      { groupId: 2, direction: "in", priority: 100, action: "allow", protocol: 6, port: 5432 },
    ];
    expectVerdict(input(rules), tcp("198.18.0.1", "198.18.0.3", 5432), allow({ inRule: "t:p:r1" }));
    expectVerdict(input(rules), tcp("198.18.0.1", "198.18.0.3", 22), dropIn("t:p:r0"));
    const reversed = [rules[1]!, rules[0]!];
    expectVerdict(input(reversed), tcp("198.18.0.1", "198.18.0.3", 5432), allow({ inRule: "t:p:r0" }));
    // A low-priority port allow under a high-priority deny-all is dead.
    const dead: Omit<PolicyRule, "key">[] = [
      { groupId: 2, direction: "in", priority: 100, action: "deny" },
      { groupId: 2, direction: "in", priority: 1, action: "allow", protocol: 6, port: 5432 },
    ];
    expectVerdict(input(dead), tcp("198.18.0.1", "198.18.0.3", 5432), dropIn("t:p:r0"));
  });

  it("deny wins at equal priority; among equal rules the first listed is credited", () => {
    const rules: Omit<PolicyRule, "key">[] = [
      { groupId: 2, direction: "in", priority: 5, action: "allow", protocol: 6, port: 80 },
      { groupId: 2, direction: "in", priority: 5, action: "deny", protocol: 6 },
      { groupId: 2, direction: "in", priority: 5, action: "deny", protocol: 6, port: 80 },
    ];
    expectVerdict(input(rules), tcp("198.18.0.1", "198.18.0.3", 80), dropIn("t:p:r1"));
  });

  it("in rules judge the destination's group, out rules the source's", () => {
    const rules: Omit<PolicyRule, "key">[] = [
      { groupId: 2, direction: "in", priority: 1, action: "deny" },
      { groupId: 1, direction: "out", priority: 1, action: "deny", protocol: 17 },
    ];
    expectVerdict(input(rules), tcp("198.18.0.1", "198.18.0.3", 80), dropIn("t:p:r0"));
    // db → web: db has no out rules, web no in rules.
    expectVerdict(input(rules), tcp("198.18.0.3", "198.18.0.1", 80), allow());
    // web → outside: web's out rule (udp only).
    expectVerdict(input(rules), { saddr: "198.18.0.1", daddr: "198.18.0.9", protocol: 17, dport: 53 }, dropOut("t:p:r1"));
    expectVerdict(input(rules), tcp("198.18.0.1", "198.18.0.9", 53), allow());
    // From outside (gateway, host, another tenant network): still judged by db's in rules.
    expectVerdict(input(rules), tcp("198.18.0.254", "198.18.0.3", 80), dropIn("t:p:r0"));
  });

  it("a packet must pass the sender's out decision and the receiver's in decision", () => {
    const rules: Omit<PolicyRule, "key">[] = [
      { groupId: 1, direction: "out", priority: 1, action: "allow", protocol: 6 },
      { groupId: 2, direction: "in", priority: 1, action: "deny", protocol: 6, peerGroupId: 1 },
    ];
    expectVerdict(input(rules), tcp("198.18.0.2", "198.18.0.3", 80), dropIn("t:p:r1", { outRule: "t:p:r0" }));
    const outDeny: Omit<PolicyRule, "key">[] = [
      { groupId: 1, direction: "out", priority: 1, action: "deny", peerGroupId: 2 },
      { groupId: 2, direction: "in", priority: 1, action: "allow" },
    ];
    expectVerdict(input(outDeny), tcp("198.18.0.2", "198.18.0.3", 80), dropOut("t:p:r0"));
    expectVerdict(input(outDeny), tcp("198.18.0.2", "198.18.0.9", 80), allow());
  });

  it("peers: group, CIDR, Contiv's range form, both, any", () => {
    const rules: Omit<PolicyRule, "key">[] = [
      { groupId: 2, direction: "in", priority: 10, action: "deny", peerGroupId: 1, peerCidrs: ["198.18.0.2"] },
      { groupId: 2, direction: "in", priority: 9, action: "allow", peerGroupId: 1 },
      { groupId: 2, direction: "in", priority: 8, action: "allow", peerCidrs: ["198.18.0.8-10"] },
      { groupId: 2, direction: "in", priority: 7, action: "deny", peerCidrs: ["198.18.0.0/24", "fd00::/64"] },
    ];
    const pi = input(rules);
    expectVerdict(pi, tcp("198.18.0.2", "198.18.0.3", 1), dropIn("t:p:r0"));
    expectVerdict(pi, tcp("198.18.0.1", "198.18.0.3", 1), allow({ inRule: "t:p:r1" }));
    expectVerdict(pi, tcp("fd00::1", "fd00::3", 1), allow({ inRule: "t:p:r1" }));
    expectVerdict(pi, tcp("198.18.0.9", "198.18.0.3", 1), allow({ inRule: "t:p:r2" }));
    expectVerdict(pi, tcp("198.18.0.11", "198.18.0.3", 1), dropIn("t:p:r3"));
    expectVerdict(pi, tcp("fd00::9", "fd00::3", 1), dropIn("t:p:r3"));
    expectVerdict(pi, tcp("198.18.1.1", "198.18.0.3", 1), allow());
  });

  it("IPv4-only selectors never match IPv6 packets, and IPv6 is judged like IPv4", () => {
    const rules: Omit<PolicyRule, "key">[] = [
      { groupId: 2, direction: "in", priority: 1, action: "deny", peerCidrs: ["0.0.0.0/0"] },
      { groupId: 1, direction: "out", priority: 1, action: "deny", protocol: 6, port: 25 },
    ];
    expectVerdict(input(rules), tcp("fd00::9", "fd00::3", 80), allow());
    expectVerdict(input(rules), tcp("198.18.0.9", "198.18.0.3", 80), dropIn("t:p:r0"));
    expectVerdict(input(rules), tcp("fd00::1", "fd00::9", 25), dropOut("t:p:r1"));
  });

  it("protocol any vs specific, port any vs specific", () => {
    const rules: Omit<PolicyRule, "key">[] = [
      { groupId: 2, direction: "in", priority: 1, action: "deny" },
      { groupId: 2, direction: "in", priority: 2, action: "allow", protocol: 17 },
      { groupId: 2, direction: "in", priority: 3, action: "deny", protocol: 17, port: 53 },
      { groupId: 2, direction: "in", priority: 4, action: "allow", port: 443 },
      { groupId: 2, direction: "in", priority: 2, action: "allow", protocol: 47 },
    ];
    const pi = input(rules);
    const p = (protocol: number, dport?: number): Packet => ({ saddr: "198.18.0.9", daddr: "198.18.0.3", protocol, dport });
    expectVerdict(pi, p(6, 80), dropIn("t:p:r0"));
    expectVerdict(pi, p(17, 80), allow({ inRule: "t:p:r1" }));
    expectVerdict(pi, p(17, 53), dropIn("t:p:r2"));
    expectVerdict(pi, p(6, 443), allow({ inRule: "t:p:r3" }));
    expectVerdict(pi, p(132, 443), allow({ inRule: "t:p:r3" }));
    expectVerdict(pi, p(17, 443), allow({ inRule: "t:p:r3" }));
    expectVerdict(pi, p(47), allow({ inRule: "t:p:r4" }));
    expectVerdict(pi, p(1), dropIn("t:p:r0"));
    // A port-less packet is not matched by a "port 443, any protocol" rule.
    expectVerdict(input([{ groupId: 2, direction: "in", priority: 1, action: "deny", port: 443 }]), p(1), allow());
  });

  it("icmp means ICMPv6 for IPv6; ICMP is never matched on a port", () => {
    const rules: Omit<PolicyRule, "key">[] = [{ groupId: 2, direction: "in", priority: 1, action: "deny", protocol: 1, port: 80 }];
    const pi = input(rules);
    expectVerdict(pi, { saddr: "198.18.0.1", daddr: "198.18.0.3", protocol: 1 }, dropIn("t:p:r0"));
    expectVerdict(pi, { saddr: "fd00::1", daddr: "fd00::3", protocol: 58, icmpType: 128 }, dropIn("t:p:r0"));
    expectVerdict(pi, { saddr: "fd00::1", daddr: "fd00::3", protocol: 1 }, allow());
    expectVerdict(pi, tcp("198.18.0.1", "198.18.0.3", 80), allow());
    assert.match(compilePolicy(pi).warnings.join("\n"), /protocol 1 has no ports, port 80 ignored/);
  });

  it("neighbour discovery and established connections always pass", () => {
    const pi = input([{ groupId: 2, direction: "in", priority: 1, action: "deny" }]);
    expectVerdict(pi, { saddr: "fd00::1", daddr: "fd00::3", protocol: 58, icmpType: 135 }, { verdict: "accept", reason: "neighbor-discovery" });
    expectVerdict(pi, { ...tcp("198.18.0.1", "198.18.0.3", 22), ctState: "established" }, { verdict: "accept", reason: "established" });
    expectVerdict(pi, { ...tcp("198.18.0.1", "198.18.0.3", 22), ctState: "invalid" }, dropIn("t:p:r0"));
  });

  it("bridge mode drops traffic routed between two of the tenant's bridges, first", () => {
    const networks = [
      { name: "n1", bridge: "nb1", subnet: "198.18.0.0/24", ipv6Subnet: "" },
      { name: "n2", bridge: "nb2", subnet: "198.18.1.0/24", ipv6Subnet: "" },
    ];
    const packet: Packet = { ...tcp("198.18.0.1", "198.18.1.1", 80), iif: "nb1", oif: "nb2", ctState: "established" };
    expectVerdict(input([], { fwdMode: "bridge", networks }), packet, { verdict: "drop", reason: "cross-network" });
    expectVerdict(input([], { fwdMode: "bridge", networks }), { ...packet, oif: "nb1" }, { verdict: "accept", reason: "established" });
    expectVerdict(input([], { fwdMode: "bridge", networks }), { ...packet, oif: "eth0" }, { verdict: "accept", reason: "established" });
    expectVerdict(input([], { fwdMode: "routing", networks }), packet, { verdict: "accept", reason: "established" });
    expectVerdict(input([], { fwdMode: "bridge", networks }), { ...packet, hook: "input" }, { verdict: "accept", reason: "established" });
    // A service's VIP DNATed to a provider on the other network crosses, and is judged like any connection.
    expectVerdict(input([], { fwdMode: "bridge", networks }), { ...packet, dnat: true }, { verdict: "accept", reason: "established" });
    const deny = input([{ groupId: 2, direction: "in", priority: 1, action: "deny" }], { fwdMode: "bridge", networks });
    expectVerdict(deny, { ...tcp("198.18.0.1", "198.18.0.3", 80), iif: "nb1", oif: "nb2", dnat: true }, dropIn("t:p:r0"));
  });

  it("an address in two groups belongs to the lowest id", () => {
    const pi = input([{ groupId: 1, direction: "in", priority: 1, action: "deny" }]);
    pi.groups[1]!.ipv4.push("198.18.0.1");
    const compiled = compilePolicy(pi);
    assert.match(compiled.warnings.join("\n"), /198\.18\.0\.1 is in groups 1 and 2/);
    expectVerdict(pi, tcp("198.18.0.9", "198.18.0.1", 1), dropIn("t:p:r0"));
  });
});

describe("compilePolicy structure", () => {
  it("shares classes between groups with the same policy and sizes elements by rules, not groups", () => {
    const groups = Array.from({ length: 20 }, (_, i) => ({ id: i + 1, name: `g${i + 1}`, ipv4: [`198.18.1.${i + 1}`], ipv6: [], dscp: 0 }));
    const rules: PolicyRule[] = [];
    for (const g of groups) {
      for (let port = 1; port <= 50; port++) {
        rules.push({ key: `t:web:${port}`, groupId: g.id, direction: "in", priority: 10, action: "allow", protocol: 6, port });
      }
      rules.push({ key: "t:web:deny", groupId: g.id, direction: "in", priority: 1, action: "deny", protocol: 6 });
    }
    const compiled = compilePolicy({ fwdMode: "routing", networks: [], groups, rules });
    assert.equal(compiled.stats.classes, 1);
    assert.equal(compiled.stats.elements.ported_exact, 50);
    assert.equal(compiled.stats.elements.ported_any, 1);
    assert.equal(compiled.stats.groupChains, 20);
    assert.equal(compiled.elementRules.get("ported_exact:1.6.7"), "t:web:7");
  });

  it("puts DSCP of member addresses into the prerouting maps", () => {
    const pi = input([]);
    pi.groups[0]!.dscp = 46;
    const { tables, script } = compilePolicy(pi);
    assert.equal(tables.dscp4.length, 1);
    assert.equal(tables.dscp4[0]!.value, 46);
    assert.equal(tables.dscp6[0]!.value, 46);
    assert.match(script, /198\.18\.0\.1-198\.18\.0\.2 : goto dscp_46/);
    assert.match(script, /chain dscp_46 \{\n\t\tip dscp set 46\n\t\tip6 dscp set 46\n/);
  });

  it("rejects input that can never be right, listing every issue", () => {
    const pi = input([
      { groupId: 2, direction: "in", priority: 1, action: "deny", peerCidrs: ["198.18.0.20-10"] },
      { groupId: 2, direction: "sideways" as "in", priority: 1, action: "deny", protocol: 256, port: 70000 },
    ]);
    pi.groups[0]!.ipv4.push("fd00::1");
    assert.throws(
      () => compilePolicy(pi),
      (err: unknown) => {
        assert.ok(err instanceof ValidationError);
        assert.deepEqual(
          err.issues.map((i) => i.path),
          ["groups[0].ipv4[2]", "rules[0].peerCidrs[0]", "rules[1].direction", "rules[1].protocol", "rules[1].port"],
        );
        return true;
      },
    );
  });

  it("ignores rules of unknown groups and treats unknown peer groups as empty, with warnings", () => {
    const pi = input([
      { groupId: 7, direction: "in", priority: 1, action: "deny" },
      { groupId: 2, direction: "in", priority: 1, action: "deny", peerGroupId: 9 },
    ]);
    const compiled = compilePolicy(pi);
    assert.equal(compiled.warnings.length, 2);
    assert.deepEqual(compiled.ruleKeys, ["t:p:r0", "t:p:r1"]);
    expectVerdict(pi, tcp("198.18.0.1", "198.18.0.3", 1), allow());
  });
});
