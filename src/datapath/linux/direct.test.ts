import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";

import { desiredHost, endpoint } from "../testing/desired.js";
import type { DesiredHost, EndpointQos } from "../types.js";
import type { PolicyInput } from "../../policy/index.js";
import { ATTACH_IFB } from "./attach.js";
import { DirectAttachments } from "./direct.js";
import { PolicyCache } from "./policies.js";
import { shaper } from "./render.js";
import { FakeExecutor, type FakeCall } from "./testing/fakeExecutor.js";

// DirectAttachments.reconcile against a FakeExecutor: the observation commands answer what a test says the
// container's namespace holds; every other command (a change) succeeds and is recorded.

const NETNS = "/var/run/netns/c1";
/** ip and tc enter a namespace of `ip netns` themselves; nft goes through nsenter (tools.ts containerCommand). */
const IN = `nsenter --net=${NETNS}`;
const IP = "ip -n c1";
const TC = "tc -n c1";
const OBSERVE = new Set([`${IP} -json -d -batch -`, `${TC} -json qdisc show`, `${IN} nft -j list tables`, `${TC} -json filter show dev eth0 ingress`]);

const SHAPED: EndpointQos = { egressBps: 8_000_000, ingressBps: 4_000_000, burstBytes: 0 };
const POLICY: PolicyInput = {
  fwdMode: "routing",
  networks: [],
  groups: [{ id: 1, name: "web", ipv4: ["198.18.1.1"], ipv6: [], dscp: 0 }],
  rules: [{ key: "t:p:1", groupId: 1, direction: "in", priority: 10, action: "deny", protocol: 6, port: 8080 }],
};

function host(o: { qos?: EndpointQos; policy?: PolicyInput; attached?: boolean; mode?: "macvlan" | "host-device"; hostIf?: string } = {}): DesiredHost {
  const d = desiredHost();
  const tenant = d.tenants[0]!;
  tenant.policy = o.policy ?? POLICY;
  tenant.endpoints = o.attached === false ? [] : [endpoint(1, { qos: o.qos ?? SHAPED, direct: { mode: o.mode ?? "macvlan", hostIf: o.hostIf ?? "eth1" } })];
  return d;
}

/** What the container's namespace holds: nothing, or the attachment as `qos` makes it. */
function holds(fake: FakeExecutor, what: { qos: EndpointQos; table: boolean } | null): void {
  const link = {
    ifindex: 2, ifname: "eth0", flags: ["BROADCAST", "UP"], mtu: 1450, address: "02:00:00:00:00:01", linkinfo: { info_kind: "macvlan" },
    addr_info: [{ family: "inet", local: "198.18.1.1", prefixlen: 24 }, { family: "inet6", local: "fd00:1::1", prefixlen: 64 }],
  };
  const ifb = { ifindex: 3, ifname: ATTACH_IFB, flags: ["UP"], mtu: 1500, linkinfo: { info_kind: "ifb" }, addr_info: [] };
  const lo = { ifindex: 1, ifname: "lo", flags: ["UP"], mtu: 65536, addr_info: [] };
  const routes = [{ dst: "default", gateway: "198.18.1.254", dev: "eth0" }, { dst: "default", gateway: "fd00:1::fe", dev: "eth0" }];
  const tbf = (dev: string, bps: number) => {
    const s = shaper(bps, 0, 1450)!;
    return { kind: "tbf", handle: "1:", dev, root: true, options: { rate: s.rateBytes, burst: s.burstBytes } };
  };
  const qdiscs = what === null ? [] : [
    ...(what.qos.egressBps > 0 ? [tbf("eth0", what.qos.egressBps)] : []),
    ...(what.qos.ingressBps > 0 ? [{ kind: "ingress", handle: "ffff:", dev: "eth0" }, tbf(ATTACH_IFB, what.qos.ingressBps)] : []),
  ];
  const links = what === null ? [lo] : [lo, link, ...(what.qos.ingressBps > 0 ? [ifb] : [])];
  fake.on(`${IP} -json -d -batch -`, { stdout: `${JSON.stringify(links)}\n${JSON.stringify(what === null ? [] : routes)}\n` });
  fake.on(`${TC} -json qdisc show`, { stdout: JSON.stringify(qdiscs) });
  fake.on(`${IN} nft -j list tables`, { stdout: JSON.stringify({ nftables: what?.table === true ? [{ table: { family: "inet", name: "netplugin" } }] : [] }) });
  fake.on(`${TC} -json filter show dev eth0 ingress`, { stdout: JSON.stringify([{ kind: "u32", options: { actions: [{ kind: "mirred", to_dev: ATTACH_IFB }] } }]) });
}

/** The change commands since `from` (observation left out), each with its stdin (an nft script only named). */
function changes(fake: FakeExecutor, from: number): string[] {
  const stdin = (c: FakeCall): string => (c.stdin === undefined ? "" : c.argv.includes("nft") ? " << nft script" : ` <<\n${c.stdin}`);
  return fake.calls.slice(from).filter((c) => !OBSERVE.has(c.argv.join(" "))).map((c) => `${c.argv.join(" ")}${stdin(c)}`);
}

describe("DirectAttachments.reconcile", () => {
  const fake = new FakeExecutor({ stdout: "" });
  const direct = new DirectAttachments(fake);
  const cache = new PolicyCache();
  const run = async (desired: DesiredHost, full: boolean) => {
    const from = fake.calls.length;
    const report = await direct.reconcile(desired, { full, compile: cache.compile });
    assert.deepEqual(report.errors, []);
    return { report, changes: changes(fake, from), calls: fake.calls.length - from };
  };

  it("first apply: the interface made, configured, shaped and its table loaded, through batched plan steps", async () => {
    holds(fake, null);
    const { report, changes: made } = await run(host(), false);
    assert.deepEqual(made, [
      "ip -force -batch - <<\nlink add link eth1 name eth0 netns /var/run/netns/c1 address 02:00:00:00:00:01 mtu 1450 type macvlan mode bridge\n",
      `${IP} -force -batch - <<\nlink set dev eth0 up\naddr add 198.18.1.1/24 dev eth0\naddr add fd00:1::1/64 dev eth0 nodad\nroute add default via 198.18.1.254 dev eth0\nroute add default via fd00:1::fe dev eth0\nlink add nifb0 type ifb\nlink set nifb0 up\n`,
      `${TC} -force -batch - <<\nqdisc replace dev eth0 root handle 1: tbf rate 8000000bit burst 10000b latency 50ms\nqdisc replace dev nifb0 root handle 1: tbf rate 4000000bit burst 5856b latency 50ms\nqdisc add dev eth0 handle ffff: ingress\nfilter add dev eth0 parent ffff: protocol all prio 1 u32 match u32 0 0 action mirred egress redirect dev nifb0\n`,
      `${IN} nft -f - << nft script`,
    ]);
    assert.ok(report.changes.some((c) => c.namespace === NETNS && c.action === "create" && c.object === "macvlan eth0 on eth1"));
  });

  it("an unchanged incremental run reads nothing; an unchanged full run reads and changes nothing", async () => {
    holds(fake, { qos: SHAPED, table: true });
    assert.equal((await run(host(), false)).calls, 0);
    const full = await run(host(), true);
    assert.ok(full.calls > 0, "a full run observes");
    assert.deepEqual(full.changes, []);
    assert.deepEqual(full.report.changes, []);
  });

  it("a full run repairs only what observe shows is wrong: a table removed behind our back", async () => {
    holds(fake, { qos: SHAPED, table: false });
    assert.deepEqual((await run(host(), true)).changes, [`${IN} nft -f - << nft script`]);
    holds(fake, { qos: SHAPED, table: true });
  });

  it("a changed QoS replaces only that shaper; a changed policy reloads only the table", async () => {
    const slower = { ...SHAPED, egressBps: 2_000_000 };
    assert.deepEqual((await run(host({ qos: slower }), false)).changes, [
      `${TC} -force -batch - <<\nqdisc replace dev eth0 root handle 1: tbf rate 2000000bit burst 5856b latency 50ms\n`,
    ]);
    holds(fake, { qos: slower, table: true });
    const denyMore = { ...POLICY, rules: [...POLICY.rules, { ...POLICY.rules[0]!, key: "t:p:2", port: 8081 }] };
    assert.deepEqual((await run(host({ qos: slower, policy: denyMore }), false)).changes, [`${IN} nft -f - << nft script`]);
  });

  it("a removed attachment is released: its table, ifb and interface deleted", async () => {
    const { report, changes: removed } = await run(host({ attached: false }), false);
    assert.deepEqual(removed, [
      `${IN} nft delete table inet netplugin`,
      `${IP} -force -batch - <<\nlink del nifb0\nlink del dev eth0\n`,
    ]);
    assert.ok(report.changes.every((c) => c.action === "delete"));
    holds(fake, null);
    assert.equal((await run(host({ attached: false }), true)).calls, 0, "forgotten once released");
  });
});

describe("DirectAttachments: host-device and SR-IOV (sysfs)", () => {
  // A sysfs tree as the kernel lays it out: a PF with two VFs (class/net/PF/device/virtfnN/net/VF) and a VF
  // pointing back at its PF (class/net/VF/device/physfn/net/PF).
  const sysfs = mkdtempSync(join(tmpdir(), "npt-sysfs-"));
  for (const p of ["class/net/ens1f0/device/virtfn0/net/ens1f0v0", "class/net/ens1f0/device/virtfn1/net/ens1f0v1", "class/net/ens1f0v1/device/physfn/net/ens1f0"]) {
    mkdirSync(join(sysfs, p), { recursive: true });
  }
  after(() => rmSync(sysfs, { recursive: true, force: true }));

  it("refuses to move a physical function whose VFs are in use, moving nothing", async () => {
    const fake = new FakeExecutor({ stdout: "" });
    holds(fake, null);
    const report = await new DirectAttachments(fake, { sysfs }).reconcile(host({ mode: "host-device", hostIf: "ens1f0" }), { full: false, compile: new PolicyCache().compile });
    assert.deepEqual(changes(fake, 0), []);
    assert.equal(report.errors.length, 1);
    assert.match(report.errors[0]!.message, /"ens1f0" is an SR-IOV physical function whose virtual functions \(ens1f0v0, ens1f0v1\) depend on it/);
    assert.deepEqual(report.errors[0]!.owner, { tenant: "a", network: "blue", endpoint: "ep1" });
  });

  it("moves a VF, and the report names its physical function", async () => {
    const fake = new FakeExecutor({ stdout: "" });
    holds(fake, null);
    const report = await new DirectAttachments(fake, { sysfs }).reconcile(host({ mode: "host-device", hostIf: "ens1f0v1" }), { full: false, compile: new PolicyCache().compile });
    assert.deepEqual(report.errors, []);
    assert.equal(changes(fake, 0)[0], 'ip -force -batch - <<\nlink set dev ens1f0v1 down\nlink set dev ens1f0v1 alias "netplugin host-device ens1f0v1"\nlink set dev ens1f0v1 netns /var/run/netns/c1\n');
    assert.ok(report.changes.some((c) => c.object === "host-device eth0 on ens1f0v1 (SR-IOV VF of ens1f0)"));
  });
});
