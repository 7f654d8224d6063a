// Real packets through a compiled policy. Four namespaces this test creates:
//
//      A (198.18.1.1, fd00:1::1)  ─┐
//                                  ├─ nb0 (198.18.1.254) ┐  M: the tenant namespace,
//      B (198.18.1.2, fd00:1::2)  ─┘                     ├─ runs table inet netplugin,
//      C (198.18.2.1)             ─── nb1 (198.18.2.254) ┘  routes between nb0 and nb1
//
// TCP echo servers (Node) listen in A, B and C; clients try connections and
// report "ok" (connected and got the echo back, so replies passed) or "timeout".

import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { after, before, describe, it } from "node:test";
import { compilePolicy } from "./compile.js";
import { ruleCounters } from "./counters.js";
import { Netns, deleteAll, kernelSkipReason } from "./testing/netns.js";
import type { PolicyInput, PolicyRule } from "./types.js";

const SERVER = `
const net = require("node:net");
const ports = JSON.parse(process.argv[1]);
let ready = 0;
for (const port of ports) {
  net.createServer((c) => { c.on("error", () => {}); c.pipe(c); })
    .listen({ port, host: "::", ipv6Only: false }, () => { if (++ready === ports.length) console.log("ready"); });
}`;

const CLIENT = `
const net = require("node:net");
const targets = JSON.parse(process.argv[1]);
Promise.all(targets.map(([host, port]) => new Promise((resolve) => {
  const s = net.connect({ host, port });
  let done = false;
  const finish = (r) => { if (!done) { done = true; s.destroy(); resolve(r); } };
  s.setTimeout(1500, () => finish("timeout"));
  s.on("connect", () => s.write("ping\\n"));
  s.on("data", (d) => finish(d.toString() === "ping\\n" ? "ok" : "bad"));
  s.on("error", (e) => finish("error:" + e.code));
}))).then((r) => console.log(JSON.stringify(r)));`;

/** Sends 3 UDP datagrams from source port 40000 to each [host, port]. */
const SENDER = `
const dgram = require("node:dgram");
(async () => {
  for (const [host, port] of JSON.parse(process.argv[1])) {
    const s = dgram.createSocket(host.includes(":") ? "udp6" : "udp4");
    await new Promise((r) => s.bind(40000, r));
    for (let i = 0; i < 3; i++) await new Promise((r) => s.send("x", port, host, r));
    await new Promise((r) => s.close(r));
  }
})();`;

/** One connection kept open; each line on stdin sends a ping and prints "ok" or "timeout". */
const HOLDER = `
const net = require("node:net");
const [host, port] = JSON.parse(process.argv[1]);
const s = net.connect({ host, port });
let waiting = null;
s.on("data", () => { if (waiting) { clearTimeout(waiting); waiting = null; console.log("ok"); } });
const ping = () => { s.write("ping\\n"); waiting = setTimeout(() => { waiting = null; console.log("timeout"); }, 1500); };
s.on("connect", ping);
s.on("error", (e) => console.log("error:" + e.code));
require("node:readline").createInterface({ input: process.stdin }).on("line", ping);`;

const skip = kernelSkipReason();

function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    rl.once("line", (line) => resolve(line));
    child.once("exit", (code) => reject(new Error(`process exited (${code}) before printing`)));
  });
}

describe("real packets through the compiled policy", { skip }, () => {
  let m: Netns | undefined;
  let a: Netns | undefined;
  let b: Netns | undefined;
  let c: Netns | undefined;
  const children: ChildProcess[] = [];

  const groups: PolicyInput["groups"] = [
    { id: 1, name: "a", ipv4: ["198.18.1.1"], ipv6: ["fd00:1::1"], dscp: 10 },
    { id: 2, name: "b", ipv4: ["198.18.1.2"], ipv6: ["fd00:1::2"], dscp: 0 },
    { id: 3, name: "c", ipv4: ["198.18.2.1"], ipv6: [], dscp: 0 },
  ];
  const networks: PolicyInput["networks"] = [
    { name: "n0", bridge: "nb0", subnet: "198.18.1.0/24", ipv6Subnet: "fd00:1::/64" },
    { name: "n1", bridge: "nb1", subnet: "198.18.2.0/24", ipv6Subnet: "" },
  ];
  const denyTcpToB: PolicyRule = { key: "t:b:deny-tcp", groupId: 2, direction: "in", priority: 1, action: "deny", protocol: 6 };
  const v1: PolicyInput = {
    fwdMode: "bridge",
    networks,
    groups,
    rules: [
      denyTcpToB,
      { key: "t:b:allow-8080", groupId: 2, direction: "in", priority: 10, action: "allow", protocol: 6, port: 8080, peerGroupId: 1 },
      { key: "t:a:no-9001", groupId: 1, direction: "out", priority: 5, action: "deny", protocol: 6, port: 9001 },
    ],
  };
  const v2: PolicyInput = { fwdMode: "routing", networks, groups, rules: [denyTcpToB] };

  const connect = async (from: Netns, targets: [string, number][]): Promise<string[]> => {
    const stdout = await from.exec([process.execPath, "-e", CLIENT, JSON.stringify(targets)]);
    return JSON.parse(stdout) as string[];
  };

  before(async () => {
    [m, a, b, c] = await Promise.all([Netns.create(), Netns.create(), Netns.create(), Netns.create()]);
    const sh = (ns: Netns, cmds: string[][]) => cmds.reduce((p, argv) => p.then(() => ns.exec(argv)), Promise.resolve() as Promise<unknown>);
    await sh(m, [
      ["sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"],
      ["sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=1", "net.bridge.bridge-nf-call-ip6tables=1"],
      ["ip", "link", "add", "nb0", "type", "bridge"],
      ["ip", "link", "add", "nb1", "type", "bridge"],
      ["ip", "addr", "add", "198.18.1.254/24", "dev", "nb0"],
      ["ip", "addr", "add", "fd00:1::fe/64", "dev", "nb0", "nodad"],
      ["ip", "addr", "add", "198.18.2.254/24", "dev", "nb1"],
      ["ip", "link", "set", "nb0", "up"],
      ["ip", "link", "set", "nb1", "up"],
    ]);
    for (const [ns, port, bridge, v4, v6, gw] of [
      [a, "va", "nb0", "198.18.1.1/24", "fd00:1::1/64", "198.18.1.254"],
      [b, "vb", "nb0", "198.18.1.2/24", "fd00:1::2/64", "198.18.1.254"],
      [c, "vc", "nb1", "198.18.2.1/24", "", "198.18.2.254"],
    ] as const) {
      await sh(m, [
        ["ip", "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns.name],
        ["ip", "link", "set", port, "master", bridge, "up"],
      ]);
      await sh(ns, [
        ["ip", "addr", "add", v4, "dev", "eth0"],
        ...(v6 ? [["ip", "addr", "add", v6, "dev", "eth0", "nodad"]] : []),
        ["ip", "link", "set", "eth0", "up"],
        ["ip", "route", "add", "default", "via", gw],
      ]);
    }
    // B counts what arrives with DSCP 10 (A's group has DSCP 10).
    await b.nft(`table inet obs {
      counter dscp4 {}
      counter dscp6 {}
      chain input { type filter hook input priority 0; policy accept; ip dscp 10 counter name dscp4; ip6 dscp 10 counter name dscp6; }
    }`);
    for (const [ns, ports] of [
      [a, [9000, 9001]],
      [b, [8080, 8081, 9001]],
      [c, [8080]],
    ] as const) {
      const child = ns.spawn([process.execPath, "-e", SERVER, JSON.stringify(ports)]);
      children.push(child);
      assert.equal(await firstLine(child), "ready");
    }
  });

  after(async () => {
    for (const child of children) child.kill();
    await deleteAll([m, a, b, c]);
  });

  it("connects everything without rules (so the timeouts below are the policy's doing)", async () => {
    await m!.nft(compilePolicy({ ...v1, fwdMode: "routing", rules: [] }).script);
    const fromA = await connect(a!, [
      ["198.18.1.2", 8080],
      ["fd00:1::2", 8081],
      ["198.18.1.2", 9001],
      ["198.18.2.1", 8080],
    ]);
    assert.deepEqual(fromA, ["ok", "ok", "ok", "ok"]);
  });

  it("allows, blocks and counts per the policy; replies of allowed connections pass", async () => {
    const compiled = compilePolicy(v1);
    await m!.nft(compiled.script);
    const [fromA, fromB, fromM] = await Promise.all([
      connect(a!, [
        ["198.18.1.2", 8080],
        ["fd00:1::2", 8080],
        ["198.18.1.2", 8081],
        ["fd00:1::2", 8081],
        ["198.18.1.2", 9001],
        ["198.18.2.1", 8080],
      ]),
      connect(b!, [
        ["198.18.1.1", 9000],
        ["198.18.1.1", 9001],
        ["fd00:1::1", 9001],
      ]),
      connect(m!, [
        ["198.18.1.2", 8081],
        ["198.18.1.1", 9000],
      ]),
    ]);
    assert.deepEqual(fromA, ["ok", "ok", "timeout", "timeout", "timeout", "timeout"], "A → B:8080 v4/v6, B:8081 v4/v6, B:9001, C (other network, bridge mode)");
    assert.deepEqual(fromB, ["ok", "ok", "ok"], "B → A: no rules on B's out or A's in; A's out rule does not touch A's replies");
    assert.deepEqual(fromM, ["timeout", "ok"], "the gateway is judged too");

    const stdout = await m!.exec(["nft", "-j", "list", "table", "inet", "netplugin"]);
    const counters = ruleCounters(stdout, compiled);
    // Only connection-opening packets are judged: 2 SYNs to 8080 (v4, v6); SYN retries for the rest.
    assert.equal(counters.get("t:b:allow-8080")?.packets, 2);
    assert.ok(counters.get("t:b:deny-tcp")!.packets >= 3, JSON.stringify([...counters]));
    assert.ok(counters.get("t:a:no-9001")!.packets >= 1, JSON.stringify([...counters]));
    assert.ok(counters.get("t:b:allow-8080")!.bytes > 0);

    const dscp = await b!.exec(["nft", "-j", "list", "counters", "table", "inet", "obs"]);
    const packets = [...dscp.matchAll(/"name": "(dscp[46])".*?"packets": (\d+)/g)].map((x) => [x[1], Number(x[2])]);
    assert.deepEqual(packets.map(([name]) => name).sort(), ["dscp4", "dscp6"]);
    for (const [name, n] of packets) assert.ok((n as number) > 0, `${name}: no packet from A arrived with DSCP 10`);
  });

  it("judges port-less protocols by protocol and family (GRE, ICMP, ICMPv6) and UDP by port", async () => {
    // A rewrites the protocol of some of its UDP datagrams, so M sees GRE and ICMP/ICMPv6 (of type
    // 0x9c = 156, the high byte of source port 40000) without needing raw sockets; B counts arrivals.
    await a!.nft(`table inet rewrite {
      chain output { type filter hook output priority 0; policy accept;
        udp dport 4747 ip protocol set 47
        udp dport 4747 ip6 nexthdr set 47
        udp dport 4701 ip protocol set 1
        udp dport 4701 ip6 nexthdr set 58
      }
    }`);
    const arrivals = ["gre4", "gre6", "icmp4", "icmp6", "udp4800", "udp4801"];
    await b!.nft(`table inet arrivals {
      ${arrivals.map((n) => `counter ${n} {}`).join("\n")}
      chain prerouting { type filter hook prerouting priority -300; policy accept;
        ip saddr 198.18.1.1 ip protocol 47 counter name gre4
        ip6 saddr fd00:1::1 ip6 nexthdr 47 counter name gre6
        ip saddr 198.18.1.1 icmp type 156 counter name icmp4
        ip6 saddr fd00:1::1 icmpv6 type 156 counter name icmp6
        ip saddr 198.18.1.1 udp dport 4800 counter name udp4800
        ip saddr 198.18.1.1 udp dport 4801 counter name udp4801
      }
    }`);
    const compiled = compilePolicy({
      fwdMode: "routing",
      networks,
      groups,
      rules: [
        { key: "t:b:gre", groupId: 2, direction: "in", priority: 5, action: "allow", protocol: 47 },
        { key: "t:b:gre6", groupId: 2, direction: "in", priority: 10, action: "deny", protocol: 47, peerCidrs: ["fd00:1::/64"] },
        { key: "t:b:icmp", groupId: 2, direction: "in", priority: 10, action: "deny", protocol: 1 },
        { key: "t:b:udp", groupId: 2, direction: "in", priority: 10, action: "deny", protocol: 17, port: 4800 },
      ],
    });
    await m!.nft(compiled.script);
    await a!.exec([
      process.execPath,
      "-e",
      SENDER,
      JSON.stringify([
        ["198.18.1.2", 4747],
        ["fd00:1::2", 4747],
        ["198.18.1.2", 4701],
        ["fd00:1::2", 4701],
        ["198.18.1.2", 4800],
        ["198.18.1.2", 4801],
      ]),
    ]);
    await new Promise((r) => setTimeout(r, 300));
    const stdout = await b!.exec(["nft", "-j", "list", "counters", "table", "inet", "arrivals"]);
    const got = Object.fromEntries([...stdout.matchAll(/"name": "(\w+)".*?"packets": (\d+)/g)].map((x) => [x[1], Number(x[2])]));
    assert.deepEqual(got, { gre4: 3, gre6: 0, icmp4: 0, icmp6: 0, udp4800: 0, udp4801: 3 });
    const listed = await m!.exec(["nft", "-j", "-n", "list", "table", "inet", "netplugin"]);
    assert.deepEqual(Object.fromEntries([...ruleCounters(listed, compiled)].map(([k, v]) => [k, v.packets])), {
      "t:b:gre": 3,
      "t:b:gre6": 3,
      "t:b:icmp": 6,
      "t:b:udp": 3,
    });
    await a!.exec(["nft", "delete", "table", "inet", "rewrite"]);
  });

  it("a policy change keeps established connections and judges new ones by the new policy", async () => {
    await m!.nft(compilePolicy(v1).script);
    const holder = a!.spawn([process.execPath, "-e", HOLDER, JSON.stringify(["198.18.1.2", 8080])]);
    children.push(holder);
    const lines = createInterface({ input: holder.stdout! })[Symbol.asyncIterator]();
    const next = async () => (await lines.next()).value as string;
    assert.equal(await next(), "ok", "connection under v1");

    await m!.nft(compilePolicy(v2).script); // 8080 no longer allowed, routing mode
    holder.stdin!.write("\n");
    assert.equal(await next(), "ok", "the established connection survives the new policy");
    const fromA = await connect(a!, [
      ["198.18.1.2", 8080],
      ["198.18.2.1", 8080],
    ]);
    assert.deepEqual(fromA, ["timeout", "ok"], "new connection to B:8080 denied; C reachable in routing mode");
    holder.kill();
  });
});
