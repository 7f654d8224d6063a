// NIC attach modes end to end (README "NIC attach modes"): a one-host cluster whose host has a stand-in NIC, a
// veth (nicstand0) whose peer is in an "outside" namespace on the same segment; containers attached through
// the real CNI executable on a macvlan network (on the agent's --uplink-if) and on a host-device network (a
// second stand-in, vfstand0, moved in and given back). Real packets: to and from the outside host and between
// the containers, a deny rule added after the containers started enforced inside their namespace, the table
// put back by a full run (CNI CHECK) after it was removed behind the agent's back, and a DEL that leaves nothing.
// ipvlan: refused by name on a kernel without its driver; its traffic is not tested there.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { must, run } from "../../src/lib/process.js";
import { waitFor } from "../../src/lib/wait.js";
import { Cluster } from "../../src/cluster/index.js";
import { Api } from "../harness/api.js";
import { attach, type Attached } from "../harness/cluster.js";
import { runPrefix, TestNetns } from "../harness/netns.js";

const NIC = "nicstand0";
const VF = "vfstand0";
const OUTSIDE = "198.18.40.250";
const OUTSIDE_VF = "198.18.41.250";
const root = process.getuid?.() === 0;

/** Whether this kernel can make an ipvlan link (the machines here have macvlan but no ipvlan driver). */
async function kernelHasIpvlan(prefix: string): Promise<boolean> {
  const ns = `${prefix}-probe`;
  await must(["ip", "netns", "add", ns]);
  try {
    await must(["ip", "-n", ns, "link", "add", "p0", "type", "veth", "peer", "name", "p1"]);
    return (await run(["ip", "-n", ns, "link", "add", "link", "p0", "name", "tipvlan", "type", "ipvlan"])).code === 0;
  } finally {
    await run(["ip", "netns", "del", ns]);
  }
}

interface Link {
  ifname: string;
  ifalias?: string;
  linkinfo?: { info_kind?: string };
  addr_info?: { local: string }[];
}

async function links(ns: string): Promise<Link[]> {
  return JSON.parse(await must(["ip", "-n", ns, "-json", "-details", "address", "show"])) as Link[];
}

async function nftTables(ns: string): Promise<string> {
  return (await run(["ip", "netns", "exec", ns, "nft", "list", "tables"])).stdout;
}

describe("NIC attach modes through CNI", { skip: root ? false : "needs root" }, () => {
  let cluster: Cluster;
  let api: Api;
  let hostNs: string;
  let outside: TestNetns;
  let hasIpvlan = false;
  const made: TestNetns[] = [];
  let c1: Attached, c2: Attached;
  const lan = { tenant: "t1", network: "lan" };

  before(async () => {
    cluster = await Cluster.up({ hosts: 1, logLevel: "warn", prefix: runPrefix("npn"), agentArgs: ["--uplink-if", NIC] });
    api = new Api(cluster.apiBase);
    hostNs = cluster.hosts[0]!.namespace;
    hasIpvlan = await kernelHasIpvlan(cluster.prefix);
    // The host's "NICs": veths whose peers are on the outside host's segments.
    outside = await TestNetns.create(`${cluster.prefix}-seg`);
    made.push(outside);
    for (const [dev, peer, address] of [[NIC, "seg0", OUTSIDE], [VF, "seg1", OUTSIDE_VF]] as const) {
      await must(["ip", "-n", hostNs, "link", "add", dev, "type", "veth", "peer", "name", peer, "netns", outside.name]);
      await must(["ip", "-n", outside.name, "addr", "add", `${address}/24`, "dev", peer]);
      await must(["ip", "-n", outside.name, "link", "set", peer, "up"]);
    }
    await must(["ip", "-n", hostNs, "link", "set", NIC, "up"]);
    await outside.serve("out", 8080);
    await outside.serve("out", 9090);

    await api.create("/api/v1/tenants/t1/", { tenantName: "t1" });
    // No uplinkIf of its own: the agent's --uplink-if names the host interface.
    await api.create("/api/v1/networks/t1:lan/", { tenantName: "t1", networkName: "lan", encap: "vlan", attachMode: "macvlan", subnet: "198.18.40.0/24", gateway: OUTSIDE });
    await api.create("/api/v1/networks/t1:dev/", { tenantName: "t1", networkName: "dev", encap: "vlan", attachMode: "host-device", device: VF, subnet: "198.18.41.0/24", gateway: OUTSIDE_VF });
    await api.create("/api/v1/networks/t1:ipv/", { tenantName: "t1", networkName: "ipv", encap: "vlan", attachMode: "ipvlan", subnet: "198.18.42.0/24", gateway: "198.18.42.250" });
    await api.create("/api/v1/policys/t1:guard/", { tenantName: "t1", policyName: "guard" });
    await api.create("/api/v1/endpointGroups/t1:web/", { tenantName: "t1", groupName: "web", networkName: "lan", policies: ["guard"] });
    await api.create("/api/v1/endpointGroups/t1:client/", { tenantName: "t1", groupName: "client", networkName: "lan" });

    c1 = await attach(cluster, made, 1, "c1", { ...lan, group: "web" });
    c2 = await attach(cluster, made, 1, "c2", { ...lan, group: "client" });
    for (const c of [c1, c2]) {
      await c.ns.serve(c === c1 ? "c1" : "c2", 8080);
      await c.ns.serve(c === c1 ? "c1" : "c2", 9090);
    }
  });

  after(async () => {
    for (const ns of made) await ns.destroy().catch(() => undefined);
    await cluster?.down();
  });

  /** What network inspect says of the host side of the endpoint with this address. */
  const hostSides = async (network: string, ip: string) => {
    type Oper = { endpoints?: { ipAddress: string[]; intfName: string; virtualPort: string }[] };
    const eps = (await api.get<{ Oper: Oper }>(`/api/v1/inspect/networks/t1:${network}/`)).body.Oper.endpoints ?? [];
    const ep = eps.find((e) => e.ipAddress[0] === ip);
    return ep && { intfName: ep.intfName, virtualPort: ep.virtualPort };
  };

  test("a macvlan container gets a macvlan interface on the agent's --uplink-if, its address and default route; nothing of it on the host", async () => {
    const [eth0] = (await links(c1.ns.name)).filter((l) => l.ifname === "eth0");
    assert.equal(eth0?.linkinfo?.info_kind, "macvlan");
    assert.deepEqual(eth0?.addr_info?.map((a) => a.local).filter((a) => !a.startsWith("fe80:")), [c1.ip]);
    assert.match(await must(["ip", "-n", c1.ns.name, "route", "show", "default"]), new RegExp(`via ${OUTSIDE.replace(/\./g, "\\.")} dev eth0`));
    assert.ok(!(await links(hostNs)).some((l) => l.linkinfo?.info_kind === "macvlan"), "no macvlan link in the host's namespace");
    assert.deepEqual(await hostSides("lan", c1.ip), { intfName: "", virtualPort: "" }, "inspect names no host-side port");
  });

  test("the macvlan containers reach the outside host and are reached by it", async () => {
    assert.equal(await c1.ns.tcpReaches(OUTSIDE, 9090), "out");
    assert.equal(await outside.tcpReaches(c1.ip, 9090), "c1");
    assert.equal(await outside.tcpReaches(c2.ip, 9090), "c2");
    assert.ok(await c2.ns.ping(OUTSIDE));
  });

  test("the macvlan containers reach each other, both ways", async () => {
    assert.equal(await c1.ns.tcpReaches(c2.ip, 9090), "c2");
    assert.equal(await c2.ns.tcpReaches(c1.ip, 8080), "c1");
    assert.ok(await c1.ns.ping(c2.ip));
  });

  test("a deny rule added after the containers started is enforced in the container's namespace; removed behind the agent's back, a full run (CNI CHECK) puts it back", async () => {
    await api.create("/api/v1/rules/t1:guard:1/", { tenantName: "t1", policyName: "guard", ruleId: "1", direction: "in", protocol: "tcp", port: 8080, action: "deny", priority: 10 });
    // The state stream brings the rule; the agent's run re-loads the table in c1's namespace.
    await waitFor(async () => (await c2.ns.tcpReaches(c1.ip, 8080, 800)) === "timeout", { timeoutMs: 20_000, what: () => "c1 still reachable on 8080" });
    assert.equal(await outside.tcpReaches(c1.ip, 8080, 800), "timeout", "from the segment too");
    assert.equal(await c2.ns.tcpReaches(c1.ip, 9090), "c1", "other ports still pass");
    assert.equal(await c1.ns.tcpReaches(c2.ip, 8080), "c2", "web's own connections are not judged by its in rules");

    await must(["ip", "netns", "exec", c1.ns.name, "nft", "delete", "table", "inet", "netplugin"]);
    // (c2's own table judges what c2 sends by c1's in rules too: the outside host has no table.)
    assert.equal(await outside.tcpReaches(c1.ip, 8080), "c1", "without its table c1 is open");
    const check = await cluster.cni(cluster.hosts[0]!, "CHECK", `${cluster.prefix}c1`, c1.ns.path, {
      ...lan, group: "web",
      prevResult: { cniVersion: "1.0.0", interfaces: [{ name: "eth0", mac: c1.mac, sandbox: c1.ns.path }], ips: [{ address: `${c1.ip}/24`, gateway: OUTSIDE, interface: 0 }] },
    }, "");
    assert.equal(check.code, 0, JSON.stringify(check.out));
    assert.equal(await outside.tcpReaches(c1.ip, 8080, 800), "timeout");
  });

  test("host-device: the device is moved into the container, reaches the outside host, and DEL gives it back empty", async () => {
    const c3 = await attach(cluster, made, 1, "c3", { tenant: "t1", network: "dev" });
    assert.ok(!(await links(hostNs)).some((l) => l.ifname === VF), "moved out of the host");
    const [eth0] = (await links(c3.ns.name)).filter((l) => l.ifname === "eth0");
    assert.equal(eth0?.ifalias, `netplugin host-device ${VF}`);
    assert.deepEqual(await hostSides("dev", c3.ip), { intfName: VF, virtualPort: "" }, "inspect names the moved device");
    assert.ok(await c3.ns.ping(OUTSIDE_VF));
    assert.equal(await outside.tcpReaches(c3.ip, 9090, 800), "refused", "reached: nothing listens there");

    const del = await cluster.removeContainer(1, "c3", { tenant: "t1", network: "dev" });
    made.splice(made.indexOf(c3.ns), 1);
    assert.equal(del.code, 0, JSON.stringify(del.out));
    const [vf] = (await links(hostNs)).filter((l) => l.ifname === VF);
    assert.ok(vf, `${VF} is back on the host`);
    assert.deepEqual(vf.addr_info ?? [], []);
    assert.equal(vf.ifalias ?? "", "");
  });

  test("ipvlan on a kernel without its driver: the ADD is refused by name and nothing is left", async (t) => {
    if (hasIpvlan) return t.skip("this kernel has the ipvlan driver: the refusal does not happen");
    const c = await cluster.addContainer(1, "c4", { tenant: "t1", network: "ipv" });
    made.push(new TestNetns(c.namespace));
    assert.notEqual(c.result.code, 0);
    assert.match(JSON.stringify(c.result.out), /this kernel has no ipvlan driver \(CONFIG_IPVLAN\)/);
    assert.deepEqual((await links(c.namespace)).map((l) => l.ifname), ["lo"]);
  });

  test("ipvlan traffic", { skip: "this kernel has no ipvlan driver (CONFIG_IPVLAN): not tested here" }, () => {});

  test("DEL removes the macvlan interface and the table in the container; nothing of it is left", async () => {
    for (const name of ["c1", "c2"]) {
      const ns = `${cluster.prefix}-c-${name}`;
      const r = await cluster.cni(cluster.hosts[0]!, "DEL", `${cluster.prefix}${name}`, `/var/run/netns/${ns}`, { ...lan, group: name === "c1" ? "web" : "client" }, "");
      assert.equal(r.code, 0, JSON.stringify(r.out));
      assert.deepEqual((await links(ns)).map((l) => l.ifname), ["lo"]);
      assert.doesNotMatch(await nftTables(ns), /netplugin/);
    }
    assert.equal(await outside.ping(c1.ip, 1), false);
    const host = (await links(hostNs)).map((l) => l.ifname);
    assert.ok(host.includes(NIC) && host.includes(VF), `the stand-in NICs stay: ${host.join(" ")}`);
    assert.ok(!(await links(hostNs)).some((l) => ["macvlan", "ipvlan", "ifb"].includes(l.linkinfo?.info_kind ?? "")));
  });
});
