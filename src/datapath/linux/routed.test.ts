// Routed networks (DesiredNetwork.routed: Contiv's routing + VLAN with BGP), IPv4 and IPv6: render and diff
// goldens, pure; then the real kernel: two simulated hosts and a router namespace that stands for the top-of-rack switch
// (static routes in the hosts' namespaces stand for what BGP learns; the real daemons are in
// test/e2e/bgp.test.ts). Everything carries the prefix "npt<4 hex>r" and is removed in after().

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";

import { bridgeName, endpointLinkName, tenantNamespace, UPLINK_TENANT_LINK, uplinkHostLink } from "../names.js";
import type { DesiredEndpoint, DesiredHost } from "../types.js";
import { ValidationError } from "../../lib/errors.js";
import { run } from "../../lib/process.js";
import { diffHost } from "./diff.js";
import { LinuxDatapath } from "./driver.js";
import { describeStep, type Plan } from "./plan.js";
import { renderHost } from "./render.js";
import { clusterHost, emptyPolicy, NS_A, PREFIX } from "../testing/desired.js";
import { appliedScripts, observedHost } from "./testing/observed.js";
import { counted, exec, installCounter, killChildren, ping, removeNamespaces, startProbe, tcp } from "./testing/netns.js";

function lines(plan: Plan): string[] {
  return plan.steps.map(describeStep);
}

/**
 * clusterHost() with its network routed: no VXLAN, both local containers routed from the agent's namespace
 * (IPv4 and IPv6), one container of the network on another host (IPv6 proxy neighbour).
 */
function routedHost(): DesiredHost {
  const host = clusterHost();
  const tenant = host.tenants[0]!;
  const net = tenant.networks[0]!;
  delete net.vxlan;
  net.routed = true;
  net.remoteIpv6 = ["FD00:1::21"];
  tenant.uplink!.routes = ["198.18.1.2", "fd00:1::2", "198.18.1.1", "fd00:1::1"];
  return host;
}

describe("routed networks: render", () => {
  it("renders the bridge without subnet routes, with proxy ARP/NDP and host routes per local container (golden)", () => {
    const tenant = renderHost(routedHost()).tenants[0]!;
    const bridge = tenant.bridges[0]!;
    assert.deepEqual(
      {
        addresses: bridge.addresses,
        noPrefixRoute: bridge.noPrefixRoute,
        sysctls: bridge.sysctls,
        hostRoutes: bridge.hostRoutes,
        proxyNeighbours: bridge.proxyNeighbours,
      },
      {
        addresses: ["198.18.1.254/24", "fd00:1::fe/64"],
        noPrefixRoute: ["198.18.1.254/24", "fd00:1::fe/64"],
        sysctls: [
          { key: "net.ipv4.conf.nb00000001.proxy_arp", value: "1" },
          { key: "net.ipv4.neigh.nb00000001.proxy_delay", value: "0" },
          { key: "net.ipv6.conf.nb00000001.proxy_ndp", value: "1" },
          { key: "net.ipv6.neigh.nb00000001.proxy_delay", value: "0" },
        ],
        hostRoutes: ["198.18.1.1/32", "198.18.1.2/32", "fd00:1::1/128", "fd00:1::2/128"],
        proxyNeighbours: ["fd00:1::21"],
      },
    );
    assert.deepEqual(tenant.vxlans, []);
    assert.deepEqual(
      [tenant.uplink!.routes, tenant.uplink!.tenantGateway, tenant.uplink!.ipv6],
      [["198.18.1.1/32", "198.18.1.2/32", "fd00:1::1/128", "fd00:1::2/128"], "169.254.0.2", true],
    );
    // The tenant forwards IPv6 (proxy NDP answers only while forwarding), and so does the agent's namespace.
    assert.ok(tenant.sysctls.some((x) => x.key === "net.ipv6.conf.all.forwarding" && x.value === "1"));
    assert.deepEqual(renderHost(routedHost()).host.sysctls.map((x) => `${x.key}=${x.value}`), ["net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"]);
  });

  it("routes IPv6 on a routed network without an IPv6 gateway nowhere, and refuses remote IPv6 addresses there", () => {
    const host = routedHost();
    const net = host.tenants[0]!.networks[0]!;
    net.ipv6Gateway = "";
    delete net.remoteIpv6;
    host.tenants[0]!.uplink!.routes = ["198.18.1.1"];
    const tenant = renderHost(host).tenants[0]!;
    assert.deepEqual(tenant.bridges[0]!.hostRoutes, ["198.18.1.1/32", "198.18.1.2/32"]);
    assert.equal(tenant.uplink!.ipv6, false);
    assert.equal(tenant.route6Table, null);
    net.remoteIpv6 = ["fd00:1::21"];
    assert.throws(() => renderHost(host), /networks\[0\]\.remoteIpv6: only a routed network with an IPv6 gateway/);
  });

  it("lets only the routed IPv6 subnets cross the uplink, and confines bridge mode (golden)", () => {
    const table = renderHost(routedHost()).tenants[0]!.route6Table!;
    const body = (t: typeof table): string[] => t.script.split("\n").slice(4, -2);
    assert.deepEqual(body(table), [
      "  chain forward {",
      "    type filter hook forward priority filter; policy accept;",
      '    iifname "nuplink" ip6 daddr { fd00:1::/64 } accept',
      '    oifname "nuplink" ip6 saddr { fd00:1::/64 } accept',
      '    iifname "nuplink" drop',
      '    oifname "nuplink" drop',
      "  }",
    ]);
    assert.match(table.script, /^table ip6 netplugin_route6\ndelete table ip6 netplugin_route6\n/);
    const bridged = routedHost();
    bridged.tenants[0]!.fwdMode = "bridge";
    bridged.tenants[0]!.networks[0]!.ipv6Subnet = "fd00:1::77/64";
    const state = renderHost(bridged).tenants[0]!;
    assert.ok(body(state.route6Table!).includes('    iifname "nb00000001" oifname != { "nb00000001", "nuplink" } drop'));
    assert.ok(body(state.route6Table!).includes('    iifname "nuplink" ip6 daddr { fd00:1::/64 } accept'));
    assert.ok(state.sysctls.some((x) => x.key === "net.ipv6.conf.all.forwarding" && x.value === "1"));
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

  it("refuses a routed network with a VXLAN device, and bad route and remote addresses", () => {
    const host = routedHost();
    host.tenants[0]!.networks[0]!.vxlan = clusterHost().tenants[0]!.networks[0]!.vxlan!;
    host.tenants[0]!.uplink!.routes = ["198.18.1.1", "fd00::1", "x"];
    host.tenants[0]!.networks[0]!.remoteIpv6 = ["fd00:1::21", "198.18.1.21"];
    assert.throws(
      () => renderHost(host),
      (err: unknown) => {
        assert.ok(err instanceof ValidationError);
        assert.deepEqual(
          err.issues.map((i) => i.path),
          ["tenants[0].networks[0].routed", "tenants[0].networks[0].remoteIpv6[1]", "tenants[0].uplink.routes[2]"],
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
    assert.deepEqual(state.tenants.map((t) => t.uplink!.routes), [["198.18.1.1/32", "198.18.1.2/32", "fd00:1::1/128", "fd00:1::2/128"], ["198.18.1.3/32"]]);
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
      `host: update sysctls net.ipv6.conf.all.forwarding | sysctl[host] -w net.ipv6.conf.all.forwarding=1`,
      // No VXLAN socket left on the host: its notrack chains go.
      `host: update nft table inet netplugin_${PREFIX} | nft[host] -f -`,
      `${NS_A}: delete vxlan nv100 | ${ip} link del nv100`,
      `${NS_A}: delete address 198.18.1.254/24 on nb00000001 | ${ip} addr del 198.18.1.254/24 dev nb00000001`,
      `${NS_A}: delete address fd00:1::fe/64 on nb00000001 | ${ip} addr del fd00:1::fe/64 dev nb00000001`,
      `${NS_A}: update sysctls net.ipv4.conf.nb00000001.proxy_arp, net.ipv4.neigh.nb00000001.proxy_delay, net.ipv6.conf.nb00000001.proxy_ndp, net.ipv6.neigh.nb00000001.proxy_delay | sysctl[${NS_A}] -w net.ipv4.conf.nb00000001.proxy_arp=1 net.ipv4.neigh.nb00000001.proxy_delay=0 net.ipv6.conf.nb00000001.proxy_ndp=1 net.ipv6.neigh.nb00000001.proxy_delay=0`,
      `${NS_A}: update address 198.18.1.254/24 on nb00000001 | ${ip} addr add 198.18.1.254/24 dev nb00000001 noprefixroute`,
      `${NS_A}: update address fd00:1::fe/64 on nb00000001 | ${ip} addr add fd00:1::fe/64 dev nb00000001 nodad noprefixroute`,
      `${NS_A}: create route 198.18.1.1/32 on nb00000001 | ${ip} route replace 198.18.1.1/32 dev nb00000001`,
      `${NS_A}: create route 198.18.1.2/32 on nb00000001 | ${ip} route replace 198.18.1.2/32 dev nb00000001`,
      `${NS_A}: create route fd00:1::1/128 on nb00000001 | ${ip} route replace fd00:1::1/128 dev nb00000001`,
      `${NS_A}: create route fd00:1::2/128 on nb00000001 | ${ip} route replace fd00:1::2/128 dev nb00000001`,
      `${NS_A}: create proxy neighbour fd00:1::21 on nb00000001 | ${ip} neigh replace proxy fd00:1::21 dev nb00000001`,
      `${NS_A}: create address fe80::1/64 on ${PREFIX}u00001 | ip[host] addr add fe80::1/64 dev ${PREFIX}u00001 nodad`,
      `${NS_A}: create address fe80::2/64 on nuplink | ${ip} addr add fe80::2/64 dev nuplink nodad`,
      `${NS_A}: create default route via fe80::1 | ${ip} route add ::/0 via fe80::1 dev nuplink`,
      `${NS_A}: create route 198.18.1.1/32 via 169.254.0.2 | ip[host] route replace 198.18.1.1/32 via 169.254.0.2 dev ${PREFIX}u00001`,
      `${NS_A}: create route 198.18.1.2/32 via 169.254.0.2 | ip[host] route replace 198.18.1.2/32 via 169.254.0.2 dev ${PREFIX}u00001`,
      `${NS_A}: create route fd00:1::1/128 via fe80::2 | ip[host] route replace fd00:1::1/128 via fe80::2 dev ${PREFIX}u00001`,
      `${NS_A}: create route fd00:1::2/128 via fe80::2 | ip[host] route replace fd00:1::2/128 via fe80::2 dev ${PREFIX}u00001`,
      `${NS_A}: update nft table ip netplugin_nat | nft[${NS_A}] -f -`,
      `${NS_A}: create nft table ip6 netplugin_route6 | nft[${NS_A}] -f -`,
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
    // IPv6: a container gone here, one gone elsewhere (its proxy entry), the uplink's address and route lost.
    tenant.hostRoutes.push({ dst: "fd00:1::9/128", dev: "nb00000001" });
    tenant.proxyNeighbours.push({ ip: "fd00:1::31", dev: "nb00000001" });
    have.host!.routes.push({ dst: "fd00:1::9/128", via: "fe80::2", dev: `${PREFIX}u00001` });
    tenant.veths.find((v) => v.name === "nuplink")!.linkLocal = ["fe80::9800:ff:fe00:1/64"];
    tenant.routes = tenant.routes.filter((r) => r.family === 4);
    const ip = `ip[${NS_A}]`;
    assert.deepEqual(lines(diffHost(want, have, { appliedNft: appliedScripts(want) })), [
      `${NS_A}: delete route 198.18.1.9/32 via 169.254.0.2 | ip[host] route del 198.18.1.9/32 via 169.254.0.2 dev ${PREFIX}u00001`,
      `${NS_A}: delete route fd00:1::9/128 via fe80::2 | ip[host] route del fd00:1::9/128 via fe80::2 dev ${PREFIX}u00001`,
      `${NS_A}: delete route 198.18.1.9/32 on nb00000001 | ${ip} route del 198.18.1.9/32 dev nb00000001`,
      `${NS_A}: delete route fd00:1::9/128 on nb00000001 | ${ip} route del fd00:1::9/128 dev nb00000001`,
      `${NS_A}: delete proxy neighbour fd00:1::31 on nb00000001 | ${ip} neigh del proxy fd00:1::31 dev nb00000001`,
      `${NS_A}: update route 198.18.1.2/32 on nb00000001 | ${ip} route replace 198.18.1.2/32 dev nb00000001`,
      `${NS_A}: create address fe80::2/64 on nuplink | ${ip} addr add fe80::2/64 dev nuplink nodad`,
      `${NS_A}: create default route via fe80::1 | ${ip} route add ::/0 via fe80::1 dev nuplink`,
      `${NS_A}: update route 198.18.1.1/32 via 169.254.0.2 | ip[host] route replace 198.18.1.1/32 via 169.254.0.2 dev ${PREFIX}u00001`,
    ]);
  });

  it("takes IPv6 off the uplink when the tenant no longer routes it (only our own link-local addresses)", () => {
    const want = renderHost(clusterHost());
    const have = observedHost(renderHost(routedHost()));
    const plan = lines(diffHost(want, have, { appliedNft: appliedScripts(want) }));
    const ip = `ip[${NS_A}]`;
    for (const line of [
      `${NS_A}: delete address fe80::1/64 on ${PREFIX}u00001 | ip[host] addr del fe80::1/64 dev ${PREFIX}u00001`,
      `${NS_A}: delete address fe80::2/64 on nuplink | ${ip} addr del fe80::2/64 dev nuplink`,
      `${NS_A}: delete default route via fe80::1 | ${ip} route del ::/0 via fe80::1 dev nuplink`,
      `${NS_A}: delete route fd00:1::1/128 via fe80::2 | ip[host] route del fd00:1::1/128 via fe80::2 dev ${PREFIX}u00001`,
      `${NS_A}: delete nft table ip6 netplugin_route6 | nft[${NS_A}] delete table ip6 netplugin_route6`,
    ]) {
      assert.ok(plan.includes(line), `${line}\n${plan.join("\n")}`);
    }
    assert.ok(!plan.some((l) => l.includes("fe80::9800")), plan.join("\n"));
  });

  it("turns proxy ARP and NDP off again on a bridge that is no longer routed; a new bridge needs no sysctl", () => {
    const want = renderHost(clusterHost());
    const have = observedHost(renderHost(routedHost()));
    const plan = lines(diffHost(want, have, { appliedNft: appliedScripts(want) }));
    assert.ok(
      plan.includes(
        `${NS_A}: update sysctls net.ipv4.conf.nb00000001.proxy_arp, net.ipv6.conf.nb00000001.proxy_ndp | sysctl[${NS_A}] -w net.ipv4.conf.nb00000001.proxy_arp=0 net.ipv6.conf.nb00000001.proxy_ndp=0`,
      ),
      plan.join("\n"),
    );
    assert.ok(plan.some((l) => l.includes("addr add 198.18.1.254/24 dev nb00000001") && !l.includes("noprefixroute")), plan.join("\n"));
    const fresh = observedHost(want);
    fresh.tenants[0]!.bridges = [];
    assert.ok(!lines(diffHost(want, fresh, { appliedNft: appliedScripts(want) })).some((l) => l.includes("proxy_arp") || l.includes("proxy_ndp")));
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
const PORT = 7009;
const hostNs = (h: Host): string => `${P}-h${h}`;
const prefixOf = (h: Host): string => `${P}${h}`;
const underlayIp = (h: Host): string => `198.18.0.1${h}`;
const containerNs = (h: Host, i: number): string => `${P}-c${h}${i}`;
/** Container i on host h: one subnet for both hosts (routed, not bridged), address h*10+i. */
const containerIp = (h: Host, i: number): string => `198.18.131.${h * 10 + i}`;
const containerIp6 = (h: Host, i: number): string => `fd00:131::${h * 10 + i}`;
const underlayIp6 = (h: Host): string => `fd00:198:18::1${h}`;
const ROUTER_IP6 = "fd00:198:18::200";

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
    ipv6: `${containerIp6(h, i)}/64`,
    gateway: "198.18.131.254",
    ipv6Gateway: "fd00:131::fe",
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
            ipv6Subnet: "fd00:131::/64",
            ipv6Gateway: "fd00:131::fe",
            mtu: 1500,
            routed,
            netfilter: false,
            // What netmaster knows of the other host: its containers' IPv6 addresses.
            ...(routed ? { remoteIpv6: [1, 2].map((i) => containerIp6(h === 1 ? 2 : 1, i)) } : {}),
          },
        ],
        endpoints,
        policy: emptyPolicy(),
        uplink: {
          hostLink: uplinkHostLink(prefix, "t"),
          tenantLink: UPLINK_TENANT_LINK,
          hostAddr: "169.254.0.1/30",
          tenantAddr: "169.254.0.2/30",
          routes: routed ? endpoints.flatMap((e) => [e.ipv4, e.ipv6].map((a) => a.split("/")[0]!)) : [],
        },
        hostEndpoints: [],
      },
    ],
  };
}

/** Packets from the routed subnet the router forwarded. */
const forwarded = (family: "ip" | "ip6" = "ip"): Promise<number> => counted(ROUTER, family);

describe("routed networks on two simulated hosts and a router", { skip: isRoot ? false : "needs root" }, () => {
  const agents = new Map<Host, LinuxDatapath>(HOSTS.map((h) => [h, new LinuxDatapath(exec, { hostNamespace: hostNs(h) })]));
  const ip = (...args: string[]): Promise<string> => exec.run(["ip", ...args]);

  before(async () => {
    await ip("netns", "add", UNDERLAY);
    await ip("-n", UNDERLAY, "link", "add", "br0", "type", "bridge");
    await ip("-n", UNDERLAY, "link", "set", "br0", "up");
    const attach = async (ns: string, port: string, addr: string, addr6: string): Promise<void> => {
      await ip("netns", "add", ns);
      await ip("-n", UNDERLAY, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns);
      await ip("-n", UNDERLAY, "link", "set", port, "master", "br0", "up");
      await ip("-n", ns, "addr", "add", `${addr}/24`, "dev", "eth0");
      await ip("-n", ns, "addr", "add", `${addr6}/64`, "dev", "eth0", "nodad");
      await ip("-n", ns, "link", "set", "eth0", "up");
      await ip("-n", ns, "link", "set", "lo", "up");
    };
    for (const h of HOSTS) await attach(hostNs(h), `u${h}`, underlayIp(h), underlayIp6(h));
    await attach(ROUTER, "utor", ROUTER_IP, ROUTER_IP6);
    // The router forwards (and tells no host to go round it), counting what it forwards.
    await run(["sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1", "net.ipv4.conf.all.send_redirects=0", "net.ipv4.conf.eth0.send_redirects=0"], {
      netns: ROUTER,
    });
    await installCounter(ROUTER, "ip", "type filter hook forward priority 0;", "ip saddr 198.18.131.0/24");
    await installCounter(ROUTER, "ip6", "type filter hook forward priority 0;", "ip6 saddr fd00:131::/64");
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
    await ip("-n", hostNs(h), "route", "replace", `${containerIp6(other, i)}/128`, "via", ROUTER_IP6, "proto", "bgp");
    await ip("-n", ROUTER, "route", "replace", `${containerIp6(other, i)}/128`, "via", underlayIp6(other), "proto", "bgp");
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
    assert.equal((await exec.run(["sysctl", "-n", `net.ipv4.conf.${bridgeName("vl")}.proxy_arp`], { netns: ns })).trim(), "1");
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

  it("carries IPv6 the same way: proxy NDP on the bridge, the uplink's link-local pair, the router", async () => {
    // The first echo may wait out a retransmitted solicitation on the simulated underlay (the hosts have not
    // resolved the router's IPv6 address yet); the datapath's own answers are immediate.
    for (let i = 0; i < 3 && !(await ping(containerNs(1, 1), containerIp6(2, 1))); i++);
    const before_ = await forwarded("ip6");
    assert.equal(await ping(containerNs(1, 1), containerIp6(2, 1)), true);
    assert.equal(await ping(containerNs(2, 1), containerIp6(1, 1)), true);
    assert.ok((await forwarded("ip6")) - before_ >= 2, "the router forwarded the IPv6 echoes");
    // The solicitation for the remote container was answered by the local bridge, with the gateway's MAC.
    const neigh = JSON.parse(await exec.run(["ip", "-n", containerNs(1, 1), "-json", "neigh", "show", containerIp6(2, 1)])) as { lladdr?: string }[];
    const bridge = JSON.parse(await exec.run(["ip", "-n", tenantNamespace(prefixOf(1), "t"), "-json", "link", "show", bridgeName("vl")])) as { address: string }[];
    assert.equal(neigh[0]?.lladdr, bridge[0]!.address);
    const ns = tenantNamespace(prefixOf(1), "t");
    assert.match(await exec.run(["ip", "-n", ns, "-6", "route", "show"]), /^default via fe80::1 dev nuplink /m);
    assert.doesNotMatch(await exec.run(["ip", "-n", ns, "-6", "route", "show"]), /fd00:131::\/64/);
    assert.match(await exec.run(["ip", "-n", hostNs(1), "-6", "route", "show", containerIp6(1, 1)]), /via fe80::2 dev /);
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
    assert.ok(objects.includes(`delete route ${containerIp6(1, 2)}/128 via fe80::2`), objects.join("; "));
    assert.ok(objects.includes(`delete route ${containerIp6(1, 2)}/128 on ${bridgeName("vl")}`), objects.join("; "));
    assert.equal((await exec.run(["ip", "-n", hostNs(1), "route", "show", containerIp(1, 2)])).trim(), "");
  });

  it("switches the network back to bridged and to routed again in place", async () => {
    const ns = tenantNamespace(prefixOf(1), "t");
    assert.deepEqual((await agents.get(1)!.reconcile(routedDesired(1, { routed: false }))).errors, []);
    assert.match(await exec.run(["ip", "-n", ns, "route", "show"]), /^198\.18\.131\.0\/24 dev /m);
    assert.equal((await exec.run(["ip", "-n", hostNs(1), "route", "show", containerIp(1, 1)])).trim(), "");
    assert.equal((await exec.run(["sysctl", "-n", `net.ipv4.conf.${bridgeName("vl")}.proxy_arp`], { netns: ns })).trim(), "0");
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
