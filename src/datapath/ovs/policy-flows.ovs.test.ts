// The real check of policy-flows.ts: random policies (fast-check, shaped like src/policy/property.test.ts's) are
// compiled, rendered as flows and installed on a bridge of a private Open vSwitch, one tenant number per policy
// (all stay installed, so tenants also prove they leave each other alone). For random packets, OVS itself says
// what happens (`ovs-appctl ofproto/trace`, with `--ct-next` giving the conntrack state) and tracePacket() is the
// oracle: the verdict, the rules that judged (from the JUDGE flows' cookies), the commit of new connections and
// the DSCP. The oracle sees the tables as this host applies them: no `out` rules for packets from the tunnel, no
// `in` rules for receivers that are not local. Then real UDP packets (packet-out) through real conntrack: the
// reply of an allowed connection passes where a new one is denied, only in its tenant's zone, and the per-rule
// counters read back from the verdict flows' cookies. Needs root, iproute2 and openvswitch-switch; skipped
// otherwise. The switch runs in a namespace `npf<hex>` of its own, deleted at the end.
// OVS_POLICY_SEED and OVS_POLICY_RUNS reproduce or widen a run.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { parseIp } from "../../lib/ip.js";
import { must } from "../../lib/process.js";
import { compilePolicy, splitChainTables, tracePacket, type CtState, type Packet, type PolicyInput, type PolicyRule, type PolicyTables, type TraceResult } from "../../policy/index.js";
import { lookupInterval } from "../../policy/intervals.js";
import { policyRuleCounters } from "./policy-counters.js";
import { POLICY_TABLE, policyFlows, ruleNumberOf, TENANT_COOKIE_MASK, tenantCookie } from "./policy-flows.js";
import { FLAG_FROM_GATEWAY, FLAG_FROM_TUNNEL, TABLE } from "./layout.js";
import { PrivateOvs } from "./private-ovs.js";

/** Addresses of the conntrack test, outside the random policies' space. */
const A = "198.19.0.1";
const B = "198.19.0.2";

/** An Ethernet + IPv4 + UDP frame (4 bytes of payload, no UDP checksum) as hex, for packet-out. */
function udpFrame(src: string, dst: string, sport: number, dport: number): string {
  const ip4 = (a: string) => a.split(".").map(Number);
  const u16 = (n: number) => [n >> 8, n & 0xff];
  const udp = [...u16(sport), ...u16(dport), ...u16(12), 0, 0, 1, 2, 3, 4];
  const header = [0x45, 0, ...u16(20 + udp.length), 0, 0, 0x40, 0, 64, 17, 0, 0, ...ip4(src), ...ip4(dst)];
  let sum = 0;
  for (let i = 0; i < header.length; i += 2) sum += (header[i]! << 8) | header[i + 1]!;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
  [header[10], header[11]] = u16(~sum & 0xffff) as [number, number];
  const eth = [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 8, 0];
  return Buffer.from([...eth, ...header, ...udp]).toString("hex");
}

function skipReason(): string | undefined {
  if (process.getuid?.() !== 0) return "needs root";
  if (!["/usr/sbin/ovs-vswitchd", "/usr/bin/ovs-vswitchd"].some(existsSync)) return "needs openvswitch-switch";
  if (!["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].some(existsSync)) return "needs iproute2";
  return undefined;
}

// A small address space, so groups, selectors and packets collide often (as in src/policy/property.test.ts).
const v4 = (n: number) => `198.18.0.${n}`;
const v6 = (n: number) => `fd00::${n.toString(16)}`;
const addrIndex = fc.integer({ min: 0, max: 40 });

const selector = fc.oneof(
  fc.tuple(fc.boolean(), addrIndex).map(([six, a]) => (six ? v6(a) : v4(a))),
  fc.tuple(fc.boolean(), addrIndex, fc.integer({ min: 0, max: 6 })).map(([six, a, l]) => (six ? `${v6(a)}/${122 + l}` : `${v4(a)}/${26 + l}`)),
  fc.tuple(fc.boolean(), addrIndex, fc.integer({ min: 0, max: 10 })).map(([six, a, d]) => (six ? `${v6(a)}-${v6(a + d)}` : `${v4(a)}-${Math.min(a + d, 255)}`)),
  fc
    .tuple(fc.boolean(), addrIndex, fc.integer({ min: 0, max: 20 }), fc.constantFrom(120, 124, 126))
    .map(([six, a, d, l]) => (six ? `${v6(a)}/${l}` : `${v4(a)}-${v4(a + d)}`)),
);

const groupArb = fc.record({
  id: fc.integer({ min: 1, max: 8 }),
  members: fc.array(fc.record({ n: addrIndex, in4: fc.integer({ min: 0, max: 9 }), in6: fc.boolean() }), { minLength: 1, maxLength: 8 }),
  dscp: fc.oneof({ weight: 2, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 63 }) }),
});

const ruleArb = fc.record({
  group: fc.nat(),
  unknownGroup: fc.integer({ min: 0, max: 9 }),
  direction: fc.constantFrom("in" as const, "out" as const),
  priority: fc.constantFrom(1, 1, 2, 3, 50, 100),
  action: fc.constantFrom("allow" as const, "deny" as const),
  // 0 and 5-6: any peer; 1 a group; 2 addresses; 3 both; 4 an empty address list.
  peerKind: fc.integer({ min: 0, max: 6 }),
  peer: fc.nat(),
  cidrs: fc.array(selector, { minLength: 1, maxLength: 2 }),
  protocol: fc.constantFrom(undefined, undefined, undefined, 0, 6, 17, 132, 1, 58, 47, 2),
  port: fc.constantFrom(undefined, undefined, undefined, 0, 22, 53, 80, 443, 8080),
  alsoOn: fc.option(fc.nat(), { freq: 6 }),
});

const inputArb: fc.Arbitrary<PolicyInput> = fc
  .tuple(fc.uniqueArray(groupArb, { selector: (g) => g.id, minLength: 1, maxLength: 5 }), fc.array(ruleArb, { minLength: 3, maxLength: 14 }))
  .map(([gs, rs]) => {
    const ids = gs.map((g) => g.id);
    const rules: PolicyRule[] = [];
    rs.forEach((r, i) => {
      const rule: PolicyRule = {
        key: `t:p:r${i}`,
        groupId: r.unknownGroup === 0 ? 9 : ids[r.group % ids.length]!,
        direction: r.direction,
        priority: r.priority,
        action: r.action,
      };
      if (r.peerKind === 1 || r.peerKind === 3) rule.peerGroupId = ids[r.peer % ids.length]!;
      if (r.peerKind === 2 || r.peerKind === 3) rule.peerCidrs = r.cidrs;
      if (r.peerKind === 4) rule.peerCidrs = [];
      if (r.protocol !== undefined) rule.protocol = r.protocol;
      if (r.port !== undefined) rule.port = r.port;
      rules.push(rule);
      // The same rule attached to another group (one policy on several groups): same key.
      if (r.alsoOn !== null) rules.push({ ...rule, groupId: ids[r.alsoOn % ids.length]! });
    });
    return {
      fwdMode: "bridge" as const,
      networks: [{ name: "a", bridge: "nba", subnet: "198.18.0.0/24", ipv6Subnet: "fd00::/64" }],
      groups: gs.map((g) => ({
        id: g.id,
        name: `g${g.id}`,
        ipv4: g.members.filter((m) => m.in4 < 7).map((m) => v4(m.n)),
        ipv6: g.members.filter((m) => m.in6).map((m) => v6(m.n)),
        dscp: g.dscp,
      })),
      rules,
    };
  });

interface PacketCase {
  packet: Packet;
  /** From the tunnel or the gateway namespace (flag): the sender's `out` rules are not judged here. */
  fromTunnel: boolean;
  /** FLAGS_REG's bits of ours: FLAG_FROM_TUNNEL, FLAG_FROM_GATEWAY or none. */
  flag: number;
  /** Garbage the tables before ours may leave in reg0-reg5. */
  junk: number[];
}

const endpointArb = fc.record({ member: fc.integer({ min: 0, max: 3 }), pick: fc.nat(), any: fc.integer({ min: 0, max: 45 }) });
const packetArb = fc.record({
  six: fc.integer({ min: 0, max: 4 }),
  s: endpointArb,
  d: endpointArb,
  protocol: fc.constantFrom(6, 6, 17, 17, 132, 1, 58, 58, 47, 2, 50),
  port: fc.constantFrom(0, 22, 53, 80, 443, 8080, 65535, 1),
  icmpType: fc.constantFrom(128, 129, 135, 136, 1),
  ct: fc.constantFrom<CtState>("new", "new", "new", "new", "new", "new", "established", "related", "invalid"),
  fromTunnel: fc.integer({ min: 0, max: 3 }),
  junk: fc.array(fc.nat({ max: 0xffff }), { minLength: 6, maxLength: 6 }),
});

type RawPacket = typeof packetArb extends fc.Arbitrary<infer P> ? P : never;

function toCase(pi: PolicyInput, r: RawPacket): PacketCase {
  const six = r.six < 2;
  const members = pi.groups.flatMap((g) => (six ? g.ipv6 : g.ipv4));
  const addr = (e: typeof r.s) => (members.length > 0 && e.member > 0 ? members[e.pick % members.length]! : six ? v6(e.any) : v4(e.any));
  const packet: Packet = { saddr: addr(r.s), daddr: addr(r.d), protocol: r.protocol, ctState: r.ct };
  if ([6, 17, 132].includes(r.protocol)) packet.dport = r.port;
  if (r.protocol === 58) packet.icmpType = r.icmpType;
  const flag = r.fromTunnel === 0 ? FLAG_FROM_TUNNEL : r.fromTunnel === 1 ? FLAG_FROM_GATEWAY : 0;
  return { packet, fromTunnel: flag !== 0, flag, junk: r.junk };
}

/** The flow ofproto/trace starts from: in_port LOCAL, the registers table 0 would set, the packet's headers. */
function traceFlow(tenant: number, c: PacketCase): string {
  const p = c.packet;
  const six = p.saddr.includes(":");
  const addrs = six ? `ipv6_src=${p.saddr},ipv6_dst=${p.daddr}` : `nw_src=${p.saddr},nw_dst=${p.daddr}`;
  const ported: Record<number, [string, string]> = { 6: ["tcp", "tcp_dst"], 17: ["udp", "udp_dst"], 132: ["sctp", "sctp_dst"] };
  let l4: string;
  const port = ported[p.protocol];
  if (port) l4 = `${port[0]}${six ? "6" : ""},${addrs},${port[1]}=${p.dport ?? 0}`;
  else if (p.protocol === 58 && six) l4 = `icmp6,${addrs},icmpv6_type=${p.icmpType ?? 128}`;
  else if (p.protocol === 1 && !six) l4 = `icmp,${addrs}`;
  else l4 = `${six ? "ipv6" : "ip"},${addrs},nw_proto=${p.protocol}`;
  const regs = c.junk.map((v, i) => `reg${i}=${v}`).join(",");
  // Other bits of the flags register are not ours to read: set some.
  const flags = (c.junk[0]! << 2) | c.flag;
  return `in_port=LOCAL,${regs},reg6=${tenant},reg8=${flags},${l4}`;
}

const CT_NEXT: Record<CtState, string> = { new: "trk,new", established: "trk,est", related: "trk,rel", invalid: "trk,inv", untracked: "trk,new" };

/** What the oracle says this host does: tracePacket() on the tables without the checks another host makes. */
function expected(t: PolicyTables, c: PacketCase, local: Set<bigint>): TraceResult {
  const toLocal = local.has(parseIp(c.packet.daddr)!.value);
  return tracePacket({ ...splitChainTables(t, { out: !c.fromTunnel, in: toLocal }), crossBridge: [] }, c.packet);
}

interface OvsOutcome {
  accepted: boolean;
  committed: boolean;
  dscp: number;
  /** Rule numbers of the JUDGE flows the packet hit, in order. */
  rules: number[];
}

/** Reads ofproto/trace's text: the last recirculation's part is where the packet ends. */
function readTrace(text: string, tenant: number): OvsOutcome {
  const parts = text.split(/^=+\nrecirc\(/m);
  const last = parts[parts.length - 1]!;
  const actions = [...last.matchAll(/^Datapath actions: (.*)$/gm)].map((m) => m[1]!).pop() ?? "";
  const reached = new RegExp(`^\\s*${TABLE.POST_HOOK}\\. `, "m").test(last);
  assert.equal(reached, actions !== "drop", `table ${TABLE.POST_HOOK} reached but datapath drops, or the reverse:\n${text}`);
  const finalFlow = last.match(/^Final flow: (.*)$/m)?.[1] ?? "";
  const tos = finalFlow.match(/(?:^|,)nw_tos=(\d+)/);
  const rules = [...text.matchAll(new RegExp(`^\\s*${POLICY_TABLE.JUDGE}\\. .*cookie (0x[0-9a-f]+)$`, "gm"))].map((m) => ruleNumberOf(BigInt(m[1]!)));
  return {
    accepted: reached,
    committed: actions.includes(`ct(commit,zone=${tenant})`),
    dscp: tos ? Number(tos[1]) >> 2 : 0,
    rules,
  };
}

describe("policy flows on a real Open vSwitch", { skip: skipReason() ?? false }, () => {
  const bridge = `npf${randomBytes(3).toString("hex")}`;
  let ovs: PrivateOvs | undefined;
  let env: NodeJS.ProcessEnv = process.env;
  const ofctl = (args: string[], stdin?: string) => must(["ovs-ofctl", "-O", "OpenFlow15", ...args], { env, stdin, timeoutMs: 30_000 });

  // vswitchd runs in a namespace of its own: the netdev datapath's taps (`ovs-netdev`, one per bridge) are then
  // ours alone, also when other private switches run on the machine.
  const netns = bridge;
  let netnsMade = false;

  before(async () => {
    await must(["ip", "netns", "add", netns]);
    netnsMade = true;
    ovs = await PrivateOvs.start({ dir: mkdtempSync(path.join(tmpdir(), `${bridge}-`)), netns });
    env = { ...process.env, ...ovs.env };
    await must(["ovs-vsctl", `--db=${ovs.db}`, "add-br", bridge, "--", "set", "bridge", bridge, "datapath_type=netdev", "--", "set-fail-mode", bridge, "secure"], { env });
    // Stand-ins for the tables around ours: 0 hands every packet to the policy, 40 sends it back out (and counts
    // the real packets of the conntrack test by destination).
    await ofctl(
      ["--bundle", "add-flows", bridge, "-"],
      [
        `cookie=0x1,table=0,priority=0,actions=goto_table:${TABLE.POLICY}`,
        `cookie=0x1,table=${TABLE.POST_HOOK},priority=0,actions=output:in_port`,
        ...[A, B].map((ip) => `cookie=0x2,table=${TABLE.POST_HOOK},priority=10,udp,nw_dst=${ip},actions=output:in_port`),
        "",
      ].join("\n"),
    );
  });

  after(async () => {
    try {
      await ovs?.stop();
    } finally {
      if (netnsMade) await must(["ip", "netns", "del", netns]);
    }
  });

  const seed = Number(process.env.OVS_POLICY_SEED ?? 20261205);
  const runs = Number(process.env.OVS_POLICY_RUNS ?? 100);
  const packetsPerPolicy = 20;

  it(`${runs} random policies × ${packetsPerPolicy} packets, traced by OVS (seed ${seed})`, { timeout: 120_000 }, async () => {
    const seen = new Map<string, number>();
    let tenant = 100;
    const result = await fc.check(
      fc.asyncProperty(
        inputArb,
        fc.array(packetArb, { minLength: packetsPerPolicy, maxLength: packetsPerPolicy }),
        fc.array(fc.integer({ min: 0, max: 3 }).map((x) => x > 0), { minLength: 46, maxLength: 46 }),
        async (pi, raw, localMask) => {
          tenant++;
          const tables = compilePolicy(pi).tables;
          const localIndexes = localMask.flatMap((on, n) => (on ? [n] : []));
          const localIps = { ipv4: localIndexes.map(v4), ipv6: localIndexes.map(v6) };
          const local = new Set([...localIps.ipv4, ...localIps.ipv6].map((a) => parseIp(a)!.value));
          const { flows, ruleKeys } = policyFlows({ tenant, tables, localIps });
          await ofctl(["--bundle", "add-flows", bridge, "-"], `${flows.join("\n")}\n`);
          const cases = raw.map((r) => toCase(pi, r));
          const traces = await Promise.all(
            cases.map((c) =>
              must(["ovs-appctl", "-t", path.join(ovs!.dir, "ovs-vswitchd.ctl"), "ofproto/trace", bridge, traceFlow(tenant, c), "--ct-next", CT_NEXT[c.packet.ctState ?? "new"]], {
                env,
                timeoutMs: 30_000,
              }),
            ),
          );
          cases.forEach((c, i) => {
            const want = expected(tables, c, local);
            const got = readTrace(traces[i]!, tenant);
            const why = () =>
              `tenant ${tenant}, ${JSON.stringify(c)}, oracle ${JSON.stringify(want)}\npolicy ${JSON.stringify(pi)}\nlocal ${localIndexes}\n--- trace\n${traces[i]}`;
            assert.equal(got.accepted, want.verdict === "accept", `verdict differs: ${why()}`);
            const judged = [want.outRule, want.inRule].filter((k): k is string => k !== undefined);
            assert.deepEqual(
              got.rules.filter((n) => n > 0).map((n) => ruleKeys[n - 1]),
              judged,
              `judging rules differ: ${why()}`,
            );
            const opens = want.verdict === "accept" && c.packet.ctState === "new" && want.reason !== "neighbor-discovery";
            assert.equal(got.committed, opens, `commit differs: ${why()}`);
            const saddr = parseIp(c.packet.saddr)!;
            const dscp = want.verdict === "accept" && !c.fromTunnel ? (lookupInterval(saddr.family === 4 ? tables.dscp4 : tables.dscp6, saddr.value) ?? 0) : 0;
            assert.equal(got.dscp, dscp, `DSCP differs: ${why()}`);
            const outcome = `${want.verdict}/${want.reason}/${want.outRule ? "out" : ""}${want.inRule ? "in" : ""}`;
            seen.set(outcome, (seen.get(outcome) ?? 0) + 1);
          });
        },
      ),
      { numRuns: runs, seed, endOnFailure: true },
    );
    // The first failure as it was (shrinking would only cost time on a real switch), with its own message.
    if (result.failed) assert.fail(`${result.errorInstance instanceof Error ? result.errorInstance.message : String(result.errorInstance)}\n(fast-check seed ${seed}, path ${result.counterexamplePath})`);
    // Keep the generator honest: each kind of outcome must occur.
    const outcomes = ["accept/default/", "accept/default/out", "accept/default/in", "drop/out-rule/out", "drop/in-rule/in", "accept/established/", "accept/neighbor-discovery/"];
    // Both directions judged needs a local sender's allowed `out` and a local receiver with `in` rules: rarer.
    for (const outcome of [...outcomes, "accept/default/outin", "drop/in-rule/outin"]) {
      assert.ok((seen.get(outcome) ?? 0) >= (outcomes.includes(outcome) ? 10 : 2), `outcome ${outcome} seen ${seen.get(outcome) ?? 0} times: ${JSON.stringify([...seen])}`);
    }
  });

  it("removes one tenant's flows by its cookie and leaves the others", async () => {
    const pi: PolicyInput = {
      fwdMode: "bridge",
      networks: [],
      groups: [{ id: 1, name: "a", ipv4: [A], ipv6: [], dscp: 3 }],
      rules: [{ key: "t:d:r", groupId: 1, direction: "in", priority: 1, action: "deny", protocol: 6 }],
    };
    const [first, second] = [9101, 9102];
    const flows = [first, second].flatMap((tenant) => policyFlows({ tenant, tables: compilePolicy(pi).tables, localIps: { ipv4: [A], ipv6: [] } }).flows);
    await ofctl(["--bundle", "add-flows", bridge, "-"], `${flows.join("\n")}\n`);
    const mask = `0x${TENANT_COOKIE_MASK.toString(16)}`;
    const selects = (tenant: number) => `cookie=0x${tenantCookie(tenant).toString(16)}/${mask}`;
    const count = async (tenant: number) => (await ofctl(["dump-flows", bridge, selects(tenant)])).split("\n").filter((l) => l.includes("cookie=")).length;
    assert.equal(await count(first), flows.length / 2);
    assert.equal(await count(second), flows.length / 2);
    await ofctl(["del-flows", bridge, selects(first)]);
    assert.equal(await count(first), 0);
    assert.equal(await count(second), flows.length / 2);
  });

  it("passes the replies of an allowed connection through real conntrack, in the tenant's zone only", async () => {
    // a may ask b's DNS; nothing else reaches b, b may send nothing, nothing reaches a.
    const pi: PolicyInput = {
      fwdMode: "bridge",
      networks: [{ name: "a", bridge: "nba", subnet: "198.19.0.0/24", ipv6Subnet: "" }],
      groups: [
        { id: 1, name: "a", ipv4: [A], ipv6: [], dscp: 0 },
        { id: 2, name: "b", ipv4: [B], ipv6: [], dscp: 10 },
      ],
      rules: [
        { key: "t:s:b-in-dns", groupId: 2, direction: "in", priority: 10, action: "allow", peerGroupId: 1, protocol: 17, port: 53 },
        { key: "t:s:b-in-deny", groupId: 2, direction: "in", priority: 1, action: "deny" },
        { key: "t:s:b-out-deny", groupId: 2, direction: "out", priority: 1, action: "deny" },
        { key: "t:s:a-in-deny", groupId: 1, direction: "in", priority: 1, action: "deny" },
      ],
    };
    const [tenant, other] = [9001, 9002];
    const localIps = { ipv4: [A, B], ipv6: [] };
    const rendered = policyFlows({ tenant, tables: compilePolicy(pi).tables, localIps });
    const flows = [...rendered.flows, ...policyFlows({ tenant: other, tables: compilePolicy(pi).tables, localIps }).flows];
    await ofctl(["--bundle", "add-flows", bridge, "-"], `${flows.join("\n")}\n`);
    const send = (t: number, src: string, dst: string, sport: number, dport: number) =>
      ofctl(["packet-out", bridge, `in_port=LOCAL,packet=${udpFrame(src, dst, sport, dport)},actions=set_field:${t}->reg6,set_field:0->reg8,resubmit(,${TABLE.POLICY})`]);
    const delivered = async (dst: string) => {
      const dump = await ofctl(["dump-flows", bridge, `table=${TABLE.POST_HOOK},cookie=0x2/-1,udp,nw_dst=${dst}`]);
      return Number(dump.match(/n_packets=(\d+)/)?.[1] ?? NaN);
    };

    await send(tenant, B, A, 53, 40000);
    assert.equal(await delivered(A), 0, "b may not open a connection to a");
    await send(tenant, A, B, 40000, 53);
    assert.equal(await delivered(B), 1, "a's query to b is allowed");
    await send(tenant, B, A, 53, 40000);
    assert.equal(await delivered(A), 1, "b's reply passes as established");
    await send(tenant, B, A, 53, 40001);
    assert.equal(await delivered(A), 1, "a new connection from b is still denied");
    await send(other, B, A, 53, 40000);
    assert.equal(await delivered(A), 1, "another tenant's zone has no such connection");

    const conntrack = (zone: number) => must(["ovs-appctl", "-t", path.join(ovs!.dir, "ovs-vswitchd.ctl"), "dpctl/dump-conntrack", `zone=${zone}`], { env });
    assert.match(await conntrack(tenant), /udp,orig=\(src=198\.19\.0\.1,dst=198\.19\.0\.2,sport=40000,dport=53\)/);
    assert.doesNotMatch(await conntrack(other), /198\.19\.0/);

    // Counters per rule from the verdict flows' cookies: b's `out` denied twice (a's `in` never got to judge).
    const dump = await ofctl(["dump-flows", bridge, `table=${POLICY_TABLE.JUDGE},cookie=0x${tenantCookie(tenant).toString(16)}/0x${TENANT_COOKIE_MASK.toString(16)}`]);
    const counters = policyRuleCounters(dump, tenant, rendered.ruleKeys);
    assert.deepEqual(
      Object.fromEntries([...counters].map(([k, c]) => [k, c.packets])),
      Object.fromEntries(rendered.ruleKeys.map((k) => [k, { "t:s:b-in-dns": 1, "t:s:b-out-deny": 2 }[k] ?? 0])),
    );
    assert.deepEqual([...rendered.ruleKeys].sort(), ["t:s:a-in-deny", "t:s:b-in-deny", "t:s:b-in-dns", "t:s:b-out-deny"]);
  });
});
