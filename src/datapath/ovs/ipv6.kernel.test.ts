// IPv6 on the OVS driver, with real packets on a real, private Open vSwitch (userspace datapath) in a namespace
// standing in for the host (testing/ovs-host.ts): a tenant with networks blue and red, both with IPv4 and IPv6, c1
// and c2 on blue, c3 on red. ping -6 and TCP over IPv6 both ways on a network; the IPv6 gateway's neighbour
// solicitations and pings answered by flows (an advertisement with the router flag and the gateway's MAC); a
// container can neither send from an address not its own nor advertise another's (the gateway namespace keeps the
// right MAC); in fwdMode routing the gateway namespace routes IPv6 between the networks and serves on its IPv6
// address; an IPv6 VIP balanced to its provider (and to itself: hairpin), its ND and pings answered, refused without
// an IPv6 provider; the policy denies over IPv6 what it
// must; a second run changes nothing. Needs root and openvswitch-switch. Per-run names, addresses in 198.18.0.0/15
// and 2001:2::/48 (benchmarking); everything removed at the end, also on failure.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { run } from "../../lib/process.js";
import { waitFor } from "../../lib/wait.js";
import type { PolicyInput } from "../../policy/index.js";
import { gatewayMac } from "../linux/addr.js";
import { exec, ping, startProbe, tcp } from "../linux/testing/netns.js";
import { emptyPolicy } from "../testing/desired.js";
import type { DesiredEndpoint, DesiredHost, DesiredNetwork, DesiredService, FwdMode } from "../types.js";
import type { OvsDatapath } from "./driver.js";
import type { PrivateOvs } from "./private-ovs.js";
import { needsOvs, OvsTestHost } from "./testing/ovs-host.js";

describe("OVS driver: IPv6", { skip: needsOvs }, () => {
  const P = `np6${randomBytes(2).toString("hex")}`;
  const testHost = new OvsTestHost(P);
  const TENANT_NS = `${P}-t-a`;
  const ns = (c: string) => testHost.ns(c);
  let ovs: PrivateOvs;
  let driver: OvsDatapath;

  // blue: 198.18.60.0/24 and 2001:2:0:60::/64, red: .61; gateways .254 and ::fe.
  const third = (network: string) => (network === "blue" ? 60 : 61);
  const v6 = (network: string, n: number | string) => `2001:2:0:${third(network)}::${n}`;
  const ep = (c: string, n: number, network: string): DesiredEndpoint => ({
    ...testHost.endpoint(c, n, { network, net24: `198.18.${third(network)}`, mac: `02:00:c6:12:3c:0${n}` }),
    ipv6: `${v6(network, n)}/64`,
    ipv6Gateway: v6(network, "fe"),
  });
  const net = (name: string): DesiredNetwork => ({
    name,
    bridge: `nb${P.slice(3)}${name}`,
    subnet: `198.18.${third(name)}.0/24`,
    gateway: `198.18.${third(name)}.254`,
    ipv6Subnet: `${v6(name, "")}/64`,
    ipv6Gateway: v6(name, "fe"),
    mtu: 1450,
    routed: false,
    netfilter: false,
  });
  const c1 = ep("c1", 1, "blue");
  const c2 = ep("c2", 2, "blue");
  const c3 = ep("c3", 3, "red");
  const desired = (o: { fwdMode?: FwdMode; services?: DesiredService[]; policy?: PolicyInput } = {}): DesiredHost => {
    const fwdMode = o.fwdMode ?? "bridge";
    return {
      prefix: P,
      tenants: [
        {
          name: "a",
          namespace: TENANT_NS,
          fwdMode,
          networks: [net("blue"), net("red")],
          endpoints: [c1, c2, c3],
          policy: o.policy ?? { ...emptyPolicy(), fwdMode },
          hostEndpoints: [],
          services: o.services ?? [],
        },
      ],
      host: { natOutbound: false },
    };
  };
  const reconcile = async (d: DesiredHost) => {
    const report = await driver.reconcile(d, { full: false });
    assert.deepEqual(report.errors, []);
    return report;
  };
  const neigh = async (namespace: string, address: string) => (await exec.run(["ip", "-n", namespace, "-6", "neigh", "show", address])).trim();

  before(async () => {
    ({ ovs, driver } = await testHost.start(["c1", "c2", "c3"]));
  });

  after(() => testHost.stop());

  it("ping -6 and TCP over IPv6 both ways on a network", async () => {
    const report = await driver.reconcile(desired(), { full: true });
    assert.deepEqual(report.errors, []);
    await waitFor(() => ping(ns("c1"), v6("blue", 2)), { timeoutMs: 5_000, what: () => `c1 → c2 over IPv6\n${ovs.log().slice(-2000)}` });
    assert.ok(await ping(ns("c2"), v6("blue", 1)), "c2 → c1");
    assert.equal(await tcp(ns("c1"), v6("blue", 2), 8080), "reply c2");
    assert.equal(await tcp(ns("c2"), v6("blue", 1), 8080), "reply c1");
    // The solicitation for c2 was answered with c2's MAC (proxy, as ARP).
    assert.match(await neigh(ns("c1"), v6("blue", 2)), new RegExp(`lladdr ${c2.mac} `));
  });

  it("the IPv6 gateway answers neighbour solicitations (a router, with its MAC) and pings", async () => {
    assert.ok(await ping(ns("c1"), v6("blue", "fe")), "c1 → its gateway");
    assert.ok(await ping(ns("c3"), v6("red", "fe")), "c3 → its gateway");
    assert.match(await neigh(ns("c1"), v6("blue", "fe")), new RegExp(`lladdr ${gatewayMac(net("blue").bridge)} router`));
    const addrs = await exec.run(["ip", "-n", TENANT_NS, "-o", "-6", "addr", "show", "scope", "global"]);
    assert.match(addrs, new RegExp(`${v6("blue", "fe")}/64`), "the namespace holds the IPv6 gateway");
    assert.match(addrs, new RegExp(`${v6("red", "fe")}/64`));
  });

  it("fwdMode bridge: no IPv6 routing between the networks", async () => {
    assert.equal(await ping(ns("c1"), v6("red", 3)), false);
    assert.equal(await tcp(ns("c1"), v6("red", 3), 8080), "timeout");
  });

  it("fwdMode routing: the gateway namespace routes IPv6 between the networks both ways, and serves on its IPv6 address", async () => {
    const report = await reconcile(desired({ fwdMode: "routing" }));
    assert.ok(report.changes.some((c) => c.object === `IPv4 and IPv6 forwarding on in namespace ${TENANT_NS}`), JSON.stringify(report.changes));
    await waitFor(() => ping(ns("c1"), v6("red", 3)), { timeoutMs: 5_000, what: () => `c1 (blue) → c3 (red) over IPv6\n${ovs.log().slice(-2000)}` });
    assert.ok(await ping(ns("c3"), v6("blue", 1)), "c3 → c1");
    assert.equal(await tcp(ns("c1"), v6("red", 3), 8080), "reply c3");
    assert.equal(await tcp(ns("c3"), v6("blue", 1), 8080), "reply c1");
    await startProbe(TENANT_NS, "serve", "gw", 53);
    assert.equal(await tcp(ns("c1"), v6("blue", "fe"), 53), "reply gw");
    assert.equal(await tcp(ns("c3"), v6("red", "fe"), 53), "reply gw");
  });

  it("no spoofing: not from an address not its own, and no advertisement of another's address", async () => {
    // The gateway namespace knows c2 (its solicitation answered by flows) once it routes to it.
    assert.ok(await ping(ns("c3"), v6("blue", 2)), "c3 → c2 through the namespace");
    assert.match(await neigh(TENANT_NS, v6("blue", 2)), new RegExp(`lladdr ${c2.mac} `));
    // c1 claims c2's address with an unsolicited advertisement (override) to the gateway: it never arrives.
    const na = [
      "import socket, struct",
      "s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)",
      "s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 255)",
      `target = socket.inet_pton(socket.AF_INET6, "${v6("blue", 2)}")`,
      `mac = bytes.fromhex("${c1.mac.replace(/:/g, "")}")`,
      "pkt = struct.pack('!BBHI', 136, 0, 0, 0x20000000) + target + bytes([2, 1]) + mac",
      `for _ in range(3): s.sendto(pkt, ("${v6("blue", "fe")}", 0))`,
    ].join("\n");
    const sent = await run(["python3", "-c", na], { netns: ns("c1") });
    assert.equal(sent.code, 0, sent.stderr);
    await new Promise((r) => setTimeout(r, 300));
    assert.match(await neigh(TENANT_NS, v6("blue", 2)), new RegExp(`lladdr ${c2.mac} `), "the namespace still has c2's MAC for c2");
    // A packet from an address c1 does not own (added behind the agent's back) goes nowhere.
    await exec.run(["ip", "-n", ns("c1"), "addr", "add", `${v6("blue", 99)}/64`, "dev", "eth0", "nodad"]);
    try {
      const r = await run(["ping", "-6", "-c", "1", "-W", "1", "-n", "-q", "-I", v6("blue", 99), v6("blue", 2)], { netns: ns("c1"), timeoutMs: 15_000 });
      assert.notEqual(r.code, 0, "from a spoofed source");
    } finally {
      await exec.run(["ip", "-n", ns("c1"), "addr", "del", `${v6("blue", 99)}/64`, "dev", "eth0"]);
    }
    assert.ok(await ping(ns("c1"), v6("blue", 2)), "from its own address, still");
  });

  const VIP6 = v6("blue", 100);
  const web: DesiredService = {
    name: "web",
    network: "blue",
    vip: "198.18.60.100",
    vip6: VIP6,
    ports: [{ protocol: "tcp", port: 80, targetPort: 8080 }],
    providers: [{ endpoint: c2.id, ipv4: "198.18.60.2", ipv6: v6("blue", 2) }],
  };

  it("an IPv6 VIP: balanced to the provider's IPv6 address, replies from the VIP; ND and pings for it answered", async () => {
    await reconcile(desired({ services: [web] }));
    for (let k = 0; k < 3; k++) assert.equal(await tcp(ns("c1"), VIP6, 80), "reply c2", `connection ${k}`);
    assert.equal(await tcp(ns("c3"), VIP6, 80), "timeout", "not from another network (bridge mode)");
    assert.equal(await tcp(ns("c1"), "198.18.60.100", 80), "reply c2", "and the IPv4 VIP");
    // Hairpin over IPv6: the provider gets its own connection to the VIP (its source translated to the gateway).
    for (let k = 0; k < 2; k++) assert.equal(await tcp(ns("c2"), VIP6, 80), "reply c2", `hairpin ${k}`);
    const ct = (await run(["ovs-appctl", "-t", `${ovs.dir}/ovs-vswitchd.ctl`, "dpctl/dump-conntrack"], { env: { ...process.env, ...ovs.env } })).stdout;
    assert.match(ct, /orig=\(src=2001:2:0:60::2,dst=2001:2:0:60::2,.*reply=\(src=2001:2:0:60::2,dst=2001:2:0:60::fe,/, ct);
    assert.ok(await ping(ns("c1"), VIP6), "ping the VIP");
    assert.match(await neigh(ns("c1"), VIP6), new RegExp(`lladdr ${gatewayMac(net("blue").bridge)} `));
    // A provider without an IPv6 address: the IPv6 VIP refuses at once (a reset from the gateway namespace, as on
    // Linux), the IPv4 one still balances.
    await reconcile(desired({ services: [{ ...web, providers: [{ endpoint: c2.id, ipv4: "198.18.60.2", ipv6: "" }] }] }));
    assert.equal(await tcp(ns("c1"), VIP6, 80), "refused");
    assert.equal(await tcp(ns("c1"), "198.18.60.100", 80), "reply c2");
  });

  it("the policy denies over IPv6 what it must: c2 takes no TCP 8080 on its IPv6 address; the rest passes", async () => {
    const policy: PolicyInput = {
      fwdMode: "bridge",
      networks: [],
      groups: [{ id: 1, name: "c2", ipv4: [], ipv6: [v6("blue", 2)], dscp: 0 }],
      rules: [{ key: "a:p:deny-8080", groupId: 1, direction: "in", priority: 1, action: "deny", protocol: 6, port: 8080 }],
    };
    await reconcile(desired({ policy }));
    assert.equal(await tcp(ns("c1"), v6("blue", 2), 8080), "timeout", "denied");
    assert.ok(await ping(ns("c1"), v6("blue", 2)), "ping -6 still passes");
    assert.equal(await tcp(ns("c2"), v6("blue", 1), 8080), "reply c1", "the other way passes");
    assert.equal(await tcp(ns("c1"), "198.18.60.2", 8080), "reply c2", "IPv4 (the group lists only c2's IPv6 address)");
    // Through the service too: the policy judges after the DNAT.
    await reconcile(desired({ policy, services: [web] }));
    assert.equal(await tcp(ns("c1"), VIP6, 80), "timeout", "to the VIP, denied at the provider");
  });

  it("a second run changes nothing, nor does a restarted agent", async () => {
    const d = desired({ fwdMode: "routing", services: [web] });
    await reconcile(d);
    assert.deepEqual(await driver.reconcile(d, { full: true }), { changes: [], errors: [] });
    assert.deepEqual(await testHost.newDriver().reconcile(d, { full: false }), { changes: [], errors: [] });
  });
});
