import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { formatIp } from "../../lib/ip.js";
import { flowRecordCookie, type FlowVerdict } from "./flow-record-flows.js";
import { compilePolicy } from "../../policy/index.js";
import { FLOW_RECORD_IDLE_SECONDS } from "./flow-record-flows.js";
import { countedFlow, parseFlowRecords, parseFlowRecordTable, readFlowRecords, type OvsFlowRecord, type RecordTenant } from "./flow-records.js";

const tenants = new Map<number, RecordTenant>([
  [0x2a, { name: "blue", ruleKeys: ["blue:pw:allow-web", "blue:pw:deny-tcp", "blue:q:no-dns"] }],
  [7, { name: "red", ruleKeys: ["red:p:deny-all"] }],
]);

// Lines as ovs-ofctl 3.1 prints them (dump-flows table=50 of the real test's bridge).
const DUMP = [
  "OFPST_FLOW reply (OF1.5) (xid=0x2):",
  " cookie=0x1002a6e71, duration=3.215s, table=50, n_packets=2, n_bytes=148, idle_timeout=120, idle_age=1, priority=100,tcp,reg3=0x50,reg6=0x2a,reg9=0x2,nw_src=198.18.0.1,nw_dst=198.18.0.2 actions=drop",
  " cookie=0x200076e71, duration=10.5s, table=50, n_packets=0, n_bytes=0, idle_timeout=120, idle_age=10, priority=100,icmp6,reg3=0,reg6=0x7,reg9=0,ipv6_src=fd00::1,ipv6_dst=fd00:0:0:1::ff actions=drop",
  " cookie=0x100076e71, duration=0.1s, table=50, n_packets=4, n_bytes=0, idle_timeout=120, idle_age=0, priority=100,ip,reg3=0,reg6=0x7,reg9=0x1,nw_src=198.18.0.3,nw_dst=198.18.0.4,nw_proto=47 actions=drop",
].join("\n");

describe("parseFlowRecords", () => {
  it("reads tenant and verdict from the cookie, the rule from reg9, the port from reg3; packets count the first", () => {
    assert.deepEqual(parseFlowRecords(DUMP, tenants), [
      { tenant: "blue", verdict: "deny", rule: "pw:deny-tcp", src: "198.18.0.1", dst: "198.18.0.2", proto: 6, dport: 80, packets: 3, idleSeconds: 1, ageSeconds: 3.215 },
      { tenant: "red", verdict: "allow", rule: null, src: "fd00::1", dst: "fd00:0:0:1::ff", proto: 58, dport: 0, packets: 1, idleSeconds: 10, ageSeconds: 10.5 },
      { tenant: "red", verdict: "deny", rule: "p:deny-all", src: "198.18.0.3", dst: "198.18.0.4", proto: 47, dport: 0, packets: 5, idleSeconds: 0, ageSeconds: 0.1 },
    ]);
  });

  const good = " cookie=0x1002a6e71, duration=3.2s, table=50, n_packets=2, n_bytes=148, idle_timeout=120, idle_age=1, priority=100,tcp,reg3=0x50,reg6=0x2a,reg9=0x2,nw_src=198.18.0.1,nw_dst=198.18.0.2 actions=drop";
  const bad: [string, string][] = [
    ["a policy flow (our cookie)", good.replace("0x1002a6e71", "0x1002a6e70")],
    ["another table", good.replace("table=50", "table=31")],
    ["a tenant not given", good.replace("0x1002a6e71", "0x1002b6e71").replace("reg6=0x2a", "reg6=0x2b")],
    ["the cookie's tenant is not reg6's", good.replace("reg6=0x2a", "reg6=0x7")],
    ["an unknown verdict code", good.replace("0x1002a6e71", "0x3002a6e71")],
    ["a deny without a rule", good.replace("reg9=0x2", "reg9=0")],
    ["a rule number the policy does not have", good.replace("reg9=0x2", "reg9=0x4")],
    ["an allowed record naming a rule", good.replace("0x1002a6e71", "0x2002a6e71")],
    ["an IPv6 address in an IPv4 record", good.replace("nw_src=198.18.0.1", "nw_src=fd00::1")],
    ["no destination", good.replace(",nw_dst=198.18.0.2", "")],
    ["a port beyond 65535", good.replace("reg3=0x50", "reg3=0x10000")],
    ["two protocol names", good.replace(",tcp,", ",tcp,udp,")],
    ["an unknown protocol name", good.replace(",tcp,", ",arp,")],
    ["no counters (--no-stats)", good.replace(" n_packets=2, n_bytes=148,", "")],
    ["no actions", good.replace(" actions=drop", "")],
    ["a bad cookie", good.replace("0x1002a6e71", "0xzz")],
    ["empty", ""],
  ];
  for (const [what, line] of bad) {
    it(`skips ${what}`, () => assert.deepEqual(parseFlowRecords(line, tenants), []));
  }

  it("never throws, and names only the tenants and rules it is given (random text)", () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.string(), fc.constantFrom(...bad.map(([, l]) => l), good).map((l) => l.slice(0, 200))), { maxLength: 5 }), (lines) => {
        for (const r of parseFlowRecords(lines.join("\n"), tenants)) {
          const t = [...tenants.values()].find((t) => t.name === r.tenant);
          assert.ok(t !== undefined);
          assert.ok(r.rule === null || t.ruleKeys.some((k) => k.endsWith(`:${r.rule}`)));
        }
      }),
    );
  });

  // What OVS prints for a record (the format DUMP's lines and the real test show), from the record.
  const NAMES: Record<number, [string, string]> = { 1: ["icmp", "ipv6,nw_proto=1"], 6: ["tcp", "tcp6"], 17: ["udp", "udp6"], 58: ["ip,nw_proto=58", "icmp6"], 132: ["sctp", "sctp6"] };
  const hex = (n: number) => (n === 0 ? "0" : `0x${n.toString(16)}`);
  function printed(tenant: number, r: OvsFlowRecord, rule: number, six: boolean): string {
    const [v4, v6] = NAMES[r.proto] ?? [`ip,nw_proto=${r.proto}`, `ipv6,nw_proto=${r.proto}`];
    const named = six ? v6 : v4;
    const [proto, extra] = named.includes(",") ? named.split(",") : [named, undefined];
    const [s, d] = six ? ["ipv6_src", "ipv6_dst"] : ["nw_src", "nw_dst"];
    return (
      ` cookie=0x${flowRecordCookie(tenant, r.verdict).toString(16)}, duration=${r.ageSeconds}s, table=50, n_packets=${r.packets - 1}, n_bytes=${r.packets * 60},` +
      ` idle_timeout=120, idle_age=${r.idleSeconds}, priority=100,${proto},reg3=${hex(r.dport)},reg6=${hex(tenant)},reg9=${hex(rule)},${s}=${r.src},${d}=${r.dst}` +
      `${extra === undefined ? "" : `,${extra}`} actions=drop`
    );
  }

  it("reads back every record as OVS prints it (property)", () => {
    const record = fc
      .record({
        tenant: fc.constantFrom(...tenants.keys()),
        verdict: fc.constantFrom<FlowVerdict>("deny", "allow"),
        ruleIndex: fc.nat(),
        six: fc.boolean(),
        a: fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }),
        b: fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }),
        proto: fc.oneof(fc.constantFrom(1, 6, 17, 58, 132), fc.integer({ min: 0, max: 255 })),
        dport: fc.integer({ min: 0, max: 65535 }),
        packets: fc.integer({ min: 1, max: 2 ** 40 }),
        idleSeconds: fc.integer({ min: 0, max: 120 }),
        ageMs: fc.integer({ min: 0, max: 10_000_000 }),
      })
      .map((g) => {
        const t = tenants.get(g.tenant)!;
        const rule = g.verdict === "deny" ? (g.ruleIndex % t.ruleKeys.length) + 1 : 0;
        const family = g.six ? 6 : 4;
        const addr = (v: bigint) => formatIp(family, g.six ? v : v & 0xffffffffn);
        const key = rule === 0 ? null : t.ruleKeys[rule - 1]!;
        const r: OvsFlowRecord = {
          tenant: t.name, verdict: g.verdict, rule: key === null ? null : key.slice(key.indexOf(":") + 1), src: addr(g.a), dst: addr(g.b),
          proto: g.proto, dport: g.dport, packets: g.packets, idleSeconds: g.idleSeconds, ageSeconds: g.ageMs / 1000,
        };
        return { line: printed(g.tenant, r, rule, g.six), r };
      });
    fc.assert(
      fc.property(fc.array(record, { maxLength: 20 }), (records) => {
        const dump = ["OFPST_FLOW reply (OF1.5) (xid=0x2):", ...records.map((x) => x.line)].join("\n");
        assert.deepEqual(parseFlowRecords(dump, tenants), records.map((x) => x.r));
      }),
    );
  });
});

describe("parseFlowRecordTable", () => {
  it("reads records held and made (the table's misses) from dump-tables", () => {
    const text = '  table 46:\n    active=3, lookup=9, matched=9\n\n  table 50 ("netplugin_flow_records"):\n    active=5, lookup=13, matched=2\n\n  table 51:\n    active=0, lookup=0, matched=0\n';
    assert.deepEqual(parseFlowRecordTable(text), { active: 5, made: 11 });
    assert.equal(parseFlowRecordTable("  table 5:\n    active=5, lookup=13, matched=2\n"), undefined);
  });

  it("reads a table folded into a ditto run as the table printed before it", () => {
    const text = "  table 46:\n    active=3, lookup=9, matched=9\n\n  table 47:\n    active=0, lookup=0, matched=0\n\n  tables 48...253: ditto\n";
    assert.deepEqual(parseFlowRecordTable(text), { active: 0, made: 0 });
  });
});

describe("readFlowRecords", () => {
  it("dumps the record table of the bridge it is given and parses it", async () => {
    const calls: string[][] = [];
    const executor = { run: async (argv: string[]) => (calls.push(argv), DUMP) };
    const records = await readFlowRecords(executor, "unix:/run/x/br.mgmt", tenants);
    assert.deepEqual(calls, [["ovs-ofctl", "-O", "OpenFlow15", "dump-flows", "unix:/run/x/br.mgmt", "table=50"]]);
    assert.equal(records.length, 3);
  });
});

describe("countedFlow", () => {
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
  });
  const record = (verdict: FlowVerdict, rule: string | null, dport: number): OvsFlowRecord => ({
    tenant: "t", verdict, rule, src: "198.18.1.1", dst: "198.18.1.2", proto: 6, dport, packets: 3, idleSeconds: 4, ageSeconds: 9,
  });

  it("names a denied record's rule by its key, an allowed one's by a trace; last seen from idle, expiry from the idle timeout", () => {
    const now = 1_000_000;
    const denied = countedFlow(record("deny", "db:deny", 80), compiled, now);
    assert.deepEqual([denied.verdict, denied.rule, denied.packets, denied.lastSeen, denied.expiresAt], ["deny", "t:db:deny", 3, now - 4000, now - 4000 + FLOW_RECORD_IDLE_SECONDS * 1000]);
    assert.equal(countedFlow(record("allow", null, 5432), compiled, now).rule, "t:db:pg");
    assert.equal(countedFlow({ ...record("allow", null, 80), dst: "198.18.1.9" }, compiled, now).rule, null, "the default allowed it");
    assert.notEqual(countedFlow(record("deny", "db:deny", 80), compiled, now).id, countedFlow(record("deny", "db:deny", 81), compiled, now).id);
  });
});
