// The driver against the real kernel, with real traffic, entirely inside network namespaces
// this test creates. Every namespace carries a per-run prefix ("npt" + 4 hex) and is removed
// in after() even when a test fails. Needs root; skipped otherwise.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";

import { bridgeName, endpointLinkName, tenantNamespace, UPLINK_TENANT_LINK, uplinkHostLink } from "../names.js";
import type { DesiredEndpoint, DesiredHost, DesiredNetwork, DesiredTenant } from "../types.js";
import { run } from "../../lib/process.js";
import { ifbName } from "./addr.js";
import { LinuxDatapath } from "./driver.js";
import { probeFeatures } from "./features.js";
import { parseLinks, parseQdiscs } from "./parse.js";
import { emptyPolicy } from "../testing/desired.js";
import { addTestNamespaces, exec, PROBE, probe as probeIn, removeTestState, spawnIn, tcp as tcpIn, waitListening } from "./testing/netns.js";

const isRoot = process.getuid?.() === 0;
const P = `npt${randomBytes(2).toString("hex")}`;
const PORT = 7007;

const containerNs = (name: string): string => `${P}-c-${name}`;
/**
 * Stands in for the agent's own namespace, so nothing of this test is ever made in the machine's. Not
 * "<P>-…": cleanup(P) must not remove it before it cleans up inside it.
 */
const HOST_NS = `${P}host`;
const nsA = tenantNamespace(P, "a");
const nsB = tenantNamespace(P, "b");
const nsR = tenantNamespace(P, "r");

function net(name: string, third: number): DesiredNetwork {
  return {
    name,
    bridge: bridgeName(name),
    subnet: `198.18.${third}.0/24`,
    gateway: `198.18.${third}.254`,
    ipv6Subnet: `fd00:${third}::/64`,
    ipv6Gateway: `fd00:${third}::fe`,
    mtu: 1450,
    routed: false,
    // Both settings exist on this machine's kernel after the first run, and are observed back as made.
    netfilter: third === 1,
  };
}

function ep(container: string, network: string, third: number, host: number, macByte: string): DesiredEndpoint {
  return {
    id: `${P}-${container}`,
    network,
    hostLink: endpointLinkName(`${P}-${container}`),
    netns: `/var/run/netns/${containerNs(container)}`,
    ifname: "eth0",
    mac: `02:00:00:00:${macByte}:${String(host).padStart(2, "0")}`,
    ipv4: `198.18.${third}.${host}/24`,
    ipv6: `fd00:${third}::${host}/64`,
    gateway: `198.18.${third}.254`,
    ipv6Gateway: `fd00:${third}::fe`,
    mtu: 1450,
    qos: { egressBps: 0, ingressBps: 0, burstBytes: 0 },
  };
}

function tenant(name: string, fwdMode: DesiredTenant["fwdMode"], networks: DesiredNetwork[], endpoints: DesiredEndpoint[]): DesiredTenant {
  return { name, namespace: tenantNamespace(P, name), fwdMode, networks, endpoints, policy: emptyPolicy(), hostEndpoints: [] };
}

/** Tenants a and b: the same network name and subnet, apart; tenant r routes between two networks. */
function desired(): DesiredHost {
  return {
    prefix: P,
    tenants: [
      tenant("a", "bridge", [net("blue", 1)], [ep("a1", "blue", 1, 1, "a0"), ep("a2", "blue", 1, 2, "a0")]),
      tenant("b", "bridge", [net("blue", 1)], [ep("b1", "blue", 1, 1, "b0"), ep("b3", "blue", 1, 3, "b0")]),
      tenant("r", "routing", [net("red", 1), net("green", 2)], [ep("r1", "red", 1, 1, "c0"), ep("r2", "green", 2, 1, "c0")]),
    ],
    host: { natOutbound: false },
  };
}

/** netprobe from a container. */
function probe(container: string, ...args: Array<string | number>): Promise<Record<string, unknown>> {
  return probeIn(containerNs(container), ...args);
}

/** TCP to addr:PORT from a container: "reply" + the server's tag, "refused" (a RST came back), or "timeout". */
function tcp(container: string, address: string): Promise<string> {
  return tcpIn(containerNs(container), address, PORT, 800);
}

function startServer(container: string, argv: string[], readyText: string): Promise<void> {
  const child = spawnIn(containerNs(container), argv);
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d) => {
      out += d;
      if (out.includes(readyText)) resolve();
    });
    child.on("exit", (code) => reject(new Error(`server in ${container} exited ${code}`)));
  });
}

async function links(ns: string): Promise<string[]> {
  const argv = ["ip", "-n", ns, "-json", "-d", "link", "show"];
  return parseLinks(await exec.run(argv), argv).map((l) => l.ifname);
}

describe("LinuxDatapath in network namespaces", { skip: isRoot ? false : "needs root" }, () => {
  let dp = new LinuxDatapath(exec, { hostNamespace: HOST_NS });
  const containers = ["a1", "a2", "b1", "b3", "r1", "r2"];

  before(async () => {
    await addTestNamespaces(HOST_NS, containers.map(containerNs));
  });

  after(() => removeTestState(dp, P));

  it("finds every kernel feature it needs, and leaves no probe namespace behind", async () => {
    await probeFeatures(exec, P);
    assert.equal((await exec.run(["ip", "netns", "list"])).includes(`${P}-probe`), false);
  });

  it("reconciles three tenants from nothing, and a second reconcile plans nothing", async () => {
    const report = await dp.reconcile(desired());
    assert.deepEqual(report.errors, []);
    assert.ok(report.changes.length > 40, `changes: ${report.changes.length}`);
    const plan = await dp.plan(desired());
    assert.deepEqual(plan, { steps: [], problems: [] });
    for (const c of ["a1", "a2", "b3", "r2"]) await startServer(c, [process.execPath, PROBE, "serve", c, String(PORT)], "ready");
  });

  it("connects the endpoints of a tenant both ways, over IPv4 and IPv6, and to the gateways", async () => {
    assert.equal(await tcp("a1", "198.18.1.2"), "reply a2");
    assert.equal(await tcp("a2", "198.18.1.1"), "reply a1");
    assert.equal(await tcp("a1", "fd00:1::2"), "reply a2");
    assert.equal(await tcp("a2", "fd00:1::1"), "reply a1");
    // The gateway has no listener: a RST is the proof of a round trip.
    assert.equal(await tcp("a1", "198.18.1.254"), "refused");
    assert.equal(await tcp("a1", "fd00:1::fe"), "refused");
  });

  it("keeps tenants with the same subnet apart", async () => {
    assert.equal(await tcp("b1", "198.18.1.3"), "reply b3");
    assert.equal(await tcp("a1", "198.18.1.3"), "timeout", "198.18.1.3 exists only in tenant b");
    assert.equal(await tcp("b1", "198.18.1.2"), "timeout", "198.18.1.2 exists only in tenant a");
    const udp = await probe("a1", "udp", "198.18.1.2", PORT, 20, 5);
    assert.deepEqual(udp.tags, ["a2"]);
  });

  it("routes between the networks of a routing tenant, and not in bridge mode", async () => {
    assert.equal(await tcp("r1", "198.18.2.1"), "reply r2");
    assert.equal(await tcp("r1", "fd00:2::1"), "reply r2");
    const bridged = desired();
    bridged.tenants[2]!.fwdMode = "bridge";
    const report = await dp.reconcile(bridged);
    assert.deepEqual(report.errors, []);
    assert.deepEqual(report.changes.map((c) => `${c.namespace} ${c.phase}`), [`${nsR} sysctl`]);
    assert.equal(await tcp("r1", "198.18.2.1"), "timeout");
    assert.equal(await tcp("r1", "198.18.1.254"), "refused", "its own gateway still answers");
    await dp.reconcile(desired());
    assert.equal(await tcp("r1", "198.18.2.1"), "reply r2");
  });

  it("gives bridge-mode and routing tenants an uplink to the agent's namespace; a bridge-mode tenant still does not route", async () => {
    const up = desired();
    const uplink = (tenantName: string, third: number): DesiredTenant["uplink"] => ({
      hostLink: uplinkHostLink(P, tenantName),
      tenantLink: UPLINK_TENANT_LINK,
      hostAddr: `169.254.0.${third}/30`,
      tenantAddr: `169.254.0.${third + 1}/30`,
      routes: [],
    });
    up.tenants[0]!.uplink = uplink("a", 1);
    up.tenants[2]!.uplink = uplink("r", 5);
    up.tenants[2]!.fwdMode = "bridge";
    const report = await dp.reconcile(up);
    assert.deepEqual(report.errors, []);
    assert.deepEqual((await dp.plan(up)).steps, []);
    // Bridged traffic passes the uplink table's forward chain (bridge as input and output).
    assert.equal(await tcp("a1", "198.18.1.2"), "reply a2");
    // Through the uplink to the agent's namespace: no listener there, a RST is the round trip.
    assert.equal(await tcp("a1", "169.254.0.1"), "refused");
    assert.equal(await tcp("r1", "169.254.0.5"), "refused");
    // Forwarding is on in r for its uplink, yet its two bridges are not routed.
    assert.equal(await tcp("r1", "198.18.2.1"), "timeout");
    const back = await dp.reconcile(desired());
    assert.deepEqual(back.errors, []);
    assert.deepEqual(await links(HOST_NS), ["lo"], "the agent-side ends went with the tenant ends");
    assert.equal(await tcp("r1", "198.18.2.1"), "reply r2");
  });

  it("loses no packet and no connection when the same state is reconciled again, also after a restart", async () => {
    const flood = probe("a1", "udp", "198.18.1.2", PORT, 1500, 1);
    const held = probe("a1", "hold", "198.18.1.2", PORT, 100, 15);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const again = await dp.reconcile(desired());
    assert.deepEqual([again.changes, again.errors], [[], []]);
    dp = new LinuxDatapath(exec, { hostNamespace: HOST_NS }); // a restarted agent: no memory of what it applied
    const restarted = await dp.reconcile(desired());
    assert.deepEqual(restarted.errors, []);
    // The only thing re-done is the nft script, one atomic transaction per tenant.
    assert.deepEqual(restarted.changes.map((c) => `${c.namespace} ${c.phase} ${c.action}`).sort(), [
      `${nsA} nft update`,
      `${nsB} nft update`,
      `${nsR} nft update`,
    ]);
    const [udp, tcpHeld] = await Promise.all([flood, held]);
    assert.deepEqual([udp.sent, udp.lost], [1500, 0]);
    assert.deepEqual(tcpHeld, { sent: 100, received: 100, error: null });
    assert.deepEqual((await dp.plan(desired())).steps, []);
  });

  it("shapes an endpoint's traffic both ways with tc, and removes the shapers at rate 0", async (t) => {
    const shaped = desired();
    shaped.tenants[0]!.endpoints[0]!.qos = { egressBps: 8_000_000, ingressBps: 4_000_000, burstBytes: 0 };
    const report = await dp.reconcile(shaped);
    assert.deepEqual(report.errors, []);
    assert.deepEqual((await dp.plan(shaped)).steps, [], "tc's read-back of rate and burst matches");
    const hostLink = shaped.tenants[0]!.endpoints[0]!.hostLink;
    const argv = ["tc", "-n", nsA, "-json", "qdisc", "show"];
    const qdiscs = parseQdiscs(await exec.run(argv), argv);
    assert.deepEqual(qdiscs.find((q) => q.dev === hostLink && q.root)?.shaper?.rateBytes, 500_000);
    assert.ok(qdiscs.some((q) => q.dev === hostLink && q.kind === "ingress"));
    assert.deepEqual(qdiscs.find((q) => q.dev === ifbName(hostLink))?.shaper?.rateBytes, 1_000_000);

    // Real throughput through the shapers (TCP, 2 s each way).
    spawnIn(containerNs("a2"), ["iperf3", "-s", "-p", "5201"]);
    await waitListening(containerNs("a2"), 5201);
    // iperf3's server refuses a run now and then right after the previous one ("busy"): a run that reports an
    // error is tried again.
    const measure = async (reverse: boolean): Promise<number> => {
      const argv = ["iperf3", "-c", "198.18.1.2", "-p", "5201", "-t", "2", "-J", ...(reverse ? ["-R"] : [])];
      for (let attempt = 1; ; attempt++) {
        const { stdout: out, stderr: err } = await run(argv, { netns: containerNs("a1"), timeoutMs: 15_000 });
        let report: { error?: string; end?: { sum_received?: { bits_per_second: number } } };
        try {
          report = JSON.parse(out) as typeof report;
        } catch {
          report = { error: `no JSON: ${out.slice(0, 200)} ${err.slice(0, 200)}` };
        }
        const bps = report.end?.sum_received?.bits_per_second;
        if (bps !== undefined && report.error === undefined) return bps;
        if (attempt >= 5) throw new Error(`iperf3 ${reverse ? "-R " : ""}failed 5 times, last: ${report.error ?? out.slice(0, 200)}`);
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    };
    const sent = await measure(false);
    const received = await measure(true);
    t.diagnostic(`container egress ${Math.round(sent)} bit/s (limit 8e6), ingress ${Math.round(received)} bit/s (limit 4e6)`);
    assert.ok(Math.abs(sent / 8_000_000 - 1) < 0.15, `container egress ${Math.round(sent)} bit/s, limit 8 Mbit/s`);
    assert.ok(Math.abs(received / 4_000_000 - 1) < 0.15, `container ingress ${Math.round(received)} bit/s, limit 4 Mbit/s`);

    const cleared = await dp.reconcile(desired());
    assert.deepEqual(cleared.errors, []);
    const after = parseQdiscs(await exec.run(argv), argv);
    assert.ok(!after.some((q) => (q.dev === hostLink && q.kind !== "noqueue") || q.dev === ifbName(hostLink)), JSON.stringify(after));
    assert.ok(!(await links(nsA)).includes(ifbName(hostLink)));
  });

  it("removes an endpoint, and a tenant, that are no longer wanted", async () => {
    const fewer = desired();
    const a2 = fewer.tenants[0]!.endpoints.pop()!;
    fewer.tenants.splice(1, 1); // tenant b
    const report = await dp.reconcile(fewer);
    assert.deepEqual(report.errors, []);
    const b = desired().tenants[1]!.endpoints.map((e) => e.hostLink);
    assert.deepEqual(
      report.changes.map((c) => `${c.action} ${c.object}`).sort(),
      [
        `delete namespace ${nsB}`,
        `delete veth ${a2.hostLink}`,
        `delete veth ${b[0]}`,
        `delete veth ${b[1]}`,
        "delete links marked for deletion",
        "delete links marked for deletion",
      ].sort(),
    );
    assert.ok(!(await links(nsA)).includes(a2.hostLink));
    assert.deepEqual(await links(containerNs("a2")), ["lo"]);
    assert.deepEqual(await links(containerNs("b1")), ["lo"]);
    assert.equal((await exec.run(["ip", "netns", "list"])).includes(nsB), false);
    assert.equal(await tcp("a1", "198.18.1.254"), "refused", "the rest of tenant a is untouched");
  });

  it("reports an endpoint whose container namespace is gone and applies the rest", async () => {
    assert.deepEqual((await dp.reconcile(desired())).errors, [], "everything back");
    const ghost = desired();
    ghost.tenants[0]!.endpoints.push(ep("ghost", "blue", 1, 9, "a0"));
    ghost.tenants[0]!.policy = {
      ...emptyPolicy(),
      groups: [{ id: 1, name: "g", ipv4: ["198.18.1.99"], ipv6: [], dscp: 0 }],
      rules: [{ key: "a:p:1", groupId: 1, direction: "in", priority: 1, action: "deny", protocol: 6, port: 9 }],
    };
    const report = await dp.reconcile(ghost);
    assert.deepEqual(report.errors.map((e) => [e.owner, e.objects]), [[{ tenant: "a", network: "blue", endpoint: `${P}-ghost` }, [`endpoint ${P}-ghost`]]]);
    assert.match(report.errors[0]!.message, /does not exist/);
    assert.deepEqual(report.changes.map((c) => c.object), ["nft table inet netplugin"]);
  });

  it("cleanup removes every namespace carrying the prefix", async () => {
    const removed = await dp.cleanup(P);
    assert.ok(removed.includes(`namespace ${nsA}`) && removed.includes(`namespace ${nsR}`), removed.join(", "));
    const left = await exec.run(["ip", "netns", "list"]);
    assert.equal(left.includes(`${P}-`), false, left);
    assert.deepEqual(await dp.cleanup(P), []);
  });
});
