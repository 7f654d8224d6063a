// The agent with `--datapath ovs` on a two-host simulated cluster (src/cluster with datapath "ovs": a private
// Open vSwitch per host, userspace datapath): networks made with the API, containers attached through the real
// CNI executable on both hosts, packets both ways across the VXLAN overlay, tenants with the same subnet kept
// apart, and what the driver does not do yet refused by name with nothing left behind. Per-run names in
// 198.18.0.0/15; the cluster's down() removes everything, also after a failure.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Cluster } from "../../src/cluster/index.js";
import { run } from "../../src/lib/process.js";
import { waitFor } from "../../src/lib/wait.js";
import { Api } from "../harness/api.js";
import { attach, type Attached } from "../harness/cluster.js";
import { TestNetns } from "../harness/netns.js";

const root = process.getuid?.() === 0;
const ovsInstalled = (await run(["ovs-vswitchd", "--version"])).code === 0;

describe("the OVS datapath through the agent", { skip: !root ? "needs root" : !ovsInstalled ? "openvswitch-switch is not installed" : false }, () => {
  let cluster: Cluster;
  let api: Api;
  const made: TestNetns[] = [];
  let a1: Attached, a2: Attached, b1: Attached;

  before(async () => {
    cluster = await Cluster.up({ hosts: 2, datapath: "ovs", logLevel: "warn" });
    api = new Api(cluster.apiBase);
    for (const t of ["ta", "tb"]) {
      await api.create(`/api/v1/tenants/${t}/`, { tenantName: t });
      await api.create(`/api/v1/networks/${t}:blue/`, { tenantName: t, networkName: "blue", encap: "vxlan", subnet: "198.18.70.0/24", gateway: "198.18.70.254" });
    }
    a1 = await attach(cluster, made, 1, "a1", { tenant: "ta", network: "blue" });
    a2 = await attach(cluster, made, 2, "a2", { tenant: "ta", network: "blue" });
    b1 = await attach(cluster, made, 2, "b1", { tenant: "tb", network: "blue" });
    for (const [c, tag] of [[a1, "a1"], [a2, "a2"], [b1, "b1"]] as const) await c.ns.serve(tag, 8080);
  });

  after(async () => {
    for (const ns of made) await ns.destroy();
    await cluster?.down();
  });

  test("containers on one network on two hosts reach each other both ways", async () => {
    // The first packets are lost while OVS resolves the tunnel's next hop on the underlay.
    await waitFor(() => a1.ns.ping(a2.ip, 1), { timeoutMs: 15_000, what: () => `a1 → a2 over the overlay` });
    assert.ok(await a2.ns.ping(a1.ip), "a2 → a1");
    assert.equal(await a1.ns.tcpReaches(a2.ip, 8080), "a2");
    assert.equal(await a2.ns.tcpReaches(a1.ip, 8080), "a1");
    assert.ok(await a1.ns.ping("198.18.70.254"), "the gateway answers");
  });

  test("a tenant with the same subnet is a world of its own", async () => {
    assert.equal(b1.ip, a1.ip, "both tenants hand out the same first address");
    assert.equal(await b1.ns.tcpReaches(a2.ip, 8080, 800), "timeout", "tb's container does not reach ta's");
    assert.equal(await a2.ns.tcpReaches(b1.ip, 8080), "a1", "the shared address is ta's a1 for ta's a2, never tb's b1");
  });

  test("what the OVS datapath does not do yet is refused by name, and nothing is left", async () => {
    await api.create("/api/v1/netprofiles/ta:slow/", { tenantName: "ta", profileName: "slow", bandwidth: "10Mbps", burst: 100 });
    await api.create("/api/v1/endpointGroups/ta:capped/", { tenantName: "ta", groupName: "capped", networkName: "blue", netProfile: "slow" });
    const c = await cluster.addContainer(1, "capped", { tenant: "ta", network: "blue", group: "capped" });
    made.push(new TestNetns(c.namespace));
    assert.notEqual(c.result.code, 0);
    assert.match(String(c.result.out["msg"]), /the ovs datapath does not do bandwidth limits yet/);
    const links = (await run(["ip", "-n", c.namespace, "-o", "link"])).stdout.split("\n").filter(Boolean);
    assert.equal(links.length, 1, "only lo in the refused container");
    assert.ok(await a1.ns.ping(a2.ip), "the others keep working");
  });
});
