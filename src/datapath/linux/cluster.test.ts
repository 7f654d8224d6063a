// Three simulated hosts against the real kernel, with real traffic: each host is a network namespace
// (the agent's namespace: LinuxDatapath runs its own commands there through `hostNamespace`), joined
// by an underlay namespace with a bridge; an "outside" namespace on the underlay stands for the world.
// Everything carries the per-run prefix "npt<4 hex>" and is removed in after(), also on failure.
// Needs root; skipped otherwise.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";

import {
  bridgeName,
  endpointLinkName,
  hostEndpointLink,
  hostEndpointTenantLink,
  hostNftTable,
  tenantNamespace,
  UPLINK_TENANT_LINK,
  uplinkHostLink,
  vxlanName,
} from "../names.js";
import type { DesiredEndpoint, DesiredHost, DesiredNetwork, DesiredRemoteEndpoint } from "../types.js";
import { LinuxDatapath } from "./driver.js";
import { emptyPolicy } from "../testing/desired.js";
import { parseLinks } from "./parse.js";
import {
  counted,
  exec,
  installCounter,
  killChildren,
  ping,
  probe,
  removeNamespaces,
  startProbe,
  tcp,
} from "./testing/netns.js";

const isRoot = process.getuid?.() === 0;
const P = `npt${randomBytes(2).toString("hex")}`;
const HOSTS = [1, 2, 3] as const;
type Host = (typeof HOSTS)[number];
const UNDERLAY = `${P}-ul`;
const OUTSIDE_NS = `${P}-out`;
const OUTSIDE = "198.18.0.250";
const UNDERLAY_MTU = 1500;
/** What the lead passes for a VXLAN network: the underlay MTU less the encapsulation overhead. */
const MTU = UNDERLAY_MTU - 50;
const PORT = 7007;
const PEER_PORT = 7008;

const hostNs = (h: Host): string => `${P}-h${h}`;
/** Each simulated host's agent has its own prefix, so its tenant namespaces do not collide with the others'. */
const prefixOf = (h: Host): string => `${P}${h}`;
const vtep = (h: Host): string => `198.18.0.1${h}`;
const containerNs = (name: string): string => `${P}-c-${name}`;

interface NetworkDef {
  tenant: "a" | "b";
  name: string;
  vni: number;
  third: number;
  v6: boolean;
}
const NETWORKS: NetworkDef[] = [
  { tenant: "a", name: "blue", vni: 1001, third: 1, v6: true },
  { tenant: "a", name: "infra", vni: 1005, third: 5, v6: false },
  // tenant b: the same subnet as a/blue, another VNI
  { tenant: "b", name: "blue", vni: 1002, third: 1, v6: true },
];

interface ContainerDef {
  name: string;
  tenant: "a" | "b";
  network: string;
  host: Host;
  index: number;
  mac: string;
}
const CONTAINERS: ContainerDef[] = [
  ...HOSTS.map((h): ContainerDef => ({ name: `a${h}`, tenant: "a", network: "blue", host: h, index: h, mac: `02:00:00:00:0a:0${h}` })),
  ...HOSTS.map((h): ContainerDef => ({ name: `b${h}`, tenant: "b", network: "blue", host: h, index: h, mac: `02:00:00:00:0b:0${h}` })),
  { name: "x", tenant: "a", network: "infra", host: 2, index: 1, mac: "02:00:00:00:05:01" },
];
/** The host endpoint of each host on a/infra. */
const hostEndpointAddress = (h: Host): string => `198.18.5.10${h}`;
const hostEndpointMac = (h: Host): string => `02:00:00:00:05:1${h}`;

interface Options {
  /** ARP mode of tenant b's network. */
  arpB: "proxy" | "flood";
  /** MACs left out of the remotes (host 1 only). */
  forgetOnHost1: string[];
  natOutbound: boolean;
}
const DEFAULTS: Options = { arpB: "flood", forgetOnHost1: [], natOutbound: true };

function netDef(tenant: string, name: string): NetworkDef {
  return NETWORKS.find((n) => n.tenant === tenant && n.name === name)!;
}

function address(c: ContainerDef): { v4: string; v6: string } {
  const net = netDef(c.tenant, c.network);
  return { v4: `198.18.${net.third}.${c.index}`, v6: net.v6 ? `fd00:${net.third}::${c.index}` : "" };
}

function network(def: NetworkDef, h: Host, o: Options): DesiredNetwork {
  const remotes: DesiredRemoteEndpoint[] = CONTAINERS.filter((c) => c.tenant === def.tenant && c.network === def.name && c.host !== h).map(
    (c) => ({ id: `${c.network}.${c.tenant}-${c.index}`, mac: c.mac, ipv4: address(c).v4, ipv6: address(c).v6, vtep: vtep(c.host) }),
  );
  if (def.name === "infra") {
    for (const other of HOSTS.filter((x) => x !== h)) {
      remotes.push({ id: `host-${vtep(other)}`, mac: hostEndpointMac(other), ipv4: hostEndpointAddress(other), ipv6: "", vtep: vtep(other) });
    }
  }
  return {
    name: def.name,
    bridge: bridgeName(def.name),
    subnet: `198.18.${def.third}.0/24`,
    gateway: `198.18.${def.third}.254`,
    ipv6Subnet: def.v6 ? `fd00:${def.third}::/64` : "",
    ipv6Gateway: def.v6 ? `fd00:${def.third}::fe` : "",
    mtu: MTU,
    routed: false,
    netfilter: false,
    vxlan: {
      vni: def.vni,
      device: vxlanName(def.vni),
      localVtep: vtep(h),
      port: 4789,
      peers: HOSTS.filter((x) => x !== h).map(vtep),
      arpMode: def.tenant === "b" ? o.arpB : "proxy",
      remotes: remotes.filter((r) => !(h === 1 && o.forgetOnHost1.includes(r.mac))),
    },
  };
}

function endpoint(c: ContainerDef): DesiredEndpoint {
  const net = netDef(c.tenant, c.network);
  const { v4, v6 } = address(c);
  return {
    id: `${P}-${c.name}`,
    network: c.network,
    hostLink: endpointLinkName(`${P}-${c.name}`),
    netns: `/var/run/netns/${containerNs(c.name)}`,
    ifname: "eth0",
    mac: c.mac,
    ipv4: `${v4}/24`,
    ipv6: v6 === "" ? "" : `${v6}/64`,
    gateway: `198.18.${net.third}.254`,
    ipv6Gateway: net.v6 ? `fd00:${net.third}::fe` : "",
    mtu: MTU,
    qos: { egressBps: 0, ingressBps: 0, burstBytes: 0 },
  };
}

function desired(h: Host, options: Partial<Options> = {}): DesiredHost {
  const o = { ...DEFAULTS, ...options };
  const prefix = prefixOf(h);
  const tenant = (name: "a" | "b") => ({
    name,
    namespace: tenantNamespace(prefix, name),
    networks: NETWORKS.filter((n) => n.tenant === name).map((n) => network(n, h, o)),
    endpoints: CONTAINERS.filter((c) => c.tenant === name && c.host === h).map(endpoint),
    policy: emptyPolicy(),
  });
  return {
    prefix,
    host: { natOutbound: o.natOutbound },
    tenants: [
      {
        ...tenant("a"),
        fwdMode: "routing",
        uplink: { hostLink: uplinkHostLink(prefix, "a"), tenantLink: UPLINK_TENANT_LINK, hostAddr: "169.254.0.1/30", tenantAddr: "169.254.0.2/30", routes: [] },
        hostEndpoints: [
          {
            network: "infra",
            hostLink: hostEndpointLink(prefix, "a", "infra"),
            tenantLink: hostEndpointTenantLink("infra"),
            address: `${hostEndpointAddress(h)}/24`,
            mac: hostEndpointMac(h),
            mtu: MTU,
          },
        ],
      },
      { ...tenant("b"), fwdMode: "bridge", hostEndpoints: [] },
    ],
  };
}

const nsOf = (h: Host, tenant: "a" | "b"): string => tenantNamespace(prefixOf(h), tenant);

async function linksIn(argv: string[]): Promise<ReturnType<typeof parseLinks>> {
  return parseLinks(await exec.run(argv), argv);
}

/** Self FDB entries of a VXLAN device: "MAC dst". */
async function fdbOf(ns: string, dev: string): Promise<string[]> {
  const out = await exec.run(["bridge", "-n", ns, "-json", "fdb", "show", "dev", dev]);
  return (JSON.parse(out) as Array<{ mac: string; dst?: string; master?: string; state: string }>).map(
    (e) => `${e.mac} ${e.dst ?? e.master ?? ""} ${e.state}`,
  );
}

describe("LinuxDatapath on three simulated hosts (VXLAN, uplink NAT, host endpoints)", { skip: isRoot ? false : "needs root" }, () => {
  let agents = new Map<Host, LinuxDatapath>(HOSTS.map((h) => [h, new LinuxDatapath(exec, { hostNamespace: hostNs(h) })]));
  const reconcileAll = async (options: Partial<Options> = {}): Promise<void> => {
    const reports = await Promise.all(HOSTS.map((h) => agents.get(h)!.reconcile(desired(h, options))));
    for (const [i, r] of reports.entries()) assert.deepEqual(r.errors, [], `host ${i + 1}: ${JSON.stringify(r.errors)}`);
  };

  before(async () => {
    const ip = (...args: string[]): Promise<string> => exec.run(["ip", ...args]);
    await ip("netns", "add", UNDERLAY);
    await ip("-n", UNDERLAY, "link", "add", "br0", "type", "bridge");
    await ip("-n", UNDERLAY, "link", "set", "br0", "up");
    const attach = async (ns: string, port: string, addr: string): Promise<void> => {
      await ip("netns", "add", ns);
      await ip("-n", UNDERLAY, "link", "add", port, "mtu", String(UNDERLAY_MTU), "type", "veth", "peer", "name", "eth0", "mtu", String(UNDERLAY_MTU), "netns", ns);
      await ip("-n", UNDERLAY, "link", "set", port, "master", "br0", "up");
      await ip("-n", ns, "addr", "add", `${addr}/24`, "dev", "eth0");
      await ip("-n", ns, "link", "set", "eth0", "up");
      await ip("-n", ns, "link", "set", "lo", "up");
    };
    // The outside is on-link for every host: 198.18.0.0/24 is the underlay.
    for (const h of HOSTS) await attach(hostNs(h), `u${h}`, vtep(h));
    await attach(OUTSIDE_NS, "uout", OUTSIDE);
    for (const c of CONTAINERS) {
      await ip("netns", "add", containerNs(c.name));
      await ip("-n", containerNs(c.name), "link", "set", "lo", "up");
    }
  });

  after(async () => {
    killChildren();
    try {
      await Promise.all(HOSTS.map((h) => agents.get(h)!.cleanup(prefixOf(h))));
    } finally {
      await removeNamespaces(P);
    }
  });

  it("builds every host from nothing; a second reconcile plans nothing; VXLAN device and bridge get the network MTU", async () => {
    await reconcileAll();
    for (const h of HOSTS) assert.deepEqual(await agents.get(h)!.plan(desired(h)), { steps: [], problems: [] }, `host ${h}`);
    const links = await linksIn(["ip", "-n", nsOf(1, "a"), "-json", "-d", "link", "show"]);
    const vx = links.find((l) => l.ifname === vxlanName(1001))!;
    assert.equal(vx.mtu, MTU);
    assert.equal(vx.master, bridgeName("blue"));
    assert.equal(links.find((l) => l.ifname === bridgeName("blue"))!.mtu, MTU);
    assert.deepEqual(
      [vx.linkinfo?.info_data?.id, vx.linkinfo?.info_data?.local, vx.linkinfo?.info_data?.proxy, vx.linkinfo?.info_slave_data?.learning],
      [1001, vtep(1), true, false],
    );
    // Its UDP socket stays in the agent's namespace: nothing of ours is left there but the veth ends.
    const hostLinks = await linksIn(["ip", "-n", hostNs(1), "-json", "-d", "link", "show"]);
    assert.deepEqual(hostLinks.map((l) => l.ifname).sort(), ["eth0", "lo", hostEndpointLink(prefixOf(1), "a", "infra"), uplinkHostLink(prefixOf(1), "a")].sort());
    for (const c of ["a1", "a2", "a3", "b2", "b3"]) {
      await startProbe(containerNs(c), "serve", c, PORT);
    }
  });

  it("connects containers on different hosts both ways: ping, TCP over IPv4 and IPv6", async () => {
    assert.equal(await ping(containerNs("a1"), "198.18.1.2"), true);
    assert.equal(await ping(containerNs("a3"), "198.18.1.1"), true);
    assert.equal(await tcp(containerNs("a1"), "198.18.1.3", PORT), "reply a3");
    assert.equal(await tcp(containerNs("a2"), "198.18.1.1", PORT), "reply a1");
    assert.equal(await tcp(containerNs("a3"), "fd00:1::2", PORT), "reply a2");
    assert.equal(await tcp(containerNs("a2"), "fd00:1::1", PORT), "reply a1");
  });

  it("proxy mode: ARP for remote endpoints is answered on the host, none crosses the underlay", async () => {
    // ARP inside VXLAN arriving at a host: inner EtherType 0x0806 at UDP payload offset 8 + 8 + 12.
    for (const h of HOSTS) await installCounter(hostNs(h), "ip", "type filter hook input priority 0;", "udp dport 4789 @th,224,16 0x0806");
    await exec.run(["ip", "-n", containerNs("a1"), "neigh", "flush", "dev", "eth0"]);
    assert.equal(await ping(containerNs("a1"), "198.18.1.2"), true);
    assert.equal(await ping(containerNs("a1"), "198.18.1.3"), true);
    const neigh = await exec.run(["ip", "-n", containerNs("a1"), "-json", "neigh", "show", "198.18.1.3"]);
    assert.equal((JSON.parse(neigh) as Array<{ lladdr: string }>)[0]?.lladdr, "02:00:00:00:0a:03", "answered with a3's MAC");
    assert.deepEqual(await Promise.all(HOSTS.map((h) => counted(hostNs(h), "ip"))), [0, 0, 0]);
  });

  it("flood mode (tenant b): the same traffic works, and ARP is replicated to every peer VTEP", async () => {
    for (const h of HOSTS) await installCounter(hostNs(h), "ip", "type filter hook input priority 0;", "udp dport 4789 @th,224,16 0x0806");
    await exec.run(["ip", "-n", containerNs("b1"), "neigh", "flush", "dev", "eth0"]);
    assert.equal(await ping(containerNs("b1"), "198.18.1.2"), true);
    const [, toB2, toB3] = await Promise.all(HOSTS.map((h) => counted(hostNs(h), "ip")));
    assert.ok(toB2! >= 1 && toB3! >= 1, `ARP requests seen: host 2 ${toB2}, host 3 ${toB3} (host 3 is not even involved)`);
  });

  it("keeps two tenants with the same subnet and different VNIs apart across hosts", async () => {
    assert.equal(await tcp(containerNs("b1"), "198.18.1.3", PORT), "reply b3");
    assert.equal(await tcp(containerNs("a1"), "198.18.1.3", PORT), "reply a3");
    assert.equal(await tcp(containerNs("b3"), "198.18.1.2", PORT), "reply b2");
    assert.equal(await tcp(containerNs("b1"), "fd00:1::2", PORT), "reply b2");
  });

  it("re-creates a device whose ARP mode changes; traffic works in proxy mode too; nothing else is touched", async () => {
    const reports = await Promise.all(HOSTS.map((h) => agents.get(h)!.reconcile(desired(h, { arpB: "proxy" }))));
    for (const r of reports) {
      assert.deepEqual(r.errors, []);
      assert.ok(r.changes.every((c) => c.namespace.endsWith("-t-b") && ["vxlan", "fdb"].includes(c.phase)), JSON.stringify(r.changes));
      assert.ok(r.changes.some((c) => c.object === `vxlan ${vxlanName(1002)} (re-created)`));
    }
    await exec.run(["ip", "-n", containerNs("b1"), "neigh", "flush", "dev", "eth0"]);
    assert.equal(await tcp(containerNs("b1"), "198.18.1.2", PORT), "reply b2");
    await reconcileAll();
    assert.equal(await tcp(containerNs("b1"), "198.18.1.3", PORT), "reply b3");
  });

  it("forgets a remote endpoint that leaves the desired state: its FDB and neighbour entries go, and traffic to it stops", async () => {
    const a3 = "02:00:00:00:0a:03";
    const dev = vxlanName(1001);
    const report = await agents.get(1)!.reconcile(desired(1, { forgetOnHost1: [a3] }));
    assert.deepEqual(report.errors, []);
    assert.deepEqual(report.changes.map((c) => `${c.action} ${c.object}`).sort(), [
      `delete bridge entry ${a3} on ${dev}`,
      `delete neighbour 198.18.1.3 on ${dev}`,
      `delete neighbour fd00:1::3 on ${dev}`,
      `delete remote ${a3} on ${dev}`,
    ]);
    const fdb = await fdbOf(nsOf(1, "a"), dev);
    assert.ok(!fdb.some((e) => e.startsWith(a3)), fdb.join("; "));
    assert.ok(fdb.some((e) => e.startsWith("02:00:00:00:0a:02 198.18.0.12")), "a2 is still known");
    await exec.run(["ip", "-n", containerNs("a1"), "neigh", "flush", "dev", "eth0"]);
    assert.equal(await tcp(containerNs("a1"), "198.18.1.3", PORT), "timeout");
    assert.equal(await tcp(containerNs("a1"), "198.18.1.2", PORT), "reply a2");
    await reconcileAll();
    assert.equal(await tcp(containerNs("a1"), "198.18.1.3", PORT), "reply a3");
  });

  it("multicast: a receiver on host 2 gets a sender's datagrams from host 1; a container on host 3 that did not join gets none", async (t) => {
    const group = "239.1.1.1";
    const port = 5000;
    // Count what reaches a3's interface at all (its own stack would drop a group it did not join anyway).
    await installCounter(containerNs("a3"), "netdev", 'type filter hook ingress device "eth0" priority 0;', `ip daddr ${group} udp dport ${port}`);
    // Until a bridge knows a querier exists (its own, mcast_querier 1, once another host's query has
    // been answered for the response interval), it floods multicast to every port. Retry until it prunes.
    const started = Date.now();
    let last = { received: -1, flooded: -1 };
    for (let round = 0; round < 12; round++) {
      const before = await counted(containerNs("a3"), "netdev");
      const receiver = await startProbe(containerNs("a2"), "mrecv", group, port, 1_600);
      await new Promise((resolve) => setTimeout(resolve, 200));
      await probe(containerNs("a1"), "msend", group, port, 20, 20);
      const { received } = (await receiver.done) as { received: number };
      last = { received, flooded: (await counted(containerNs("a3"), "netdev")) - before };
      assert.equal(received, 20, `round ${round}: the receiver on host 2 got ${received} of 20`);
      if (last.flooded === 0) break;
    }
    t.diagnostic(`snooping pruned host 3 after ${Math.round((Date.now() - started) / 1000)} s of this test`);
    assert.deepEqual(last, { received: 20, flooded: 0 });
  });

  it("uplink + NAT: a container reaches the outside, which sees the host's underlay address; replies come back", async () => {
    await startProbe(OUTSIDE_NS, "serve-peer", PEER_PORT);
    assert.equal(await tcp(containerNs("a1"), OUTSIDE, PEER_PORT), `reply ${vtep(1)}`);
    assert.equal(await tcp(containerNs("a2"), OUTSIDE, PEER_PORT), `reply ${vtep(2)}`);
    assert.equal(await ping(containerNs("a3"), OUTSIDE), true);
    assert.ok(!(await tcp(containerNs("b1"), OUTSIDE, PEER_PORT)).startsWith("reply"), "tenant b has no uplink: no way out");
    const forward = await exec.run(["sysctl", "-n", "net.ipv4.ip_forward"], { netns: hostNs(1) });
    assert.equal(forward.trim(), "1");
  });

  it("host endpoint: the host reaches a container on its infra network, on its own host and across hosts", async () => {
    assert.equal(await ping(hostNs(2), "198.18.5.1"), true, "host 2 → x on host 2");
    assert.equal(await ping(hostNs(1), "198.18.5.1"), true, "host 1 → x on host 2, over VXLAN");
    assert.equal(await ping(containerNs("x"), hostEndpointAddress(3)), true, "x → host 3");
  });

  it("removes a tenant no longer wanted whole: VXLAN devices and agent-side ends go at once, and it can come back at once", async () => {
    const only = desired(3);
    only.tenants = only.tenants.filter((t) => t.name === "b");
    const report = await agents.get(3)!.reconcile(only);
    assert.deepEqual(report.errors, []);
    const changes = report.changes.map((c) => `${c.action} ${c.object}`);
    for (const object of [`vxlan ${vxlanName(1001)}`, `vxlan ${vxlanName(1005)}`, `veth ${UPLINK_TENANT_LINK}`, `veth ${hostEndpointTenantLink("infra")}`]) {
      assert.ok(changes.includes(`delete ${object}`), changes.join("; "));
    }
    const names = (await linksIn(["ip", "-n", hostNs(3), "-json", "link", "show"])).map((l) => l.ifname).sort();
    assert.deepEqual(names, ["eth0", "lo"], "the uplink's and host endpoint's ends in the agent's namespace are gone");
    assert.ok(!(await exec.run(["ip", "netns", "list"])).includes(nsOf(3, "a")));
    // The VNIs are free again at once (their devices did not wait for the namespace's teardown).
    await reconcileAll();
    assert.equal(await tcp(containerNs("a1"), "198.18.1.3", PORT), "reply a3");
    assert.equal(await ping(hostNs(3), "198.18.5.1"), true);
  });

  it("a restarted agent re-sends only the policy scripts; the tables it renders whole are recognised by their tag", async () => {
    agents = new Map(HOSTS.map((h) => [h, new LinuxDatapath(exec, { hostNamespace: hostNs(h) })]));
    const plan = await agents.get(1)!.plan(desired(1));
    assert.deepEqual(plan.steps.map((s) => `${s.namespace} ${s.object}`), [
      `${nsOf(1, "a")} nft table inet netplugin`,
      `${nsOf(1, "b")} nft table inet netplugin`,
    ]);
    await reconcileAll();
  });

  it("natOutbound off removes the agent's NAT table; cleanup leaves nothing of ours on any host", async () => {
    const report = await agents.get(1)!.reconcile(desired(1, { natOutbound: false }));
    assert.deepEqual(report.changes.map((c) => `${c.namespace} ${c.action} ${c.object}`), [`host delete nft table inet ${hostNftTable(prefixOf(1))}`]);
    const removed = await Promise.all(HOSTS.map((h) => agents.get(h)!.cleanup(prefixOf(h))));
    assert.ok(removed[1]!.includes(`nft table inet ${hostNftTable(prefixOf(2))}`), removed[1]!.join(", "));
    for (const h of HOSTS) {
      const names = (await linksIn(["ip", "-n", hostNs(h), "-json", "link", "show"])).map((l) => l.ifname).sort();
      assert.deepEqual(names, ["eth0", "lo"], `host ${h}`);
      const tables = await exec.run(["nft", "list", "tables"], { netns: hostNs(h) });
      assert.ok(!tables.includes("netplugin"), tables);
      assert.deepEqual(await agents.get(h)!.cleanup(prefixOf(h)), []);
    }
    const left = await exec.run(["ip", "netns", "list"]);
    assert.ok(!HOSTS.some((h) => left.includes(`${prefixOf(h)}-`)), left);
    assert.deepEqual((await linksIn(["ip", "-n", containerNs("a1"), "-json", "link", "show"])).map((l) => l.ifname), ["lo"]);
  });
});
