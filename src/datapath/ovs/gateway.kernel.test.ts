// The tenant's gateway namespace on a real, private Open vSwitch (userspace datapath) in a namespace standing in
// for the host: a tenant with two networks, a container on each. In fwdMode routing the namespace routes between
// them (ping and TCP both ways); in bridge mode it does not; a server on the gateway's address inside the namespace
// (where the agent's DNS server binds) is reached from the containers on TCP and UDP 53 in both modes; a second run
// changes nothing; a network removed loses its gateway port, cleanup removes the namespace. Needs root and
// openvswitch-switch. Per-run names in 198.18.0.0/15; everything removed at the end, also on failure.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { run } from "../../lib/process.js";
import { exec, ping, probe, startProbe, tcp } from "../linux/testing/netns.js";
import { gatewayHostLink, gatewayTenantLink } from "../names.js";
import { emptyPolicy } from "../testing/desired.js";
import type { DesiredEndpoint, DesiredHost, FwdMode } from "../types.js";
import type { OvsDatapath } from "./driver.js";
import type { PrivateOvs } from "./private-ovs.js";
import { needsOvs, OvsTestHost } from "./testing/ovs-host.js";

describe("OVS driver: the tenant's gateway namespace", { skip: needsOvs }, () => {
  const P = `npg${randomBytes(2).toString("hex")}`;
  const testHost = new OvsTestHost(P);
  const HOST = testHost.host;
  const TENANT_NS = `${P}-t-a`;
  const ns = (c: string) => `${P}-${c}`;
  let ovs: PrivateOvs;
  let driver: OvsDatapath;

  // blue: 198.18.60.0/24, red: 198.18.61.0/24; gateways .254.
  const subnet = (network: string) => (network === "blue" ? 60 : 61);
  const ep = (c: string, n: number, network: string): DesiredEndpoint =>
    testHost.endpoint(c, n, { network, net24: `198.18.${subnet(network)}`, mac: `02:00:c6:12:3c:0${n}` });
  const net = (name: string) => ({
    name,
    bridge: `nb${P.slice(3)}${name}`,
    subnet: `198.18.${subnet(name)}.0/24`,
    gateway: `198.18.${subnet(name)}.254`,
    ipv6Subnet: "",
    ipv6Gateway: "",
    mtu: 1450,
    routed: false,
    netfilter: false,
  });
  const desired = (fwdMode: FwdMode, networks = ["blue", "red"]): DesiredHost => ({
    prefix: P,
    tenants: [
      {
        name: "a",
        namespace: TENANT_NS,
        fwdMode,
        networks: networks.map(net),
        endpoints: [ep("c1", 1, "blue"), ep("c2", 2, "red")].filter((e) => networks.includes(e.network)),
        policy: { ...emptyPolicy(), fwdMode },
        hostEndpoints: [],
      },
    ],
    host: { natOutbound: false },
  });
  const namespaces = async () => ((await run(["ip", "-json", "netns", "list"])).stdout.trim() || "[]").includes(`"${TENANT_NS}"`);
  /** UDP to the server in the namespace: how many of 3 datagrams came back, and from whom. */
  const udp = async (c: string, address: string) => {
    const r = await probe(ns(c), "udp", address, 53, 3, 50);
    return { received: r.received, tags: r.tags };
  };

  before(async () => {
    ({ ovs, driver } = await testHost.start(["c1", "c2"]));
  });

  after(() => testHost.stop());

  it("fwdMode routing: the namespace holds both gateways and routes between the networks, ping and TCP both ways", async () => {
    const report = await driver.reconcile(desired("routing"), { full: true });
    assert.deepEqual(report.errors, []);
    assert.ok(report.changes.some((c) => c.object === `namespace ${TENANT_NS}`));
    assert.ok(report.changes.some((c) => c.object === `IPv4 and IPv6 forwarding on in namespace ${TENANT_NS}`));
    const addrs = (await exec.run(["ip", "-n", TENANT_NS, "-o", "-4", "addr", "show"])).split("\n").filter(Boolean);
    assert.ok(addrs.some((l) => l.includes(gatewayTenantLink("blue")) && l.includes("198.18.60.254/24")), addrs.join("\n"));
    assert.ok(addrs.some((l) => l.includes(gatewayTenantLink("red")) && l.includes("198.18.61.254/24")), addrs.join("\n"));
    assert.ok(await ping(ns("c1"), "198.18.61.2"), `c1 (blue) → c2 (red)\n${ovs.log().slice(-2000)}`);
    assert.ok(await ping(ns("c2"), "198.18.60.1"), "c2 (red) → c1 (blue)");
    assert.equal(await tcp(ns("c1"), "198.18.61.2", 8080), "reply c2");
    assert.equal(await tcp(ns("c2"), "198.18.60.1", 8080), "reply c1");
    assert.ok(await ping(ns("c1"), "198.18.60.254"), "the gateway still answers pings");
  });

  it("a server on the gateway's address in the namespace (where the DNS server binds) is reached on TCP and UDP 53", async () => {
    await startProbe(TENANT_NS, "serve", "gw", 53);
    assert.equal(await tcp(ns("c1"), "198.18.60.254", 53), "reply gw");
    assert.equal(await tcp(ns("c2"), "198.18.61.254", 53), "reply gw");
    assert.deepEqual(await udp("c1", "198.18.60.254"), { received: 3, tags: ["gw"] });
    assert.deepEqual(await udp("c2", "198.18.61.254"), { received: 3, tags: ["gw"] });
  });

  it("a second run changes nothing; neither does a restarted agent", async () => {
    assert.deepEqual(await driver.reconcile(desired("routing"), { full: true }), { changes: [], errors: [] });
    const restarted = testHost.newDriver();
    assert.deepEqual(await restarted.reconcile(desired("routing"), { full: false }), { changes: [], errors: [] });
  });

  it("fwdMode bridge: no routing between the networks (forwarding off, and only the gateway's own address reaches it); DNS still works", async () => {
    const report = await driver.reconcile(desired("bridge"), { full: false });
    assert.deepEqual(report.errors, []);
    assert.ok(report.changes.some((c) => c.object === `IPv4 and IPv6 forwarding off in namespace ${TENANT_NS}`));
    assert.equal(await ping(ns("c1"), "198.18.61.2"), false, "c1 → c2");
    assert.equal(await ping(ns("c2"), "198.18.60.1"), false, "c2 → c1");
    assert.equal(await tcp(ns("c1"), "198.18.61.2", 8080), "timeout");
    assert.equal(await tcp(ns("c1"), "198.18.61.254", 53), "timeout", "not even the other network's gateway");
    assert.equal(await tcp(ns("c1"), "198.18.60.254", 53), "reply gw");
    assert.deepEqual(await udp("c2", "198.18.61.254"), { received: 3, tags: ["gw"] });
    assert.deepEqual(await driver.reconcile(desired("bridge"), { full: true }), { changes: [], errors: [] });
  });

  it("a gateway port taken away behind the agent's back is put back by the next run", async () => {
    await exec.run(["ip", "-n", HOST, "link", "del", gatewayHostLink(P, "a", "red")]);
    const report = await driver.reconcile(desired("routing"), { full: false });
    assert.deepEqual(report.errors, []);
    assert.ok(report.changes.some((c) => c.object.startsWith(`gateway port ${gatewayHostLink(P, "a", "red")} `)), JSON.stringify(report.changes));
    assert.ok(await ping(ns("c1"), "198.18.61.2"), "routing again");
  });

  it("a network removed loses its gateway port; cleanup removes the namespace", async () => {
    const report = await driver.reconcile(desired("routing", ["blue"]), { full: false });
    assert.deepEqual(report.errors, []);
    assert.ok(report.changes.some((c) => c.action === "delete" && c.object === `gateway port ${gatewayHostLink(P, "a", "red")}`));
    assert.equal((await run(["ip", "-n", TENANT_NS, "link", "show", gatewayTenantLink("red")])).code, 1);
    assert.equal(await tcp(ns("c1"), "198.18.60.254", 53), "reply gw");
    const removed = await driver.cleanup(P);
    assert.ok(removed.includes(`namespace ${TENANT_NS}`), removed.join(", "));
    assert.equal(await namespaces(), false);
    assert.equal((await run(["ip", "-n", HOST, "link", "show", gatewayHostLink(P, "a", "blue")])).code, 1);
  });
});
