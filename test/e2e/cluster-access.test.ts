// Multicast across hosts with snooping, host access through infra networks,
// and outbound NAT to "outside" (a namespace on the underlay standing for
// anything beyond the cluster).

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { Cluster, OUTSIDE_ADDRESS } from "../../src/cluster/index.js";
import { run } from "../../src/lib/process.js";
import { waitFor } from "../../src/lib/wait.js";
import { Api } from "../harness/api.js";
import { attach } from "../harness/cluster.js";
import { TestNetns } from "../harness/netns.js";

const NETPROBE = fileURLToPath(new URL("../../src/datapath/linux/netprobe.js", import.meta.url));

describe("multicast, host access and outbound NAT on a three-host cluster", () => {
  let cluster: Cluster;
  let api: Api;
  const made: TestNetns[] = [];

  before(async () => {
    cluster = await Cluster.up({ hosts: 3, logLevel: "warn" });
    api = new Api(cluster.apiBase);
    await api.create("/api/v1/networks/default:net/", { tenantName: "default", networkName: "net", encap: "vxlan", subnet: "198.18.120.0/24", gateway: "198.18.120.254" });
  });
  after(async () => {
    for (const ns of made.splice(0)) await ns.destroy();
    await cluster?.down();
  });

  test("a receiver on one host gets a sender's multicast from another; a host without receivers does not flood it to its containers", async () => {
    const s = await attach(cluster, made, 1, "ms", { tenant: "default", network: "net" });
    const r = await attach(cluster, made, 2, "mr", { tenant: "default", network: "net" });
    const n = await attach(cluster, made, 3, "mn", { tenant: "default", network: "net" });
    await waitFor(async () => s.ns.ping(r.ip, 1), { timeoutMs: 15_000, what: () => "no unicast between sender and receiver" });
    const rxPackets = async () =>
      (JSON.parse((await n.ns.exec(["ip", "-s", "-j", "link", "show", "eth0"])).stdout) as { stats64: { rx: { packets: number } } }[])[0]!.stats64.rx.packets;
    // Snooping prunes once the bridges' queriers have settled (10-20 s after they start); until then
    // unregistered multicast is flooded, as on any Linux bridge. Wait for that with short bursts.
    const joined = r.ns.exec([process.execPath, NETPROBE, "mrecv", "239.1.2.3", "5000", "45000"]);
    await waitFor(async () => {
      const start = await rxPackets();
      await s.ns.exec([process.execPath, NETPROBE, "msend", "239.1.2.3", "5000", "20", "10"]);
      return (await rxPackets()) - start < 3;
    }, { timeoutMs: 45_000, what: () => "multicast still flooded to a container that did not join" });
    void joined;
    const receiving = r.ns.exec([process.execPath, NETPROBE, "mrecv", "239.1.2.3", "5001", "6000"]);
    await new Promise((res) => setTimeout(res, 1000));
    const before = await rxPackets();
    const sent = await s.ns.exec([process.execPath, NETPROBE, "msend", "239.1.2.3", "5001", "100", "10"]);
    assert.equal(sent.code, 0, sent.stderr);
    const got = JSON.parse((await receiving).stdout.trim().split("\n").pop()!) as { received: number };
    assert.ok(got.received >= 90, `receiver got ${got.received} of 100`);
    const extra = (await rxPackets()) - before;
    assert.ok(extra < 20, `a container that did not join received ${extra} packets during the burst`);
  });

  test("containers reach addresses outside the cluster, NATed to their host", async () => {
    const outside = await cluster.addOutside();
    const out = new TestNetns(outside);
    made.push(out);
    const server = out.exec(["timeout", "20", process.execPath, NETPROBE, "serve-peer", "7000"]);
    const c = await attach(cluster, made, 1, "out1", { tenant: "default", network: "net" });
    await new Promise((res) => setTimeout(res, 500));
    let seen = "";
    await waitFor(async () => {
      seen = await c.ns.tcpReaches(OUTSIDE_ADDRESS, 7000, 1000);
      return seen === cluster.hosts[0]!.address;
    }, { timeoutMs: 15_000, what: () => `outside saw ${seen}, expected host 1's address ${cluster.hosts[0]!.address}` });
    void server;
  });

  test("hosts get an address on an infra network: containers reach their host and hosts reach containers", async () => {
    await api.create("/api/v1/networks/default:infra/", { tenantName: "default", networkName: "infra", nwType: "infra", encap: "vxlan", subnet: "198.18.121.0/24", gateway: "198.18.121.254" });
    type Inspect = { Oper: { endpoints?: { homingHost: string; ipAddress: string[] }[] } };
    let hostIps = new Map<string, string>();
    await waitFor(async () => {
      const ins = await api.get<Inspect>("/api/v1/inspect/networks/default:infra/");
      hostIps = new Map((ins.body.Oper.endpoints ?? []).map((e) => [e.homingHost, e.ipAddress[0]!]));
      return hostIps.size === 3;
    }, { timeoutMs: 20_000, what: () => `host endpoints: ${JSON.stringify([...hostIps])}` });
    const c = await attach(cluster, made, 2, "inf", { tenant: "default", network: "infra" });
    const h2 = cluster.hosts[1]!;
    const h1 = cluster.hosts[0]!;
    await waitFor(async () => c.ns.ping(hostIps.get(h2.name)!, 1), { timeoutMs: 15_000, what: () => "container cannot reach its host" });
    const fromHost1 = await run(["ip", "netns", "exec", h1.namespace, "ping", "-c", "2", "-i", "0.2", "-W", "1", c.ip]);
    assert.equal(fromHost1.code, 0, `host 1 -> container on host 2: ${fromHost1.stdout}`);
  });
});
