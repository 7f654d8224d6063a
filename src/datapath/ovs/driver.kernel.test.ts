// The OVS driver against a real, private Open vSwitch (userspace datapath, as these machines have no kernel
// module) running in a namespace that stands in for the host, with containers in their own namespaces: real
// packets both ways on a network, the gateway answering, tenants with the same subnet kept apart, a second run
// that changes nothing, the pipeline put back after ovs-vswitchd restarted (it keeps no flows), an endpoint
// removed with its port and veth, and cleanup. Needs root and openvswitch-switch. Per-run names in
// 198.18.0.0/15; everything removed at the end, also on failure.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { run } from "../../lib/process.js";
import { ping, tcp } from "../linux/testing/netns.js";
import { emptyPolicy } from "../testing/desired.js";
import type { DesiredEndpoint, DesiredHost, DesiredTenant } from "../types.js";
import type { OvsDatapath } from "./driver.js";
import { bridgeName } from "./render.js";
import type { PrivateOvs } from "./private-ovs.js";
import { needsOvs, OvsTestHost } from "./testing/ovs-host.js";

describe("OVS driver on a private Open vSwitch", { skip: needsOvs }, () => {
  const P = `npo${randomBytes(2).toString("hex")}`;
  const testHost = new OvsTestHost(P);
  const HOST = testHost.host;
  const ns = (c: string) => `${P}-${c}`;
  let ovs: PrivateOvs;
  let driver: OvsDatapath;

  const ep = (c: string, n: number): DesiredEndpoint => testHost.endpoint(c, n, { network: "blue", net24: "198.18.50", mac: `02:00:c6:12:32:0${n}` });
  function tenant(name: string, endpoints: DesiredEndpoint[]): DesiredTenant {
    return {
      name,
      namespace: `${P}-t-${name}`,
      fwdMode: "bridge",
      networks: [{ name: "blue", bridge: `nb${name}`, subnet: "198.18.50.0/24", gateway: "198.18.50.254", ipv6Subnet: "", ipv6Gateway: "", mtu: 1450, routed: false, netfilter: false }],
      endpoints,
      policy: { ...emptyPolicy(), fwdMode: "bridge" },
      hostEndpoints: [],
    };
  }
  // Tenant b has the same subnet, and c3 the same address as c1.
  const desired = (withC2 = true): DesiredHost => ({
    prefix: P,
    tenants: [tenant("a", [ep("c1", 1), ...(withC2 ? [ep("c2", 2)] : [])]), tenant("b", [{ ...ep("c3", 1), mac: "02:00:c6:12:32:13" }])],
    host: { natOutbound: false },
  });

  before(async () => {
    ({ ovs, driver } = await testHost.start(["c1", "c2", "c3"]));
  });

  after(() => testHost.stop());

  it("plumbs every endpoint as a port of the host's bridge; packets flow both ways on a network", async () => {
    const report = await driver.reconcile(desired(), { full: true });
    assert.deepEqual(report.errors, []);
    assert.ok(report.changes.some((c) => c.object === `bridge ${bridgeName(P)}`));
    assert.ok(await ping(ns("c1"), "198.18.50.2"), `c1 → c2\n${ovs.log().slice(-2000)}`);
    assert.ok(await ping(ns("c2"), "198.18.50.1"), "c2 → c1");
    assert.equal(await tcp(ns("c1"), "198.18.50.2", 8080), "reply c2");
    assert.equal(await tcp(ns("c2"), "198.18.50.1", 8080), "reply c1");
  });

  it("an endpoint that cannot be plumbed (its namespace is gone) fails alone and leaves no veth or port", async () => {
    const d = desired();
    const lost = { ...ep("c9", 9), netns: `/var/run/netns/${P}-nowhere` };
    d.tenants[0]!.endpoints.push(lost);
    const report = await driver.reconcile(d, { full: false });
    assert.deepEqual(report.errors.map((e) => e.owner), [{ tenant: "a", network: "blue", endpoint: lost.id }]);
    assert.equal((await run(["ip", "-n", HOST, "link", "show", lost.hostLink])).code, 1, "no veth");
    assert.doesNotMatch((await run(["ovs-vsctl", `--db=${ovs.db}`, "list-ports", bridgeName(P)])).stdout, new RegExp(lost.hostLink), "no port");
    assert.ok(await ping(ns("c1"), "198.18.50.2"), "the others keep working");
  });

  it("the gateway answers pings; tenants sharing a subnet (and an address) do not meet", async () => {
    assert.ok(await ping(ns("c1"), "198.18.50.254"), "c1 → its gateway");
    assert.ok(await ping(ns("c3"), "198.18.50.254"), "c3 → its own tenant's gateway");
    assert.equal(await ping(ns("c3"), "198.18.50.2"), false, "c3 (tenant b) does not reach c2 (tenant a)");
    assert.equal(await tcp(ns("c3"), "198.18.50.2", 8080), "timeout");
  });

  it("a second run changes nothing", async () => {
    const again = await driver.reconcile(desired(), { full: true });
    assert.deepEqual(again, { changes: [], errors: [] });
  });

  it("a restarted agent (a new driver) whose bridge is right changes nothing, counters included", async () => {
    const restarted = testHost.newDriver();
    assert.deepEqual(await restarted.reconcile(desired(), { full: false }), { changes: [], errors: [] });
  });

  it("after ovs-vswitchd restarted (it keeps no flows) the next run puts the pipeline back", async () => {
    await ovs.restartSwitch();
    assert.equal(await ping(ns("c1"), "198.18.50.2"), false, "fail mode secure: nothing passes without our flows");
    const report = await driver.reconcile(desired(), { full: false });
    assert.deepEqual(report.errors, []);
    assert.equal(report.changes.length, 1);
    assert.match(report.changes[0]!.object, new RegExp(`^flows of ${bridgeName(P)} \\((\\d+) of \\1 changed\\)$`), "every flow put back");
    assert.ok(await ping(ns("c1"), "198.18.50.2"));
  });

  it("an endpoint that goes loses its port and veth; the others keep working", async () => {
    const report = await driver.reconcile(desired(false), { full: false });
    assert.deepEqual(report.errors, []);
    assert.ok(report.changes.some((c) => c.action === "delete" && c.object === `port ne${P.slice(3)}c2`));
    assert.equal((await run(["ip", "-n", ns("c2"), "-o", "link"])).stdout.split("\n").filter(Boolean).length, 1, "only lo left in c2");
    assert.equal((await run(["ip", "-n", HOST, "link", "show", `ne${P.slice(3)}c2`])).code, 1);
    assert.ok(await ping(ns("c1"), "198.18.50.254"));
  });

  it("a bridge found in standalone mode (a learning switch without our flows) is put back in secure mode by a full run", async () => {
    await run(["ovs-vsctl", `--db=${ovs.db}`, "set", "bridge", bridgeName(P), "fail_mode=standalone"]);
    const report = await driver.reconcile(desired(false), { full: true });
    assert.deepEqual(report.errors, []);
    assert.ok(report.changes.some((c) => c.object.startsWith(`bridge ${bridgeName(P)} (fail mode secure`)), JSON.stringify(report.changes));
    assert.equal((await run(["ovs-vsctl", `--db=${ovs.db}`, "get", "bridge", bridgeName(P), "fail_mode"])).stdout.trim(), "secure");
    assert.ok(await ping(ns("c1"), "198.18.50.254"), "our flows are back");
  });

  it("a frozen tenant this driver made keeps running as it was while another tenant changes", async () => {
    // b cannot be made now (DesiredHost.frozen): b's c3 keeps its port and flows; a gets c2 back meanwhile.
    const d: DesiredHost = { ...desired(true), tenants: [desired(true).tenants[0]!], frozen: [`${P}-t-b`] };
    const report = await driver.reconcile(d, { full: false });
    assert.deepEqual(report.errors, []);
    assert.ok(report.changes.some((c) => c.object === `port ne${P.slice(3)}c2 for endpoint blue-c2`), JSON.stringify(report.changes));
    assert.ok(await ping(ns("c1"), "198.18.50.2"), "tenant a converges");
    assert.ok(await ping(ns("c3"), "198.18.50.254"), "frozen b still reaches its gateway");
  });

  it("a tenant frozen since the agent started holds the bridge's flows as they are, with an error saying so", async () => {
    const d: DesiredHost = { ...desired(false), tenants: [desired(false).tenants[0]!], frozen: [`${P}-t-b`] };
    const report = await testHost.newDriver().reconcile(d, { full: false });
    assert.deepEqual(report.changes.map((c) => c.object), [`port ne${P.slice(3)}c2`], "only tenant a's own port that went");
    assert.deepEqual(report.errors.map((e) => e.message), ["flows, shapers, meters and groups held as they are while tenant(s) b cannot be made (their own failures say why)"]);
    assert.ok(await ping(ns("c3"), "198.18.50.254"), "b still runs");
    assert.ok(await ping(ns("c1"), "198.18.50.254"), "and a");
  });

  it("cleanup removes the bridge and every endpoint veth", async () => {
    const removed = await driver.cleanup(P);
    assert.ok(removed.includes(`bridge ${bridgeName(P)}`));
    assert.equal((await run(["ovs-vsctl", `--db=${ovs.db}`, "br-exists", bridgeName(P)])).code, 2);
    assert.equal((await run(["ip", "-n", HOST, "link", "show", `ne${P.slice(3)}c1`])).code, 1);
  });
});
