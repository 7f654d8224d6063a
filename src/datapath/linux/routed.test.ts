// Routed networks (DesiredNetwork.routed: Contiv's routing + VLAN with BGP): render and diff goldens, pure;
// then the real kernel: two simulated hosts and a router namespace that stands for the top-of-rack switch
// (static routes in the hosts' namespaces stand for what BGP learns; the real daemons are in
// test/e2e/bgp.test.ts). Everything carries the prefix "npt<4 hex>r" and is removed in after().

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";

import { bridgeName, endpointLinkName, tenantNamespace, UPLINK_TENANT_LINK, uplinkHostLink } from "../names.js";
import type { DesiredEndpoint, DesiredHost } from "../types.js";
import { ValidationError } from "../../lib/errors.js";
import { diffHost } from "./diff.js";
import { LinuxDatapath } from "./driver.js";
import { describeStep, type Plan } from "./plan.js";
import { renderHost } from "./render.js";
import { appliedScripts, clusterHost, NS_A, observedHost, PREFIX } from "./testFixtures.js";
import { counted, exec, installCounter, killChildren, ping, removeNamespaces, runIn, startProbe, tcp } from "./testNetns.js";

function lines(plan: Plan): string[] {
  return plan.steps.map(describeStep);
}

/** clusterHost() with its network routed: no VXLAN, both local containers routed from the agent's namespace. */
function routedHost(): DesiredHost {
  const host = clusterHost();
  const tenant = host.tenants[0]!;
  const net = tenant.networks[0]!;
  delete net.vxlan;
  net.routed = true;
  tenant.uplink!.routes = ["198.18.1.2", "198.18.1.1"];
  return host;
}

describe("routed networks: render", () => {
  it("renders the bridge without a subnet route, with proxy ARP and a host route per local container (golden)", () => {
    const tenant = renderHost(routedHost()).tenants[0]!;
    const bridge = tenant.bridges[0]!;
    assert.deepEqual(
      { addresses: bridge.addresses, noPrefixRoute: bridge.noPrefixRoute, sysctls: bridge.sysctls, hostRoutes: bridge.hostRoutes },
      {
        addresses: ["198.18.1.254/24", "fd00:1::fe/64"],
        // IPv6 stays on the local bridge: its gateway keeps the subnet route.
        noPrefixRoute: ["198.18.1.254/24"],
        sysctls: [
          { key: "net.ipv4.conf.nb00000001.proxy_arp", value: "1" },
          { key: "net.ipv4.neigh.nb00000001.proxy_delay", value: "0" },
        ],
        hostRoutes: ["198.18.1.1/32", "198.18.1.2/32"],
      },
    );
    assert.deepEqual(tenant.vxlans, []);
    assert.deepEqual([tenant.uplink!.routes, tenant.uplink!.tenantGateway], [["198.18.1.1/32", "198.18.1.2/32"], "169.254.0.2"]);
  });

  it("exempts routed subnets from the uplink masquerade and lets new connections to them in (golden)", () => {
    const nat = renderHost(routedHost()).tenants[0]!.natTable!;
    assert.equal(
      nat.script,
      [
        "table ip netplugin_nat",
        "delete table ip netplugin_nat",
        "table ip netplugin_nat {",
        `  comment "netplugin:${nat.tag}"`,
        "  chain postrouting {",
        "    type nat hook postrouting priority srcnat; policy accept;",
        '    oifname "nuplink" ip saddr { 198.18.1.0/24 } accept',
        '    oifname "nuplink" masquerade',
        "  }",
        "  chain forward {",
        "    type filter hook forward priority filter; policy accept;",
        '    iifname "nuplink" ct state established,related accept',
        '    iifname "nuplink" ip daddr { 198.18.1.0/24 } accept',
        '    iifname "nuplink" drop',
        "  }",
        "}",
        "",
      ].join("\n"),
    );
    // The same table without routed networks is the one every other tenant has (unchanged tag).
    assert.notEqual(nat.tag, renderHost(clusterHost()).tenants[0]!.natTable!.tag);
  });

  it("writes a routed subnet by its network address", () => {
    const host = routedHost();
    host.tenants[0]!.networks[0]!.subnet = "198.18.1.77/24";
    assert.match(renderHost(host).tenants[0]!.natTable!.script, /ip saddr \{ 198\.18\.1\.0\/24 \} accept/);
  });

  it("refuses a routed network with a VXLAN device, and bad route addresses", () => {
    const host = routedHost();
    host.tenants[0]!.networks[0]!.vxlan = clusterHost().tenants[0]!.networks[0]!.vxlan!;
    host.tenants[0]!.uplink!.routes = ["198.18.1.1", "fd00::1", "x"];
    assert.throws(
      () => renderHost(host),
      (err: unknown) => {
        assert.ok(err instanceof ValidationError);
        assert.deepEqual(
          err.issues.map((i) => i.path),
          ["tenants[0].networks[0].routed", "tenants[0].uplink.routes[1]", "tenants[0].uplink.routes[2]"],
        );
        return true;
      },
    );
  });

  it("routes an address claimed by two tenants (overlapping routed subnets) to the first tenant only", () => {
    const host = routedHost();
    const other = structuredClone(host.tenants[0]!);
    other.name = "b";
    other.namespace = tenantNamespace(PREFIX, "b");
    other.uplink = { ...other.uplink!, hostLink: `${PREFIX}u00002`, hostAddr: "169.254.0.5/30", tenantAddr: "169.254.0.6/30", routes: ["198.18.1.2", "198.18.1.3"] };
    other.hostEndpoints = [];
    host.tenants.push(other);
    const state = renderHost(host);
    assert.deepEqual(state.tenants.map((t) => t.uplink!.routes), [["198.18.1.1/32", "198.18.1.2/32"], ["198.18.1.3/32"]]);
  });
});

describe("routed networks: diff", () => {
  it("plans nothing for a kernel that is already right", () => {
    const want = renderHost(routedHost());
    assert.deepEqual(lines(diffHost(want, observedHost(want), { appliedNft: appliedScripts(want) })), []);
  });

  it("turns a VXLAN network into a routed one in place (golden)", () => {
    const want = renderHost(routedHost());
    const before_ = renderHost(clusterHost());
    const have = observedHost(before_);
    const ip = `ip[${NS_A}]`;
    assert.deepEqual(lines(diffHost(want, have, { appliedNft: appliedScripts(want) })), [
      // No VXLAN socket left on the host: its notrack chains go.
      `host: update nft table ip netplugin_${PREFIX} | nft[host] -f -`,
      `${NS_A}: delete vxlan nv100 | ${ip} link del nv100`,
      `${NS_A}: delete address 198.18.1.254/24 on nb00000001 | ${ip} addr del 198.18.1.254/24 dev nb00000001`,
      `${NS_A}: update sysctls net.ipv4.conf.nb00000001.proxy_arp, net.ipv4.neigh.nb00000001.proxy_delay | sysctl[${NS_A}] -w net.ipv4.conf.nb00000001.proxy_arp=1 net.ipv4.neigh.nb00000001.proxy_delay=0`,
      `${NS_A}: update address 198.18.1.254/24 on nb00000001 | ${ip} addr add 198.18.1.254/24 dev nb00000001 noprefixroute`,
      `${NS_A}: create route 198.18.1.1/32 on nb00000001 | ${ip} route replace 198.18.1.1/32 dev nb00000001`,
      `${NS_A}: create route 198.18.1.2/32 on nb00000001 | ${ip} route replace 198.18.1.2/32 dev nb00000001`,
      `${NS_A}: create route 198.18.1.1/32 via 169.254.0.2 | ip[host] route replace 198.18.1.1/32 via 169.254.0.2 dev ${PREFIX}u00001`,
      `${NS_A}: create route 198.18.1.2/32 via 169.254.0.2 | ip[host] route replace 198.18.1.2/32 via 169.254.0.2 dev ${PREFIX}u00001`,
      `${NS_A}: update nft table ip netplugin_nat | nft[${NS_A}] -f -`,
    ]);
  });

  it("removes what a container that left had, and fixes a route that points elsewhere", () => {
    const want = renderHost(routedHost());
    const have = observedHost(want);
    const tenant = have.tenants[0]!;
    tenant.hostRoutes.push({ dst: "198.18.1.9/32", dev: "nb00000001" });
    tenant.hostRoutes = tenant.hostRoutes.filter((r) => r.dst !== "198.18.1.2/32");
    tenant.hostRoutes.push({ dst: "198.18.1.2/32", dev: "nbother" });
    have.host!.routes.push({ dst: "198.18.1.9/32", via: "169.254.0.2", dev: `${PREFIX}u00001` });
    have.host!.routes = have.host!.routes.map((r) => (r.dst === "198.18.1.1/32" ? { ...r, via: "169.254.0.9" } : r));
    const ip = `ip[${NS_A}]`;
    assert.deepEqual(lines(diffHost(want, have, { appliedNft: appliedScripts(want) })), [
      `${NS_A}: delete route 198.18.1.9/32 via 169.254.0.2 | ip[host] route del 198.18.1.9/32 via 169.254.0.2 dev ${PREFIX}u00001`,
      `${NS_A}: delete route 198.18.1.9/32 on nb00000001 | ${ip} route del 198.18.1.9/32 dev nb00000001`,
      `${NS_A}: update route 198.18.1.2/32 on nb00000001 | ${ip} route replace 198.18.1.2/32 dev nb00000001`,
      `${NS_A}: update route 198.18.1.1/32 via 169.254.0.2 | ip[host] route replace 198.18.1.1/32 via 169.254.0.2 dev ${PREFIX}u00001`,
    ]);
  });

  it("turns proxy ARP off again on a bridge that is no longer routed; a new bridge needs no sysctl", () => {
    const want = renderHost(clusterHost());
    const have = observedHost(renderHost(routedHost()));
    const plan = lines(diffHost(want, have, { appliedNft: appliedScripts(want) }));
    assert.ok(plan.includes(`${NS_A}: update sysctls net.ipv4.conf.nb00000001.proxy_arp | sysctl[${NS_A}] -w net.ipv4.conf.nb00000001.proxy_arp=0`), plan.join("\n"));
    assert.ok(plan.some((l) => l.includes("addr add 198.18.1.254/24 dev nb00000001") && !l.includes("noprefixroute")), plan.join("\n"));
    const fresh = observedHost(want);
    fresh.tenants[0]!.bridges = [];
    assert.ok(!lines(diffHost(want, fresh, { appliedNft: appliedScripts(want) })).some((l) => l.includes("proxy_arp")));
  });
});

// --- the real kernel ----------------------------------------------------------------------------------

const isRoot = process.getuid?.() === 0;
const P = `npt${randomBytes(2).toString("hex")}r`;
const HOSTS = [1, 2] as const;
type Host = (typeof HOSTS)[number];
const UNDERLAY = `${P}-ul`;
const ROUTER = `${P}-tor`;
const ROUTER_IP = "198.18.0.200";
const SCRIPT = "table inet netplugin\ndelete table inet netplugin\ntable inet netplugin {\n}\n";
const PORT = 7009;
const hostNs = (h: Host): string => `${P}-h${h}`;
const prefixOf = (h: Host): string => `${P}${h}`;
const underlayIp = (h: Host): string => `198.18.0.1${h}`;
const containerNs = (h: Host, i: number): string => `${P}-c${h}${i}`;
/** Container i on host h: one subnet for both hosts (routed, not bridged), address h*10+i. */
const containerIp = (h: Host, i: number): string => `198.18.131.${h * 10 + i}`;

function endpointOn(h: Host, i: number): DesiredEndpoint {
  const id = `${P}-e${h}${i}`;
  return {
    id,
    network: "vl",
    hostLink: endpointLinkName(id),
    netns: `/var/run/netns/${containerNs(h, i)}`,
    ifname: "eth0",
    mac: `02:00:00:00:0${h}:0${i}`,
    ipv4: `${containerIp(h, i)}/24`,
    ipv6: "",
    gateway: "198.18.131.254",
    ipv6Gateway: "",
    mtu: 1500,
    qos: { egressBps: 0, ingressBps: 0, burstBytes: 0 },
  };
}

function routedDesired(h: Host, options: { containers?: number[]; routed?: boolean } = {}): DesiredHost {
  const containers = options.containers ?? [1];
  const routed = options.routed ?? true;
  const prefix = prefixOf(h);
  const endpoints = containers.map((i) => endpointOn(h, i));
  return {
    prefix,
    host: { natOutbound: true },
    tenants: [
      {
        name: "t",
        namespace: tenantNamespace(prefix, "t"),
        fwdMode: "routing",
        networks: [
          {
            name: "vl",
            bridge: bridgeName("vl"),
            subnet: "198.18.131.0/24",
            gateway: "198.18.131.254",
            ipv6Subnet: "",
            ipv6Gateway: "",
            mtu: 1500,
            routed,
            netfilter: false,
          },
        ],
        endpoints,
        nftScript: SCRIPT,
        uplink: {
          hostLink: uplinkHostLink(prefix, "t"),
          tenantLink: UPLINK_TENANT_LINK,
          hostAddr: "169.254.0.1/30",
          tenantAddr: "169.254.0.2/30",
          routes: routed ? endpoints.map((e) => e.ipv4.split("/")[0]!) : [],
        },
        hostEndpoints: [],
      },
    ],
  };
}

/** Packets from the routed subnet the router forwarded. */
const forwarded = (): Promise<number> => counted(ROUTER, "ip");

describe("routed networks on two simulated hosts and a router", { skip: isRoot ? false : "needs root" }, () => {
  const agents = new Map<Host, LinuxDatapath>(HOSTS.map((h) => [h, new LinuxDatapath(exec, { hostNamespace: hostNs(h) })]));
  const ip = (...args: string[]): Promise<string> => exec.run(["ip", ...args]);

  before(async () => {
    await ip("netns", "add", UNDERLAY);
    await ip("-n", UNDERLAY, "link", "add", "br0", "type", "bridge");
    await ip("-n", UNDERLAY, "link", "set", "br0", "up");
    const attach = async (ns: string, port: string, addr: string): Promise<void> => {
      await ip("netns", "add", ns);
      await ip("-n", UNDERLAY, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns);
      await ip("-n", UNDERLAY, "link", "set", port, "master", "br0", "up");
      await ip("-n", ns, "addr", "add", `${addr}/24`, "dev", "eth0");
      await ip("-n", ns, "link", "set", "eth0", "up");
      await ip("-n", ns, "link", "set", "lo", "up");
    };
    for (const h of HOSTS) await attach(hostNs(h), `u${h}`, underlayIp(h));
    await attach(ROUTER, "utor", ROUTER_IP);
    // The router forwards (and tells no host to go round it), counting what it forwards.
    await runIn(ROUTER, ["sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv4.conf.all.send_redirects=0", "net.ipv4.conf.eth0.send_redirects=0"]);
    await installCounter(ROUTER, "ip", "type filter hook forward priority 0;", "ip saddr 198.18.131.0/24");
    for (const h of HOSTS) for (const i of [1, 2]) {
      await ip("netns", "add", containerNs(h, i));
      await ip("-n", containerNs(h, i), "link", "set", "lo", "up");
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

  /** What BGP would install: the router's routes to each container, and each host's to the other's. */
  const routeViaRouter = async (h: Host, other: Host, i: number): Promise<void> => {
    await ip("-n", hostNs(h), "route", "replace", `${containerIp(other, i)}/32`, "via", ROUTER_IP, "proto", "bgp");
    await ip("-n", ROUTER, "route", "replace", `${containerIp(other, i)}/32`, "via", underlayIp(other), "proto", "bgp");
  };

  it("builds both hosts; a second reconcile plans nothing; no VXLAN device, no subnet route, proxy ARP on", async () => {
    for (const h of HOSTS) {
      const report = await agents.get(h)!.reconcile(routedDesired(h));
      assert.deepEqual(report.errors, [], JSON.stringify(report.errors));
      assert.deepEqual(await agents.get(h)!.plan(routedDesired(h)), { steps: [], problems: [] }, `host ${h}`);
    }
    const ns = tenantNamespace(prefixOf(1), "t");
    const links = await exec.run(["ip", "-n", ns, "-json", "link", "show", "type", "vxlan"]);
    assert.deepEqual(JSON.parse(links), []);
    assert.equal((await exec.run(["ip", "-n", hostNs(1), "-json", "link", "show", "type", "vxlan"])).trim(), "[]");
    const routes = await exec.run(["ip", "-n", ns, "route", "show"]);
    assert.match(routes, /^198\.18\.131\.11 dev nb\S+ scope link/m);
    assert.doesNotMatch(routes, /198\.18\.131\.0\/24/);
    assert.equal((await runIn(ns, ["sysctl", "-n", `net.ipv4.conf.${bridgeName("vl")}.proxy_arp`])).out.trim(), "1");
    assert.match(await exec.run(["ip", "-n", hostNs(1), "route", "show", "198.18.131.11"]), /via 169\.254\.0\.2 dev /);
    for (const [h, other] of [[1, 2], [2, 1]] as const) await routeViaRouter(h, other, 1);
    await startProbe(containerNs(2, 1), "serve-peer", PORT);
  });

  it("carries traffic between the hosts through the router, with the containers' own addresses", async () => {
    const before_ = await forwarded();
    assert.equal(await ping(containerNs(1, 1), containerIp(2, 1)), true);
    assert.equal(await ping(containerNs(2, 1), containerIp(1, 1)), true);
    // The server sees the container's address: no NAT on the way.
    assert.equal(await tcp(containerNs(1, 1), containerIp(2, 1), PORT), `reply ${containerIp(1, 1)}`);
    assert.ok((await forwarded()) - before_ >= 8, "the router forwarded the pings and the connection");
    // ARP for the remote container was answered by the local bridge (proxy ARP), with the gateway's MAC.
    const neigh = JSON.parse(await exec.run(["ip", "-n", containerNs(1, 1), "-json", "neigh", "show", containerIp(2, 1)])) as { lladdr?: string }[];
    const gatewayMac = JSON.parse(await exec.run(["ip", "-n", tenantNamespace(prefixOf(1), "t"), "-json", "link", "show", bridgeName("vl")])) as { address: string }[];
    assert.equal(neigh[0]?.lladdr, gatewayMac[0]!.address);
  });

  it("containers on one host still reach each other on the bridge; a container that leaves takes its routes with it", async () => {
    assert.deepEqual((await agents.get(1)!.reconcile(routedDesired(1, { containers: [1, 2] }))).errors, []);
    assert.equal(await ping(containerNs(1, 2), containerIp(1, 1)), true);
    await routeViaRouter(2, 1, 2);
    assert.equal(await ping(containerNs(1, 2), containerIp(2, 1)), true);
    const report = await agents.get(1)!.reconcile(routedDesired(1, { containers: [1] }));
    assert.deepEqual(report.errors, []);
    const objects = report.changes.map((c) => `${c.action} ${c.object}`);
    assert.ok(objects.includes(`delete route ${containerIp(1, 2)}/32 on ${bridgeName("vl")}`), objects.join("; "));
    assert.ok(objects.includes(`delete route ${containerIp(1, 2)}/32 via 169.254.0.2`), objects.join("; "));
    assert.equal((await exec.run(["ip", "-n", hostNs(1), "route", "show", containerIp(1, 2)])).trim(), "");
  });

  it("switches the network back to bridged and to routed again in place", async () => {
    const ns = tenantNamespace(prefixOf(1), "t");
    assert.deepEqual((await agents.get(1)!.reconcile(routedDesired(1, { routed: false }))).errors, []);
    assert.match(await exec.run(["ip", "-n", ns, "route", "show"]), /^198\.18\.131\.0\/24 dev /m);
    assert.equal((await exec.run(["ip", "-n", hostNs(1), "route", "show", containerIp(1, 1)])).trim(), "");
    assert.equal((await runIn(ns, ["sysctl", "-n", `net.ipv4.conf.${bridgeName("vl")}.proxy_arp`])).out.trim(), "0");
    assert.deepEqual(await agents.get(1)!.plan(routedDesired(1, { routed: false })), { steps: [], problems: [] });
    assert.deepEqual((await agents.get(1)!.reconcile(routedDesired(1))).errors, []);
    assert.deepEqual(await agents.get(1)!.plan(routedDesired(1)), { steps: [], problems: [] });
    await exec.run(["ip", "-n", containerNs(1, 1), "neigh", "flush", "dev", "eth0"]);
    assert.equal(await tcp(containerNs(1, 1), containerIp(2, 1), PORT), `reply ${containerIp(1, 1)}`);
  });

  it("a restarted agent re-sends only the policy script", async () => {
    const fresh = new LinuxDatapath(exec, { hostNamespace: hostNs(2) });
    const plan = await fresh.plan(routedDesired(2));
    assert.deepEqual(plan.steps.map((s) => s.object), ["nft table inet netplugin"]);
  });
});
