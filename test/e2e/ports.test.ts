// Published host ports through the CNI plugin (runtimeConfig.portMappings, podman's lowerCamel keys and
// containerd's capitalised ones) on a one-host cluster: real TCP and UDP from the "outside" namespace to
// the host's underlay address, and from the host's own namespace (its address and 127.0.0.1), reach the
// container; a port on 127.0.0.1 only is not reachable from outside; a group's deny rule still blocks; a
// host port asked for twice is refused and leaves nothing; the agent restarting keeps the ports; DEL
// removes them from both NAT tables. Everything lives in namespaces the cluster makes (198.18.0.0/15).

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { Cluster, OUTSIDE_ADDRESS, type ClusterHost } from "../../src/cluster/index.js";
import { hostPrefix, tenantNamespace } from "../../src/datapath/names.js";
import { run } from "../../src/lib/process.js";
import { waitFor } from "../../src/lib/wait.js";
import { Api } from "../harness/api.js";
import { attach } from "../harness/cluster.js";
import { TestNetns } from "../harness/netns.js";

const NETPROBE = fileURLToPath(new URL("../../src/datapath/linux/netprobe.js", import.meta.url));
const TENANT = "pt";
const SERVE_PORT = 7000;

interface AddOut {
  ips?: { address: string }[];
  code?: number;
  msg?: string;
}

describe("published host ports (CNI portMappings) on a cluster host", { skip: process.getuid?.() !== 0 ? "needs root" : false }, () => {
  let cluster: Cluster;
  let host: ClusterHost;
  let api: Api;
  let outside: TestNetns;
  const made: TestNetns[] = [];

  const config = (portMappings: unknown[], group?: string) => ({
    tenant: TENANT,
    network: "net",
    ...(group ? { group } : {}),
    capabilities: { portMappings: true },
    runtimeConfig: { portMappings },
  });

  async function container(name: string, portMappings: unknown[], group?: string): Promise<{ ns: TestNetns; ip: string }> {
    const { ns, ip } = await attach(cluster, made, 1, name, config(portMappings, group));
    await ns.serve(name, SERVE_PORT);
    return { ns, ip };
  }

  /** TCP from a namespace (by name) with netprobe: the server's tag, or "refused"/"timeout"/"error". */
  async function tcpFrom(namespace: string, address: string, port: number): Promise<string> {
    const r = await run(["ip", "netns", "exec", namespace, process.execPath, NETPROBE, "tcp", address, String(port), "1500"]);
    const out = JSON.parse(r.stdout.trim().split("\n").pop() || "{}") as { result?: string; tag?: string };
    return out.result === "reply" ? String(out.tag) : String(out.result);
  }

  async function udpFrom(namespace: string, address: string, port: number): Promise<{ received: number; tags: string[] }> {
    const r = await run(["ip", "netns", "exec", namespace, process.execPath, NETPROBE, "udp", address, String(port), "5", "50"]);
    return JSON.parse(r.stdout.trim().split("\n").pop() || "{}") as { received: number; tags: string[] };
  }

  const prefix = () => hostPrefix(host.name);
  const hostTable = async () => (await run(["ip", "netns", "exec", host.namespace, "nft", "list", "table", "inet", `netplugin_${prefix()}`])).stdout;
  const tenantTable = async () => (await run(["ip", "netns", "exec", tenantNamespace(prefix(), TENANT), "nft", "list", "table", "ip", "netplugin_nat"])).stdout;
  const localnet = async () => {
    const links = await run(["ip", "-n", host.namespace, "-o", "link", "show"]);
    const uplink = /\d+: (\S+?u[0-9a-f]{5})@/.exec(links.stdout)?.[1] ?? "";
    return (await run(["ip", "netns", "exec", host.namespace, "sysctl", "-n", `net.ipv4.conf.${uplink}.route_localnet`])).stdout.trim();
  };

  before(async () => {
    cluster = await Cluster.up({ hosts: 1, logLevel: "warn" });
    host = cluster.hosts[0]!;
    api = new Api(cluster.apiBase);
    await api.create(`/api/v1/tenants/${TENANT}/`, { tenantName: TENANT });
    await api.create(`/api/v1/networks/${TENANT}:net/`, { tenantName: TENANT, networkName: "net", encap: "vxlan", subnet: "198.18.130.0/24", gateway: "198.18.130.254" });
    outside = new TestNetns(await cluster.addOutside());
    made.push(outside);
  });
  after(async () => {
    for (const ns of made.splice(0)) await ns.destroy();
    await cluster?.down();
  });

  test("podman's lowerCamel mappings: TCP and UDP from outside and from the host reach the container", async () => {
    await container("pa", [
      { hostPort: 18080, containerPort: SERVE_PORT, protocol: "tcp" },
      { hostPort: 18081, containerPort: SERVE_PORT, protocol: "udp", hostIP: "" },
      { hostPort: 18083, containerPort: SERVE_PORT, protocol: "tcp", hostIP: "127.0.0.1" },
    ]);
    await waitFor(async () => (await tcpFrom(outside.name, host.address, 18080)) === "pa", { timeoutMs: 10_000, what: () => "outside does not reach pa through 18080/tcp" });
    const udp = await udpFrom(outside.name, host.address, 18081);
    assert.ok(udp.received >= 4, `UDP from outside: ${JSON.stringify(udp)}`);
    assert.deepEqual(udp.tags, ["pa"]);
    assert.equal(await tcpFrom(host.namespace, host.address, 18080), "pa", "the host's own connection to its address");
    assert.equal(await tcpFrom(host.namespace, "127.0.0.1", 18080), "pa", "the host's own connection to localhost");
    assert.equal(await tcpFrom(host.namespace, "127.0.0.1", 18083), "pa", "a port published on 127.0.0.1");
    assert.deepEqual((await udpFrom(host.namespace, host.address, 18081)).tags, ["pa"]);
    assert.equal(await localnet(), "1", "route_localnet on the uplink while a mapping covers loopback");
    // What is not published stays shut: the loopback-only port from outside, the container port itself, udp on the tcp port.
    assert.notEqual(await tcpFrom(outside.name, host.address, 18083), "pa");
    assert.notEqual(await tcpFrom(outside.name, host.address, SERVE_PORT), "pa");
    assert.equal((await udpFrom(outside.name, host.address, 18080)).received, 0);
  });

  test("containerd's capitalised keys work the same", async () => {
    await container("pb", [{ HostPort: 18090, ContainerPort: SERVE_PORT, Protocol: "tcp", HostIP: "" }]);
    await waitFor(async () => (await tcpFrom(outside.name, host.address, 18090)) === "pb", { timeoutMs: 10_000, what: () => "outside does not reach pb through 18090/tcp" });
    assert.equal(await tcpFrom(outside.name, host.address, 18080), "pa", "pa keeps its port");
  });

  test("containers reach a published port through their host's address: of their own tenant, another's, their own", async () => {
    const pb = made.find((n) => n.name.endsWith("-c-pb"))!;
    assert.equal(await tcpFrom(pb.name, host.address, 18080), "pa", "pb to pa, one tenant");
    const pa = made.find((n) => n.name.endsWith("-c-pa"))!;
    assert.equal(await tcpFrom(pa.name, host.address, 18080), "pa", "pa to its own port");
    assert.deepEqual((await udpFrom(pb.name, host.address, 18081)).tags, ["pa"], "udp too");
    await api.create(`/api/v1/tenants/${TENANT}2/`, { tenantName: `${TENANT}2` });
    await api.create(`/api/v1/networks/${TENANT}2:net/`, { tenantName: `${TENANT}2`, networkName: "net", encap: "vxlan", subnet: "198.18.130.0/24", gateway: "198.18.130.254" });
    const { ns: px } = await attach(cluster, made, 1, "px", { tenant: `${TENANT}2`, network: "net" });
    assert.equal(await tcpFrom(px.name, host.address, 18080), "pa", "from another tenant with the same subnet");
    // Only our published ports cross between uplinks: a DNAT made on the host by other software (here to pa's
    // tenant end, on a port the tenant does not publish) does not open the way from one tenant to another.
    const tenantEnd = JSON.parse((await run(["ip", "-n", tenantNamespace(prefix(), TENANT), "-j", "-4", "addr", "show", "nuplink"])).stdout)[0].addr_info[0].local as string;
    const foreign = `${cluster.prefix}fdnat`;
    await run(["ip", "netns", "exec", host.namespace, "nft", "-f", "-"], { stdin: `table ip ${foreign} {\n chain pre {\n  type nat hook prerouting priority dstnat; policy accept;\n  tcp dport 18999 dnat to ${tenantEnd}:${SERVE_PORT}\n }\n}\n` });
    try {
      assert.equal(await tcpFrom(px.name, host.address, 18999), "timeout", "dropped between the uplinks");
    } finally {
      await run(["ip", "netns", "exec", host.namespace, "nft", "delete", "table", "ip", foreign]);
    }
    const removed = await cluster.removeContainer(1, "px", { tenant: `${TENANT}2`, network: "net" });
    assert.equal(removed.code, 0);
  });

  test("a host port asked for twice is refused and leaves nothing behind", async () => {
    const state = await api.state();
    const tables = [await hostTable(), await tenantTable()];
    const links = (await run(["ip", "-n", tenantNamespace(prefix(), TENANT), "-o", "link"])).stdout.split("\n").length;
    for (const [name, mappings] of [
      ["pc", [{ hostPort: 18090, containerPort: 80, protocol: "tcp" }]],
      ["pd", [{ hostPort: 18099, containerPort: 80 }, { hostPort: 18080, containerPort: 80, hostIP: "198.18.0.11" }]],
    ] as const) {
      const c = await cluster.addContainer(1, name, config([...mappings]));
      made.push(new TestNetns(c.namespace));
      const out = c.result.out as AddOut;
      assert.notEqual(c.result.code, 0, `${name} was attached`);
      assert.equal(out.code, 103, JSON.stringify(out));
      assert.match(out.msg ?? "", /Cannot publish host port: host port .*(18090|18080)\/tcp is published by container/);
      assert.equal((await run(["ip", "-n", c.namespace, "link", "show", "eth0"])).code, 1, "no interface in the container");
    }
    assert.deepEqual(await api.state(), state, "netmaster's state is unchanged");
    assert.deepEqual([await hostTable(), await tenantTable()], tables, "the NAT tables are unchanged");
    assert.equal((await run(["ip", "-n", tenantNamespace(prefix(), TENANT), "-o", "link"])).stdout.split("\n").length, links, "no link left");
    assert.equal(await tcpFrom(outside.name, host.address, 18090), "pb");
  });

  test("a group's deny rule still blocks a published port; what it does not deny passes", async () => {
    await api.create(`/api/v1/policys/${TENANT}:shut/`, { tenantName: TENANT, policyName: "shut" });
    await api.create(`/api/v1/rules/${TENANT}:shut:1/`, { tenantName: TENANT, policyName: "shut", ruleId: "1", direction: "in", protocol: "tcp", port: SERVE_PORT, action: "deny", priority: 1 });
    await api.create(`/api/v1/endpointGroups/${TENANT}:web/`, { tenantName: TENANT, groupName: "web", networkName: "net", policies: ["shut"] });
    await container("pw", [{ hostPort: 18100, containerPort: SERVE_PORT, protocol: "tcp" }, { hostPort: 18101, containerPort: SERVE_PORT, protocol: "udp" }], "web");
    await waitFor(async () => (await udpFrom(outside.name, host.address, 18101)).received > 0, { timeoutMs: 10_000, what: () => "udp into web does not pass" });
    assert.equal(await tcpFrom(outside.name, host.address, 18100), "timeout", "tcp/7000 into web is denied");
    assert.equal(await tcpFrom(host.namespace, host.address, 18100), "timeout", "from the host too");
    assert.equal(await tcpFrom(outside.name, host.address, 18080), "pa", "containers outside the group are not affected");
  });

  test("a restarted agent keeps the ports and changes no table", async () => {
    const tables = [await hostTable(), await tenantTable()];
    await host.agent?.kill();
    assert.equal(await tcpFrom(outside.name, host.address, 18080), "pa", "the kernel keeps them while the agent is down");
    await cluster.startAgent(host);
    // An ADD runs after the agent's first (full) sync: once it is done, that sync has read and judged the tables.
    await container("pr", []);
    assert.deepEqual([await hostTable(), await tenantTable()], tables);
    assert.equal(await tcpFrom(outside.name, host.address, 18090), "pb");
  });

  test("DEL removes the ports: they no longer answer and the NAT tables hold nothing of them", async () => {
    const pa = made.find((n) => n.name.endsWith("-c-pa"))!;
    const paIp = JSON.parse((await pa.exec(["ip", "-j", "-4", "addr", "show", "eth0"])).stdout)[0].addr_info[0].local as string;
    // A container without ports keeps the tenant (and its uplink) on the host.
    const c = await container("pe", []);
    for (const name of ["pa", "pb", "pw"]) {
      const r = await cluster.removeContainer(1, name, config([]));
      assert.equal(r.code, 0, `DEL ${name}: ${JSON.stringify(r.out)}`);
    }
    assert.notEqual(await tcpFrom(outside.name, host.address, 18080), "pa");
    assert.notEqual(await tcpFrom(outside.name, host.address, 18090), "pb");
    assert.notEqual(await tcpFrom(host.namespace, "127.0.0.1", 18080), "pa");
    assert.notEqual(await tcpFrom(host.namespace, "127.0.0.1", 18083), "pa", "the loopback-only port");
    assert.equal((await udpFrom(outside.name, host.address, 18081)).received, 0);
    const [h, t] = [await hostTable(), await tenantTable()];
    assert.doesNotMatch(h, /chain ports|127\.0\.0\.0|dnat/, h);
    assert.doesNotMatch(t, /chain ports|dport|dnat (ip )?to/, t);
    assert.ok(!t.includes(paIp), t);
    assert.equal(await localnet(), "0", "route_localnet is off again");
    // Outbound NAT is untouched: a container still reaches outside.
    await outside.servePeer(7001);
    await waitFor(async () => (await c.ns.tcpReaches(OUTSIDE_ADDRESS, 7001, 1000)) === host.address, { timeoutMs: 8000, what: () => "no outbound NAT" });
  });
});
