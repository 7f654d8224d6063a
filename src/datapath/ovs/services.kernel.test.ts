// Service load balancing of the OVS driver against a real, private Open vSwitch (userspace datapath) in a
// namespace standing in for the host: a client container reaches a VIP's port and gets both providers over
// several connections, replies come from the VIP (conntrack shows the DNAT), UDP too; the VIP answers ARP and
// ping; a service without providers refuses at once (TCP reset, ICMP port unreachable: the gateway namespace, where
// the VIP is a local address, refuses what the flows could not balance), and so does a port the service does not
// have; a provider balanced to itself (hairpin) gets its connection, from the gateway; a provider's deny rule holds for connections through the VIP (the
// policy sees the provider's address); the groups come back after ovs-vswitchd restarts and go with the
// service. Needs root and openvswitch-switch. Per-run names in 198.18.0.0/15; everything removed at the end.

import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { run } from "../../lib/process.js";
import type { PolicyInput } from "../../policy/index.js";
import { ping, probe, tcp } from "../linux/testing/netns.js";
import type { DesiredEndpoint, DesiredHost, DesiredService } from "../types.js";
import type { OvsDatapath } from "./driver.js";
import { ourGroupIds } from "./groups.js";
import type { PrivateOvs } from "./private-ovs.js";
import { needsOvs, OvsTestHost } from "./testing/ovs-host.js";

const LBPROBE = fileURLToPath(new URL("../linux/testing/lbprobe.js", import.meta.url));

interface Tally {
  answers: Record<string, number>;
  peers: Record<string, number>;
  refused: number;
  timeout: number;
  error: number;
}

describe("OVS driver: service load balancing on a private Open vSwitch", { skip: needsOvs }, () => {
  const P = `nps${randomBytes(2).toString("hex")}`;
  const testHost = new OvsTestHost(P);
  const ns = (c: string) => testHost.ns(c);
  const VIP = "198.18.60.100";
  const EMPTY_VIP = "198.18.60.101";
  let ovs: PrivateOvs;
  let driver: OvsDatapath;

  const ep = (c: string, n: number): DesiredEndpoint => testHost.endpoint(c, n, { network: "blue", net24: "198.18.60", mac: `02:00:c6:12:3c:0${n}` });
  const web: DesiredService = {
    name: "web",
    network: "blue",
    vip: VIP,
    vip6: "",
    ports: [
      { protocol: "tcp", port: 80, targetPort: 8080 },
      { protocol: "udp", port: 5353, targetPort: 8080 },
    ],
    providers: [
      { endpoint: "blue-p2", ipv4: "198.18.60.2", ipv6: "" },
      { endpoint: "blue-p3", ipv4: "198.18.60.3", ipv6: "" },
    ],
  };
  const empty: DesiredService = { name: "empty", network: "blue", vip: EMPTY_VIP, vip6: "", ports: [{ protocol: "tcp", port: 80, targetPort: 8080 }], providers: [] };
  const noPolicy = (): PolicyInput => ({ fwdMode: "bridge", networks: [], groups: [], rules: [] });
  // p3 takes no TCP to 8080: its provider port, so the rule holds only if the policy judges after the DNAT.
  const denyP3 = (): PolicyInput => ({
    fwdMode: "bridge",
    networks: [],
    groups: [{ id: 1, name: "p3", ipv4: ["198.18.60.3"], ipv6: [], dscp: 0 }],
    rules: [{ key: "a:p:deny-8080", groupId: 1, direction: "in", priority: 1, action: "deny", protocol: 6, port: 8080 }],
  });
  const desired = (services: DesiredService[], policy = noPolicy(), endpoints = [ep("c1", 1), ep("p2", 2), ep("p3", 3)]): DesiredHost => ({
    prefix: P,
    tenants: [
      {
        name: "a",
        namespace: `${P}-t-a`,
        fwdMode: "bridge",
        networks: [{ name: "blue", bridge: "nbsvc", subnet: "198.18.60.0/24", gateway: "198.18.60.254", ipv6Subnet: "", ipv6Gateway: "", mtu: 1450, routed: false, netfilter: false }],
        endpoints,
        policy,
        hostEndpoints: [],
        services,
      },
    ],
    host: { natOutbound: false },
  });
  const appctl = (args: string[]) => run(["ovs-appctl", "-t", path.join(ovs.dir, "ovs-vswitchd.ctl"), ...args], { env: { ...process.env, ...ovs.env } });
  const groupIds = async () => ourGroupIds((await run(["ovs-ofctl", "-O", "OpenFlow15", "dump-groups", `unix:${ovs.dir}/${P}-br.mgmt`])).stdout);
  /** `tcp` to the VIP's port `count` times: how often each answer came. */
  async function spread(count: number, vip = VIP): Promise<Map<string, number>> {
    const seen = new Map<string, number>();
    for (let i = 0; i < count; i++) {
      const r = await tcp(ns("c1"), vip, 80);
      seen.set(r, (seen.get(r) ?? 0) + 1);
    }
    return seen;
  }

  /** lbprobe `kind` (tcp, udp) from a container: a tally. */
  async function lbprobe(from: string, kind: "tcp" | "udp", address: string, port: number, count: number, timeoutMs: number, sourcePort?: number): Promise<Tally> {
    const extra = sourcePort === undefined ? [] : [String(sourcePort)];
    const r = await run([process.execPath, LBPROBE, kind, address, String(port), String(count), String(timeoutMs), ...extra], { netns: ns(from), timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout.trim().split("\n").pop()!) as Tally;
  }
  const hairpin: DesiredService = { ...web, name: "hairpin", vip: "198.18.60.102", ports: [{ protocol: "tcp", port: 80, targetPort: 9090 }], providers: [{ endpoint: "blue-p2", ipv4: "198.18.60.2", ipv6: "" }] };

  before(async () => {
    ({ ovs, driver } = await testHost.start(["c1", "p2", "p3"], ["p2", "p3"]));
    // p2 serves port 9090 with lbprobe (it tells whom it saw): the hairpin service's target.
    await new Promise<void>((resolve, reject) => {
      const child = spawn("ip", ["netns", "exec", ns("p2"), process.execPath, LBPROBE, "serve", "p2", "9090"], { stdio: ["ignore", "pipe", "ignore"] });
      servers.push(child);
      child.stdout.once("data", () => resolve());
      child.once("exit", (code) => reject(new Error(`lbprobe serve exited ${code}`)));
    });
  });

  const servers: ChildProcess[] = [];
  after(async () => {
    for (const child of servers) child.kill("SIGKILL");
    await testHost.stop();
  });

  it("spreads new connections to the VIP's port over both providers; replies come from the VIP", async () => {
    const report = await driver.reconcile(desired([web, empty]), { full: true });
    assert.deepEqual(report.errors, []);
    assert.equal((await groupIds()).length, 2, "a group per service port with providers");
    const seen = await spread(12);
    assert.deepEqual([...seen.keys()].sort(), ["reply p2", "reply p3"], `answers: ${JSON.stringify([...seen])}\n${ovs.log().slice(-1500)}`);
    // The client's socket is connected to the VIP: it took the answers, so they came from the VIP.
    const ct = (await appctl(["dpctl/dump-conntrack"])).stdout;
    assert.doesNotMatch(ct, /orig=\(src=198\.18\.60\.1,dst=198\.18\.60\.[23],/, "the policy's ct found the DNAT's entry (same zone), made none of its own");
    assert.match(ct, new RegExp(`tcp,orig=\\(src=198\\.18\\.60\\.1,dst=${VIP.replace(/\./g, "\\.")},sport=\\d+,dport=80\\),reply=\\(src=198\\.18\\.60\\.[23],dst=198\\.18\\.60\\.1,sport=8080`), ct);
  });

  it("UDP to the VIP's port reaches a provider; the VIP answers ARP and ping", async () => {
    const r = await probe(ns("c1"), "udp", VIP, 5353, 3, 50);
    assert.equal(r.received, 3, JSON.stringify(r));
    assert.equal((r.tags as string[]).length, 1, "one provider per UDP flow");
    // New UDP flows (a new source port each) spread like TCP connections.
    const flows = await lbprobe("c1", "udp", VIP, 5353, 16, 1000);
    assert.deepEqual(Object.keys(flows.answers).map((a) => a.split(":")[0]).sort(), ["p2", "p3"], JSON.stringify(flows));
    assert.ok(await ping(ns("c1"), VIP));
    const neigh = (await run(["ip", "-n", ns("c1"), "neigh", "show", VIP])).stdout;
    assert.match(neigh, /lladdr/);
  });

  it("a service without providers refuses at once, TCP (reset) and UDP (port unreachable); so does a port the service does not have", async () => {
    const tcp3 = await lbprobe("c1", "tcp", EMPTY_VIP, 80, 3, 2000);
    assert.equal(tcp3.refused, 3, `${JSON.stringify(tcp3)}\n${ovs.log().slice(-1500)}`);
    const udp3 = await lbprobe("c1", "udp", EMPTY_VIP, 80, 3, 2000);
    assert.equal(udp3.refused, 3, JSON.stringify(udp3));
    assert.equal(await tcp(ns("c1"), VIP, 81), "refused", "a port the service does not have");
    assert.match(await tcp(ns("c1"), VIP, 80), /^reply p[23]$/, "the service's own port still balances");
    // The namespace holds the VIPs and refuses there; the gateway itself is still what it was.
    const addrs = (await run(["ip", "-n", `${P}-t-a`, "-o", "addr", "show"])).stdout;
    assert.match(addrs, new RegExp(`${EMPTY_VIP.replace(/\./g, "\\.")}/32`), addrs);
    assert.ok(await ping(ns("c1"), "198.18.60.254"), "the gateway answers ping");
  });

  it("hairpin: a provider balanced to itself gets its own connection, seen from the gateway; replies come from the VIP", async () => {
    const report = await driver.reconcile(desired([web, empty, hairpin]), { full: false });
    assert.deepEqual(report.errors, []);
    const t = await lbprobe("p2", "tcp", "198.18.60.102", 80, 5, 2000);
    assert.deepEqual(t.answers, { p2: 5 }, `${JSON.stringify(t)}\n${(await appctl(["dpctl/dump-conntrack"])).stdout}`);
    assert.deepEqual(Object.keys(t.peers), ["198.18.60.254"], "the provider saw the gateway, not itself");
    const other = await lbprobe("c1", "tcp", "198.18.60.102", 80, 3, 2000);
    assert.deepEqual(other.peers, { "198.18.60.1": 3 }, "another client is seen as itself");
  });

  it("a provider's deny rule holds for connections through the VIP: the policy sees the provider", async () => {
    const report = await driver.reconcile(desired([web, empty], denyP3()), { full: false });
    assert.deepEqual(report.errors, []);
    assert.equal(await tcp(ns("c1"), "198.18.60.3", 8080), "timeout", "direct, denied");
    assert.equal(await tcp(ns("c1"), "198.18.60.2", 8080), "reply p2", "direct, allowed");
    const seen = await spread(10);
    assert.deepEqual([...seen.keys()].sort(), ["reply p2", "timeout"], `answers: ${JSON.stringify([...seen])}`);
  });

  it("a provider that is gone takes its conntrack entries: a SYN that reuses the tuple of one sent while it went away reaches the other", async () => {
    // With p3 denied, a connection balanced to p3 leaves a SYN_SENT entry DNATed to p3 (as one sent while p3
    // went away does); find a source port whose connection went there, and one whose UDP flow did.
    let tcpPort: number | undefined;
    let udpPort: number | undefined;
    const seen: Tally[] = [];
    for (let from = 40_100; from < 40_160 && (tcpPort === undefined || udpPort === undefined); from++) {
      const t = tcpPort === undefined ? await lbprobe("c1", "tcp", VIP, 80, 1, 300, from) : undefined;
      if (t?.timeout === 1) tcpPort = from;
      const u = udpPort === undefined ? await lbprobe("c1", "udp", VIP, 5353, 1, 500, from) : undefined;
      // netprobe's UDP answer: "<tag>:<what it got>".
      if (Object.keys(u?.answers ?? {}).some((a) => a.startsWith("p3:"))) udpPort = from;
      seen.push(...[t, u].filter((x) => x !== undefined));
    }
    assert.ok(tcpPort !== undefined && udpPort !== undefined, `some connection went to p3: ${JSON.stringify(seen)}`);
    const ct = (await appctl(["dpctl/dump-conntrack"])).stdout;
    assert.match(ct, new RegExp(`tcp,orig=\\(src=198\\.18\\.60\\.1,dst=198\\.18\\.60\\.100,sport=${tcpPort},dport=80\\),reply=\\(src=198\\.18\\.60\\.3,.*SYN_SENT`), ct);
    // p3 goes (its container with it).
    const gone = [ep("c1", 1), ep("p2", 2)];
    const without = { ...web, providers: web.providers.filter((p) => p.endpoint !== "blue-p3") };
    const report = await driver.reconcile(desired([without, empty, hairpin], denyP3(), gone), { full: false });
    assert.deepEqual(report.errors, []);
    assert.deepEqual(report.changes.filter((c) => c.object.startsWith("conntrack")).map((c) => c.object).sort(), [
      "conntrack entries 198.18.60.100:5353/udp → 198.18.60.3:8080 (zone " + /zone (\d+)/.exec(report.changes.find((c) => c.object.startsWith("conntrack"))?.object ?? "zone 0")![1] + ")",
      "conntrack entries 198.18.60.100:80/tcp → 198.18.60.3:8080 (zone " + /zone (\d+)/.exec(report.changes.find((c) => c.object.startsWith("conntrack"))?.object ?? "zone 0")![1] + ")",
    ]);
    const again = await lbprobe("c1", "tcp", VIP, 80, 1, 2000, tcpPort);
    assert.deepEqual(Object.keys(again.answers).map((a) => a.split(":")[0]), ["p2"], `the SYN on the old tuple went to the provider that stays: ${JSON.stringify(again)}`);
    assert.deepEqual(Object.keys((await lbprobe("c1", "udp", VIP, 5353, 1, 1000, udpPort)).answers).map((a) => a.split(":")[0]), ["p2"], "the UDP flow moved to p2");
    assert.deepEqual(await driver.reconcile(desired([without, empty, hairpin], denyP3(), gone), { full: true }), { changes: [], errors: [] });
  });

  it("a second run changes nothing; after ovs-vswitchd restarted the groups and flows come back", async () => {
    assert.deepEqual(await driver.reconcile(desired([web, empty, hairpin]), { full: false }).then((r) => r.errors), []);
    assert.deepEqual(await driver.reconcile(desired([web, empty, hairpin]), { full: true }), { changes: [], errors: [] });
    assert.deepEqual(await testHost.newDriver().reconcile(desired([web, empty, hairpin]), { full: false }), { changes: [], errors: [] }, "a restarted agent changes no group");
    assert.deepEqual(await driver.reconcile(desired([web, empty]), { full: false }).then((r) => r.errors), []);
    await ovs.restartSwitch();
    const report = await driver.reconcile(desired([web, empty]), { full: false });
    assert.deepEqual(report.errors, []);
    assert.deepEqual(report.changes.filter((c) => c.object.startsWith("group")).map((c) => c.action), ["create", "create"]);
    assert.deepEqual([...(await spread(8)).keys()].sort(), ["reply p2", "reply p3"]);
  });

  it("a service that goes takes its groups and VIP with it", async () => {
    const report = await driver.reconcile(desired([]), { full: false });
    assert.deepEqual(report.errors, []);
    assert.deepEqual(report.changes.filter((c) => c.object.startsWith("group")).map((c) => c.action), ["delete", "delete"]);
    assert.deepEqual(await groupIds(), []);
    assert.equal(await tcp(ns("c1"), VIP, 80), "timeout");
    assert.equal(await tcp(ns("c1"), "198.18.60.2", 8080), "reply p2", "the providers are still reachable directly");
    const addrs = (await run(["ip", "-n", `${P}-t-a`, "-o", "addr", "show"])).stdout;
    assert.doesNotMatch(addrs, /198\.18\.60\.10[0-2]/, "the VIPs left the gateway namespace");
    assert.notEqual((await run(["nft", "list", "table", "inet", "netplugin_refuse"], { netns: `${P}-t-a` })).code, 0, "and its refuse table");
  });
});
