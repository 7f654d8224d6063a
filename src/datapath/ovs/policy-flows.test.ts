import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { compilePolicy, type PolicyInput } from "../../policy/index.js";
import { COOKIE, TABLE } from "./layout.js";
import { POLICY_TABLE, policyFlows, ruleNumberOf, tenantCookie, TENANT_COOKIE_MASK } from "./policy-flows.js";

// web (198.18.0.1-2, fd00::1) may reach db (198.18.0.10, DSCP 46) on tcp/5432; nothing else reaches db.
const input: PolicyInput = {
  fwdMode: "bridge",
  networks: [{ name: "a", bridge: "nba", subnet: "198.18.0.0/24", ipv6Subnet: "fd00::/64" }],
  groups: [
    { id: 1, name: "web", ipv4: ["198.18.0.1", "198.18.0.2"], ipv6: ["fd00::1"], dscp: 0 },
    { id: 2, name: "db", ipv4: ["198.18.0.10"], ipv6: [], dscp: 46 },
  ],
  rules: [
    { key: "t:p:allow-web", groupId: 2, direction: "in", priority: 2, action: "allow", peerGroupId: 1, protocol: 6, port: 5432 },
    { key: "t:p:deny-all", groupId: 2, direction: "in", priority: 1, action: "deny" },
    { key: "t:q:no-dns", groupId: 1, direction: "out", priority: 1, action: "deny", protocol: 17, port: 53 },
  ],
};

function render(localIps = { ipv4: ["198.18.0.10", "198.18.0.1"], ipv6: ["fd00::1"] }) {
  return policyFlows({ tenant: 7, tables: compilePolicy(input).tables, localIps });
}

const cookieOf = (line: string) => BigInt(line.match(/^cookie=(0x[0-9a-f]+),/)![1]!);
const tableOf = (line: string) => Number(line.match(/,table=(\d+),/)![1]);

describe("policyFlows", () => {
  it("keeps to its tables, the tenant and the cookie", () => {
    const { flows } = render();
    assert.ok(flows.length > 0);
    for (const line of flows) {
      assert.match(line, /^cookie=0x[0-9a-f]+,table=\d+,priority=\d+,reg6=7[,]/);
      assert.equal(cookieOf(line) & TENANT_COOKIE_MASK, tenantCookie(7));
      assert.equal(cookieOf(line) & 0xffffn, BigInt(COOKIE));
      assert.ok(tableOf(line) >= TABLE.POLICY && tableOf(line) <= TABLE.POLICY_LAST, line);
      // goto_table only goes forward; resubmit (which returns) only to JUDGE.
      for (const m of line.matchAll(/resubmit\(,(\d+)\)/g)) assert.equal(Number(m[1]), POLICY_TABLE.JUDGE, line);
      for (const m of line.matchAll(/goto_table:(\d+)/g)) {
        const to = Number(m[1]);
        assert.ok(to > tableOf(line) && (to <= TABLE.POLICY_LAST || to === TABLE.POST_HOOK), line);
      }
    }
    assert.equal(new Set(flows).size, flows.length);
  });

  it("renders the walk of trace.ts", () => {
    const { flows, ruleKeys } = render();
    const has = (text: string) => assert.ok(flows.includes(text), `missing ${text}\n${flows.join("\n")}`);
    const c = "cookie=0x76e70";
    has(`${c},table=20,priority=100,reg6=7,ip,actions=ct(table=21,zone=NXM_NX_REG6[0..15])`);
    has(`${c},table=20,priority=200,reg6=7,icmp6,icmpv6_type=135,actions=goto_table:30`);
    has(`${c},table=21,priority=100,reg6=7,ct_state=+trk+est-inv,actions=goto_table:30`);
    has(`${c},table=23,priority=200,reg6=7,reg8=1/1,actions=goto_table:26`);
    has(`${c},table=25,priority=100,reg6=7,reg4=1,actions=drop`);
    has(`${c},table=28,priority=100,reg6=7,reg4=1,actions=drop`);
    // web's addresses as prefixes: 198.18.0.1 and .2 are not one prefix.
    has(`${c},table=23,priority=100,reg6=7,ip,nw_src=198.18.0.1/32,actions=set_field:1->reg0,goto_table:24`);
    has(`${c},table=23,priority=100,reg6=7,ip,nw_src=198.18.0.2/32,actions=set_field:1->reg0,goto_table:24`);
    has(`${c},table=23,priority=100,reg6=7,ipv6,ipv6_src=fd00::1/128,actions=set_field:1->reg0,goto_table:24`);
    // `in` only for local receivers with `in` rules: db's 198.18.0.10, not web's 198.18.0.1.
    const inGroup = flows.filter((l) => tableOf(l) === POLICY_TABLE.IN_GROUP);
    assert.deepEqual(inGroup, [
      `${c},table=26,priority=100,reg6=7,ip,nw_dst=198.18.0.10/32,actions=set_field:2->reg0,goto_table:27`,
      `${c},table=26,priority=0,reg6=7,actions=goto_table:29`,
    ]);
    has(`${c},table=24,priority=10,reg6=7,reg0=1,actions=set_field:${compilePolicy(input).tables.outChains.get(1)!.noneClass}->reg1,resubmit(,31),goto_table:25`);
    has(`${c},table=29,priority=100,reg6=7,ip,ct_state=+trk+new,actions=ct(commit,zone=NXM_NX_REG6[0..15]),goto_table:30`);
    has(`${c},table=30,priority=100,reg6=7,ip,nw_src=198.18.0.10/32,actions=set_field:46->ip_dscp,goto_table:40`);
    has(`${c},table=30,priority=200,reg6=7,reg8=1/1,actions=goto_table:40`);

    // Verdicts: each names its rule in the cookie's top half.
    const judge = flows.filter((l) => tableOf(l) === POLICY_TABLE.JUDGE && ruleNumberOf(cookieOf(l)) > 0);
    const byRule = new Map<string, string[]>();
    for (const l of judge) {
      const key = ruleKeys[ruleNumberOf(cookieOf(l)) - 1]!;
      byRule.set(key, [...(byRule.get(key) ?? []), l.replace(/^cookie=0x[0-9a-f]+,table=31,/, "")]);
    }
    assert.deepEqual([...byRule.keys()].sort(), ["t:p:allow-web", "t:p:deny-all", "t:q:no-dns"]);
    assert.ok(byRule.get("t:p:allow-web")!.every((l) => l.includes("reg2=6,reg3=5432,actions=set_field:0->reg4")), String(byRule.get("t:p:allow-web")));
    assert.ok(byRule.get("t:q:no-dns")!.every((l) => l.includes("reg2=17,reg3=53,actions=set_field:1->reg4")));
    assert.ok(byRule.get("t:p:deny-all")!.every((l) => l.endsWith("actions=set_field:1->reg4")));
  });

  it("costs a flow per prefix, element and local endpoint, not per rule and address pair", () => {
    const many: PolicyInput = {
      ...input,
      groups: [...input.groups, { id: 3, name: "big", ipv4: Array.from({ length: 200 }, (_, i) => `198.18.1.${i}`), ipv6: [], dscp: 0 }],
      rules: [
        ...input.rules,
        ...Array.from({ length: 50 }, (_, i) => ({
          key: `t:r:${i}`,
          groupId: 2,
          direction: "in" as const,
          priority: 3,
          action: "allow" as const,
          peerGroupId: 3,
          protocol: 6,
          port: 1000 + i,
        })),
      ],
    };
    const { flows } = policyFlows({ tenant: 7, tables: compilePolicy(many).tables, localIps: { ipv4: ["198.18.0.10"], ipv6: [] } });
    // 198.18.1.0-199 is 2 prefixes (/25, /26 + /29 = 3), 50 ports × 1 class: well under 200 × 50.
    assert.ok(flows.length < 150, `${flows.length} flows`);
  });

  it("rejects a tenant number outside the zone range and a malformed local address", () => {
    const tables = compilePolicy(input).tables;
    assert.throws(() => policyFlows({ tenant: 0, tables, localIps: { ipv4: [], ipv6: [] } }), /not in 1\.\.65535/);
    assert.throws(() => policyFlows({ tenant: 1, tables, localIps: { ipv4: ["fd00::1"], ipv6: [] } }), /not an IPv4 address/);
  });
});
