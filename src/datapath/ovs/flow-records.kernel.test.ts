// Flow records on a real, private Open vSwitch (userspace datapath) with real packets: two containers on a network,
// a policy denying TCP 8080 and pings into c2. The driver's bridge learns the denied attempts (TCP SYNs and their
// retransmissions, ICMP and ICMPv6 echoes), each record naming its rule with as many packets as the sender's own
// nft counter saw leave; allowed connections are recorded only in mode "all" (rule null); a second run keeps them;
// a flood of denied UDP to distinct ports keeps the table at its cap. Needs root and openvswitch-switch. Per-run
// names in 198.18.0.0/15 and 2001:2::/48 (benchmarking); everything removed at the end, also on failure.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { run } from "../../lib/process.js";
import { waitFor } from "../../lib/wait.js";
import type { PolicyInput } from "../../policy/index.js";
import { counted, exec, installCounter, tcp } from "../linux/testing/netns.js";
import type { DesiredEndpoint, DesiredHost } from "../types.js";
import { OvsDatapath, type OvsDatapathOptions } from "./driver.js";
import type { OvsFlowRecord } from "./flow-records.js";
import { parseFlowRecordTable } from "./flow-records.js";
import { TABLE } from "./layout.js";
import type { PrivateOvs } from "./private-ovs.js";
import { bridgeName } from "./render.js";
import { needsOvs, OvsTestHost } from "./testing/ovs-host.js";

describe("flow records on a private Open vSwitch", { skip: needsOvs }, () => {
  const P = `npr${randomBytes(2).toString("hex")}`;
  const testHost = new OvsTestHost(P);
  const ns = (c: string) => testHost.ns(c);
  const v4 = (n: number) => `198.18.62.${n}`;
  const v6 = (n: number | string) => `2001:2:0:62::${n}`;
  let ovs: PrivateOvs;
  let driver: OvsDatapath;

  const ep = (c: string, n: number): DesiredEndpoint => ({
    ...testHost.endpoint(c, n, { network: "blue", net24: "198.18.62", mac: `02:00:c6:12:3e:0${n}` }),
    ipv6: `${v6(n)}/64`,
    ipv6Gateway: v6("fe"),
  });
  // c2's group "db" takes no TCP 8080 and no pings (ICMP, and ICMPv6 by the same rule); with `udp`, no UDP either.
  const policy = (udp = false): PolicyInput => ({
    fwdMode: "bridge",
    networks: [],
    groups: [{ id: 1, name: "db", ipv4: [v4(2)], ipv6: [v6(2)], dscp: 0 }],
    rules: [
      { key: "a:p:deny-8080", groupId: 1, direction: "in", priority: 1, action: "deny", protocol: 6, port: 8080 },
      { key: "a:p:deny-ping", groupId: 1, direction: "in", priority: 1, action: "deny", protocol: 1 },
      ...(udp ? [{ key: "a:p:deny-udp", groupId: 1, direction: "in" as const, priority: 1, action: "deny" as const, protocol: 17 }] : []),
    ],
  });
  const desired = (udp = false): DesiredHost => ({
    prefix: P,
    tenants: [
      {
        name: "a",
        namespace: `${P}-t-a`,
        fwdMode: "bridge",
        networks: [
          { name: "blue", bridge: `nb${P.slice(3)}`, subnet: "198.18.62.0/24", gateway: v4(254), ipv6Subnet: `${v6("")}/64`, ipv6Gateway: v6("fe"), mtu: 1450, routed: false, netfilter: false },
        ],
        endpoints: [ep("c1", 1), ep("c2", 2)],
        policy: policy(udp),
        hostEndpoints: [],
      },
    ],
    host: { natOutbound: false },
  });
  const driverWith = (flowRecords: OvsDatapathOptions["flowRecords"]) =>
    new OvsDatapath(exec, { db: ovs.db, rundir: ovs.dir, datapathType: "netdev", hostNamespace: testHost.host, ...(flowRecords === undefined ? {} : { flowRecords }) });
  const reconcile = async (d: OvsDatapath, full = true) => {
    const report = await d.reconcile(desired(), { full });
    assert.deepEqual(report.errors, []);
    return report;
  };
  const vsctl = async (...args: string[]) => (await exec.run(["ovs-vsctl", `--db=${ovs.db}`, ...args])).trim();
  const pings = async (from: string, to: string, count: number) =>
    (await run(["ping", "-c", String(count), "-i", "0.3", "-W", "1", "-n", "-q", to], { netns: ns(from), timeoutMs: 15_000 })).code === 0;
  /** The records once the revalidators have pushed the datapath's counts (every ~0.5 s) and `done` holds. */
  async function recordsWhen(d: OvsDatapath, done: (rs: OvsFlowRecord[]) => boolean): Promise<OvsFlowRecord[]> {
    let last: OvsFlowRecord[] = [];
    await waitFor(async () => done((last = await d.flowRecords())), { timeoutMs: 5_000, intervalMs: 250, what: () => `records: ${JSON.stringify(last)}` }).catch(() => undefined);
    return last;
  }
  const strip = (rs: OvsFlowRecord[]) =>
    rs.map(({ tenant, verdict, rule, src, dst, proto, dport, packets }) => ({ tenant, verdict, rule, src, dst, proto, dport, packets })).sort((a, b) => `${a.proto}${a.src}`.localeCompare(`${b.proto}${b.src}`));

  before(async () => {
    ({ ovs, driver } = await testHost.start(["c1", "c2"], ["c1", "c2"], { flowRecords: { mode: "denied", cap: 1000 } }));
  });

  after(() => testHost.stop());

  it("denied: each denied attempt's record names its rule and counts what was sent; allowed ones are not recorded", async () => {
    await reconcile(driver);
    const table = await vsctl("--if-exists", "get", "Bridge", bridgeName(P), `flow_tables:${TABLE.FLOW_RECORDS}`);
    assert.deepEqual((await vsctl("get", "Flow_Table", table, "flow_limit", "overflow_policy", "groups")).split("\n"), ["1000", "evict", '["NXM_NX_REG6[]"]']);

    await installCounter(ns("c1"), "ip", "type filter hook output priority 0;", `ip daddr ${v4(2)} tcp dport 8080 tcp flags syn`);
    // A SYN and its retransmissions (after 1 s and 3 s): one record.
    assert.equal(await tcp(ns("c1"), v4(2), 8080, 3_500), "timeout");
    const syns = await counted(ns("c1"), "ip");
    assert.ok(syns >= 3, `SYNs sent: ${syns}`);
    assert.equal(await pings("c1", v4(2), 3), false, "pings denied");
    assert.equal(await pings("c1", v6(2), 2), false, "pings -6 denied");
    assert.equal(await tcp(ns("c2"), v4(1), 8080), "reply c1", "allowed: not recorded in mode denied");

    const expected = [
      { tenant: "a", verdict: "deny", rule: "p:deny-ping", src: v4(1), dst: v4(2), proto: 1, dport: 0, packets: 3 },
      { tenant: "a", verdict: "deny", rule: "p:deny-8080", src: v4(1), dst: v4(2), proto: 6, dport: 8080, packets: syns },
      { tenant: "a", verdict: "deny", rule: "p:deny-ping", src: v6(1), dst: v6(2), proto: 58, dport: 0, packets: 2 },
    ];
    const records = await recordsWhen(driver, (rs) => JSON.stringify(strip(rs)) === JSON.stringify(strip(expected as OvsFlowRecord[])));
    assert.deepEqual(strip(records), strip(expected as OvsFlowRecord[]), `${await testHost.ofctl(bridgeName(P), "dump-flows", `table=${TABLE.FLOW_RECORDS}`)}`);
    for (const r of records) assert.ok(r.idleSeconds <= 10 && r.ageSeconds >= r.idleSeconds, JSON.stringify(r));
  });

  it("a second run (full) changes nothing and keeps the records and their counts", async () => {
    const before = strip(await driver.flowRecords());
    assert.deepEqual(await driver.reconcile(desired(), { full: true }), { changes: [], errors: [] });
    assert.deepEqual(strip(await driver.flowRecords()), before);
  });

  it("all: allowed new connections are recorded too (rule null, one packet: the reply and the rest are established)", async () => {
    driver = driverWith({ mode: "all", cap: 1000 });
    await reconcile(driver, false);
    assert.deepEqual(await driver.flowRecords(), [], "a new process deletes records whose rule numbers it cannot vouch for");
    assert.equal(await tcp(ns("c2"), v4(1), 8080), "reply c1");
    assert.equal(await pings("c1", v4(2), 1), false);
    const expected = [
      { tenant: "a", verdict: "deny", rule: "p:deny-ping", src: v4(1), dst: v4(2), proto: 1, dport: 0, packets: 1 },
      { tenant: "a", verdict: "allow", rule: null, src: v4(2), dst: v4(1), proto: 6, dport: 8080, packets: 1 },
    ];
    const records = await recordsWhen(driver, (rs) => rs.length === 2);
    assert.deepEqual(strip(records), strip(expected as OvsFlowRecord[]));
  });

  it("off: a driver without records removes the table's bound and learns nothing", async () => {
    driver = driverWith(undefined);
    const report = await reconcile(driver);
    assert.ok(report.changes.some((c) => c.action === "delete" && c.object === `flow record table of ${bridgeName(P)}`), JSON.stringify(report.changes));
    assert.equal(await vsctl("--if-exists", "get", "Bridge", bridgeName(P), `flow_tables:${TABLE.FLOW_RECORDS}`), "");
    assert.doesNotMatch(await testHost.ofctl(bridgeName(P), "dump-flows", "--no-stats"), /learn\(/);
  });

  it("a flood of denied UDP to distinct ports keeps the table at its cap; what goes is the least recently seen", async () => {
    const CAP = 100;
    driver = driverWith({ mode: "denied", cap: CAP });
    const report = await driver.reconcile(desired(true), { full: true });
    assert.deepEqual(report.errors, []);
    assert.ok(report.changes.some((c) => c.object === `flow record table of ${bridgeName(P)} (at most ${CAP} records)`), JSON.stringify(report.changes));
    const tables = async () => parseFlowRecordTable(await testHost.ofctl(bridgeName(P), "dump-tables"))!;
    const { made: madeBefore } = await tables();
    /** One datagram from c1 to each port, one after the other, as fast as node sends them. */
    const send = (ports: number[]) =>
      exec.run([process.execPath, "-e", `const s=require("dgram").createSocket("udp4");const b=Buffer.alloc(8);const ps=${JSON.stringify(ports)};let i=0;const next=()=>{if(i>=ps.length){s.close();return}s.send(b,ps[i++],"${v4(2)}",next)};next();`], { netns: ns("c1") });
    /** Waits until the records made stop growing: not every datagram of a flood reaches OVS (the userspace datapath drops what its upcall queues cannot take). */
    const settled = async () => {
      let t = await tables();
      await waitFor(async () => {
        const now = await tables();
        const same = now.made === t.made;
        t = now;
        return same;
      }, { timeoutMs: 10_000, intervalMs: 1_000, what: () => `records made: ${t.made}` });
      return t;
    };

    const PORTS = 3000;
    const started = Date.now();
    await send(Array.from({ length: PORTS }, (_, i) => 20000 + i));
    const sentMs = Date.now() - started;
    const flood = await settled();
    const made = flood.made - madeBefore;
    assert.ok(made >= 5 * CAP, `records made: ${made}`);
    assert.equal(flood.active, CAP, "the table is full, not beyond");
    const held = await driver.flowRecords();
    assert.equal(held.length, CAP);
    assert.ok(held.every((r) => r.rule === "p:deny-udp" && r.src === v4(1) && r.dport >= 20000 && r.dport < 20000 + PORTS));

    // OVS orders its evictions by last use about once a second: a record seen again, then 50 new ones a few
    // seconds later, evict 50 of the flood's others but neither the one seen again nor each other.
    const kept = held[0]!.dport;
    await new Promise((r) => setTimeout(r, 2_200));
    await send([kept]);
    await new Promise((r) => setTimeout(r, 2_200));
    const fresh = Array.from({ length: 50 }, (_, i) => 40000 + i);
    await send(fresh);
    await settled();
    const after = await driver.flowRecords();
    assert.equal(after.length, CAP);
    const ports = new Set(after.map((r) => r.dport));
    assert.ok(ports.has(kept), "the record seen again stays");
    assert.deepEqual(fresh.filter((p) => !ports.has(p)), [], "every new record is held");
    assert.equal(after.find((r) => r.dport === kept)!.packets, 2);
    console.log(`# flood: ${PORTS} ports sent in ${sentMs} ms, ${made} records made, ${flood.active} held (cap ${CAP})`);
  });
});
