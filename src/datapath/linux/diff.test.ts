import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { diffEndpointChanges, diffHost } from "./diff.js";
import { containerNotMade, emptyTenant } from "./assumed.js";
import { endpointChanges } from "./incremental.js";
import { PickupWindows } from "./pickup.js";
import { describeStep, phaseIndex, type Plan, type Step } from "./plan.js";
import { renderHost } from "./render.js";
import { DELETE_GROUP } from "./stepBuilder.js";
import type { ObservedHost } from "./state.js";
import { desiredHost, endpoint, NS_A, PREFIX } from "../testing/desired.js";
import { appliedScripts, observedHost, SCRIPT } from "./testing/observed.js";

function lines(plan: Plan): string[] {
  return plan.steps.map(describeStep);
}

function inSync() {
  const want = renderHost(desiredHost());
  return { want, have: observedHost(want), applied: appliedScripts(want) };
}

describe("diffHost", () => {
  it("plans nothing when the kernel is already right", () => {
    const { want, have, applied } = inSync();
    const plan = diffHost(want, have, { appliedNft: applied });
    assert.deepEqual(plan, { steps: [], problems: [] });
  });

  it("plans a new tenant from scratch in phase order (golden)", () => {
    const want = renderHost(desiredHost());
    const have: ObservedHost = {
      namespaces: [],
      tenants: [
        emptyTenant(
          NS_A,
          want.tenants[0]!.endpoints.map((e) => ({ hostLink: e.hostLink, netns: e.container.netns, netnsMissing: false, link: null, routes: [] })),
        ),
      ],
      unwanted: [],
      failures: [],
      host: { links: [], routes: [], sysctls: {}, nftTag: null },
    };
    const c1 = "ip[/var/run/netns/c1]";
    const c2 = "ip[/var/run/netns/c2]";
    assert.deepEqual(lines(diffHost(want, have)), [
      `${NS_A}: create namespace ${NS_A} | netns[host] add ${NS_A}`,
      `${NS_A}: update sysctls net.ipv6.conf.all.accept_dad, net.ipv6.conf.default.accept_dad, net.bridge.bridge-nf-call-iptables, net.bridge.bridge-nf-call-ip6tables, net.ipv4.ip_forward, net.ipv6.conf.all.forwarding | sysctl[${NS_A}] -w net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 net.bridge.bridge-nf-call-iptables=0 net.bridge.bridge-nf-call-ip6tables=0 net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1`,
      `${NS_A}: update loopback | ip[${NS_A}] link set lo up`,
      `${NS_A}: create bridge nb00000001 | ip[${NS_A}] link add nb00000001 address ${want.tenants[0]!.bridges[0]!.mac} mtu 1450 type bridge mcast_snooping 1 mcast_querier 1 nf_call_iptables 1 nf_call_ip6tables 1`,
      `${NS_A}: create bridge nb00000001 | ip[${NS_A}] link set nb00000001 up`,
      `${NS_A}: create address 198.18.1.254/24 on nb00000001 | ip[${NS_A}] addr add 198.18.1.254/24 dev nb00000001`,
      `${NS_A}: create address fd00:1::fe/64 on nb00000001 | ip[${NS_A}] addr add fd00:1::fe/64 dev nb00000001 nodad`,
      `${NS_A}: create veth ne0000000001 | ip[${NS_A}] link add ne0000000001 mtu 1450 type veth peer name eth0 address 02:00:00:00:00:01 mtu 1450 netns /var/run/netns/c1`,
      `${NS_A}: create veth ne0000000001 | ip[${NS_A}] link set ne0000000001 master nb00000001 up`,
      `${NS_A}: create veth ne0000000002 | ip[${NS_A}] link add ne0000000002 mtu 1450 type veth peer name eth0 address 02:00:00:00:00:02 mtu 1450 netns /var/run/netns/c2`,
      `${NS_A}: create veth ne0000000002 | ip[${NS_A}] link set ne0000000002 master nb00000001 up`,
      `${NS_A}: create interface eth0 in /var/run/netns/c1 | ${c1} link set eth0 up`,
      `${NS_A}: create address 198.18.1.1/24 on eth0 in /var/run/netns/c1 | ${c1} addr add 198.18.1.1/24 dev eth0`,
      `${NS_A}: create address fd00:1::1/64 on eth0 in /var/run/netns/c1 | ${c1} addr add fd00:1::1/64 dev eth0 nodad`,
      `${NS_A}: create default route via 198.18.1.254 on eth0 in /var/run/netns/c1 | ${c1} route add default via 198.18.1.254 dev eth0`,
      `${NS_A}: create default route via fd00:1::fe on eth0 in /var/run/netns/c1 | ${c1} route add default via fd00:1::fe dev eth0`,
      `${NS_A}: create interface eth0 in /var/run/netns/c2 | ${c2} link set eth0 up`,
      `${NS_A}: create address 198.18.1.2/24 on eth0 in /var/run/netns/c2 | ${c2} addr add 198.18.1.2/24 dev eth0`,
      `${NS_A}: create address fd00:1::2/64 on eth0 in /var/run/netns/c2 | ${c2} addr add fd00:1::2/64 dev eth0 nodad`,
      `${NS_A}: create default route via 198.18.1.254 on eth0 in /var/run/netns/c2 | ${c2} route add default via 198.18.1.254 dev eth0`,
      `${NS_A}: create default route via fd00:1::fe on eth0 in /var/run/netns/c2 | ${c2} route add default via fd00:1::fe dev eth0`,
      `${NS_A}: create nft table inet netplugin | nft[${NS_A}] -f -`,
    ]);
  });

  it("makes a runtime's veth pair with the container end where the runtime takes it, and configures nothing in it (golden)", () => {
    const desired = desiredHost();
    desired.tenants[0]!.endpoints = [endpoint(1, { containerSide: "runtime", netns: "/proc/1/ns/net", ifname: "npu0d1a2b3c" })];
    const want = renderHost(desired);
    const have = observedHost(want);
    have.tenants[0]!.veths = [];
    have.tenants[0]!.qdiscs = [];
    assert.deepEqual(have.tenants[0]!.containers, [], "its container side is never observed");
    assert.deepEqual(lines(diffHost(want, have, { appliedNft: appliedScripts(want) })), [
      `${NS_A}: create veth ne0000000001 | ip[${NS_A}] link add ne0000000001 mtu 1450 type veth peer name npu0d1a2b3c address 02:00:00:00:00:01 mtu 1450 netns /proc/1/ns/net`,
      `${NS_A}: create veth ne0000000001 | ip[${NS_A}] link set ne0000000001 master nb00000001 up`,
    ]);
  });

  it("keeps a runtime's veth while its host side is there, managing that side alone (golden)", () => {
    const desired = desiredHost();
    desired.tenants[0]!.endpoints = [endpoint(1, { containerSide: "runtime", qos: { egressBps: 0, ingressBps: 4_000_000, burstBytes: 0 } })];
    const want = renderHost(desired);
    const have = observedHost(want);
    assert.deepEqual(diffHost(want, have, { appliedNft: appliedScripts(want) }), { steps: [], problems: [] }, "in sync: nothing");
    const veth = have.tenants[0]!.veths[0]!;
    veth.mtu = 1500;
    veth.up = false;
    have.tenants[0]!.qdiscs = [];
    assert.deepEqual(lines(diffHost(want, have, { appliedNft: appliedScripts(want) })), [
      `${NS_A}: update veth ne0000000001 | ip[${NS_A}] link set ne0000000001 mtu 1450 up`,
      `${NS_A}: create tbf on ne0000000001 | tc[${NS_A}] qdisc replace dev ne0000000001 root handle 1: tbf rate 4000000bit burst 5856b latency 50ms`,
    ]);
  });

  it("deletes a runtime's veth that is no longer wanted from its host side (golden)", () => {
    const desired = desiredHost();
    desired.tenants[0]!.endpoints = [endpoint(1, { containerSide: "runtime" })];
    const have = observedHost(renderHost(desired));
    desired.tenants[0]!.endpoints = [];
    const want = renderHost(desired);
    assert.deepEqual(lines(diffHost(want, have, { appliedNft: appliedScripts(want) })), [
      `${NS_A}: delete veth ne0000000001 | ip[${NS_A}] link set ne0000000001 group ${DELETE_GROUP}`,
      `${NS_A}: delete links marked for deletion | ip[${NS_A}] link del group ${DELETE_GROUP}`,
    ]);
  });

  it("puts deletions first, from the last phase back, then creations in phase order", () => {
    const { want, have, applied } = inSync();
    const tenant = have.tenants[0]!;
    tenant.bridges.push({ name: "nbstale", mac: "02:00:00:00:00:99", mtu: 1500, up: true, mcastSnooping: true, mcastQuerier: true, netfilter: false, addresses: [], noPrefixRoute: [] });
    tenant.veths.push({ name: "nestale", ifindex: 99, peerIfindex: 3, master: "nbstale", mtu: 1500, up: true, addresses: [], linkLocal: [], hairpin: false });
    tenant.bridges[0]!.addresses = ["198.18.1.1/24", "fd00:1::fe/64"];
    tenant.qdiscs.push({ dev: "ne0000000001", kind: "ingress", handle: "ffff:", root: false, shaper: null });
    const plan = diffHost(want, have, { appliedNft: applied });
    assert.deepEqual(
      plan.steps.map((s) => `${s.action} ${s.object}`),
      [
        "delete ingress on ne0000000001",
        "delete veth nestale",
        "delete links marked for deletion",
        "delete address 198.18.1.1/24 on nb00000001",
        "delete bridge nbstale",
        "create address 198.18.1.254/24 on nb00000001",
      ],
    );
    const deletes = plan.steps.filter((s) => s.action === "delete").map((s) => phaseIndex(s.phase));
    assert.deepEqual(deletes, [...deletes].sort((a, b) => b - a));
  });

  it("changes only what differs on a link (MTU, master, up, MAC) without re-creating it", () => {
    const { want, have, applied } = inSync();
    const tenant = have.tenants[0]!;
    tenant.veths[0]!.mtu = 1500;
    tenant.veths[0]!.up = false;
    tenant.containers[0]!.link!.mac = "02:00:00:00:00:77";
    tenant.bridges[0]!.mcastSnooping = false;
    tenant.sysctls["net.ipv4.ip_forward"] = "0";
    assert.deepEqual(
      diffHost(want, have, { appliedNft: applied }).steps.map((s) => s.args.join(" ")),
      [
        "-w net.ipv4.ip_forward=1",
        "link set nb00000001 type bridge mcast_snooping 1 mcast_querier 1 nf_call_iptables 1 nf_call_ip6tables 1",
        "link set ne0000000001 mtu 1450 up",
        "link set eth0 address 02:00:00:00:00:01",
      ],
    );
  });

  it("re-creates a veth whose peer is gone", () => {
    const { want, have, applied } = inSync();
    have.tenants[0]!.containers[0]!.link = null;
    have.tenants[0]!.containers[0]!.routes = [];
    const steps = diffHost(want, have, { appliedNft: applied }).steps;
    assert.deepEqual(steps.slice(0, 4).map((s) => `${s.action} ${s.args.slice(0, 3).join(" ")}`), [
      "delete link set ne0000000001",
      "delete link del group",
      "create link add ne0000000001",
      "create link set ne0000000001",
    ]);
    assert.equal(steps.filter((s) => s.target.kind === "container").length, 5); // up, 2 addresses, 2 routes
  });

  it("replaces a changed default route and removes addresses that are no longer wanted", () => {
    const { want, have, applied } = inSync();
    const c1 = have.tenants[0]!.containers[0]!;
    c1.routes = [{ family: 4, via: "198.18.1.1" }, { family: 6, via: "fd00:1::fe" }];
    c1.link!.addresses.push("198.18.1.99/24");
    assert.deepEqual(
      diffHost(want, have, { appliedNft: applied }).steps.map((s) => s.args.join(" ")),
      [
        "route del default via 198.18.1.1 dev eth0",
        "addr del 198.18.1.99/24 dev eth0",
        "route add default via 198.18.1.254 dev eth0",
      ],
    );
  });

  it("reports a container whose namespace is gone and plans nothing for it", () => {
    const { want, have, applied } = inSync();
    have.tenants[0]!.containers[0] = { ...have.tenants[0]!.containers[0]!, netnsMissing: true, link: null, routes: [] };
    const plan = diffHost(want, have, { appliedNft: applied });
    assert.deepEqual(plan.steps, []);
    assert.equal(plan.problems.length, 1);
    assert.match(plan.problems[0]!.message, /does not exist/);
  });

  it("refuses to take over an interface in the container that is not our veth's peer", () => {
    const { want, have, applied } = inSync();
    have.tenants[0]!.veths.shift();
    const plan = diffHost(want, have, { appliedNft: applied });
    assert.deepEqual(plan.steps, []);
    assert.match(plan.problems[0]!.message, /exists and is not the peer/);
  });

  it("adds, changes and removes shapers and their ifb", () => {
    const host = desiredHost();
    const { want: before } = { want: renderHost(host) };
    const have = observedHost(before);
    host.tenants[0]!.endpoints[0] = endpoint(1, { qos: { egressBps: 8_000_000, ingressBps: 4_000_000, burstBytes: 0 } });
    const withQos = renderHost(host);
    assert.deepEqual(
      diffHost(withQos, have, { appliedNft: appliedScripts(withQos) }).steps.map((s) => `${s.tool} ${s.args.join(" ")}`),
      [
        "ip link add ni0000000001 mtu 1450 type ifb",
        "ip link set ni0000000001 up",
        "tc qdisc replace dev ne0000000001 root handle 1: tbf rate 4000000bit burst 5856b latency 50ms",
        "tc qdisc replace dev ni0000000001 root handle 1: tbf rate 8000000bit burst 10000b latency 50ms",
        "tc qdisc add dev ne0000000001 handle ffff: ingress",
        "tc filter add dev ne0000000001 parent ffff: protocol all prio 1 u32 match u32 0 0 action mirred egress redirect dev ni0000000001",
      ],
    );
    // In sync with QoS: nothing; the burst tc reads back a byte off is still right.
    const synced = observedHost(withQos);
    synced.tenants[0]!.qdiscs.find((q) => q.dev === "ni0000000001")!.shaper!.burstBytes = 9_999;
    assert.deepEqual(diffHost(withQos, synced, { appliedNft: appliedScripts(withQos) }).steps, []);
    // Back to no QoS: root qdisc, ingress qdisc and ifb go.
    assert.deepEqual(
      diffHost(before, synced, { appliedNft: appliedScripts(before) }).steps.map((s) => `${s.action} ${s.object}`),
      ["delete tbf on ne0000000001", "delete ingress on ne0000000001", "delete ifb ni0000000001", "delete links marked for deletion"],
    );
  });

  it("applies the nft script when the table is missing or the text differs from the last one applied", () => {
    const { want, have, applied } = inSync();
    assert.equal(diffHost(want, have).steps.length, 1, "no record (restart): apply once");
    const step = diffHost(want, have).steps[0]!;
    assert.deepEqual([step.tool, step.action, step.args, step.stdin], ["nft", "update", ["-f", "-"], SCRIPT]);
    assert.deepEqual(diffHost(want, have, { appliedNft: applied }).steps, [], "the text this process applied");
    have.tenants[0]!.nftTable = false;
    assert.equal(diffHost(want, have, { appliedNft: applied }).steps[0]?.action, "create");
  });

  it("deletes tenant namespaces of the prefix that are no longer wanted, and only those", () => {
    const { want, have, applied } = inSync();
    have.namespaces.push(`${PREFIX}-t-old`, `${PREFIX}-c-1`, "other-t-old");
    have.unwanted.push({ namespace: `${PREFIX}-t-old`, veths: ["ne0000000009", "nuplink"], vxlans: ["nv7"] });
    const plan = diffHost(want, have, { appliedNft: applied });
    assert.deepEqual(lines(plan), [
      `${PREFIX}-t-old: delete veth ne0000000009 | ip[${PREFIX}-t-old] link set ne0000000009 group ${DELETE_GROUP}`,
      `${PREFIX}-t-old: delete veth nuplink | ip[${PREFIX}-t-old] link set nuplink group ${DELETE_GROUP}`,
      `${PREFIX}-t-old: delete vxlan nv7 | ip[${PREFIX}-t-old] link set nv7 group ${DELETE_GROUP}`,
      `${PREFIX}-t-old: delete links marked for deletion | ip[${PREFIX}-t-old] link del group ${DELETE_GROUP}`,
      `${PREFIX}-t-old: delete namespace ${PREFIX}-t-old | netns[host] del ${PREFIX}-t-old`,
    ]);
  });

  it("leaves a frozen tenant namespace alone", () => {
    const { want, have, applied } = inSync();
    have.namespaces.push(`${PREFIX}-t-frozen`);
    want.frozen = [`${PREFIX}-t-frozen`];
    assert.deepEqual(lines(diffHost(want, have, { appliedNft: applied })), []);
  });

  it("opens a pickup window for a bridge that starts passing netfilter, and puts an open one back when the table is replaced", () => {
    const { want, have, applied } = inSync();
    const bridge = want.tenants[0]!.bridges[0]!.name;
    const element = (seconds: number) => `add element inet netplugin bridged { "${bridge}" . "${bridge}" timeout ${seconds}s }`;
    const nft = (plan: Plan) => plan.steps.filter((s) => s.tool === "nft").map((s) => `${s.action} ${s.object}: ${s.args.join(" ")}`);
    const none = { windowSeconds: 300, open: new Map(), missing: new Set<string>() };
    const open = { windowSeconds: 300, open: new Map([[NS_A, new Map([[bridge, 120]])]]), missing: new Set<string>() };

    have.tenants[0]!.bridges[0]!.netfilter = false;
    assert.deepEqual(
      diffHost(want, have, { appliedNft: applied, pickup: none }).steps.map((s) => `${s.phase} ${s.tool} ${s.args.join(" ")}`),
      [`nft nft ${element(300)}`, `nft ip link set ${bridge} type bridge nf_call_iptables 1 nf_call_ip6tables 1`],
      "the window first, then the switch, after everything else",
    );
    have.tenants[0]!.bridges[0]!.mcastQuerier = false;
    assert.deepEqual(
      diffHost(want, have, { appliedNft: applied, pickup: none }).steps.map((s) => s.args.join(" ")),
      [
        `link set ${bridge} type bridge mcast_snooping 1 mcast_querier 1 nf_call_iptables 0 nf_call_ip6tables 0`,
        element(300),
        `link set ${bridge} type bridge nf_call_iptables 1 nf_call_ip6tables 1`,
      ],
      "another change to the bridge keeps netfilter off until then",
    );
    have.tenants[0]!.bridges[0]!.mcastQuerier = true;
    assert.deepEqual(
      nft(diffHost(want, have, { pickup: none })),
      [`update nft table inet netplugin: -f -`, `create pickup window of bridge ${bridge}: ${element(300)}`],
      "after the script that makes the set",
    );

    have.tenants[0]!.bridges[0]!.netfilter = true;
    assert.deepEqual(nft(diffHost(want, have, { appliedNft: applied, pickup: open })), [], "the table stays: so does the element");
    assert.deepEqual(nft(diffHost(want, have, { pickup: open })), [`update nft table inet netplugin: -f -`, `update pickup window of bridge ${bridge}: ${element(120)}`]);
    assert.deepEqual(nft(diffHost(want, have, { pickup: none })), [`update nft table inet netplugin: -f -`], "a closed window stays closed");
    const failedBefore = { ...open, missing: new Set([`${NS_A} ${bridge}`]) };
    assert.deepEqual(nft(diffHost(want, have, { appliedNft: applied, pickup: failedBefore })), [`update pickup window of bridge ${bridge}: ${element(120)}`], "an element that did not take is tried again");
  });

  it("remembers a window from its create step, taken or not, until it closes or the namespace goes or is made", () => {
    const windows = new PickupWindows(300);
    const step = (tool: Step["tool"], action: Step["action"], object: string, namespace = NS_A): Step => ({ namespace, owner: { tenant: "a" }, phase: "nft", action, object, tool, target: { kind: "host" }, args: [] });
    windows.record([step("nft", "create", "pickup window of bridge nb1"), step("nft", "update", "pickup window of bridge nb2")], [], 1_000);
    assert.deepEqual(windows.state(1_000), { windowSeconds: 300, open: new Map([[NS_A, new Map([["nb1", 300]])]]), missing: new Set() });
    assert.deepEqual(windows.state(100_500).open, new Map([[NS_A, new Map([["nb1", 201]])]]));
    assert.deepEqual(windows.state(301_000).open, new Map());

    windows.record([], [step("nft", "create", "pickup window of bridge nb1")], 400_000);
    assert.deepEqual(windows.state(400_000), { windowSeconds: 300, open: new Map([[NS_A, new Map([["nb1", 300]])]]), missing: new Set([`${NS_A} nb1`]) });
    windows.record([step("nft", "update", "pickup window of bridge nb1")], [], 400_100);
    assert.deepEqual(windows.state(400_200).missing, new Set());
    windows.record([step("netns", "delete", `namespace ${NS_A}`)], [], 400_300);
    assert.deepEqual(windows.state(400_400).open, new Map());

    windows.record([step("nft", "create", "pickup window of bridge nb1")], [], 500_000);
    windows.record([step("netns", "create", `namespace ${NS_A}`)], [], 500_100);
    assert.deepEqual(windows.state(500_200).open, new Map(), "a namespace made again has no bridge that was switched");
  });

  it("leaves a tenant that could not be observed alone", () => {
    const { want } = inSync();
    assert.deepEqual(diffHost(want, { namespaces: [NS_A], tenants: [], unwanted: [], failures: [], host: null }), { steps: [], problems: [] });
  });
});

describe("diffEndpointChanges", () => {
  it("plans what diffHost plans after reading a kernel that holds what was applied: endpoints added and removed (a shaped one's ifb too), the policy script", () => {
    const beforeDesired = desiredHost();
    beforeDesired.tenants[0]!.endpoints[1] = endpoint(2, { qos: { egressBps: 8_000_000, ingressBps: 4_000_000, burstBytes: 0 } });
    const afterDesired = structuredClone(beforeDesired);
    afterDesired.tenants[0]!.endpoints.pop();
    afterDesired.tenants[0]!.endpoints.push(endpoint(4));
    const before = renderHost(beforeDesired);
    const want = renderHost(afterDesired);
    const changes = endpointChanges(before.tenants[0]!, want.tenants[0]!);
    assert.deepEqual([changes?.added.map((e) => e.hostLink), changes?.removed.map((e) => e.hostLink)], [[endpoint(4).hostLink], [endpoint(2).hostLink]]);

    const have = observedHost(before);
    have.tenants[0]!.containers.push(containerNotMade(want.tenants[0]!.endpoints.find((e) => e.hostLink === endpoint(4).hostLink)!));
    // The table holds an older script (a group's members changed with the endpoints): it is replaced.
    const appliedNft = new Map([...appliedScripts(before), [NS_A, "an older script"]]);
    const read = diffHost(want, have, { appliedNft });
    const unread = diffEndpointChanges(want.tenants[0]!, changes!, { appliedNft });
    assert.deepEqual(unread.problems, []);
    assert.deepEqual(unread.steps.map(describeStep), read.steps.filter((s) => s.namespace === NS_A).map(describeStep));
    assert.ok(unread.steps.some((s) => s.object.startsWith("ifb ")), "the shaped endpoint's ifb goes");
    assert.ok(unread.steps.some((s) => s.tool === "nft"), "the policy script is replaced");
  });
});
