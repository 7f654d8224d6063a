// Bandwidth limits of the OVS driver against a real, private Open vSwitch (userspace datapath) in a namespace
// standing in for the host: real TCP throughput (iperf3) through limited endpoints both ways against an unlimited
// pair. A container whose side is ours (CNI) is shaped both ways by tbf (its bridge-side end for what it receives,
// its own interface for what it sends) and held within 15% as the e2e suite asks; a runtime's container (Docker's
// side, configured here as Docker would) receives through a tbf and sends through a meter (a policer: a broader
// band). Also: a second run and a restarted agent change nothing, limits changed live, a shaper removed behind our
// back put back, the shapers surviving an ovs-vswitchd restart (the ports' linux-noop QoS) and the meter put back,
// and removed limits taking their qdiscs and meter with them. Needs root, openvswitch-switch and iperf3;
// everything removed at the end.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { run } from "../../lib/process.js";
import { exec, spawnIn, waitListening } from "../linux/testing/netns.js";
import { emptyPolicy } from "../testing/desired.js";
import type { DesiredEndpoint, DesiredHost, EndpointQos } from "../types.js";
import type { OvsDatapath } from "./driver.js";
import { isOurMeter, parseMeters } from "./meters.js";
import { needsOvs, OvsTestHost } from "./testing/ovs-host.js";
import { bridgeName } from "./render.js";

const skip = needsOvs || ((await run(["iperf3", "--version"])).code !== 0 && "iperf3 is not installed");

const NONE: EndpointQos = { egressBps: 0, ingressBps: 0, burstBytes: 0 };
const EGRESS = 20_000_000;
const INGRESS = 10_000_000;
const LIMITED: EndpointQos = { egressBps: EGRESS, ingressBps: INGRESS, burstBytes: 0 };

describe("OVS driver bandwidth limits (tbf shapers, a meter for a runtime's side) on a private Open vSwitch", { skip }, () => {
  const P = `npq${randomBytes(2).toString("hex")}`;
  const testHost = new OvsTestHost(P);
  const ns = (c: string) => testHost.ns(c);
  let driver: OvsDatapath;

  const ep = (c: string, n: number, qos: EndpointQos, containerSide: "ours" | "runtime" = "ours"): DesiredEndpoint => ({
    ...testHost.endpoint(c, n, { network: "blue", net24: "198.18.51", mac: `02:00:c6:12:33:0${n}` }),
    containerSide,
    qos,
  });
  const hostLink = (c: string) => testHost.endpoint(c, 0, { network: "blue", net24: "198.18.51", mac: "" }).hostLink;
  // c1 (ours) and c4 (a runtime's) are limited when asked, c2 serves iperf3, c3 is its unlimited client.
  const desired = (c1: EndpointQos, c4: EndpointQos = c1): DesiredHost => ({
    prefix: P,
    tenants: [
      {
        name: "a",
        namespace: `${P}-t-a`,
        fwdMode: "bridge",
        networks: [{ name: "blue", bridge: "nba", subnet: "198.18.51.0/24", gateway: "198.18.51.254", ipv6Subnet: "", ipv6Gateway: "", mtu: 1450, routed: false, netfilter: false }],
        endpoints: [ep("c1", 1, c1), ep("c2", 2, NONE), ep("c3", 3, NONE), ep("c4", 4, c4, "runtime")],
        policy: { ...emptyPolicy(), fwdMode: "bridge" },
        hostEndpoints: [],
      },
    ],
    host: { natOutbound: false },
  });

  const ofctl = (command: string, ...args: string[]) => testHost.ofctl(bridgeName(P), command, ...args);
  const ourMeters = async () => parseMeters(await ofctl("dump-meters")).filter((m) => isOurMeter(m.id));
  /** The root qdisc of a container's bridge-side end ("host") or of its eth0 ("container"), as `tc qdisc show` prints it. */
  const root = async (c: string, side: "host" | "container") => {
    const argv = side === "host" ? ["tc", "-n", testHost.host, "qdisc", "show", "dev", hostLink(c), "root"] : ["tc", "-n", ns(c), "qdisc", "show", "dev", "eth0", "root"];
    return (await exec.run(argv)).trim();
  };
  const actions = (r: { changes: { action: string; object: string }[] }) => r.changes.map((c) => `${c.action} ${c.object.replace(new RegExp(`${P}|${hostLink("c1")}|${hostLink("c4")}`, "g"), (m) => (m === P ? "P" : m === hostLink("c1") ? "HL1" : "HL4")).replace(/^meter \d+/, "meter N").replace(/\((\d+) of (\d+) changed\)/, (_, a: string, b: string) => (a === b ? "(all changed)" : `(${a} of M changed)`))}`).sort();

  /** TCP throughput in bit/s from `c` to c2 (reverse: c2 → c), 3 s; iperf3's "busy" server is asked again. */
  async function measure(c: string, reverse = false): Promise<number> {
    const argv = ["iperf3", "-c", "198.18.51.2", "-p", "5201", "-t", "3", "-J", ...(reverse ? ["-R"] : [])];
    for (let attempt = 1; ; attempt++) {
      const { stdout } = await run(argv, { netns: ns(c), timeoutMs: 20_000 });
      let report: { error?: string; end?: { sum_received?: { bits_per_second: number } } };
      try {
        report = JSON.parse(stdout) as typeof report;
      } catch {
        report = { error: `no JSON: ${stdout.slice(0, 200)}` };
      }
      const bps = report.end?.sum_received?.bits_per_second;
      if (bps !== undefined && report.error === undefined) return bps;
      if (attempt >= 5) throw new Error(`iperf3 from ${c}${reverse ? " -R" : ""} failed 5 times, last: ${report.error}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
  const mbit = (bps: number) => `${(bps / 1e6).toFixed(1)} Mbit/s`;
  /** A shaped direction: within 15% of the limit, what the e2e suite asks of both drivers. */
  const shaped = (bps: number, limit: number, what: string) =>
    assert.ok(Math.abs(bps - limit) / limit <= 0.15, `${what}: ${mbit(bps)} against a limit of ${limit / 1e6} Mbit/s (±15%)`);
  /** A metered direction: a policer, below the limit and not far below. */
  const metered = (bps: number, limit: number, what: string) =>
    assert.ok(bps >= 0.5 * limit && bps <= 1.15 * limit, `${what}: ${mbit(bps)} against a limit of ${limit / 1e6} Mbit/s (metered: 50%..115%)`);

  before(async () => {
    ({ driver } = await testHost.start(["c1", "c2", "c3", "c4"], []));
    spawnIn(ns("c2"), ["iperf3", "-s", "-p", "5201"]);
    await waitListening(ns("c2"), 5201);
  });

  after(() => testHost.stop());

  it("shapes what a CNI container sends and receives, and what a runtime's receives, within 15%; meters what the runtime's sends", async (t) => {
    const report = await driver.reconcile(desired(LIMITED), { full: true });
    assert.deepEqual(report.errors, []);
    // The runtime's side is configured by the runtime (Docker), here by the test.
    await exec.run(["ip", "-n", ns("c4"), "-batch", "-"], { stdin: "addr add 198.18.51.4/24 dev eth0\nlink set eth0 up\n" });
    const created = actions(report).filter((a) => /tbf|meter/.test(a));
    assert.deepEqual(created, [
      "create meter N (what endpoint blue-c4 sends, 20000 kbit/s, burst 5000 kbit)",
      "create tbf on HL1 (10000000 bit/s, burst 12500 B)",
      "create tbf on HL4 (10000000 bit/s, burst 12500 B)",
      `create tbf on eth0 in /var/run/netns/P-c1 (20000000 bit/s, burst 25000 B)`,
    ]);
    assert.match(await root("c1", "host"), /^qdisc tbf 1: root .*rate 10Mbit .*lat 50ms/);
    assert.match(await root("c1", "container"), /^qdisc tbf 1: root .*rate 20Mbit .*lat 50ms/);
    assert.match(await root("c4", "host"), /^qdisc tbf 1: root .*rate 10Mbit/);
    assert.match(await root("c4", "container"), /^qdisc noqueue/, "a runtime's side is left alone");
    assert.match(await root("c3", "host"), /^qdisc noqueue/);
    assert.deepEqual((await ourMeters()).map((m) => m.kbps), [EGRESS / 1000]);
    const flows = await ofctl("dump-flows", "--no-stats");
    assert.equal(flows.split("\n").filter((l) => l.includes("actions=meter:")).length, 2, "the two CLASSIFY flows of c4");

    const sent = await measure("c1");
    const received = await measure("c1", true);
    const runtimeSent = await measure("c4");
    const runtimeReceived = await measure("c4", true);
    const free = await measure("c3");
    t.diagnostic(`c1 sends ${mbit(sent)} (limit 20, tbf), receives ${mbit(received)} (limit 10, tbf); c4 sends ${mbit(runtimeSent)} (limit 20, meter), receives ${mbit(runtimeReceived)} (limit 10, tbf); unlimited c3 → c2 ${mbit(free)}`);
    shaped(sent, EGRESS, "c1 sends");
    shaped(received, INGRESS, "c1 receives");
    shaped(runtimeReceived, INGRESS, "c4 receives");
    metered(runtimeSent, EGRESS, "c4 sends");
    assert.ok(free > 5 * EGRESS, `unlimited c3 → c2: ${mbit(free)}`);
  });

  it("a second run and a restarted agent change nothing", async () => {
    assert.deepEqual(await driver.reconcile(desired(LIMITED), { full: true }), { changes: [], errors: [] });
    assert.deepEqual(await driver.reconcile(desired(LIMITED), { full: false }), { changes: [], errors: [] });
    const restarted = testHost.newDriver();
    assert.deepEqual(await restarted.reconcile(desired(LIMITED), { full: true }), { changes: [], errors: [] });
    assert.deepEqual(await restarted.reconcile(desired(LIMITED), { full: false }), { changes: [], errors: [] });
  });

  it("a port without the linux-noop QoS (made by an earlier version) gets it back on a full run", async () => {
    const vsctl = (...args: string[]) => exec.run(["ovs-vsctl", `--db=${testHost.ovs!.db}`, ...args]);
    await vsctl("clear", "port", hostLink("c3"), "qos");
    assert.deepEqual(await driver.reconcile(desired(LIMITED), { full: false }), { changes: [], errors: [] });
    const report = await driver.reconcile(desired(LIMITED), { full: true });
    assert.deepEqual(report, { changes: [{ namespace: "host", action: "update", object: `qos of port ${hostLink("c3")} (linux-noop)` }], errors: [] });
    const qos = (c: string) => vsctl("get", "port", hostLink(c), "qos");
    assert.equal(await qos("c3"), await qos("c1"));
    assert.equal((await vsctl("get", "qos", (await qos("c1")).trim(), "type")).trim(), "linux-noop");
  });

  it("limits changed live are applied in place (tc replace, mod-meter), and take effect", async (t) => {
    const c1 = { egressBps: 5_000_000, ingressBps: 20_000_000, burstBytes: 0 };
    const report = await driver.reconcile(desired(c1, { ...LIMITED, egressBps: 10_000_000 }), { full: false });
    assert.deepEqual(report.errors, []);
    assert.deepEqual(actions(report), [
      "update meter N (what endpoint blue-c4 sends, 10000 kbit/s, burst 2500 kbit)",
      "update tbf on HL1 (20000000 bit/s, burst 25000 B)",
      `update tbf on eth0 in /var/run/netns/P-c1 (5000000 bit/s, burst 6250 B)`,
    ]);
    const sent = await measure("c1");
    const received = await measure("c1", true);
    t.diagnostic(`c1 sends ${mbit(sent)} (limit 5), receives ${mbit(received)} (limit 20)`);
    shaped(sent, 5_000_000, "c1 sends after the change");
    shaped(received, 20_000_000, "c1 receives after the change");
  });

  it("a shaper deleted behind our back is put back: on the bridge side by any run, in the container by a full run", async () => {
    const c1 = { egressBps: 5_000_000, ingressBps: 20_000_000, burstBytes: 0 };
    const c4 = { ...LIMITED, egressBps: 10_000_000 };
    await exec.run(["tc", "-n", testHost.host, "qdisc", "del", "dev", hostLink("c1"), "root"]);
    await exec.run(["tc", "-n", ns("c1"), "qdisc", "del", "dev", "eth0", "root"]);
    assert.deepEqual(actions(await driver.reconcile(desired(c1, c4), { full: false })), ["create tbf on HL1 (20000000 bit/s, burst 25000 B)"]);
    assert.deepEqual(actions(await driver.reconcile(desired(c1, c4), { full: true })), [`create tbf on eth0 in /var/run/netns/P-c1 (5000000 bit/s, burst 6250 B)`]);
    assert.match(await root("c1", "container"), /^qdisc tbf 1: root .*rate 5Mbit/);
  });

  it("after ovs-vswitchd restarted, the shapers are still there (linux-noop QoS) and the next run puts back the flows and the meter", async (t) => {
    const c1 = { egressBps: 5_000_000, ingressBps: 20_000_000, burstBytes: 0 };
    const c4 = { ...LIMITED, egressBps: 10_000_000 };
    await testHost.ovs!.restartSwitch();
    assert.match(await root("c1", "host"), /^qdisc tbf 1: root .*rate 20Mbit/);
    assert.match(await root("c4", "host"), /^qdisc tbf 1: root .*rate 10Mbit/);
    const report = await driver.reconcile(desired(c1, c4), { full: false });
    assert.deepEqual(report.errors, []);
    assert.deepEqual(actions(report), ["create meter N (what endpoint blue-c4 sends, 10000 kbit/s, burst 2500 kbit)", "update flows of P-br (all changed)"]);
    const received = await measure("c1", true);
    t.diagnostic(`c1 receives ${mbit(received)} (limit 20) after the restart`);
    shaped(received, 20_000_000, "c1 receives after ovs-vswitchd restarted");
  });

  it("removing the limits removes the qdiscs, the meter and its flows' meter actions", async (t) => {
    const report = await driver.reconcile(desired(NONE), { full: false });
    assert.deepEqual(report.errors, []);
    assert.deepEqual(actions(report), [
      "delete meter N",
      "delete tbf on HL1",
      "delete tbf on HL4",
      "delete tbf on eth0 in /var/run/netns/P-c1",
      "update flows of P-br (4 of M changed)",
    ]);
    assert.deepEqual(await ourMeters(), []);
    assert.ok(!(await ofctl("dump-flows", "--no-stats")).includes("meter:"));
    for (const c of ["c1", "c4"]) assert.match(await root(c, "host"), /^qdisc noqueue/);
    assert.match(await root("c1", "container"), /^qdisc noqueue/);
    const sent = await measure("c1");
    const received = await measure("c1", true);
    t.diagnostic(`c1 sends ${mbit(sent)}, receives ${mbit(received)} unlimited`);
    assert.ok(sent > 5 * EGRESS && received > 5 * EGRESS, `c1 unlimited: sends ${mbit(sent)}, receives ${mbit(received)}`);
    assert.deepEqual(await driver.reconcile(desired(NONE), { full: true }), { changes: [], errors: [] });
  });
});
