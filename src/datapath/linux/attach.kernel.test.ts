// Direct attachments (attach.ts) in namespaces this test makes: a simulated host whose "NIC" is a veth
// stand-in (nicstand0) leading to an outside namespace on the same segment (198.18.5.0/24), containers on
// macvlan and ipvlan interfaces made on it, and a second veth stand-in moved in and given back (host-device;
// the kernel here has no dummy driver).
// Real packets both ways; a deny rule of the tenant's policy enforced inside the container's namespace.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";

import type { PolicyInput } from "../../policy/index.js";
import type { DesiredAttachment, DirectMode } from "./attach.js";
import { attach, detach } from "./testing/attach.js";
import { exec, killChildren, ping, removeNamespaces, startProbe, tcp } from "./testing/netns.js";

const P = `npt${randomBytes(2).toString("hex")}d`;
const HOST = `${P}-host`;
const OUT = `${P}-out`;
const NIC = "nicstand0"; // a veth standing in for the host's NIC
const OUTSIDE = "198.18.5.250";
const path = (ns: string) => `/var/run/netns/${ns}`;
const ctx = { executor: exec, hostNamespace: HOST };

const WEB = "198.18.5.11";
const DB = "198.18.5.12";
/** web's `in` rule: TCP 8080 denied from anyone; everything else allowed (Contiv's default allow). */
const policy: PolicyInput = {
  fwdMode: "bridge",
  networks: [],
  groups: [
    { id: 1, name: "web", ipv4: [WEB], ipv6: [], dscp: 0 },
    { id: 2, name: "db", ipv4: [DB], ipv6: [], dscp: 0 },
  ],
  rules: [{ key: "t:p:1", groupId: 1, direction: "in", priority: 10, action: "deny", protocol: 6, port: 8080 }],
};

function attachment(mode: DirectMode, ns: string, ip: string, mac: string): DesiredAttachment {
  return {
    id: `ep-${ns}`, mode, hostIf: NIC, netns: path(ns), ifname: "eth0", mac, mtu: 0,
    ipv4: `${ip}/24`, ipv6: "", gateway: "", ipv6Gateway: "",
    qos: { egressBps: 0, ingressBps: 0, burstBytes: 0 }, policy, tenantNamespace: HOST,
  };
}

/** Which of the link kinds this kernel can make (this machine's has macvlan but no ipvlan). */
const kernelHas = await (async () => {
  const has: Record<"macvlan" | "ipvlan", boolean> = { macvlan: false, ipvlan: false };
  if (process.getuid?.() !== 0) return has;
  const probeNs = `${P}-probe`;
  await exec.run(["ip", "netns", "add", probeNs]);
  try {
    await exec.run(["ip", "-n", probeNs, "link", "add", "p0", "type", "veth", "peer", "name", "p1"]);
    for (const kind of ["macvlan", "ipvlan"] as const) {
      has[kind] = await exec.run(["ip", "-n", probeNs, "link", "add", "link", "p0", "name", `t${kind}`, "type", kind]).then(() => true, () => false);
    }
  } finally {
    await exec.run(["ip", "netns", "del", probeNs]);
  }
  return has;
})();

async function links(ns: string): Promise<string[]> {
  const out = await exec.run(["ip", "-n", ns, "-json", "link", "show"]);
  return (JSON.parse(out) as Array<{ ifname: string }>).map((l) => l.ifname).sort();
}

describe("direct attachments (kernel)", { skip: process.getuid?.() !== 0 ? "needs root" : false }, () => {
  before(async () => {
    for (const ns of [HOST, OUT, `${P}-c1`, `${P}-c2`, `${P}-c3`]) {
      await exec.run(["ip", "netns", "add", ns]);
      await exec.run(["ip", "-n", ns, "link", "set", "lo", "up"]);
    }
    await exec.run(["ip", "-n", HOST, "link", "add", NIC, "type", "veth", "peer", "name", "seg0", "netns", OUT]);
    await exec.run(["ip", "-n", HOST, "link", "set", NIC, "up"]);
    await exec.run(["ip", "-n", OUT, "addr", "add", `${OUTSIDE}/24`, "dev", "seg0"]);
    await exec.run(["ip", "-n", OUT, "link", "set", "seg0", "up"]);
    for (const ns of [OUT, `${P}-c1`, `${P}-c2`]) await startProbe(ns, "serve", ns.slice(P.length + 1), 8080);
    for (const ns of [OUT, `${P}-c1`, `${P}-c2`]) await startProbe(ns, "serve", ns.slice(P.length + 1), 9090);
  });
  after(async () => {
    killChildren();
    await removeNamespaces(P);
  });

  it("a mode the kernel has no driver for is refused by name, nothing left behind", async () => {
    if (kernelHas.ipvlan) return; // nothing to show on a kernel that has it
    await assert.rejects(attach(ctx, attachment("ipvlan", `${P}-c1`, WEB, "")), /Cannot attach endpoint "ep-.*-c1": this kernel has no ipvlan driver \(CONFIG_IPVLAN\)/);
    assert.deepEqual(await links(`${P}-c1`), ["lo"]);
  });

  for (const mode of ["macvlan", "ipvlan"] as const) {
    describe(mode, { skip: !kernelHas[mode] ? `this kernel has no ${mode} driver` : false }, () => {
      before(async () => {
        await attach(ctx, attachment(mode, `${P}-c1`, WEB, "02:00:c6:12:05:0b"));
        await attach(ctx, attachment(mode, `${P}-c2`, DB, "02:00:c6:12:05:0c"));
      });
      after(async () => {
        await detach(ctx, { mode, netns: path(`${P}-c1`), ifname: "eth0" });
        await detach(ctx, { mode, netns: path(`${P}-c2`), ifname: "eth0" });
      });

      it("puts the container's interface on the uplink, in the container", async () => {
        const [eth0] = JSON.parse(await exec.run(["ip", "-n", `${P}-c1`, "-json", "-details", "link", "show", "eth0"])) as Array<{
          linkinfo: { info_kind: string };
          address: string;
        }>;
        assert.equal(eth0!.linkinfo.info_kind, mode);
        if (mode === "macvlan") assert.equal(eth0!.address, "02:00:c6:12:05:0b");
        assert.deepEqual(await links(HOST), ["lo", NIC]); // nothing made in the host's namespace
      });

      it("reaches the outside host on the segment, and is reached by it", async () => {
        assert.equal(await tcp(`${P}-c1`, OUTSIDE, 9090), "reply out");
        assert.equal(await tcp(OUT, WEB, 9090), "reply c1");
        assert.ok(await ping(`${P}-c2`, OUTSIDE));
        assert.ok(await ping(OUT, DB));
      });

      it("reaches the other container on the same uplink, both ways", async () => {
        assert.equal(await tcp(`${P}-c1`, DB, 9090), "reply c2");
        assert.equal(await tcp(`${P}-c2`, WEB, 9090), "reply c1");
      });

      it("enforces the deny rule inside the container's namespace", async () => {
        assert.equal(await tcp(OUT, WEB, 8080, 800), "timeout");
        assert.equal(await tcp(`${P}-c2`, WEB, 8080, 800), "timeout");
        assert.equal(await tcp(OUT, DB, 8080), "reply c2"); // db has no rule
        assert.equal(await tcp(`${P}-c1`, OUTSIDE, 8080), "reply out"); // web's rule is for what it receives
      });

      it("shapes in the container's namespace, and takes the shapers away again", async () => {
        const shaped = { ...attachment(mode, `${P}-c1`, WEB, "02:00:c6:12:05:0b"), qos: { egressBps: 8_000_000, ingressBps: 4_000_000, burstBytes: 0 } };
        await attach(ctx, shaped);
        const qd = await exec.run(["tc", "-n", `${P}-c1`, "qdisc", "show"]);
        assert.match(qd, /qdisc tbf 1: dev eth0 root .*rate 8Mbit/);
        assert.match(qd, /qdisc ingress ffff: dev eth0/);
        assert.match(qd, /qdisc tbf 1: dev nifb0 root .*rate 4Mbit/);
        assert.match(await exec.run(["tc", "-n", `${P}-c1`, "filter", "show", "dev", "eth0", "ingress"]), /mirred \(Egress Redirect to device nifb0\)/);
        assert.equal(await tcp(OUT, WEB, 9090), "reply c1"); // through both shapers
        assert.equal(await tcp(`${P}-c1`, DB, 9090), "reply c2");
        // Again: nothing differs, so nothing but the table (this helper does not remember its script) is touched.
        assert.deepEqual(await attach(ctx, shaped), ["update nft table inet netplugin"]);
        assert.equal(await tcp(OUT, WEB, 9090), "reply c1");
        await attach(ctx, attachment(mode, `${P}-c1`, WEB, "02:00:c6:12:05:0b"));
        assert.doesNotMatch(await exec.run(["tc", "-n", `${P}-c1`, "qdisc", "show"]), /tbf|ingress/);
        assert.deepEqual(await links(`${P}-c1`), ["eth0", "lo"]);
      });

      it("is idempotent: a second apply changes nothing that works", async () => {
        assert.deepEqual(await attach(ctx, attachment(mode, `${P}-c1`, WEB, "02:00:c6:12:05:0b")), ["update nft table inet netplugin"]);
        assert.equal(await tcp(OUT, WEB, 9090), "reply c1");
        assert.equal(await tcp(OUT, WEB, 8080, 800), "timeout");
      });
    });
  }

  it("refuses bad input before touching anything", async () => {
    const bad = { ...attachment("macvlan", `${P}-c3`, "198.18.5.13", "zz"), hostIf: "no such if" };
    await assert.rejects(attach(ctx, bad), /Cannot attach endpoint "ep-.*-c3" \(macvlan on "no such if"\): hostIf: invalid interface name "no such if"; mac: invalid MAC "zz"/);
    assert.deepEqual(await links(`${P}-c3`), ["lo"]);
  });

  it("a missing uplink fails and leaves nothing behind", async () => {
    const missing = { ...attachment("ipvlan", `${P}-c3`, "198.18.5.13", ""), hostIf: "nicstand9" };
    await assert.rejects(attach(ctx, missing), /nicstand9/);
    assert.deepEqual(await links(`${P}-c3`), ["lo"]);
  });

  it("host-device: moves a veth stand-in in, carries traffic, and gives it back on release", async () => {
    // The kernel here has no dummy driver: a veth whose other end is on a second outside segment stands in.
    await exec.run(["ip", "-n", HOST, "link", "add", "vfstand0", "type", "veth", "peer", "name", "seg1", "netns", OUT]);
    await exec.run(["ip", "-n", OUT, "addr", "add", "198.18.6.250/24", "dev", "seg1"]);
    await exec.run(["ip", "-n", OUT, "link", "set", "seg1", "up"]);
    const a = { ...attachment("host-device", `${P}-c3`, "198.18.6.3", ""), hostIf: "vfstand0", ifname: "net1", policy: undefined };
    await attach(ctx, a);
    assert.deepEqual(await links(`${P}-c3`), ["lo", "net1"]);
    assert.ok(!(await links(HOST)).includes("vfstand0"));
    const addrs = await exec.run(["ip", "-n", `${P}-c3`, "-br", "addr", "show", "net1"]);
    assert.match(addrs, /198\.18\.6\.3\/24/);
    assert.ok(await ping(`${P}-c3`, "198.18.6.250"));
    assert.equal(await tcp(`${P}-c3`, "198.18.6.250", 9090), "reply out");
    assert.deepEqual(await attach(ctx, a), []); // again: already there, nothing moved or changed
    await detach(ctx, { mode: "host-device", netns: path(`${P}-c3`), ifname: "net1" });
    assert.deepEqual(await links(`${P}-c3`), ["lo"]);
    const back = await exec.run(["ip", "-n", HOST, "-br", "addr", "show", "vfstand0"]);
    assert.doesNotMatch(back, /198\.18\.6\.3/); // given back empty
    await detach(ctx, { mode: "host-device", netns: path(`${P}-c3`), ifname: "net1" }); // idempotent
  });

  it("host-device: a device that is not on the host is refused, nothing moved", async () => {
    const a = { ...attachment("host-device", `${P}-c3`, "198.18.6.3", ""), hostIf: "vfstand9", ifname: "net1", policy: undefined };
    await assert.rejects(attach(ctx, a), /vfstand9/);
    assert.deepEqual(await links(`${P}-c3`), ["lo"]);
  });
});
