// A tenant's flow records as the driver reads them (flows.ts), over scripted nft output: the counters alone unless
// the sets are asked for, each element named by its rule, an allowed flow traced once while the policy stays.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { compilePolicy, type PolicyInput } from "../../policy/index.js";
import { forgetFlowElements, readFlowCounts } from "./flows.js";
import { FakeExecutor } from "./testing/fakeExecutor.js";

const input: PolicyInput = {
  fwdMode: "routing",
  networks: [{ name: "n", bridge: "nb1", subnet: "198.18.1.0/24", ipv6Subnet: "" }],
  groups: [
    { id: 1, name: "web", ipv4: ["198.18.1.1"], ipv6: [], dscp: 0 },
    { id: 2, name: "db", ipv4: ["198.18.1.2"], ipv6: [], dscp: 0 },
  ],
  rules: [
    { key: "t:db:deny", groupId: 2, direction: "in", priority: 1, action: "deny" },
    { key: "t:db:pg", groupId: 2, direction: "in", priority: 10, action: "allow", protocol: 6, port: 5432, peerGroupId: 1 },
  ],
  flowSets: { allowed: true, size: 8, timeoutSeconds: 120 },
};
const policy = compilePolicy(input);
const COUNTERS = `{"nftables": [{"counter": {"family": "inet", "name": "flows_counted", "table": "netplugin", "packets": 5}}, {"counter": {"family": "inet", "name": "flows_full", "table": "netplugin", "packets": 2}}]}`;
const elem = (id: number, dport: number, packets: number, expires: number) => ({ elem: { val: { concat: [id, "198.18.1.1", "198.18.1.2", 6, dport] }, expires, counter: { packets, bytes: 0 } } });
const SETS4 = JSON.stringify({ nftables: [{ set: { family: "inet", table: "netplugin", name: "flows4", size: 8, timeout: 120, elem: [elem(1, 80, 3, 110), elem(0, 5432, 2, 100), elem(9, 1, 1, 100)] } }] });
const SETS6 = JSON.stringify({ nftables: [{ set: { family: "inet", table: "netplugin", name: "flows6", size: 8, timeout: 120 } }] });

function executor(): FakeExecutor {
  return new FakeExecutor()
    .on("ip netns exec ns1 nft -j list counters table inet netplugin", { stdout: COUNTERS })
    .on("ip netns exec ns1 nft -j -n list set inet netplugin flows4", { stdout: SETS4 })
    .on("ip netns exec ns1 nft -j -n list set inet netplugin flows6", { stdout: SETS6 });
}

describe("readFlowCounts", () => {
  it("reads the counters alone when the sets are not asked for", async () => {
    const ex = executor();
    const seen: unknown[] = [];
    const { counts } = await readFlowCounts(ex, "ns1", { policy, restarted: true, now: 0, cache: undefined, list: (...a) => (seen.push(a), false) });
    assert.deepEqual(seen, [["ns1", { counted: 5, overflowPackets: 2 }, true]]);
    assert.deepEqual(counts, { namespace: "ns1", restarted: true, counted: 5, overflowPackets: 2, flows: undefined, capacity: 0 });
    assert.equal(ex.calls.length, 1);
  });

  it("names each listed flow by its rule, lastSeen from its expiry, and skips an id the policy does not have", async () => {
    const now = 1_000_000;
    const { counts, cache } = await readFlowCounts(executor(), "ns1", { policy, restarted: false, now, cache: undefined, list: () => true });
    assert.equal(counts.capacity, 8);
    assert.deepEqual(
      counts.flows!.map((f) => [f.id, f.verdict, f.rule, f.dport, f.packets, f.lastSeen, f.expiresAt]),
      [
        ["4 1 . 198.18.1.1 . 198.18.1.2 . 6 . 80", "deny", "t:db:deny", 80, 3, now - 10_000, now + 110_000],
        ["4 0 . 198.18.1.1 . 198.18.1.2 . 6 . 5432", "allow", "t:db:pg", 5432, 2, now - 20_000, now + 100_000],
      ],
    );
    // The allowed flow's trace is kept for the next listing under the same policy, and only it.
    assert.deepEqual([...cache!.rules.keys()], ["0 . 198.18.1.1 . 198.18.1.2 . 6 . 5432"]);
    const again = await readFlowCounts(executor(), "ns1", { policy: compilePolicy(input), restarted: false, now, cache, list: () => false });
    assert.equal(again.cache, undefined);
  });
});

describe("forgetFlowElements", () => {
  it("deletes the flows from their family's set in one transaction, and runs nothing for none", async () => {
    const ex = new FakeExecutor({ stdout: "" });
    await forgetFlowElements(ex, "ns1", ["4 1 . 198.18.1.1 . 198.18.1.2 . 6 . 80", "6 1 . 2001:db8::1 . 2001:db8::2 . 17 . 53"]);
    await forgetFlowElements(ex, "ns1", []);
    assert.deepEqual(ex.commands(), ["ip netns exec ns1 nft -f -"]);
    assert.equal(
      ex.calls[0]!.stdin,
      "delete element inet netplugin flows4 { 1 . 198.18.1.1 . 198.18.1.2 . 6 . 80 }\ndelete element inet netplugin flows6 { 1 . 2001:db8::1 . 2001:db8::2 . 17 . 53 }\n",
    );
  });
});
