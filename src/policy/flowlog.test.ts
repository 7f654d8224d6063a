// The flow log in the tenant's script (flowlog.ts): what is added, what is left as it was, and (root) that the
// kernel loads it, at 10 000 rules too.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { compilePolicy } from "./compile.js";
import { denyPrefix, MAX_PREFIX_BYTES, type FlowLogOptions } from "./flowlog.js";
import { ruleCounters } from "./counters.js";
import { Netns, kernelSkipReason } from "./testing/netns.js";
import { manyGroups } from "./testing/largePolicies.js";
import { tracePacket } from "./trace.js";
import type { PolicyInput } from "./types.js";

const input: PolicyInput = {
  fwdMode: "routing",
  networks: [{ name: "n", bridge: "nb1", subnet: "198.18.1.0/24", ipv6Subnet: "" }],
  groups: [
    { id: 1, name: "web", ipv4: ["198.18.1.1"], ipv6: [], dscp: 0 },
    { id: 2, name: "db", ipv4: ["198.18.1.2"], ipv6: [], dscp: 0 },
  ],
  rules: [
    { key: "t:db:deny-all", groupId: 2, direction: "in", priority: 1, action: "deny" },
    { key: "t:db:web-5432", groupId: 2, direction: "in", priority: 10, action: "allow", protocol: 6, port: 5432, peerGroupId: 1 },
    { key: "t:web:no-ssh", groupId: 1, direction: "out", priority: 5, action: "deny", protocol: 6, port: 22 },
  ],
};
const denied: FlowLogOptions = { group: 2407, allowed: false, ratePerSecond: 100 };

describe("flow log in the tenant's script", () => {
  it("sends each deny element to its rule's chain, which logs (rate-limited) before it drops", () => {
    const script = compilePolicy({ ...input, flowLog: denied }).script;
    assert.match(script, /\tlimit flowlog {\n\t\trate 100\/second burst 100 packets\n\t}/);
    assert.match(script, /\tchain deny_0 {\n\t\tlimit name "flowlog" log prefix "D db:deny-all" group 2407 snaplen 96\n\t\tdrop\n\t}/);
    assert.match(script, /\tchain deny_1 {\n\t\tlimit name "flowlog" log prefix "D web:no-ssh" group 2407 snaplen 96\n\t\tdrop\n\t}/);
    assert.match(script, /: goto deny_0/);
    assert.doesNotMatch(script, /: drop\b/);
    assert.doesNotMatch(script, /prefix "A"/);
  });

  it("logs allowed attempts once, after both checks, only when asked", () => {
    const script = compilePolicy({ ...input, flowLog: { ...denied, allowed: true } }).script;
    assert.match(script, /\t\tjump in_check\n\t\tct state new limit name "flowlog" log prefix "A" group 2407 snaplen 96\n\t}/);
  });

  it("changes no verdict: the same packets pass and drop, the counters map to the same rules", () => {
    const plain = compilePolicy(input);
    const logged = compilePolicy({ ...input, flowLog: { ...denied, allowed: true } });
    assert.deepEqual([...logged.elementRules], [...plain.elementRules]);
    for (const [saddr, daddr, dport] of [["198.18.1.1", "198.18.1.2", 5432], ["198.18.1.1", "198.18.1.2", 80], ["198.18.1.1", "198.18.1.9", 22]] as const) {
      assert.deepEqual(tracePacket(logged, { saddr, daddr, protocol: 6, dport }), tracePacket(plain, { saddr, daddr, protocol: 6, dport }));
    }
  });

  it("names the rule without its tenant, cut to the 127 bytes the kernel keeps", () => {
    assert.equal(denyPrefix("t:p:r"), "D p:r");
    assert.equal(denyPrefix(`t:${"p".repeat(64)}:${"r".repeat(64)}`).length, MAX_PREFIX_BYTES);
  });
});

describe("flow log in the kernel", { skip: kernelSkipReason() }, () => {
  let ns: Netns | undefined;
  before(async () => {
    ns = await Netns.create();
  });
  after(async () => {
    await ns?.delete();
  });

  it("loads, and loads again over itself; counters still read per rule", async () => {
    const compiled = compilePolicy({ ...input, flowLog: { ...denied, allowed: true } });
    await ns!.nft(compiled.script);
    await ns!.nft(compiled.script);
    const listed = await ns!.exec(["nft", "-j", "list", "table", "inet", "netplugin"]);
    assert.deepEqual([...ruleCounters(listed, compiled).keys()].sort(), ["t:db:deny-all", "t:db:web-5432", "t:web:no-ssh"]);
    // Every element's counter is still found: a goto verdict reads back like a drop.
    assert.equal((listed.match(/"counter": \{"packets"/g) ?? []).length, compiled.elementRules.size);
  });

  it("loads 10 000 rules with their deny chains", async (t) => {
    const compiled = compilePolicy({ ...manyGroups(10_000), flowLog: denied });
    const started = performance.now();
    await ns!.nft(compiled.script);
    const chains = (compiled.script.match(/\tchain deny_/g) ?? []).length;
    t.diagnostic(`10 000 rules, ${chains} deny chains: ${compiled.stats.scriptBytes} bytes, loaded in ${(performance.now() - started).toFixed(0)} ms`);
    assert.ok(chains > 0);
  });
});
