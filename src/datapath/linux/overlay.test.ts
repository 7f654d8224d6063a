// Unit tests for the cluster-facing objects: VXLAN devices and their FDB/neighbour entries, the
// uplink and its NAT tables, host endpoints, and the agent namespace's NAT; render and diff are pure.

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { ValidationError } from "../../lib/errors.js";
import { applyPlan, invocations } from "./apply.js";
import { diffHost } from "./diff.js";
import { FakeExecutor } from "./testing/fakeExecutor.js";
import { observeHost } from "./observe.js";
import { describeStep, type Plan } from "./plan.js";
import { renderHost } from "./render.js";
import { DELETE_GROUP } from "./stepBuilder.js";
import { StepBuilder } from "./stepBuilder.js";
import { clusterHost, NS_A, PREFIX } from "../testing/desired.js";
import { appliedScripts, observedHost } from "./testing/observed.js";

function lines(plan: Plan): string[] {
  return plan.steps.map(describeStep);
}

function inSync(host = clusterHost()) {
  const want = renderHost(host);
  return { want, have: observedHost(want), applied: appliedScripts(want) };
}

const ip = `ip[${NS_A}]`;
const br = `bridge[${NS_A}]`;

describe("render: VXLAN, uplink, host endpoints, NAT", () => {
  it("renders the VXLAN device with sorted peers, remotes and proxy neighbours (golden)", () => {
    const tenant = renderHost(clusterHost()).tenants[0]!;
    assert.deepEqual(tenant.vxlans, [
      {
        device: "nv100",
        bridge: "nb00000001",
        network: "blue",
        vni: 100,
        local: "198.18.0.11",
        port: 4789,
        proxy: true,
        mtu: 1450,
        peers: ["198.18.0.12", "198.18.0.13"],
        remotes: [
          { mac: "02:00:00:00:02:01", vtep: "198.18.0.12", endpoint: "net1.blue-21" },
          { mac: "02:00:00:00:03:01", vtep: "198.18.0.13", endpoint: "net1.blue-31" },
        ],
        neighbours: [
          { ip: "198.18.1.21", mac: "02:00:00:00:02:01", endpoint: "net1.blue-21" },
          { ip: "198.18.1.31", mac: "02:00:00:00:03:01", endpoint: "net1.blue-31" },
          { ip: "fd00:1::21", mac: "02:00:00:00:02:01", endpoint: "net1.blue-21" },
        ],
      },
    ]);
    assert.deepEqual(tenant.bridges.map((b) => [b.mcastSnooping, b.mcastQuerier]), [[true, true]]);
  });

  it("renders no proxy neighbours in flood mode", () => {
    const host = clusterHost();
    host.tenants[0]!.networks[0]!.vxlan!.arpMode = "flood";
    const vxlan = renderHost(host).tenants[0]!.vxlans[0]!;
    assert.equal(vxlan.proxy, false);
    assert.deepEqual(vxlan.neighbours, []);
    assert.equal(vxlan.remotes.length, 2);
  });

  it("renders the uplink, its NAT table and the host endpoint (golden)", () => {
    const state = renderHost(clusterHost());
    const tenant = state.tenants[0]!;
    assert.deepEqual(tenant.uplink, {
      hostLink: `${PREFIX}u00001`,
      tenantLink: "nuplink",
      hostAddr: "169.254.0.1/30",
      tenantAddr: "169.254.0.2/30",
      gateway: "169.254.0.1",
      routes: [],
      tenantGateway: "169.254.0.2",
      ipv6: false,
    });
    assert.deepEqual(tenant.hostEndpoints, [
      {
        network: "blue",
        bridge: "nb00000001",
        hostLink: `${PREFIX}h00001`,
        tenantLink: "nh00000001",
        address: "198.18.1.200/24",
        mac: "02:00:00:00:00:c8",
        mtu: 1450,
      },
    ]);
    const nat = tenant.natTable!;
    assert.equal(nat.name, "netplugin_nat");
    assert.equal(
      nat.script,
      [
        "table ip netplugin_nat",
        "delete table ip netplugin_nat",
        "table ip netplugin_nat {",
        `  comment "netplugin:${nat.tag}"`,
        "  chain postrouting {",
        "    type nat hook postrouting priority srcnat; policy accept;",
        '    oifname "nuplink" masquerade',
        "  }",
        "  chain forward {",
        "    type filter hook forward priority filter; policy accept;",
        '    iifname "nuplink" ct state established,related accept',
        '    iifname "nuplink" drop',
        "  }",
        "}",
        "",
      ].join("\n"),
    );
    assert.match(nat.tag, /^[0-9a-f]{16}$/);
    assert.deepEqual(state.host.sysctls, [{ key: "net.ipv4.ip_forward", value: "1" }]);
    assert.equal(state.host.nftName, `netplugin_${PREFIX}`);
    assert.match(state.host.nftTable!.script, new RegExp(`ip saddr 169\\.254\\.0\\.0/16 oifname != "${PREFIX}u\\*" masquerade`));
    assert.match(state.host.nftTable!.script, new RegExp(`iifname "${PREFIX}u\\*" oifname "${PREFIX}u\\*" drop`));
    // One table for both families: tenants' uplinks never meet, IPv6 (routed /128s) included; the `ip` table
    // an earlier agent kept goes in the same transaction.
    assert.equal(state.host.nftTable!.family, "inet");
    assert.ok(state.host.nftTable!.script.startsWith(`table ip netplugin_${PREFIX}\ndelete table ip netplugin_${PREFIX}\ntable inet netplugin_${PREFIX}\n`));
    // The overlay's own UDP is not tracked, in either direction, and only for this host's VTEP.
    const vx = state.tenants[0]!.vxlans[0]!;
    assert.ok(state.host.nftTable!.script.includes(`hook prerouting priority raw; policy accept;\n    ip daddr ${vx.local} udp dport ${vx.port} notrack`));
    assert.ok(state.host.nftTable!.script.includes(`hook output priority raw; policy accept;\n    ip saddr ${vx.local} udp dport ${vx.port} notrack`));
  });

  it("in bridge mode with an uplink: IPv4 forwarding on, routing between bridges dropped by the uplink table", () => {
    const host = clusterHost();
    host.tenants[0]!.fwdMode = "bridge";
    const tenant = renderHost(host).tenants[0]!;
    const forward = Object.fromEntries(tenant.sysctls.map((s) => [s.key, s.value]));
    assert.deepEqual([forward["net.ipv4.ip_forward"], forward["net.ipv6.conf.all.forwarding"]], ["1", "0"]);
    assert.match(tenant.natTable!.script, /iifname "nb00000001" oifname != \{ "nb00000001", "nuplink" \} drop/);
    host.tenants[0]!.uplink = undefined;
    assert.equal(Object.fromEntries(renderHost(host).tenants[0]!.sysctls.map((s) => [s.key, s.value]))["net.ipv4.ip_forward"], "0");
  });

  it("renders nothing in the agent's namespace without natOutbound, and no table change for the same text", () => {
    const host = clusterHost();
    host.host.natOutbound = false;
    assert.deepEqual(renderHost(host).host, { sysctls: [], nftName: `netplugin_${PREFIX}`, nftTable: null });
    assert.equal(renderHost(clusterHost()).tenants[0]!.natTable!.tag, renderHost(clusterHost()).tenants[0]!.natTable!.tag);
  });

  const bad: Array<[string, (h: ReturnType<typeof clusterHost>) => void, string]> = [
    ["VNI 0", (h) => (h.tenants[0]!.networks[0]!.vxlan!.vni = 0), "tenants[0].networks[0].vxlan.vni"],
    ["VNI over 24 bits", (h) => (h.tenants[0]!.networks[0]!.vxlan!.vni = 1 << 24), "tenants[0].networks[0].vxlan.vni"],
    ["bad local VTEP", (h) => (h.tenants[0]!.networks[0]!.vxlan!.localVtep = "x"), "tenants[0].networks[0].vxlan.localVtep"],
    ["peer = local VTEP", (h) => h.tenants[0]!.networks[0]!.vxlan!.peers.push("198.18.0.11"), "tenants[0].networks[0].vxlan.peers[2]"],
    ["port 0", (h) => (h.tenants[0]!.networks[0]!.vxlan!.port = 0), "tenants[0].networks[0].vxlan.port"],
    [
      "a MAC on two VTEPs",
      (h) => h.tenants[0]!.networks[0]!.vxlan!.remotes.push({ id: "twin", mac: "02:00:00:00:02:01", ipv4: "", ipv6: "", vtep: "198.18.0.13" }),
      "tenants[0].networks[0].vxlan.remotes[2].mac",
    ],
    ["remote IPv4 with a length", (h) => (h.tenants[0]!.networks[0]!.vxlan!.remotes[0]!.ipv4 = "198.18.1.21/24"), "tenants[0].networks[0].vxlan.remotes[0].ipv4"],
    ["IPv6 in the ipv4 field", (h) => (h.tenants[0]!.networks[0]!.vxlan!.remotes[0]!.ipv4 = "fd00::1"), "tenants[0].networks[0].vxlan.remotes[0].ipv4"],
    [
      "one VNI in two tenants",
      (h) => {
        const other = structuredClone(h.tenants[0]!);
        other.name = "b";
        other.namespace = `${PREFIX}-t-b`;
        other.uplink = undefined;
        other.hostEndpoints = [];
        h.tenants.push(other);
      },
      "tenants[1].networks[0].vxlan.vni",
    ],
    ["uplink without the prefix", (h) => (h.tenants[0]!.uplink!.hostLink = "xxu00001"), "tenants[0].uplink.hostLink"],
    ["uplink address not IPv4", (h) => (h.tenants[0]!.uplink!.tenantAddr = "fd00::2/126"), "tenants[0].uplink.tenantAddr"],
    ["host endpoint on an unknown network", (h) => (h.tenants[0]!.hostEndpoints[0]!.network = "red"), "tenants[0].hostEndpoints[0].network"],
    ["host endpoint named like the bridge", (h) => (h.tenants[0]!.hostEndpoints[0]!.tenantLink = "nb00000001"), "tenants[0].hostEndpoints[0].tenantLink"],
    ["two tenants' uplinks with one name", (h) => (h.tenants[0]!.hostEndpoints[0]!.hostLink = `${PREFIX}u00001`), "tenants[0].hostEndpoints[0].hostLink"],
  ];
  for (const [name, mutate, path] of bad) {
    it(`rejects ${name} with a ValidationError naming ${path}`, () => {
      const host = clusterHost();
      mutate(host);
      assert.throws(
        () => renderHost(host),
        (error: unknown) => error instanceof ValidationError && error.issues.some((i) => i.path === path),
      );
    });
  }
});

describe("diff: VXLAN, uplink, host endpoints, NAT", () => {
  it("plans nothing when the kernel is already right", () => {
    const { want, have, applied } = inSync();
    assert.deepEqual(diffHost(want, have, { appliedNft: applied }), { steps: [], problems: [] });
  });

  it("plans every new object in phase order, agent-namespace steps on the host (golden)", () => {
    const { want, have, applied } = inSync();
    const tenant = have.tenants[0]!;
    Object.assign(tenant, { vxlans: [], fdb: [], neighbours: [], routes: [], natTag: null });
    tenant.veths = tenant.veths.filter((v) => v.name.startsWith("ne"));
    have.host = { links: [], routes: [], sysctls: { "net.ipv4.ip_forward": "0" }, nftTag: null };
    const h = `ip[host]`;
    assert.deepEqual(lines(diffHost(want, have, { appliedNft: applied })), [
      "host: update sysctls net.ipv4.ip_forward | sysctl[host] -w net.ipv4.ip_forward=1",
      `host: create nft table inet netplugin_${PREFIX} | nft[host] -f -`,
      `${NS_A}: create vxlan nv100 | ${h} link add nv100 mtu 1450 netns ${NS_A} type vxlan id 100 local 198.18.0.11 dstport 4789 nolearning proxy ttl 64`,
      `${NS_A}: create vxlan nv100 | ${ip} link set nv100 master nb00000001`,
      `${NS_A}: create vxlan nv100 | ${ip} link set nv100 type bridge_slave learning off mcast_router 2`,
      `${NS_A}: create vxlan nv100 | ${ip} link set nv100 up`,
      `${NS_A}: create uplink ${PREFIX}u00001 | ${h} link add ${PREFIX}u00001 type veth peer name nuplink netns ${NS_A}`,
      `${NS_A}: create address 169.254.0.1/30 on ${PREFIX}u00001 | ${h} addr add 169.254.0.1/30 dev ${PREFIX}u00001`,
      `${NS_A}: create uplink ${PREFIX}u00001 | ${h} link set ${PREFIX}u00001 up`,
      `${NS_A}: create address 169.254.0.2/30 on nuplink | ${ip} addr add 169.254.0.2/30 dev nuplink`,
      `${NS_A}: create uplink nuplink | ${ip} link set nuplink up`,
      `${NS_A}: create default route via 169.254.0.1 | ${ip} route add default via 169.254.0.1 dev nuplink`,
      `${NS_A}: create host endpoint ${PREFIX}h00001 | ${h} link add ${PREFIX}h00001 address 02:00:00:00:00:c8 mtu 1450 type veth peer name nh00000001 mtu 1450 netns ${NS_A}`,
      `${NS_A}: create address 198.18.1.200/24 on ${PREFIX}h00001 | ${h} addr add 198.18.1.200/24 dev ${PREFIX}h00001`,
      `${NS_A}: create host endpoint ${PREFIX}h00001 | ${h} link set ${PREFIX}h00001 up`,
      `${NS_A}: create host endpoint nh00000001 | ${ip} link set nh00000001 master nb00000001 up`,
      `${NS_A}: create flood entry 198.18.0.12 on nv100 | ${br} fdb append 00:00:00:00:00:00 dev nv100 dst 198.18.0.12 self permanent`,
      `${NS_A}: create flood entry 198.18.0.13 on nv100 | ${br} fdb append 00:00:00:00:00:00 dev nv100 dst 198.18.0.13 self permanent`,
      `${NS_A}: create remote 02:00:00:00:02:01 on nv100 | ${br} fdb replace 02:00:00:00:02:01 dev nv100 dst 198.18.0.12 self permanent`,
      `${NS_A}: create remote 02:00:00:00:03:01 on nv100 | ${br} fdb replace 02:00:00:00:03:01 dev nv100 dst 198.18.0.13 self permanent`,
      `${NS_A}: create bridge entry 02:00:00:00:02:01 on nv100 | ${br} fdb replace 02:00:00:00:02:01 dev nv100 master static`,
      `${NS_A}: create bridge entry 02:00:00:00:03:01 on nv100 | ${br} fdb replace 02:00:00:00:03:01 dev nv100 master static`,
      `${NS_A}: create neighbour 198.18.1.21 on nv100 | ${ip} neigh replace 198.18.1.21 lladdr 02:00:00:00:02:01 dev nv100 nud permanent`,
      `${NS_A}: create neighbour 198.18.1.31 on nv100 | ${ip} neigh replace 198.18.1.31 lladdr 02:00:00:00:03:01 dev nv100 nud permanent`,
      `${NS_A}: create neighbour fd00:1::21 on nv100 | ${ip} neigh replace fd00:1::21 lladdr 02:00:00:00:02:01 dev nv100 nud permanent`,
      `${NS_A}: create nft table ip netplugin_nat | nft[${NS_A}] -f -`,
    ]);
  });

  it("forgets a remote endpoint that is gone: its FDB entries and neighbours only", () => {
    const { have, applied } = inSync();
    const host = clusterHost();
    host.tenants[0]!.networks[0]!.vxlan!.remotes.shift(); // 02:00:00:00:02:01 on 198.18.0.12
    const want = renderHost(host);
    assert.deepEqual(lines(diffHost(want, have, { appliedNft: applied })), [
      `${NS_A}: delete remote 02:00:00:00:02:01 on nv100 | ${br} fdb del 02:00:00:00:02:01 dev nv100 self`,
      `${NS_A}: delete bridge entry 02:00:00:00:02:01 on nv100 | ${br} fdb del 02:00:00:00:02:01 dev nv100 master`,
      `${NS_A}: delete neighbour 198.18.1.21 on nv100 | ${ip} neigh del 198.18.1.21 dev nv100`,
      `${NS_A}: delete neighbour fd00:1::21 on nv100 | ${ip} neigh del fd00:1::21 dev nv100`,
    ]);
  });

  it("moves a remote endpoint to its new VTEP with one replace, and drops a peer from the flood list", () => {
    const { have, applied } = inSync();
    const host = clusterHost();
    const vxlan = host.tenants[0]!.networks[0]!.vxlan!;
    vxlan.remotes[0]!.vtep = "198.18.0.13";
    vxlan.peers = ["198.18.0.13"];
    assert.deepEqual(lines(diffHost(renderHost(host), have, { appliedNft: applied })), [
      `${NS_A}: delete flood entry 198.18.0.12 on nv100 | ${br} fdb del 00:00:00:00:00:00 dev nv100 dst 198.18.0.12 self`,
      `${NS_A}: update remote 02:00:00:00:02:01 on nv100 | ${br} fdb replace 02:00:00:00:02:01 dev nv100 dst 198.18.0.13 self permanent`,
    ]);
  });

  it("repairs what drifted on the device, the bridge port and a neighbour without re-creating the device", () => {
    const { want, have, applied } = inSync();
    const tenant = have.tenants[0]!;
    Object.assign(tenant.vxlans[0]!, { mtu: 1500, up: false, portLearning: true, mcastRouter: 1 });
    tenant.neighbours[0]!.permanent = false;
    tenant.bridges[0]!.mcastQuerier = false;
    tenant.fdb.push({ dev: "nv100", mac: "02:00:00:00:09:09", dst: null, self: false, master: "nb00000001", state: "" });
    assert.deepEqual(lines(diffHost(want, have, { appliedNft: applied })), [
      `${NS_A}: update bridge nb00000001 | ${ip} link set nb00000001 type bridge mcast_snooping 1 mcast_querier 1 nf_call_iptables 1 nf_call_ip6tables 1`,
      `${NS_A}: update vxlan nv100 | ${ip} link set nv100 mtu 1450 up`,
      `${NS_A}: update vxlan nv100 bridge port | ${ip} link set nv100 type bridge_slave learning off mcast_router 2`,
      `${NS_A}: update neighbour 198.18.1.21 on nv100 | ${ip} neigh replace 198.18.1.21 lladdr 02:00:00:00:02:01 dev nv100 nud permanent`,
    ]);
  });

  it("re-creates the device with all its entries when the ARP mode (or VNI, local address, port) changes", () => {
    const { have, applied } = inSync();
    const host = clusterHost();
    host.tenants[0]!.networks[0]!.vxlan!.arpMode = "flood";
    const plan = diffHost(renderHost(host), have, { appliedNft: applied });
    assert.deepEqual(plan.steps.map((s) => `${s.action} ${s.object}`), [
      "delete vxlan nv100 (re-created)",
      "create vxlan nv100",
      "create vxlan nv100",
      "create vxlan nv100",
      "create vxlan nv100",
      "create flood entry 198.18.0.12 on nv100",
      "create flood entry 198.18.0.13 on nv100",
      "create remote 02:00:00:00:02:01 on nv100",
      "create remote 02:00:00:00:03:01 on nv100",
      "create bridge entry 02:00:00:00:02:01 on nv100",
      "create bridge entry 02:00:00:00:03:01 on nv100",
    ]);
    assert.ok(!plan.steps[1]!.args.includes("proxy"));
    const renumbered = clusterHost();
    renumbered.tenants[0]!.networks[0]!.vxlan!.vni = 200;
    renumbered.tenants[0]!.networks[0]!.vxlan!.device = "nv200";
    const steps = diffHost(renderHost(renumbered), have, { appliedNft: applied }).steps;
    assert.equal(steps[0]!.args.join(" "), "link del nv100");
    assert.equal(steps[1]!.args.slice(0, 3).join(" "), "link add nv200");
  });

  it("takes the uplink away: tenant end (and with it the agent's end), default route, both NAT tables", () => {
    const { have, applied } = inSync();
    const host = clusterHost();
    host.tenants[0]!.uplink = undefined;
    host.host.natOutbound = false;
    assert.deepEqual(lines(diffHost(renderHost(host), have, { appliedNft: applied })), [
      `host: delete nft table inet netplugin_${PREFIX} | nft[host] delete table inet netplugin_${PREFIX}`,
      `${NS_A}: delete nft table ip netplugin_nat | nft[${NS_A}] delete table ip netplugin_nat`,
      `${NS_A}: delete default route via 169.254.0.1 | ${ip} route del default via 169.254.0.1 dev nuplink`,
      `${NS_A}: delete veth nuplink | ${ip} link set nuplink group ${DELETE_GROUP}`,
      `${NS_A}: delete links marked for deletion | ${ip} link del group ${DELETE_GROUP}`,
    ]);
  });

  it("re-creates an uplink whose ends are no longer each other's peer, from both sides", () => {
    const { want, have, applied } = inSync();
    have.host!.links[0]!.peerIfindex = 999;
    assert.deepEqual(
      diffHost(want, have, { appliedNft: applied }).steps.map((s) => `${s.target.kind === "host" ? "host" : "tenant"} ${s.args.join(" ")}`),
      [
        `host link del ${PREFIX}u00001`,
        "tenant link del nuplink",
        `host link add ${PREFIX}u00001 type veth peer name nuplink netns ${NS_A}`,
        `host addr add 169.254.0.1/30 dev ${PREFIX}u00001`,
        `host link set ${PREFIX}u00001 up`,
        "tenant addr add 169.254.0.2/30 dev nuplink",
        "tenant link set nuplink up",
        "tenant route add default via 169.254.0.1 dev nuplink",
      ],
    );
  });

  it("fixes a host endpoint's address and MAC in place, and re-applies a NAT table whose tag differs", () => {
    const { want, have, applied } = inSync();
    const link = have.host!.links.find((l) => l.name === `${PREFIX}h00001`)!;
    link.addresses = ["198.18.1.201/24"];
    link.mac = "02:00:00:00:00:01";
    have.tenants[0]!.natTag = "";
    assert.deepEqual(lines(diffHost(want, have, { appliedNft: applied })), [
      `${NS_A}: delete address 198.18.1.201/24 on ${PREFIX}h00001 | ip[host] addr del 198.18.1.201/24 dev ${PREFIX}h00001`,
      `${NS_A}: update host endpoint ${PREFIX}h00001 | ip[host] link set ${PREFIX}h00001 address 02:00:00:00:00:c8`,
      `${NS_A}: create address 198.18.1.200/24 on ${PREFIX}h00001 | ip[host] addr add 198.18.1.200/24 dev ${PREFIX}h00001`,
      `${NS_A}: update nft table ip netplugin_nat | nft[${NS_A}] -f -`,
    ]);
  });

  it("leaves the agent-side ends alone when the agent's namespace could not be read", () => {
    const { want, have, applied } = inSync();
    have.host = null;
    have.tenants[0]!.veths = have.tenants[0]!.veths.filter((v) => v.name.startsWith("ne"));
    have.tenants[0]!.routes = [];
    assert.deepEqual(diffHost(want, have, { appliedNft: applied }).steps, []);
  });
});

describe("apply and observe in a simulated host", () => {
  it("runs the agent's own steps with ip -n / ip netns exec of hostNamespace, and FDB lines as one bridge batch", async () => {
    const b = StepBuilder.of(NS_A, {});
    b.hostIp("vxlan", "create", "vxlan nv1", ["link", "add", "nv1", "netns", NS_A, "type", "vxlan", "id", "1"]);
    b.ip("vxlan", "create", "vxlan nv1", ["link", "set", "nv1", "up"]);
    b.bridge("fdb", "create", "flood", ["fdb", "append", "00:00:00:00:00:00", "dev", "nv1", "dst", "198.18.0.12", "self", "permanent"]);
    b.bridge("fdb", "create", "remote", ["fdb", "replace", "02:00:00:00:00:01", "dev", "nv1", "dst", "198.18.0.12", "self", "permanent"]);
    b.nft("create", "host nat", ["-f", "-"], "table ip x {}\n", { kind: "host" });
    b.sysctl("forward", ["-w", "net.ipv4.ip_forward=1"], { kind: "host" });
    assert.deepEqual(
      invocations(b.steps(), "h1").map((i) => `${i.netns ?? "-"} ${i.argv.join(" ")}`),
      [
        "h1 sysctl -w net.ipv4.ip_forward=1",
        "- ip -n h1 -force -batch -",
        `- ip -n ${NS_A} -force -batch -`,
        `- bridge -n ${NS_A} -force -batch -`,
        "h1 nft -f -",
      ],
    );
    assert.deepEqual(invocations(b.steps()).map((i) => `${i.netns ?? "-"} ${i.argv.join(" ")}`).slice(0, 2), [
      "- sysctl -w net.ipv4.ip_forward=1",
      "- ip -force -batch -",
    ]);
    const fake = new FakeExecutor({ stdout: "" });
    const result = await applyPlan(fake, { steps: b.steps(), problems: [] }, { hostNamespace: "h1" });
    assert.equal(result.failures.length, 0);
    assert.equal(fake.calls[3]!.stdin, "fdb append 00:00:00:00:00:00 dev nv1 dst 198.18.0.12 self permanent\nfdb replace 02:00:00:00:00:01 dev nv1 dst 198.18.0.12 self permanent\n");
    assert.ok(fake.commands().includes("ip netns exec h1 nft -f -"));
  });

  it("reads the VXLAN device, its bridge port, FDB, neighbours, default route and the NAT tables' tags", async () => {
    const want = renderHost(clusterHost());
    const links = [
      { ifindex: 1, ifname: "lo", flags: ["UP"], mtu: 65536, addr_info: [] },
      {
        ifindex: 2, ifname: "nb00000001", flags: ["UP"], mtu: 1450, address: "02:00:00:00:00:fe",
        linkinfo: { info_kind: "bridge", info_data: { mcast_snooping: 1, mcast_querier: 1 } }, addr_info: [],
      },
      {
        // trimmed from iproute2 6.1 on kernel 6.18
        ifindex: 4, link_index: 4, ifname: "nv100", flags: ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"], mtu: 1450, master: "nb00000001",
        address: "f6:10:22:66:88:13", link_netnsid: 1,
        linkinfo: {
          info_kind: "vxlan",
          info_data: { id: 100, local: "198.18.0.11", port_range: { low: 0, high: 0 }, port: 4789, learning: false, proxy: true, ttl: 64, df: "unset", udp_csum: true },
          info_slave_kind: "bridge",
          info_slave_data: { state: "forwarding", learning: false, flood: true, multicast_router: 2, neigh_suppress: false },
        },
        addr_info: [],
      },
      {
        ifindex: 5, link_index: 9, ifname: "nuplink", flags: ["UP"], mtu: 1500, link_netnsid: 1, linkinfo: { info_kind: "veth" },
        addr_info: [{ family: "inet", local: "169.254.0.2", prefixlen: 30, scope: "global" }],
      },
    ];
    const routes = [
      { dst: "default", gateway: "169.254.0.1", dev: "nuplink", flags: [] },
      { dst: "169.254.0.0/30", dev: "nuplink", protocol: "kernel", scope: "link", prefsrc: "169.254.0.2", flags: [] },
    ];
    const neigh = [
      { dst: "198.18.1.21", dev: "nv100", lladdr: "02:00:00:00:02:01", state: ["PERMANENT"] },
      { dst: "198.18.1.1", dev: "nb00000001", lladdr: "02:00:00:00:00:01", state: ["REACHABLE"] },
    ];
    const fdb = [
      { mac: "02:00:00:00:02:01", ifname: "nv100", flags: [], master: "nb00000001", state: "static" },
      { mac: "f6:10:22:66:88:13", ifname: "nv100", flags: [], master: "nb00000001", state: "permanent" },
      { mac: "02:00:00:00:02:01", ifname: "nv100", dst: "198.18.0.12", linkNetNsId: 1, flags: ["self"], state: "permanent" },
      { mac: "00:00:00:00:00:00", ifname: "nv100", dst: "198.18.0.12", linkNetNsId: 1, flags: ["self"], state: "permanent" },
      { mac: "02:00:00:00:00:01", ifname: "ne0000000001", flags: [], master: "nb00000001", state: "" },
    ];
    const tag = want.tenants[0]!.natTable!.tag;
    const fake = new FakeExecutor({ stdout: "[]" })
      .on("ip -json netns list", { stdout: JSON.stringify([{ name: NS_A }]) })
      .on(`ip -n ${NS_A} -json -d -batch -`, { stdout: `${JSON.stringify(links)}\n${JSON.stringify(routes)}\n${JSON.stringify(neigh)}\n[]\n` })
      .on(/sysctl -e/, { stdout: "" })
      .on(/nft -j list tables/, { stdout: JSON.stringify({ nftables: [{ table: { family: "ip", name: "netplugin_nat", handle: 2 } }] }) })
      .on(`ip netns exec ${NS_A} nft list table ip netplugin_nat`, { stdout: `table ip netplugin_nat {\n\tcomment "netplugin:${tag}"\n}\n` })
      .on(`bridge -n ${NS_A} -json fdb show`, { stdout: JSON.stringify(fdb) })
      .on(/^ip -n c\d /, { stdout: "[]\n[]\n" })
      .on(`ip netns exec h1 nft list table inet netplugin_${PREFIX}`, { stderr: "Error: No such file or directory\n" });
    const observed = await observeHost(fake, want, { hostNamespace: "h1" });
    assert.deepEqual(observed.failures, []);
    const t = observed.tenants[0]!;
    assert.deepEqual(t.vxlans, [
      {
        name: "nv100", vni: 100, local: "198.18.0.11", port: 4789, proxy: true, learning: false, ttl: 64,
        mtu: 1450, up: true, master: "nb00000001", portLearning: false, mcastRouter: 2,
      },
    ]);
    assert.deepEqual(t.fdb.map((e) => `${e.mac} ${e.dst ?? "-"} ${e.self ? "self" : (e.master ?? "")} ${e.state}`), [
      "02:00:00:00:02:01 - nb00000001 static",
      "f6:10:22:66:88:13 - nb00000001 permanent",
      "02:00:00:00:02:01 198.18.0.12 self permanent",
      "00:00:00:00:00:00 198.18.0.12 self permanent",
    ]);
    assert.deepEqual(t.neighbours, [{ dev: "nv100", ip: "198.18.1.21", mac: "02:00:00:00:02:01", permanent: true }]);
    assert.deepEqual(t.routes, [{ family: 4, via: "169.254.0.1", dev: "nuplink" }]);
    assert.equal(t.natTag, tag);
    assert.deepEqual(t.veths.map((v) => [v.name, v.addresses]), [["nuplink", ["169.254.0.2/30"]]]);
    assert.equal(observed.host!.nftTag, null);
    assert.ok(fake.commands().includes("ip -n h1 -json -d addr show"));
  });
});
