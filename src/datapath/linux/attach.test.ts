import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { planAttachment, planRelease, renderAttachment as renderWith, type AttachState, type DesiredAttachment, type ObservedAttachment } from "./attach.js";
import { PolicyCache, type PolicyCompiler } from "./policies.js";
import { StepBuilder } from "./stepBuilder.js";

const base: DesiredAttachment = {
  id: "ep1", mode: "macvlan", hostIf: "eth1", netns: "/var/run/netns/c1", ifname: "eth0", mac: "02:00:C6:12:05:0B", mtu: 0,
  ipv4: "198.18.5.11/24", ipv6: "fd00:5::b/64", gateway: "198.18.5.1", ipv6Gateway: "",
  qos: { egressBps: 0, ingressBps: 0, burstBytes: 0 }, tenantNamespace: "np-t-a",
};
const cache = new PolicyCache();
const renderAttachment = (a: DesiredAttachment): AttachState => renderWith(a, cache.compile);
const NONE: ObservedAttachment = { netnsMissing: false, link: null, routes: [], ifb: null, qdiscs: [], redirects: [], nftTable: false, hostDevice: null };

/** The plan's steps as "host|@ns: tool args", or its problems. */
function plan(state: AttachState, observed: Partial<ObservedAttachment>, appliedScript: string | null = null): string[] {
  const b = StepBuilder.of(state.netns, { endpoint: state.id });
  planAttachment(b, state, { ...NONE, ...observed }, appliedScript);
  if (b.problems.length > 0) return b.problems.map((p) => `problem: ${p.message}`);
  return b.steps().map((s) => `${s.target.kind === "host" ? "host" : `@${s.target.kind === "container" ? s.target.path : ""}`}: ${s.tool} ${s.args.join(" ")}${s.stdin === undefined ? "" : " <script>"}`);
}

describe("renderAttachment", () => {
  it("canonicalises and keeps what it is given", () => {
    const s = renderAttachment(base);
    assert.equal(s.mac, "02:00:c6:12:05:0b");
    assert.deepEqual(s.addresses, ["198.18.5.11/24", "fd00:5::b/64"]);
    assert.deepEqual(s.routes, [{ family: 4, via: "198.18.5.1" }]);
    assert.equal(s.nftScript, null);
    assert.equal(s.egress, null);
  });
  it("asks the policy cache with one key and input for all of a tenant's direct attachments, not the tenant table's key", () => {
    const policy = { fwdMode: "bridge" as const, networks: [{ name: "n", bridge: "nb1", subnet: "", ipv6Subnet: "" }], groups: [{ id: 1, name: "g", ipv4: ["198.18.5.11"], ipv6: [], dscp: 0 }], rules: [] };
    const calls = new Set<string>();
    const spy: PolicyCompiler = (key, input) => {
      calls.add(`${key} ${JSON.stringify(input)}`);
      return cache.compile(key, input);
    };
    renderWith({ ...base, policy }, spy);
    renderWith({ ...base, id: "ep2", netns: "/var/run/netns/c2", policy }, spy);
    assert.equal(calls.size, 1); // so the cache (one entry per key) compiles it once
    assert.ok(!calls.values().next().value!.startsWith("np-t-a {"));
  });
  it("compiles the tenant's policy for the container's namespace, without bridges", () => {
    const s = renderAttachment({
      ...base,
      policy: { fwdMode: "bridge", networks: [{ name: "n", bridge: "nb1", subnet: "", ipv6Subnet: "" }], groups: [{ id: 1, name: "g", ipv4: ["198.18.5.11"], ipv6: [], dscp: 0 }], rules: [{ key: "k", groupId: 1, direction: "in", priority: 1, action: "deny", protocol: 6, port: 80 }] },
    });
    assert.match(s.nftScript!, /table inet netplugin \{/);
    assert.match(s.nftScript!, /hook input/);
    assert.doesNotMatch(s.nftScript!, /nb1/);
  });
  it("ipvlan and host-device take no MAC", () => {
    assert.equal(renderAttachment({ ...base, mode: "ipvlan", mac: "" }).mac, null);
    assert.equal(renderAttachment({ ...base, mode: "host-device", mac: "" }).mac, null);
  });
  const bad: [string, Partial<DesiredAttachment>, RegExp][] = [
    ["host interface", { hostIf: "eth 1" }, /hostIf: invalid interface name "eth 1"/],
    ["ifname too long", { ifname: "a".repeat(16) }, /ifname: invalid interface name/],
    ["the shaper's ifb name", { ifname: "nifb0" }, /ifname: "nifb0" is the attachment's shaper device/],
    ["relative netns", { netns: "c1" }, /netns: namespace path "c1" is not absolute/],
    ["macvlan MAC", { mac: "02:00" }, /mac: invalid MAC "02:00"/],
    ["MTU", { mtu: 20 }, /mtu: invalid MTU 20/],
    ["no IPv4", { ipv4: "" }, /ipv4: an endpoint needs an IPv4 address/],
    ["IPv6 in ipv4", { ipv4: "fd00::1/64" }, /ipv4: invalid address "fd00::1\/64"/],
    ["gateway family", { gateway: "fd00::1" }, /gateway: invalid gateway "fd00::1"/],
  ];
  for (const [name, set, message] of bad) {
    it(`refuses a bad ${name}, naming the endpoint`, () => {
      assert.throws(() => renderAttachment({ ...base, ...set }), (err: Error) => err.name === "ValidationError" && /^Cannot attach endpoint "ep1" \(macvlan on "eth/.test(err.message) && message.test(err.message));
    });
  }
});


describe("planAttachment", () => {
  const up = { kind: "macvlan", hostName: "", mac: "02:00:c6:12:05:0b", mtu: 1500, up: true, addresses: ["198.18.5.11/24", "fd00:5::b/64"] };
  const inPlace: Partial<ObservedAttachment> = { link: up, routes: [{ family: 4, via: "198.18.5.1" }] };

  it("macvlan, new: made from the host's namespace straight into the container's, then configured there", () => {
    assert.deepEqual(plan(renderAttachment({ ...base, mtu: 1400 }), {}), [
      "host: ip link add link eth1 name eth0 netns /var/run/netns/c1 address 02:00:c6:12:05:0b mtu 1400 type macvlan mode bridge",
      "@/var/run/netns/c1: ip link set dev eth0 up",
      "@/var/run/netns/c1: ip addr add 198.18.5.11/24 dev eth0",
      "@/var/run/netns/c1: ip addr add fd00:5::b/64 dev eth0 nodad",
      "@/var/run/netns/c1: ip route add default via 198.18.5.1 dev eth0",
    ]);
  });
  it("existing and right: nothing", () => {
    assert.deepEqual(plan(renderAttachment(base), inPlace), []);
  });
  it("existing: only what differs (an address, a route, the MAC)", () => {
    const observed = { link: { ...up, mac: "02:00:00:00:00:01", addresses: ["198.18.5.99/24", "fd00:5::b/64"] }, routes: [{ family: 4 as const, via: "198.18.5.2" }] };
    assert.deepEqual(plan(renderAttachment(base), observed), [
      "@/var/run/netns/c1: ip addr del 198.18.5.99/24 dev eth0",
      "@/var/run/netns/c1: ip route del default via 198.18.5.2 dev eth0",
      "@/var/run/netns/c1: ip link set dev eth0 address 02:00:c6:12:05:0b",
      "@/var/run/netns/c1: ip addr add 198.18.5.11/24 dev eth0",
      "@/var/run/netns/c1: ip route add default via 198.18.5.1 dev eth0",
    ]);
  });
  it("host-device, new: down, marked with its host name, moved, renamed; a VF says whose", () => {
    const steps = plan(renderAttachment({ ...base, mode: "host-device", hostIf: "ens1f0v3", mac: "" }), { hostDevice: { name: "ens1f0v3", physfn: "ens1f0" } });
    assert.deepEqual(steps.slice(0, 4), [
      "host: ip link set dev ens1f0v3 down",
      'host: ip link set dev ens1f0v3 alias "netplugin host-device ens1f0v3"',
      "host: ip link set dev ens1f0v3 netns /var/run/netns/c1",
      "@/var/run/netns/c1: ip link set dev ens1f0v3 name eth0",
    ]);
    const b = StepBuilder.of("/var/run/netns/c1", {});
    planAttachment(b, renderAttachment({ ...base, mode: "host-device", hostIf: "ens1f0v3", mac: "" }), { ...NONE, hostDevice: { name: "ens1f0v3", physfn: "ens1f0" } }, null);
    assert.equal(b.steps()[0]!.object, "host-device eth0 on ens1f0v3 (SR-IOV VF of ens1f0)");
  });
  it("host-device: refuses an SR-IOV physical function with VFs, moving nothing", () => {
    assert.deepEqual(plan(renderAttachment({ ...base, mode: "host-device", hostIf: "ens1f0", mac: "" }), { hostDevice: { name: "ens1f0", virtfns: ["ens1f0v0", "ens1f0v1"] } }), [
      'problem: "ens1f0" is an SR-IOV physical function whose virtual functions (ens1f0v0, ens1f0v1) depend on it: attach one of those instead',
    ]);
  });
  it("shapers: a tbf on the interface for what the container sends, an ifb for what it receives; kept when right", () => {
    const shaped = renderAttachment({ ...base, qos: { egressBps: 8_000_000, ingressBps: 4_000_000, burstBytes: 0 } });
    const steps = plan(shaped, inPlace);
    assert.deepEqual(steps, [
      "@/var/run/netns/c1: ip link add nifb0 type ifb",
      "@/var/run/netns/c1: ip link set nifb0 up",
      "@/var/run/netns/c1: tc qdisc replace dev eth0 root handle 1: tbf rate 8000000bit burst 10000b latency 50ms",
      "@/var/run/netns/c1: tc qdisc replace dev nifb0 root handle 1: tbf rate 4000000bit burst 6056b latency 50ms",
      "@/var/run/netns/c1: tc qdisc add dev eth0 handle ffff: ingress",
      "@/var/run/netns/c1: tc filter add dev eth0 parent ffff: protocol all prio 1 u32 match u32 0 0 action mirred egress redirect dev nifb0",
    ]);
    const there: Partial<ObservedAttachment> = {
      ...inPlace,
      ifb: { up: true },
      qdiscs: [
        { dev: "eth0", kind: "tbf", handle: "1:", root: true, shaper: shaped.egress },
        { dev: "eth0", kind: "ingress", handle: "ffff:", root: false, shaper: null },
        { dev: "nifb0", kind: "tbf", handle: "1:", root: true, shaper: shaped.ingress },
      ],
      redirects: [{ dev: "eth0", toDev: "nifb0" }],
    };
    assert.deepEqual(plan(shaped, there), []);
    assert.deepEqual(plan(renderAttachment(base), there), [
      "@/var/run/netns/c1: tc qdisc del dev eth0 root",
      "@/var/run/netns/c1: tc qdisc del dev eth0 ingress",
      "@/var/run/netns/c1: ip link del nifb0",
    ]);
  });
  it("the policy table: loaded when missing or not the script this process loaded, deleted when no policy", () => {
    const withPolicy = renderAttachment({ ...base, policy: { fwdMode: "bridge", networks: [], groups: [], rules: [] } });
    assert.deepEqual(plan(withPolicy, inPlace, withPolicy.nftScript), ["@/var/run/netns/c1: nft -f - <script>"]);
    assert.deepEqual(plan(withPolicy, { ...inPlace, nftTable: true }, withPolicy.nftScript), []);
    assert.deepEqual(plan(withPolicy, { ...inPlace, nftTable: true }, null), ["@/var/run/netns/c1: nft -f - <script>"]);
    assert.deepEqual(plan(renderAttachment(base), { ...inPlace, nftTable: true }), ["@/var/run/netns/c1: nft delete table inet netplugin"]);
  });
  it("refuses an interface that is not ours, and a namespace that is gone", () => {
    assert.deepEqual(plan(renderAttachment(base), { link: { ...up, kind: "veth" } }), ['problem: "eth0" in /var/run/netns/c1 is a veth link, not ours']);
    assert.deepEqual(plan(renderAttachment({ ...base, mode: "host-device", mac: "" }), { link: { ...up, kind: "", hostName: "other" } }), ['problem: "eth0" in /var/run/netns/c1 is not host device "eth1"']);
    assert.deepEqual(plan(renderAttachment(base), { netnsMissing: true }), ['problem: container namespace "/var/run/netns/c1" does not exist']);
  });
});

describe("planRelease", () => {
  it("host-device: emptied, renamed back and returned; only what is there is removed", () => {
    const b = StepBuilder.of("/var/run/netns/c1", {});
    const link = { kind: "", hostName: "ens1f0v3", mac: "", mtu: 1500, up: true, addresses: [] };
    planRelease(b, { mode: "host-device", netns: "/var/run/netns/c1", ifname: "eth0" }, { ...NONE, link, nftTable: true, qdiscs: [{ dev: "eth0", kind: "mq", handle: "0:", root: true, shaper: null }] }, "/var/run/netns/h");
    assert.deepEqual(b.steps().map((s) => `${s.tool} ${s.args.join(" ")}`), [
      "nft delete table inet netplugin",
      "ip addr flush dev eth0",
      "ip link set dev eth0 down",
      "ip link set dev eth0 name ens1f0v3",
      'ip link set dev ens1f0v3 alias ""',
      "ip link set dev ens1f0v3 netns /var/run/netns/h",
    ]);
  });
});
