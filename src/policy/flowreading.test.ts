// Reading the flow sets back from `nft -j -p list sets` (flowreading.ts): what nft 1.0.6 prints, bad input, and
// (property) that any set of elements printed the way nft prints them reads back whole.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { ValidationError } from "../lib/errors.js";
import { compilePolicy } from "./compile.js";
import { flowElementText, flowRuleOf, parseFlowCounters, parseFlowSets, renderFlowDeletes, type FlowSetElement } from "./flowreading.js";

// As nft 1.0.6 printed it in a namespace (trimmed to one element a set).
const PRINTED = `{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}},
{"set": {"family": "inet", "name": "bridged", "table": "netplugin", "type": ["ifname", "ifname"], "handle": 3, "flags": ["timeout"]}},
{"set": {"family": "inet", "name": "flows4", "table": "netplugin", "type": ["mark", "ipv4_addr", "ipv4_addr", "inet_proto", "inet_service"], "handle": 4, "size": 64, "flags": ["timeout"], "timeout": 120,
  "elem": [{"elem": {"val": {"concat": [7, "198.18.9.1", "198.18.9.2", 6, 2]}, "expires": 114, "counter": {"packets": 8, "bytes": 480}}}], "stmt": [{"counter": null}]}},
{"set": {"family": "inet", "name": "flows6", "table": "netplugin", "type": ["mark", "ipv6_addr", "ipv6_addr", "inet_proto", "inet_service"], "handle": 5, "size": 64, "flags": ["timeout"], "timeout": 120,
  "elem": [{"elem": {"val": {"concat": [0, "2001:db8::1", "2001:db8::3", 58, 0]}, "expires": 103, "counter": {"packets": 1, "bytes": 104}}}], "stmt": [{"counter": null}]}}]}`;

describe("parseFlowSets", () => {
  it("reads what nft prints: both families' flows, the sets' size and timeout", () => {
    assert.deepEqual(parseFlowSets(PRINTED), {
      elements: [
        { family: 4, flowId: 7, src: "198.18.9.1", dst: "198.18.9.2", proto: 6, dport: 2, packets: 8, expires: 114 },
        { family: 6, flowId: 0, src: "2001:db8::1", dst: "2001:db8::3", proto: 58, dport: 0, packets: 1, expires: 103 },
      ],
      size: 64,
      timeout: 120,
      malformed: 0,
    });
  });

  it("reads a table without elements, and ignores other tables' sets", () => {
    const other = PRINTED.replace(/"table": "netplugin"/g, '"table": "other"');
    assert.deepEqual(parseFlowSets(other), { elements: [], size: 0, timeout: 0, malformed: 0 });
    assert.deepEqual(parseFlowSets('{"nftables": []}').elements, []);
  });

  const bad: [string, string][] = [
    ["not JSON", "nft: command not found"],
    ["no nftables array", '{"nft": []}'],
    ["null", "null"],
  ];
  for (const [what, text] of bad) {
    it(`refuses ${what} with a ValidationError`, () => assert.throws(() => parseFlowSets(text), ValidationError));
  }

  const malformed: [string, unknown][] = [
    ["a protocol by name", [7, "198.18.9.1", "198.18.9.2", "tcp", 2]],
    ["an IPv6 address in the IPv4 set", [7, "2001:db8::1", "198.18.9.2", 6, 2]],
    ["a port beyond 65535", [7, "198.18.9.1", "198.18.9.2", 6, 70000]],
    ["a key of four parts", [7, "198.18.9.1", "198.18.9.2", 6]],
    ["a negative id", [-1, "198.18.9.1", "198.18.9.2", 6, 2]],
  ];
  for (const [what, concat] of malformed) {
    it(`skips and counts an element with ${what}`, () => {
      const text = PRINTED.replace('[7, "198.18.9.1", "198.18.9.2", 6, 2]', JSON.stringify(concat));
      const r = parseFlowSets(text);
      assert.equal(r.malformed, 1);
      assert.equal(r.elements.length, 1);
    });
  }

  const ipv4 = fc.ipV4();
  const ipv6 = fc.ipV6().filter((a) => !a.includes("."));
  const elementOf = (family: 4 | 6) =>
    fc.record({
      family: fc.constant(family),
      flowId: fc.nat({ max: 0xffffffff }),
      src: family === 4 ? ipv4 : ipv6,
      dst: family === 4 ? ipv4 : ipv6,
      proto: fc.nat({ max: 255 }),
      dport: fc.nat({ max: 65535 }),
      packets: fc.nat({ max: 2 ** 40 }),
      expires: fc.nat({ max: 120 }),
    });
  const printed = (elements: FlowSetElement[]) =>
    JSON.stringify({
      nftables: [
        ...([4, 6] as const).map((family) => ({
          set: {
            family: "inet", table: "netplugin", name: `flows${family}`, size: 99, timeout: 120,
            elem: elements.filter((e) => e.family === family).map((e) => ({ elem: { val: { concat: [e.flowId, e.src, e.dst, e.proto, e.dport] }, expires: e.expires, counter: { packets: e.packets, bytes: 0 } } })),
          },
        }))
      ],
    });

  it("reads back every element nft could print, IPv4 before IPv6", () => {
    fc.assert(
      fc.property(fc.array(elementOf(4), { maxLength: 20 }), fc.array(elementOf(6), { maxLength: 20 }), (v4, v6) => {
        const r = parseFlowSets(printed([...v4, ...v6]));
        assert.deepEqual(r.elements, [...v4, ...v6].map((e) => ({ ...e })));
        assert.equal(r.malformed, 0);
      }),
    );
  });

  it("never throws but a ValidationError, on any JSON", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        try {
          const r = parseFlowSets(JSON.stringify({ nftables: [{ set: { family: "inet", table: "netplugin", name: "flows4", elem: [v] } }, v] }));
          assert.ok(r.elements.length + r.malformed <= 1);
        } catch (err) {
          assert.ok(err instanceof ValidationError, String(err));
        }
      }),
    );
  });
});

describe("parseFlowCounters", () => {
  it("reads the two counters nft prints, 0 for one missing, other tables' ignored", () => {
    const printed = `{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}},
      {"counter": {"family": "inet", "name": "flows_counted", "table": "netplugin", "handle": 3, "packets": 12, "bytes": 720}},
      {"counter": {"family": "inet", "name": "flows_full", "table": "netplugin", "handle": 4, "packets": 3, "bytes": 180}},
      {"counter": {"family": "inet", "name": "flows_full", "table": "other", "handle": 4, "packets": 9, "bytes": 180}}]}`;
    assert.deepEqual(parseFlowCounters(printed), { counted: 12, full: 3 });
    assert.deepEqual(parseFlowCounters('{"nftables": []}'), { counted: 0, full: 0 });
    assert.throws(() => parseFlowCounters("Error: No such file or directory"), ValidationError);
  });
});

describe("renderFlowDeletes", () => {
  it("deletes each family's elements from its set in one transaction", () => {
    const e = (family: 4 | 6, src: string, dst: string) => ({ family, text: flowElementText({ flowId: 1, src, dst, proto: 6, dport: 80 }) });
    assert.equal(
      renderFlowDeletes([e(6, "2001:db8::1", "2001:db8::2"), e(4, "198.18.0.1", "198.18.0.2"), e(4, "198.18.0.3", "198.18.0.2")]),
      "delete element inet netplugin flows4 { 1 . 198.18.0.1 . 198.18.0.2 . 6 . 80, 1 . 198.18.0.3 . 198.18.0.2 . 6 . 80 }\n" +
        "delete element inet netplugin flows6 { 1 . 2001:db8::1 . 2001:db8::2 . 6 . 80 }\n",
    );
    assert.equal(renderFlowDeletes([]), "");
  });
});

describe("flowRuleOf", () => {
  const compiled = compilePolicy({
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
  });
  const e = (flowId: number, dst: string, dport: number): FlowSetElement => ({ family: 4, flowId, src: "198.18.1.1", dst, proto: 6, dport, packets: 1, expires: 0 });

  it("names a deny rule by its id, an allowed attempt by a trace (null: the default), an unknown id not at all", () => {
    assert.deepEqual(flowRuleOf(compiled, e(1, "198.18.1.2", 80)), { verdict: "deny", rule: "t:db:deny" });
    assert.deepEqual(flowRuleOf(compiled, e(0, "198.18.1.2", 5432)), { verdict: "allow", rule: "t:db:pg" });
    assert.deepEqual(flowRuleOf(compiled, e(0, "198.18.1.9", 80)), { verdict: "allow", rule: null });
    assert.equal(flowRuleOf(compiled, e(2, "198.18.1.2", 80)), undefined);
  });
});
