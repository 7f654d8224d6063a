// The compiled scripts in a real kernel, inside a namespace this test creates
// (never the root namespace): they pass `nft --check`, load, load again over
// themselves, and their counters read back per rule. Prints compile and load
// times for 0, 1 000 and 10 000 rules as test diagnostics.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { compilePolicy } from "./compile.js";
import { ruleCounters } from "./counters.js";
import { Netns, kernelSkipReason } from "./testing/netns.js";
import { manyGroups, portWhitelist } from "./testing/largePolicies.js";
import type { PolicyInput } from "./types.js";

const skip = kernelSkipReason();

async function timed<T>(f: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const v = await f();
  return [v, performance.now() - t0];
}

describe("compiled scripts in the kernel", { skip }, () => {
  let ns: Netns | undefined;
  before(async () => {
    ns = await Netns.create();
  });
  after(async () => {
    await ns?.delete();
  });

  const small: PolicyInput = {
    fwdMode: "bridge",
    networks: [
      { name: "a", bridge: "nb1", subnet: "198.18.1.0/24", ipv6Subnet: "fd00:1::/64" },
      { name: "b", bridge: "nb2", subnet: "198.18.2.0/24", ipv6Subnet: "" },
    ],
    groups: [
      { id: 1, name: "web", ipv4: ["198.18.1.1", "198.18.1.2"], ipv6: ["fd00:1::1"], dscp: 46 },
      { id: 2, name: "db", ipv4: ["198.18.2.3"], ipv6: ["fd00:1::3"], dscp: 0 },
    ],
    rules: [
      { key: "t:db:deny", groupId: 2, direction: "in", priority: 1, action: "deny" },
      { key: "t:db:pg", groupId: 2, direction: "in", priority: 10, action: "allow", protocol: 6, port: 5432, peerGroupId: 1 },
      { key: "t:db:gre", groupId: 2, direction: "in", priority: 10, action: "allow", protocol: 47 },
      { key: "t:db:icmp", groupId: 2, direction: "in", priority: 10, action: "allow", protocol: 1, peerCidrs: ["198.18.1.0-9", "fd00:1::/64"] },
      { key: "t:web:out", groupId: 1, direction: "out", priority: 5, action: "deny", protocol: 17, port: 53, peerCidrs: ["198.18.9.9"] },
    ],
  };

  it("passes nft --check, loads, and loads again over itself", async () => {
    const { script } = compilePolicy(small);
    await ns!.exec(["nft", "--check", "-f", "-"], script);
    await ns!.nft(script);
    await ns!.nft(script);
    const stdout = await ns!.exec(["nft", "list", "table", "inet", "netplugin"]);
    assert.match(stdout, /chain in_g2 \{/);
    assert.match(stdout, /ip saddr vmap @out_groups4/);
  });

  it("reads per-rule counters from nft -j, with and without -n", async () => {
    const compiled = compilePolicy(small);
    await ns!.nft(compiled.script);
    for (const flags of [["-j"], ["-j", "-n"]]) {
      const stdout = await ns!.exec(["nft", ...flags, "list", "table", "inet", "netplugin"]);
      const counters = ruleCounters(stdout, compiled);
      assert.deepEqual([...counters.keys()].sort(), ["t:db:deny", "t:db:gre", "t:db:icmp", "t:db:pg", "t:web:out"]);
      for (const c of counters.values()) assert.deepEqual(c, { packets: 0, bytes: 0 });
      // Every element with a counter was recognised: the JSON holds as many as elementRules.
      const elems = (stdout.match(/"counter": \{"packets"/g) ?? []).length;
      assert.equal(elems, compiled.elementRules.size);
    }
  });

  for (const [name, make] of [
    ["port whitelist on one group", portWhitelist],
    ["rules spread over 100 groups", manyGroups],
  ] as const) {
    it(`compiles and loads 0, 1 000 and 10 000 rules (${name})`, async (t) => {
      for (const n of [0, 1000, 10000]) {
        const input = make(n);
        const t0 = performance.now();
        const compiled = compilePolicy(input);
        const compileMs = performance.now() - t0;
        const [, loadMs] = await timed(() => ns!.nft(compiled.script));
        const [, reloadMs] = await timed(() => ns!.nft(compiled.script));
        const [listed, listMs] = await timed(() => ns!.exec(["nft", "-j", "list", "table", "inet", "netplugin"]));
        const counters = ruleCounters(listed, compiled);
        assert.equal(counters.size, new Set(input.rules.map((r) => r.key)).size);
        t.diagnostic(
          `${name}: ${n} rules → compile ${compileMs.toFixed(0)} ms, nft -f ${loadMs.toFixed(0)} ms, again ${reloadMs.toFixed(0)} ms, ` +
            `nft -j list ${listMs.toFixed(0)} ms; ${compiled.stats.totalElements} elements, ${compiled.stats.classes} classes, ` +
            `${compiled.stats.groupChains} group chains, ${(compiled.stats.scriptBytes / 1024).toFixed(0)} KiB`,
        );
      }
    });
  }
});
