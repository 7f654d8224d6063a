import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { compilePolicy, type PolicyInput } from "../../policy/index.js";
import { FLOW_RECORD_IDLE_SECONDS, flowRecordCookie, recordActions, tenantRecordsCookie, type FlowRecordMode } from "./flow-record-flows.js";
import { FLOW_RECORD_COOKIE, TABLE } from "./layout.js";
import { POLICY_TABLE, policyFlows } from "./policy-flows.js";

// db (198.18.0.10, fd00::10) takes tcp/5432 from web and nothing else; web may not ask DNS.
const input: PolicyInput = {
  fwdMode: "bridge",
  networks: [{ name: "a", bridge: "nba", subnet: "198.18.0.0/24", ipv6Subnet: "fd00::/64" }],
  groups: [
    { id: 1, name: "web", ipv4: ["198.18.0.1"], ipv6: ["fd00::1"], dscp: 0 },
    { id: 2, name: "db", ipv4: ["198.18.0.10"], ipv6: ["fd00::10"], dscp: 0 },
  ],
  rules: [
    { key: "t:p:allow-web", groupId: 2, direction: "in", priority: 2, action: "allow", peerGroupId: 1, protocol: 6, port: 5432 },
    { key: "t:p:deny-all", groupId: 2, direction: "in", priority: 1, action: "deny" },
    { key: "t:q:no-dns", groupId: 1, direction: "out", priority: 1, action: "deny", protocol: 17, port: 53 },
  ],
};

function render(flowRecords?: FlowRecordMode) {
  return policyFlows({
    tenant: 7,
    tables: compilePolicy(input).tables,
    localIps: { ipv4: ["198.18.0.10", "198.18.0.1"], ipv6: ["fd00::10", "fd00::1"] },
    ...(flowRecords === undefined ? {} : { flowRecords }),
  });
}

const tableOf = (line: string) => Number(/,table=(\d+),/.exec(line)![1]);
const ruleOf = (line: string) => Number(BigInt(/^cookie=(0x[0-9a-f]+),/.exec(line)![1]!) >> 32n);

describe("flow records in the policy's flows", () => {
  it("off: nothing learns, nothing touches the record table or reg9", () => {
    for (const line of render().flows) {
      assert.doesNotMatch(line, /learn\(|reg9|resubmit\(,50\)/, line);
    }
  });

  for (const mode of ["denied", "all"] as const) {
    it(`${mode}: every JUDGE flow of a rule writes the rule's number to reg9`, () => {
      const { flows, ruleKeys } = render(mode);
      const judged = flows.filter((l) => tableOf(l) === POLICY_TABLE.JUDGE && ruleOf(l) > 0);
      assert.ok(judged.length >= ruleKeys.length);
      for (const line of judged) assert.match(line, new RegExp(`,set_field:${ruleOf(line)}->reg9$`), line);
      // The flows without a rule (no element, the default) allow and leave reg9 alone: no record reads it then.
      for (const line of flows.filter((l) => tableOf(l) === POLICY_TABLE.JUDGE && ruleOf(l) === 0)) {
        assert.match(line, /set_field:0->reg4$/, line);
      }
    });

    it(`${mode}: both verdict tables learn a deny record per family, count it and drop`, () => {
      const { flows } = render(mode);
      for (const table of [POLICY_TABLE.OUT_VERDICT, POLICY_TABLE.IN_VERDICT]) {
        const deny = flows.filter((l) => tableOf(l) === table && l.includes("reg4=1"));
        assert.deepEqual(
          deny.map((l) => /,reg6=7,(ip|ipv6),reg4=1,actions=/.exec(l)?.[1]),
          ["ip", "ipv6"],
          deny.join("\n"),
        );
        for (const line of deny) {
          const family = line.includes(",ipv6,") ? "ipv6" : "ip";
          assert.ok(line.endsWith(`actions=${recordActions(7, family, "deny")}`), line);
          // No output action: the packet is dropped once it is counted.
          assert.doesNotMatch(line, /output|goto_table/);
        }
      }
    });
  }

  it("denied: COMMIT commits without a record; all: it learns an allowed record (rule 0) and goes on", () => {
    const commits = (mode: FlowRecordMode) => render(mode).flows.filter((l) => tableOf(l) === POLICY_TABLE.COMMIT && l.includes("ct_state=+trk+new"));
    for (const line of commits("denied")) assert.doesNotMatch(line, /learn/);
    const all = commits("all");
    assert.equal(all.length, 2);
    for (const line of all) {
      const family = line.includes(",ipv6,") ? "ipv6" : "ip";
      assert.ok(line.includes(`ct(commit,zone=NXM_NX_REG6[0..15]),${recordActions(7, family, "allow")},goto_table:${POLICY_TABLE.DSCP}`), line);
    }
  });

  it("a record learns the tenant, rule, port, protocol and addresses of its family, with the tenant's and verdict's cookie", () => {
    assert.equal(
      recordActions(7, "ip", "deny"),
      `learn(table=${TABLE.FLOW_RECORDS},idle_timeout=${FLOW_RECORD_IDLE_SECONDS},priority=100,cookie=0x100076e71,eth_type=0x800,` +
        "NXM_NX_REG6[],NXM_NX_REG9[],NXM_NX_REG3[],NXM_OF_IP_PROTO[],NXM_OF_IP_SRC[],NXM_OF_IP_DST[]),resubmit(,50)",
    );
    assert.equal(
      recordActions(7, "ipv6", "allow"),
      `set_field:0->reg9,learn(table=${TABLE.FLOW_RECORDS},idle_timeout=${FLOW_RECORD_IDLE_SECONDS},priority=100,cookie=0x200076e71,eth_type=0x86dd,` +
        "NXM_NX_REG6[],NXM_NX_REG9[],NXM_NX_REG3[],NXM_OF_IP_PROTO[],NXM_NX_IPV6_SRC[],NXM_NX_IPV6_DST[]),resubmit(,50)",
    );
  });

  it("records' cookies are not ours (OVS owns them), name tenant and verdict, and select per tenant", () => {
    assert.equal(flowRecordCookie(0xffff, "deny") & 0xffffn, BigInt(FLOW_RECORD_COOKIE));
    assert.equal(flowRecordCookie(0xffff, "deny"), 0x1ffff6e71n);
    assert.equal(flowRecordCookie(1, "allow"), 0x200016e71n);
    assert.equal(tenantRecordsCookie(0x2a), "0x2a6e71/0xffffffff");
  });

  it("the rest of the pipeline is the same with records on or off", () => {
    const strip = (l: string) => l.replace(/,set_field:\d+->reg9$/, "");
    const off = render().flows;
    const on = render("all").flows.map(strip);
    const differing = (a: string[], b: string[]) => a.filter((l) => !b.includes(l));
    const changedTables = new Set([...differing(off, on), ...differing(on, off)].map(tableOf));
    assert.deepEqual([...changedTables].sort(), [POLICY_TABLE.OUT_VERDICT, POLICY_TABLE.IN_VERDICT, POLICY_TABLE.COMMIT].sort());
    assert.deepEqual(render("all").ruleKeys, render().ruleKeys);
  });
});
