import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ValidationError } from "../lib/errors.js";
import { compilePolicy } from "./compile.js";
import { ruleCounters } from "./counters.js";
import type { PolicyInput } from "./types.js";

const input: PolicyInput = {
  fwdMode: "routing",
  networks: [],
  groups: [
    { id: 1, name: "web", ipv4: ["198.18.1.1"], ipv6: ["fd00:1::1"], dscp: 0 },
    { id: 2, name: "db", ipv4: ["198.18.2.3"], ipv6: ["fd00:1::3"], dscp: 0 },
  ],
  rules: [
    { key: "t:db:deny-tcp", groupId: 2, direction: "in", priority: 1, action: "deny", protocol: 6 },
    { key: "t:db:pg", groupId: 2, direction: "in", priority: 10, action: "allow", protocol: 6, port: 5432 },
    { key: "t:db:no-ping", groupId: 2, direction: "in", priority: 5, action: "deny", protocol: 1 },
    { key: "t:db:gre", groupId: 2, direction: "in", priority: 5, action: "allow", protocol: 47 },
    { key: "t:web:none", groupId: 1, direction: "out", priority: 5, action: "deny", protocol: 41, peerGroupId: 99 },
  ],
};

type Val = number | string;
const elem = (val: Val | Val[], packets: number, bytes: number, verdict = "drop") => [
  { elem: { val: Array.isArray(val) ? { concat: val } : val, counter: { packets, bytes } } },
  { [verdict]: null },
];
const map = (name: string, elems: unknown[], table = "netplugin") => ({
  map: { family: "inet", name, table, type: "whatever", handle: 1, map: "verdict", elem: elems, stmt: [{ counter: null }] },
});

describe("ruleCounters", () => {
  const compiled = compilePolicy(input);

  it("sums element counters per rule, from named or numeric nft JSON", () => {
    assert.deepEqual([...compiled.elementRules.keys()].sort(), [
      "ported_any:1.6",
      "ported_exact:1.6.5432",
      "portless_exact:1.10.47",
      "portless_exact:1.10.58",
      "portless_exact:1.2.1",
      "portless_exact:1.2.47",
    ]);
    for (const named of [true, false]) {
      const n = <T extends Val>(name: T, num: number): Val => (named ? name : num);
      const doc = {
        nftables: [
          { metainfo: { version: "1.0.6", json_schema_version: 1 } },
          { table: { family: "inet", name: "netplugin", handle: 1 } },
          map("ported_exact", [elem([1, n("tcp", 6), 5432], 3, 180, "return")]),
          map("ported_any", [elem([1, n("tcp", 6)], 10, 600)]),
          map("portless_exact", [
            elem([1, n("ipv4", 2), n("icmp", 1)], 1, 84),
            elem([1, n("ipv6", 10), n("ipv6-icmp", 58)], 2, 208),
            elem([1, n("ipv4", 2), n("gre", 47)], 4, 400, "return"),
            elem([1, n("ipv6", 10), n("gre", 47)], 5, 500, "return"),
          ]),
          map("portless_any", []),
          // Not ours: other tables, other maps, unknown elements.
          map("ported_any", [elem([1, 6], 99, 99)], "other"),
          map("out_groups4", [elem(1, 99, 99)]),
          map("ported_any", [elem([77, 6], 99, 99)]),
        ],
      };
      const counters = ruleCounters(JSON.stringify(doc), compiled);
      assert.deepEqual(Object.fromEntries(counters), {
        "t:db:deny-tcp": { packets: 10, bytes: 600 },
        "t:db:pg": { packets: 3, bytes: 180 },
        "t:db:no-ping": { packets: 3, bytes: 292 },
        "t:db:gre": { packets: 9, bytes: 900 },
        "t:web:none": { packets: 0, bytes: 0 },
      });
    }
  });

  it("tells protocol 41 (printed \"ipv6\") from nfproto ipv6 by position", () => {
    const c = compilePolicy({ ...input, rules: [{ key: "t:x:6in4", groupId: 2, direction: "in", priority: 1, action: "deny", protocol: 41 }] });
    const doc = { nftables: [map("portless_exact", [elem([1, "ipv6", "ipv6"], 7, 700), elem([1, "ipv4", "ipv6"], 1, 100)])] };
    assert.deepEqual(ruleCounters(JSON.stringify(doc), c).get("t:x:6in4"), { packets: 8, bytes: 800 });
  });

  it("rejects text that is not nft JSON", () => {
    assert.throws(() => ruleCounters("table inet netplugin {", compiled), ValidationError);
    assert.throws(() => ruleCounters('{"foo": 1}', compiled), ValidationError);
  });
});
