// Bandwidth limits of the OVS driver (OpenFlow meters) against a real, private Open vSwitch (userspace
// datapath) in a namespace standing in for the host: real TCP throughput (iperf3) through a limited endpoint
// both ways against an unlimited pair, a second run that changes nothing, a limit changed live (mod-meter), the
// meters put back after ovs-vswitchd restarted, and a removed limit taking its meters with it. Bands are broad:
// the machine is shared and noisy. Needs root, openvswitch-switch and iperf3; everything removed at the end.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { run } from "../../lib/process.js";
import { spawnIn, waitListening } from "../linux/testing/netns.js";
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

describe("OVS driver bandwidth limits (meters) on a private Open vSwitch", { skip }, () => {
  const P = `npq${randomBytes(2).toString("hex")}`;
  const testHost = new OvsTestHost(P);
  const ns = (c: string) => testHost.ns(c);
  let driver: OvsDatapath;

  const ep = (c: string, n: number, qos: EndpointQos): DesiredEndpoint => ({
    ...testHost.endpoint(c, n, { network: "blue", net24: "198.18.51", mac: `02:00:c6:12:33:0${n}` }),
    qos,
  });
  // c1 is limited (when asked), c2 serves iperf3, c3 is its unlimited client.
  const desired = (c1: EndpointQos): DesiredHost => ({
    prefix: P,
    tenants: [
      {
        name: "a",
        namespace: `${P}-t-a`,
        fwdMode: "bridge",
        networks: [{ name: "blue", bridge: "nba", subnet: "198.18.51.0/24", gateway: "198.18.51.254", ipv6Subnet: "", ipv6Gateway: "", mtu: 1450, routed: false, netfilter: false }],
        endpoints: [ep("c1", 1, c1), ep("c2", 2, NONE), ep("c3", 3, NONE)],
        policy: { ...emptyPolicy(), fwdMode: "bridge" },
        hostEndpoints: [],
      },
    ],
    host: { natOutbound: false },
  });

  const ofctl = (command: string, ...args: string[]) => testHost.ofctl(bridgeName(P), command, ...args);
  const ourMeters = async () => parseMeters(await ofctl("dump-meters")).filter((m) => isOurMeter(m.id));

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
  const within = (bps: number, limit: number, what: string) =>
    assert.ok(bps >= 0.3 * limit && bps <= 1.5 * limit, `${what}: ${(bps / 1e6).toFixed(1)} Mbit/s against a limit of ${limit / 1e6} Mbit/s`);

  before(async () => {
    ({ driver } = await testHost.start(["c1", "c2", "c3"], []));
    spawnIn(ns("c2"), ["iperf3", "-s", "-p", "5201"]);
    await waitListening(ns("c2"), 5201);
  });

  after(() => testHost.stop());

  it("limits what a container sends and receives to about its rates; an unlimited pair is far faster", async (t) => {
    const report = await driver.reconcile(desired({ egressBps: EGRESS, ingressBps: INGRESS, burstBytes: 0 }), { full: true });
    assert.deepEqual(report.errors, []);
    const meters = await ourMeters();
    assert.deepEqual(meters.map((m) => m.kbps).sort((a, b) => a - b), [INGRESS / 1000, EGRESS / 1000]);
    assert.ok(report.changes.some((c) => c.action === "create" && /^meter \d+ \(egress of endpoint blue-c1, 20000 kbit\/s/.test(c.object)), JSON.stringify(report.changes));
    const flows = await ofctl("dump-flows", "--no-stats");
    assert.equal(flows.split("\n").filter((l) => l.includes("actions=meter:")).length, 3, "two CLASSIFY flows and the delivery flow of c1");

    const sent = await measure("c1");
    const received = await measure("c1", true);
    const free = await measure("c3");
    t.diagnostic(`c1 sends ${(sent / 1e6).toFixed(1)} Mbit/s (limit 20), receives ${(received / 1e6).toFixed(1)} Mbit/s (limit 10); unlimited c3 → c2 ${(free / 1e6).toFixed(1)} Mbit/s`);
    within(sent, EGRESS, "c1 sends");
    within(received, INGRESS, "c1 receives");
    assert.ok(free > 5 * EGRESS, `unlimited c3 → c2: ${(free / 1e6).toFixed(1)} Mbit/s`);
  });

  it("a second run changes nothing", async () => {
    assert.deepEqual(await driver.reconcile(desired({ egressBps: EGRESS, ingressBps: INGRESS, burstBytes: 0 }), { full: true }), { changes: [], errors: [] });
  });

  it("a limit changed live is a mod-meter only, and takes effect", async (t) => {
    const report = await driver.reconcile(desired({ egressBps: 5_000_000, ingressBps: INGRESS, burstBytes: 0 }), { full: false });
    assert.deepEqual(report.errors, []);
    assert.deepEqual(report.changes.map((c) => `${c.action} ${c.object.replace(/^meter \d+/, "meter N")}`), ["update meter N (egress of endpoint blue-c1, 5000 kbit/s, burst 1250 kbit)"]);
    const sent = await measure("c1");
    t.diagnostic(`c1 sends ${(sent / 1e6).toFixed(1)} Mbit/s (limit 5)`);
    within(sent, 5_000_000, "c1 sends after the change");
  });

  it("after ovs-vswitchd restarted (no meters, no flows) the next run puts both back", async () => {
    await testHost.ovs!.restartSwitch();
    const report = await driver.reconcile(desired({ egressBps: 5_000_000, ingressBps: INGRESS, burstBytes: 0 }), { full: false });
    assert.deepEqual(report.errors, []);
    assert.deepEqual(report.changes.map((c) => c.action).sort(), ["create", "create", "update"]);
    assert.equal((await ourMeters()).length, 2);
  });

  it("removing the limits removes the meters and their flows' meter actions", async (t) => {
    const report = await driver.reconcile(desired(NONE), { full: false });
    assert.deepEqual(report.errors, []);
    assert.deepEqual(report.changes.map((c) => c.action).sort(), ["delete", "delete", "update"]);
    assert.deepEqual(await ourMeters(), []);
    assert.ok(!(await ofctl("dump-flows", "--no-stats")).includes("meter:"));
    const sent = await measure("c1");
    t.diagnostic(`c1 sends ${(sent / 1e6).toFixed(1)} Mbit/s unlimited`);
    assert.ok(sent > 5 * EGRESS, `c1 unlimited: ${(sent / 1e6).toFixed(1)} Mbit/s`);
  });
});
