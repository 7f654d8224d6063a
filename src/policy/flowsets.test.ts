// The flow sets in the tenant's script (flowsets.ts): what is added, what is left as it was, and (root) in a real
// namespace with real packets: a denied attempt is an element naming its rule with its count, an allowed one is
// counted only when asked, a full set counts what did not fit, and the table loads at 10 000 rules.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { compilePolicy } from "./compile.js";
import { FLOW_COUNTERS_ARGV, FLOW_SETS_ARGVS, flowElementText, flowRuleOf, parseFlowCounters, parseFlowSets, renderFlowDeletes, type FlowSetElement } from "./flowreading.js";
import type { FlowSetOptions } from "./flowsets.js";
import { RULE_COUNTERS_ARGVS, ruleCounters } from "./counters.js";
import { Netns, kernelSkipReason } from "./testing/netns.js";
import { manyGroups } from "./testing/largePolicies.js";
import { tracePacket } from "./trace.js";
import type { PolicyInput } from "./types.js";

const input: PolicyInput = {
  fwdMode: "routing",
  networks: [{ name: "n", bridge: "nb1", subnet: "198.18.1.0/24", ipv6Subnet: "2001:db8:1::/64" }],
  groups: [
    { id: 1, name: "web", ipv4: ["198.18.1.1"], ipv6: ["2001:db8:1::1"], dscp: 0 },
    { id: 2, name: "db", ipv4: ["198.18.1.2"], ipv6: ["2001:db8:1::2"], dscp: 0 },
  ],
  rules: [
    { key: "t:db:deny-all", groupId: 2, direction: "in", priority: 1, action: "deny" },
    { key: "t:db:web-5432", groupId: 2, direction: "in", priority: 10, action: "allow", protocol: 6, port: 5432, peerGroupId: 1 },
    { key: "t:web:no-ssh", groupId: 1, direction: "out", priority: 5, action: "deny", protocol: 6, port: 22 },
  ],
};
const denied: FlowSetOptions = { allowed: false, size: 64, timeoutSeconds: 120 };

describe("flow sets in the tenant's script", () => {
  it("sends each deny element to its rule's chain, which counts the attempt under the rule's id and drops it", () => {
    const compiled = compilePolicy({ ...input, flowSets: denied });
    assert.deepEqual(compiled.flowRules, ["t:db:deny-all", "t:web:no-ssh"]);
    const { script } = compiled;
    assert.match(script, /\tset flows4 {\n\t\ttypeof meta mark \. ip saddr \. ip daddr \. meta l4proto \. th dport\n\t\tflags dynamic,timeout\n\t\ttimeout 120s\n\t\tsize 64\n\t\tcounter\n\t}/);
    assert.match(script, /\tset flows6 {\n\t\ttypeof meta mark \. ip6 saddr/);
    assert.match(script, /\tcounter flows_counted {\n\t}\n\tcounter flows_full {\n\t}/);
    assert.match(script, /\tchain deny_0 {\n\t\tmeta nfproto ipv4 meta l4proto { tcp, udp, sctp } update @flows4 { 1 \. ip saddr \. ip daddr \. meta l4proto \. th dport } counter name "flows_counted" drop\n/);
    assert.match(script, /\tchain deny_1 {\n(\t\t.* update @flows[46] { 2 \. .* counter name "flows_counted" drop\n){4}\t\tcounter name "flows_full" drop\n\t}/);
    assert.match(script, /: goto deny_0/);
    assert.doesNotMatch(script, /: drop\b/);
    assert.doesNotMatch(script, /ct state new .*update/);
  });

  it("counts allowed attempts under id 0, once, after both checks, only when asked", () => {
    const script = compilePolicy({ ...input, flowSets: { ...denied, allowed: true } }).script;
    assert.match(script, /\t\tjump in_check\n\t\tct state new meta nfproto ipv4 meta l4proto { tcp, udp, sctp } update @flows4 { 0 \. ip saddr \. ip daddr \. meta l4proto \. th dport } counter name "flows_counted" return\n/);
    assert.match(script, /\t\tct state new counter name "flows_full" return\n\t}/);
  });

  it("changes no verdict: the same packets pass and drop, the counters map to the same rules", () => {
    const plain = compilePolicy(input);
    const counted = compilePolicy({ ...input, flowSets: { ...denied, allowed: true } });
    assert.deepEqual([...counted.elementRules], [...plain.elementRules]);
    assert.deepEqual(plain.flowRules, []);
    for (const [saddr, daddr, dport] of [["198.18.1.1", "198.18.1.2", 5432], ["198.18.1.1", "198.18.1.2", 80], ["198.18.1.1", "198.18.1.9", 22]] as const) {
      assert.deepEqual(tracePacket(counted, { saddr, daddr, protocol: 6, dport }), tracePacket(plain, { saddr, daddr, protocol: 6, dport }));
    }
  });
});

/** Non-blocking connects (TCP SYNs) and UDP datagrams from `src` to `dst`, one per port, in the namespace. */
const SEND = `
import socket, sys
src, dst, proto = sys.argv[1], sys.argv[2], sys.argv[3]
fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
for p in sys.argv[4:]:
    s = socket.socket(fam, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
    s.bind((src, 0))
    s.setblocking(False)
    try:
        s.connect((dst, int(p))) if proto == "tcp" else s.sendto(b"x", (dst, int(p)))
    except (BlockingIOError, PermissionError):
        pass
    s.close()
`;

describe("flow sets in the kernel", { skip: kernelSkipReason() }, () => {
  let ns: Netns | undefined;
  const send = (src: string, dst: string, proto: "tcp" | "udp", ports: number[]) => ns!.exec(["python3", "-c", SEND, src, dst, proto, ...ports.map(String)]);
  const read = async () => parseFlowSets(await Promise.all(FLOW_SETS_ARGVS.map((argv) => ns!.exec(argv))));
  const ruleListings = () => Promise.all(RULE_COUNTERS_ARGVS.map((argv) => ns!.exec(argv)));
  const totals = async () => parseFlowCounters(await ns!.exec(FLOW_COUNTERS_ARGV));
  const at = (r: { elements: FlowSetElement[] }, dst: string, dport: number) => r.elements.find((e) => e.dst === dst && e.dport === dport);

  before(async () => {
    ns = await Netns.create();
    // On lo: a packet between two local addresses passes the output hook (both checks) like a container's would.
    for (const a of ["198.18.1.1/24", "198.18.1.2/24"]) await ns.exec(["ip", "addr", "add", a, "dev", "lo"]);
    for (const a of ["2001:db8:1::1/64", "2001:db8:1::2/64"]) await ns.exec(["ip", "addr", "add", a, "dev", "lo", "nodad"]);
  });
  after(async () => {
    await ns?.delete();
  });

  it("counts a denied attempt under its rule, per flow, for IPv4 and IPv6; allowed ones only when asked", async () => {
    const compiled = compilePolicy({ ...input, flowSets: denied });
    await ns!.nft(compiled.script);
    await send("198.18.1.1", "198.18.1.2", "tcp", [80, 80, 81]);
    await send("2001:db8:1::1", "2001:db8:1::2", "udp", [53]);
    await send("198.18.1.1", "198.18.1.2", "tcp", [5432]); // allowed: not counted
    const r = await read();
    assert.equal(r.size, 64);
    assert.equal(r.timeout, 120);
    assert.equal(r.malformed, 0);
    // A SYN that gets no answer is sent again after a second: at least the first of each, none of port 5432.
    const e80 = at(r, "198.18.1.2", 80)!;
    assert.ok(e80 && e80.packets >= 2, JSON.stringify(r));
    assert.deepEqual(flowRuleOf(compiled, e80), { verdict: "deny", rule: "t:db:deny-all" });
    assert.equal(e80.src, "198.18.1.1");
    assert.equal(e80.proto, 6);
    assert.ok(e80.expires > 100 && e80.expires <= 120);
    assert.ok(at(r, "198.18.1.2", 81));
    const e53 = at(r, "2001:db8:1::2", 53)!;
    assert.deepEqual([e53.family, e53.proto, e53.packets, flowRuleOf(compiled, e53)?.rule], [6, 17, 1, "t:db:deny-all"]);
    assert.equal(at(r, "198.18.1.2", 5432), undefined);
    // The counter the agent reads first moved with every attempt the sets took.
    assert.deepEqual(await totals(), { counted: r.elements.reduce((n, e) => n + e.packets, 0), full: 0 });

    // An outgoing deny rule names itself; a portless attempt (ping) is keyed with port 0.
    await send("198.18.1.1", "198.18.1.9", "tcp", [22]);
    await ns!.exec(["ping", "-c1", "-W1", "198.18.1.2"]).catch(() => undefined);
    const r2 = await read();
    assert.equal(flowRuleOf(compiled, at(r2, "198.18.1.9", 22)!)?.rule, "t:web:no-ssh");
    const ping = r2.elements.find((e) => e.proto === 1)!;
    assert.deepEqual([ping.dport, flowRuleOf(compiled, ping)?.rule], [0, "t:db:deny-all"]);

    // Deleting elements (the agent's trim) leaves the rest; the next attempt of a deleted flow counts anew.
    await ns!.nft(renderFlowDeletes([{ family: 4, text: flowElementText(e80) }, { family: 6, text: flowElementText(e53) }]));
    const r3 = await read();
    assert.equal(at(r3, "198.18.1.2", 80), undefined);
    assert.equal(at(r3, "2001:db8:1::2", 53), undefined);
    assert.ok(at(r3, "198.18.1.2", 81));

    const all = compilePolicy({ ...input, flowSets: { ...denied, allowed: true } });
    await ns!.nft(all.script);
    await send("198.18.1.1", "198.18.1.2", "tcp", [5432]);
    const r4 = await read();
    // Reloading the table began the sets anew; the allowed attempt is counted under id 0, its rule traced.
    assert.equal(at(r4, "198.18.1.2", 81), undefined);
    const allowed = at(r4, "198.18.1.2", 5432)!;
    assert.equal(allowed.flowId, 0);
    assert.deepEqual(flowRuleOf(all, allowed), { verdict: "allow", rule: "t:db:web-5432" });
    // Still per-rule counters: the flow sets leave the verdict maps' counters alone.
    const listed = await ruleListings();
    assert.doesNotMatch(listed.join("\n"), /flows4/);
    assert.deepEqual([...ruleCounters(listed, all).keys()].sort(), ["t:db:deny-all", "t:db:web-5432", "t:web:no-ssh"]);
  });

  it("counts what a full set had no room for, and still drops it", async () => {
    const compiled = compilePolicy({ ...input, flowSets: { ...denied, size: 4 } });
    await ns!.nft(compiled.script);
    await send("198.18.1.1", "198.18.1.2", "udp", [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    await send("2001:db8:1::1", "2001:db8:1::2", "udp", [1, 2, 3, 4, 5, 6]);
    const r = await read();
    assert.equal(r.elements.filter((e) => e.family === 4).length, 4);
    assert.equal(r.elements.filter((e) => e.family === 6).length, 4);
    assert.deepEqual(await totals(), { counted: 8, full: 6 + 2 });
    // Dropped all the same: nothing reached a listener (the deny-all rule's counter saw all 16).
    const counters = ruleCounters(await ruleListings(), compiled);
    assert.equal(counters.get("t:db:deny-all")!.packets, 16);
  });

  it("loads 10 000 rules with their deny chains, and again over itself", async (t) => {
    const compiled = compilePolicy({ ...manyGroups(10_000), flowSets: denied });
    const started = performance.now();
    await ns!.nft(compiled.script);
    await ns!.nft(compiled.script);
    t.diagnostic(`10 000 rules, ${compiled.flowRules.length} deny chains: ${compiled.stats.scriptBytes} bytes, loaded twice in ${(performance.now() - started).toFixed(0)} ms`);
    assert.ok(compiled.flowRules.length > 0);
  });
});
