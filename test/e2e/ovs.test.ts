// The agent with `--datapath ovs` on a two-host simulated cluster (src/cluster with datapath "ovs": a private
// Open vSwitch per host, userspace datapath): networks made with the API, containers attached through the real
// CNI executable on both hosts, packets both ways across the VXLAN overlay, tenants with the same subnet kept
// apart, the tenant's DNS answering at the gateway (the gateway namespace), an IPv6 network across hosts.
// (The rest of the end-to-end suite runs on OVS too: `make test`, NETPLUGIN_CLUSTER_DATAPATH=ovs.)
// VLAN hand-off: each host's --uplink-if (trunk0) is a trunk port of a simulated top-of-rack switch (an OVS bridge
// in its own namespace, its own private OVS) that also has an access port on VLAN 100 for a host that is not a
// container; a `vlan` network with tag 100 reaches across hosts and to that host through the switch, both ways,
// and a capture on a trunk shows the tag. Per-run names in 198.18.0.0/15; everything is removed at the end.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Cluster } from "../../src/cluster/index.js";
import { PrivateOvs } from "../../src/datapath/ovs/private-ovs.js";
import { must, run } from "../../src/lib/process.js";
import { waitFor } from "../../src/lib/wait.js";
import { Api } from "../harness/api.js";
import { attach, type Attached } from "../harness/cluster.js";
import { TestNetns } from "../harness/netns.js";

const DNS_QUERY_JS = fileURLToPath(new URL("../harness/dns-query.js", import.meta.url));

const root = process.getuid?.() === 0;
const ovsInstalled = (await run(["ovs-vswitchd", "--version"])).code === 0;

describe("the OVS datapath through the agent", { skip: !root ? "needs root" : !ovsInstalled ? "openvswitch-switch is not installed" : false }, () => {
  let cluster: Cluster;
  let api: Api;
  const made: TestNetns[] = [];
  let a1: Attached, a2: Attached, b1: Attached;
  /** The containers of the VLAN 100 network, on h1 and h2. */
  let v1: Attached, v2: Attached;
  let tor: PrivateOvs | undefined;
  let torNs = "";
  let siteHost: TestNetns | undefined;

  /** The top-of-rack switch: trunks to the hosts' trunk0 carrying VLAN 100, an access port on it for a site host. */
  async function topOfRack(): Promise<void> {
    torNs = `${cluster.prefix}-tor`;
    await must(["ip", "netns", "add", torNs]);
    tor = await PrivateOvs.start({ dir: mkdtempSync(path.join(tmpdir(), `${cluster.prefix}-tor-`)), netns: torNs });
    const vsctl = (...args: string[]) => must(["ovs-vsctl", `--db=${tor!.db}`, ...args]);
    await vsctl("add-br", "tor", "--", "set", "bridge", "tor", "datapath_type=netdev");
    for (const h of cluster.hosts) {
      await must(["ip", "-n", h.namespace, "link", "add", "trunk0", "type", "veth", "peer", "name", `t-h${h.index}`, "netns", torNs]);
      await must(["ip", "-n", torNs, "link", "set", `t-h${h.index}`, "up"]);
      await vsctl("add-port", "tor", `t-h${h.index}`, "trunks=100");
    }
    siteHost = await TestNetns.create(`${cluster.prefix}-site`);
    await must(["ip", "-n", torNs, "link", "add", "a-100", "type", "veth", "peer", "name", "eth0", "netns", siteHost.name]);
    await must(["ip", "-n", torNs, "link", "set", "a-100", "up"]);
    await vsctl("add-port", "tor", "a-100", "tag=100");
    await must(["ip", "-n", siteHost.name, "addr", "add", "198.18.71.250/24", "dev", "eth0"]);
    await must(["ip", "-n", siteHost.name, "link", "set", "eth0", "up"]);
    // The userspace datapath drops segments it would have to checksum: the site host sends them whole.
    await must(["ip", "netns", "exec", siteHost.name, "ethtool", "-K", "eth0", "tx", "off"]);
  }

  before(async () => {
    cluster = await Cluster.up({ hosts: 2, datapath: "ovs", logLevel: "warn", agentArgs: ["--uplink-if", "trunk0"] });
    api = new Api(cluster.apiBase);
    await topOfRack();
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
    await siteHost?.destroy();
    await cluster?.down();
    await tor?.stop();
    if (torNs) await run(["ip", "netns", "del", torNs]);
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

  test("the tenant's DNS answers at the gateway (its gateway namespace): a container resolves one on the other host", async () => {
    const d = await attach(cluster, made, 2, "dn", { tenant: "ta", network: "blue" }, "IgnoreUnknown=1;K8S_POD_NAME=dnsb");
    const q = async (c: Attached, name: string) =>
      JSON.parse((await c.ns.exec([process.execPath, DNS_QUERY_JS, "198.18.70.254", name, "A"])).stdout) as { rcode: number | string; addresses: string[] };
    await waitFor(async () => (await q(a1, "dnsb")).addresses.length > 0, { timeoutMs: 15_000, what: () => "no DNS answer at a1's gateway" });
    assert.deepEqual((await q(a1, "dnsb")).addresses, [d.ip]);
    const other = await q(b1, "dnsb");
    assert.equal(other.addresses.length, 0, `tenant tb's DNS does not know ta's names: ${JSON.stringify(other)}`);
  });

  test("an IPv6 network: containers on both hosts reach each other over IPv6, ping and TCP both ways, and the IPv6 gateway", async () => {
    await api.create("/api/v1/networks/ta:six/", { tenantName: "ta", networkName: "six", encap: "vxlan", subnet: "198.18.72.0/24", gateway: "198.18.72.254", ipv6Subnet: "fd00:72::/64", ipv6Gateway: "fd00:72::fe" });
    const v6a = await attach(cluster, made, 1, "v6a", { tenant: "ta", network: "six" });
    const v6b = await attach(cluster, made, 2, "v6b", { tenant: "ta", network: "six" });
    assert.match(v6a.ip6, /^fd00:72::/);
    await v6a.ns.serve("v6a", 8080);
    await v6b.ns.serve("v6b", 8080);
    await waitFor(() => v6a.ns.ping(v6b.ip6, 1), { timeoutMs: 15_000, what: () => "v6a → v6b over IPv6" });
    assert.ok(await v6b.ns.ping(v6a.ip6), "v6b → v6a");
    assert.equal(await v6a.ns.tcpReaches(v6b.ip6, 8080), "v6b");
    assert.equal(await v6b.ns.tcpReaches(v6a.ip6, 8080), "v6a");
    assert.ok(await v6a.ns.ping("fd00:72::fe"), "the IPv6 gateway");
  });

  test("a vlan network is handed to the physical network tagged: across hosts and to a site host, both ways", async () => {
    await api.create("/api/v1/networks/ta:vl100/", { tenantName: "ta", networkName: "vl100", encap: "vlan", pktTag: 100, subnet: "198.18.71.0/24", gateway: "198.18.71.254" });
    v1 = await attach(cluster, made, 1, "v1", { tenant: "ta", network: "vl100" });
    v2 = await attach(cluster, made, 2, "v2", { tenant: "ta", network: "vl100" });
    await v2.ns.serve("v2", 8080);
    await waitFor(() => v1.ns.ping(v2.ip, 1), { timeoutMs: 15_000, what: () => "v1 → v2 through the switch" });
    assert.ok(await v2.ns.ping(v1.ip), "v2 → v1");
    assert.equal(await v1.ns.tcpReaches(v2.ip, 8080), "v2");
    assert.ok(await v1.ns.ping("198.18.71.250"), "v1 → the site host on VLAN 100");
    assert.ok(await siteHost!.ping(v2.ip), "the site host → v2");
    assert.equal(await siteHost!.tcpReaches(v2.ip, 8080), "v2");
    assert.ok(await a1.ns.ping(a2.ip), "the overlay networks keep working beside it");
  });

  test("a capture on a trunk shows the frames tagged 100", async () => {
    const capture = run(["ip", "netns", "exec", torNs, "tcpdump", "-c", "2", "-eni", "t-h1", "vlan 100 and icmp"], { timeoutMs: 15_000 });
    await new Promise((r) => setTimeout(r, 1000));
    await siteHost!.ping(v1.ip, 3);
    const out = await capture;
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /ethertype 802\.1Q \(0x8100\), length \d+: vlan 100/);
  });

  test("an access uplink: a host whose switch port is an access port of VLAN 100 sends and takes that network untagged", async () => {
    const h2 = cluster.hosts[1]!;
    await must(["ovs-vsctl", `--db=${tor!.db}`, "set", "port", "t-h2", "tag=100", "--", "clear", "port", "t-h2", "trunks"]);
    await h2.agent?.stop();
    h2.agentArgs.push("--uplink-access-vlan", "100");
    await cluster.startAgent(h2);
    await waitFor(() => v2.ns.ping(v1.ip, 1), { timeoutMs: 20_000, what: () => "v2 (access) → v1 (trunk)" });
    assert.ok(await siteHost!.ping(v2.ip), "the site host → v2");
    assert.equal(await siteHost!.tcpReaches(v2.ip, 8080), "v2");
    const capture = run(["ip", "netns", "exec", torNs, "tcpdump", "-c", "2", "-eni", "t-h2", "icmp"], { timeoutMs: 15_000 });
    await new Promise((r) => setTimeout(r, 1000));
    await siteHost!.ping(v2.ip, 3);
    const out = await capture;
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /ethertype IPv4 \(0x0800\)/);
    assert.doesNotMatch(out.stdout, /802\.1Q/, "untagged on the access port");
  });

  test("stateful policy: a deny rule on the receiver's group holds across hosts, allowed ports and replies pass", async () => {
    await api.create("/api/v1/policys/ta:guard/", { tenantName: "ta", policyName: "guard" });
    await api.create("/api/v1/rules/ta:guard:1/", { tenantName: "ta", policyName: "guard", ruleId: "1", direction: "in", protocol: "tcp", port: 9090, action: "deny", priority: 10 });
    await api.create("/api/v1/endpointGroups/ta:web/", { tenantName: "ta", groupName: "web", networkName: "blue", policies: ["guard"] });
    const w = await attach(cluster, made, 1, "w", { tenant: "ta", network: "blue", group: "web" });
    await w.ns.serve("w", 8080);
    await w.ns.serve("w", 9090);
    await waitFor(async () => (await a2.ns.tcpReaches(w.ip, 8080, 800)) === "w", { timeoutMs: 15_000, what: () => "a2 → w:8080" });
    assert.equal(await a2.ns.tcpReaches(w.ip, 9090, 800), "timeout", "denied from the other host");
    assert.equal(await a1.ns.tcpReaches(w.ip, 9090, 800), "timeout", "denied on the same host");
    assert.equal(await w.ns.tcpReaches(a2.ip, 8080), "a2", "w's own connections are not judged by its in rules");
    // The refused connects (SYN retries) counted at the deny rule, read from the flows' counters.
    type Stats = { Oper: { ruleStats: { ruleId: string; packets: number }[] } };
    let stats: Stats["Oper"]["ruleStats"] = [];
    await waitFor(async () => {
      stats = (await api.get<Stats>("/api/v1/inspect/policys/ta:guard/")).body.Oper.ruleStats;
      return stats.some((r) => r.ruleId === "1" && r.packets > 0);
    }, { timeoutMs: 30_000, what: () => `the deny rule's counter: ${JSON.stringify(stats)}` });
    // Removing the rule opens the port.
    assert.equal((await api.del("/api/v1/rules/ta:guard:1/")).status, 200);
    await waitFor(async () => (await a2.ns.tcpReaches(w.ip, 9090, 800)) === "w", { timeoutMs: 15_000, what: () => "a2 → w:9090 after the rule went" });
  });

  test("a service's VIP spreads new connections over its providers on both hosts; a bandwidth limit holds", async () => {
    const labelled = (app: string) => ({ args: { cni: { labels: [{ key: "app", value: app }] } } });
    // Named apart from the IPv6 test's s1 and s2 (a container's namespace carries its name).
    const s1 = await attach(cluster, made, 1, "lb1", { tenant: "ta", network: "blue", ...labelled("svc") });
    const s2 = await attach(cluster, made, 2, "lb2", { tenant: "ta", network: "blue", ...labelled("svc") });
    await s1.ns.serve("s1", 8181);
    await s2.ns.serve("s2", 8181);
    await api.create("/api/v1/serviceLBs/ta:svc/", { tenantName: "ta", serviceName: "svc", networkName: "blue", selectors: ["app=svc"], ports: ["80:8181:TCP"] });
    const vip = (await api.get<{ Oper: { serviceVip: string } }>("/api/v1/inspect/serviceLBs/ta:svc/")).body.Oper.serviceVip;
    assert.match(vip, /^198\.18\.70\.\d+$/);
    const seen = new Set<string>();
    await waitFor(async () => {
      seen.add(await a1.ns.tcpReaches(vip, 80, 1500));
      return seen.has("s1") && seen.has("s2");
    }, { timeoutMs: 30_000, what: () => `a1 → ${vip}:80 reached ${[...seen].join(", ")}` });

    // A group with a 20 Mbit/s profile: its container sends about that, not the unlimited rate.
    await api.create("/api/v1/netprofiles/ta:slow/", { tenantName: "ta", profileName: "slow", bandwidth: "20Mbps", burst: 2000 });
    await api.create("/api/v1/endpointGroups/ta:capped/", { tenantName: "ta", groupName: "capped", networkName: "blue", netProfile: "slow" });
    const capped = await attach(cluster, made, 1, "capped", { tenant: "ta", network: "blue", group: "capped" });
    const server = await a2.ns.iperfServer(5201);
    try {
      const r = await capped.ns.exec(["iperf3", "-c", a2.ip, "-t", "3", "-J"]);
      const bps = (JSON.parse(r.stdout) as { end: { sum_received: { bits_per_second: number } } }).end.sum_received.bits_per_second;
      assert.ok(bps > 5e6 && bps < 30e6, `capped sends ${Math.round(bps / 1e6)} Mbit/s, limit 20`);
    } finally {
      server.kill();
    }
  });
});
