import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { planAttachment, renderAttachment, type AttachStep, type DesiredAttachment } from "./attach.js";

const base: DesiredAttachment = {
  id: "ep1", mode: "macvlan", hostIf: "eth1", netns: "/var/run/netns/c1", ifname: "eth0", mac: "02:00:C6:12:05:0B", mtu: 0,
  ipv4: "198.18.5.11/24", ipv6: "fd00:5::b/64", gateway: "198.18.5.1", ipv6Gateway: "",
  qos: { egressBps: 0, ingressBps: 0, burstBytes: 0 },
};
const text = (steps: AttachStep[]) => steps.map((s) => `${s.where === "host" ? "host" : `@${s.netns}`}: ${s.argv.join(" ")}${"stdin" in s && s.stdin !== undefined ? " <script>" : ""}`);

describe("renderAttachment", () => {
  it("canonicalises and keeps what it is given", () => {
    const s = renderAttachment(base);
    assert.equal(s.mac, "02:00:c6:12:05:0b");
    assert.deepEqual(s.addresses, ["198.18.5.11/24", "fd00:5::b/64"]);
    assert.deepEqual(s.routes, [{ family: 4, via: "198.18.5.1" }]);
    assert.equal(s.nftScript, null);
    assert.equal(s.egress, null);
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
  it("macvlan, new: made from the host's namespace straight into the container's, then configured there", () => {
    assert.deepEqual(text(planAttachment(renderAttachment({ ...base, mtu: 1400 }), null)), [
      "host: ip link add link eth1 name eth0 netns /var/run/netns/c1 address 02:00:c6:12:05:0b mtu 1400 type macvlan mode bridge",
      "@/var/run/netns/c1: ip addr replace 198.18.5.11/24 dev eth0",
      "@/var/run/netns/c1: ip addr replace fd00:5::b/64 dev eth0 nodad",
      "@/var/run/netns/c1: ip link set dev eth0 up",
      "@/var/run/netns/c1: ip -4 route replace default via 198.18.5.1 dev eth0",
      "@/var/run/netns/c1: tc qdisc del dev eth0 root",
      "@/var/run/netns/c1: tc qdisc del dev eth0 ingress",
      "@/var/run/netns/c1: ip link del nifb0",
      "@/var/run/netns/c1: nft delete table inet netplugin",
    ]);
  });
  it("ipvlan, existing: not made again", () => {
    const steps = text(planAttachment(renderAttachment({ ...base, mode: "ipvlan", mac: "" }), { kind: "ipvlan", hostName: "" }));
    assert.ok(!steps.some((s) => s.startsWith("host:")));
  });
  it("host-device, new: down, marked with its host name, moved, renamed", () => {
    const steps = text(planAttachment(renderAttachment({ ...base, mode: "host-device", hostIf: "ens1f0v3", mac: "" }), null));
    assert.deepEqual(steps.slice(0, 4), [
      "host: ip link set dev ens1f0v3 down",
      "host: ip link set dev ens1f0v3 alias netplugin host-device ens1f0v3",
      "host: ip link set dev ens1f0v3 netns /var/run/netns/c1",
      "@/var/run/netns/c1: ip link set dev ens1f0v3 name eth0",
    ]);
  });
  it("shapers: a tbf on the interface for what the container sends, an ifb for what it receives", () => {
    const steps = text(planAttachment(renderAttachment({ ...base, qos: { egressBps: 8_000_000, ingressBps: 4_000_000, burstBytes: 0 } }), { kind: "macvlan", hostName: "" }));
    assert.ok(steps.includes("@/var/run/netns/c1: tc qdisc replace dev eth0 root handle 1: tbf rate 8000000bit burst 10000b latency 50ms"));
    assert.ok(steps.includes("@/var/run/netns/c1: tc qdisc replace dev nifb0 root handle 1: tbf rate 4000000bit burst 6056b latency 50ms"));
    assert.ok(steps.some((s) => s.endsWith("action mirred egress redirect dev nifb0")));
  });
  it("refuses an interface that is not ours", () => {
    assert.throws(() => planAttachment(renderAttachment(base), { kind: "veth", hostName: "" }), /"eth0" in \/var\/run\/netns\/c1 is a veth link, not ours/);
    assert.throws(() => planAttachment(renderAttachment({ ...base, mode: "host-device", mac: "" }), { kind: "", hostName: "other" }), /is not host device "eth1"/);
  });
});
