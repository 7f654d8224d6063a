// Unit tests of service load balancers and DNS interception: what render makes of them (the table, the VIPs on
// the bridges, hairpin ports, forwarding), what check() says of bad input, and what diff plans as they change.
// Render and diff are pure; services.kernel.test.ts sends the packets.

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import type { DesiredHost, DesiredService } from "../types.js";
import { diffHost } from "./diff.js";
import { describeStep } from "./plan.js";
import { checkHost, renderHost } from "./render.js";
import { appliedScripts, observedHost } from "./testing/observed.js";
import { clusterHost, desiredHost, endpoint, network, NS_A } from "../testing/desired.js";

/** web: blue, two providers (ep1 here, a remote one without IPv6), two ports; db: red, no provider. */
function services(): DesiredService[] {
  return [
    {
      name: "web",
      network: "blue",
      vip: "198.18.1.100",
      vip6: "fd00:1::100",
      ports: [
        { protocol: "tcp", port: 80, targetPort: 8080 },
        { protocol: "udp", port: 53, targetPort: 5353 },
      ],
      providers: [
        { endpoint: "ep1", ipv4: "198.18.1.1", ipv6: "fd00:1::1" },
        { endpoint: "net1.blue-21", ipv4: "198.18.1.21", ipv6: "" },
      ],
    },
    { name: "db", network: "red", vip: "198.18.2.100", vip6: "", ports: [{ protocol: "tcp", port: 5432, targetPort: 5432 }], providers: [] },
  ];
}

/** clusterHost() in bridge mode with a second network and both services; DNS intercepted on blue. */
function servicesHost(): DesiredHost {
  const host = clusterHost();
  const tenant = host.tenants[0]!;
  tenant.fwdMode = "bridge";
  tenant.networks[0]!.interceptDns = true;
  tenant.networks.push(network({ name: "red", bridge: "nb00000002", subnet: "198.18.2.0/24", gateway: "198.18.2.254", ipv6Subnet: "", ipv6Gateway: "" }));
  tenant.services = services();
  return host;
}

function forwarding(host: DesiredHost): string[] {
  const sysctls = renderHost(host).tenants[0]!.sysctls;
  return ["net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding"].map((k) => sysctls.find((s) => s.key === k)!.value);
}

describe("render: services and DNS interception", () => {
  it("renders the tenant's table whole: VIP lookups, one chain per service port, hairpin, refusals, confinement, DNS (golden)", () => {
    const table = renderHost(servicesHost()).tenants[0]!.lbTable!;
    assert.equal(table.family, "inet");
    assert.equal(table.name, "netplugin_lb");
    assert.equal(
      table.script,
      [
        "table inet netplugin_lb",
        "delete table inet netplugin_lb",
        "table inet netplugin_lb {",
        `  comment "netplugin:${table.tag}"`,
        "  set vips4 {",
        "    type ipv4_addr",
        "    elements = { 198.18.1.100, 198.18.2.100 }",
        "  }",
        "  set vips6 {",
        "    type ipv6_addr",
        "    elements = { fd00:1::100 }",
        "  }",
        "  map services4 {",
        "    type ipv4_addr . inet_proto . inet_service : verdict",
        "    elements = { 198.18.1.100 . tcp . 80 : goto svc1_tcp_80, 198.18.1.100 . udp . 53 : goto svc1_udp_53 }",
        "  }",
        "  map services6 {",
        "    type ipv6_addr . inet_proto . inet_service : verdict",
        "    elements = { fd00:1::100 . tcp . 80 : goto svc1_tcp_80, fd00:1::100 . udp . 53 : goto svc1_udp_53 }",
        "  }",
        "  map hairpin4 {",
        "    type ipv4_addr . ipv4_addr : ipv4_addr",
        "    elements = { 198.18.1.1 . 198.18.1.1 : 198.18.1.254 }",
        "  }",
        "  map hairpin6 {",
        "    type ipv6_addr . ipv6_addr : ipv6_addr",
        "    elements = { fd00:1::1 . fd00:1::1 : fd00:1::fe }",
        "  }",
        "  map dns4 {",
        "    type ifname : ipv4_addr",
        '    elements = { "nb00000001" : 198.18.1.254 }',
        "  }",
        "  chain prerouting {",
        "    type nat hook prerouting priority dstnat; policy accept;",
        "    ip daddr . meta l4proto . th dport vmap @services4",
        "    ip6 daddr . meta l4proto . th dport vmap @services6",
        "    meta nfproto ipv4 meta l4proto { tcp, udp } th dport 53 fib daddr type != local dnat ip to iifname map @dns4",
        "  }",
        "  chain postrouting {",
        "    type nat hook postrouting priority srcnat; policy accept;",
        "    ct status dnat snat ip to ip saddr . ip daddr map @hairpin4",
        "    ct status dnat snat ip6 to ip6 saddr . ip6 daddr map @hairpin6",
        "  }",
        "  chain input {",
        "    type filter hook input priority filter + 1; policy accept;",
        "    ip daddr @vips4 meta l4proto tcp reject with tcp reset",
        "    ip daddr @vips4 meta l4proto udp reject",
        "    ip6 daddr @vips6 meta l4proto tcp reject with tcp reset",
        "    ip6 daddr @vips6 meta l4proto udp reject",
        "  }",
        "  chain forward {",
        "    type filter hook forward priority filter; policy accept;",
        "    ct status dnat accept",
        '    iifname "nb00000001" oifname != { "nb00000001", "nuplink" } drop',
        '    iifname "nb00000002" oifname != { "nb00000002", "nuplink" } drop',
        "  }",
        "  chain svc1_tcp_80 {",
        '    comment "web"',
        "    meta nfproto ipv4 meta l4proto tcp dnat ip to numgen random mod 2 map { 0 : 198.18.1.1 . 8080, 1 : 198.18.1.21 . 8080 }",
        "    meta nfproto ipv6 meta l4proto tcp dnat ip6 to numgen random mod 1 map { 0 : fd00:1::1 . 8080 }",
        "  }",
        "  chain svc1_udp_53 {",
        '    comment "web"',
        "    meta nfproto ipv4 meta l4proto udp dnat ip to numgen random mod 2 map { 0 : 198.18.1.1 . 5353, 1 : 198.18.1.21 . 5353 }",
        "    meta nfproto ipv6 meta l4proto udp dnat ip6 to numgen random mod 1 map { 0 : fd00:1::1 . 5353 }",
        "  }",
        "}",
        "",
      ].join("\n"),
    );
  });

  it("puts each VIP on its network's bridge with the local route only, and hairpin on the local provider's port only", () => {
    const tenant = renderHost(servicesHost()).tenants[0]!;
    assert.deepEqual(
      tenant.bridges.map((b) => [b.name, b.addresses, b.noPrefixRoute]),
      [
        ["nb00000001", ["198.18.1.254/24", "198.18.1.100/32", "fd00:1::fe/64", "fd00:1::100/128"], ["198.18.1.100/32", "fd00:1::100/128"]],
        ["nb00000002", ["198.18.2.254/24", "198.18.2.100/32"], ["198.18.2.100/32"]],
      ],
    );
    assert.deepEqual(tenant.endpoints.map((e) => [e.id, e.hairpin]), [["ep1", true], ["ep2", false]]);
  });

  it("forwards in bridge mode only with services, IPv6 only with an IPv6 VIP; DNS interception alone needs none", () => {
    const host = desiredHost();
    host.tenants[0]!.fwdMode = "bridge";
    assert.deepEqual(forwarding(host), ["0", "0"]);
    host.tenants[0]!.networks[0]!.interceptDns = true;
    assert.deepEqual(forwarding(host), ["0", "0"]);
    const table = renderHost(host).tenants[0]!.lbTable!.script;
    assert.ok(!table.includes("vmap") && !table.includes("chain forward") && table.includes("map @dns4"), table);
    host.tenants[0]!.services = [{ ...services()[0]!, vip6: "", providers: [] }];
    assert.deepEqual(forwarding(host), ["1", "0"]);
    host.tenants[0]!.services = services().slice(0, 1);
    assert.deepEqual(forwarding(host), ["1", "1"]);
  });

  it("renders no table without services or DNS interception, and no confinement in routing mode", () => {
    assert.equal(renderHost(desiredHost()).tenants[0]!.lbTable, null);
    const host = servicesHost();
    host.tenants[0]!.fwdMode = "routing";
    assert.ok(!renderHost(host).tenants[0]!.lbTable!.script.includes("chain forward"));
    assert.deepEqual(forwarding(host), ["1", "1"]);
  });

  it("sends IPv6 only to providers with IPv6, and refuses a family without providers (no element: input rejects)", () => {
    const host = servicesHost();
    host.tenants[0]!.services = [{ ...services()[0]!, providers: [services()[0]!.providers[1]!] }];
    const script = renderHost(host).tenants[0]!.lbTable!.script;
    assert.match(script, /elements = \{ 198\.18\.1\.100 \. tcp \. 80 : goto svc0_tcp_80, 198\.18\.1\.100 \. udp \. 53 : goto svc0_udp_53 \}/);
    assert.match(script, /map services6 \{\n {4}type ipv6_addr \. inet_proto \. inet_service : verdict\n {2}\}/);
    assert.ok(!script.includes("dnat ip6"), script);
    assert.match(script, /ip6 daddr @vips6 meta l4proto tcp reject with tcp reset/);
  });

  it("renders the same table whatever order the services and providers come in", () => {
    const host = servicesHost();
    const before = renderHost(host).tenants[0]!.lbTable!.tag;
    host.tenants[0]!.services!.reverse();
    host.tenants[0]!.services![1]!.providers.reverse();
    assert.equal(renderHost(host).tenants[0]!.lbTable!.tag, before);
  });
});

describe("check: services", () => {
  const bad: Array<[string, (s: DesiredService[]) => void, string]> = [
    ["a bad VIP", (s) => (s[0]!.vip = "198.18.1.300"), 'services[0].vip: service "web": invalid IPv4 address "198.18.1.300"'],
    ["an IPv6 VIP in the IPv4 field", (s) => (s[0]!.vip = "fd00:1::100"), 'services[0].vip: service "web": invalid IPv4 address "fd00:1::100"'],
    ["a VIP with a length", (s) => (s[0]!.vip6 = "fd00:1::100/128"), 'services[0].vip6: service "web": invalid IPv6 address "fd00:1::100/128"'],
    [
      "a VIP outside the subnet",
      (s) => (s[0]!.vip = "198.18.9.1"),
      'services[0].vip: service "web": VIP 198.18.9.1 is outside the subnet "198.18.1.0/24" of network "blue"',
    ],
    [
      "an IPv6 VIP on a network without IPv6",
      (s) => (s[1]!.vip6 = "fd00:2::100"),
      'services[1].vip6: service "db": VIP fd00:2::100 is outside the subnet "" of network "red"',
    ],
    ["the gateway as VIP", (s) => (s[0]!.vip = "198.18.1.254"), 'services[0].vip: service "web": VIP 198.18.1.254 is the gateway of network "blue"'],
    ["an unknown network", (s) => (s[1]!.network = "green"), 'services[1].network: service "db": unknown network "green"'],
    ["port 0", (s) => (s[0]!.ports[0]!.port = 0), 'services[0].ports[0].port: service "web": invalid port 0'],
    ["target port 65536", (s) => (s[0]!.ports[1]!.targetPort = 65_536), 'services[0].ports[1].targetPort: service "web": invalid target port 65536'],
    ["sctp", (s) => ((s[0]!.ports[0] as { protocol: string }).protocol = "sctp"), 'services[0].ports[0].protocol: service "web": invalid protocol "sctp"'],
    ["a bad provider address", (s) => (s[0]!.providers[1]!.ipv4 = "x"), 'services[0].providers[1].ipv4: service "web": invalid IPv4 address "x"'],
    ["IPv4 as a provider's IPv6", (s) => (s[0]!.providers[0]!.ipv6 = "198.18.1.1"), 'services[0].providers[0].ipv6: service "web": invalid IPv6 address "198.18.1.1"'],
    [
      "one VIP, port and protocol in two services",
      (s) => s.push({ ...s[0]!, name: "www", ports: [{ protocol: "tcp", port: 80, targetPort: 80 }] }),
      'services[2].ports[0]: service "www": 198.18.1.100 80/tcp is also a port of service "web"',
    ],
  ];
  for (const [name, mutate, message] of bad) {
    it(`reports ${name} as a problem of the tenant, naming the service`, () => {
      const host = servicesHost();
      mutate(host.tenants[0]!.services!);
      assert.deepEqual(checkHost(host), [{ owner: { tenant: "a" }, message }]);
      assert.throws(() => renderHost(host));
    });
  }

  it("finds nothing in services that render, and lets one VIP carry two services on different ports", () => {
    const host = servicesHost();
    host.tenants[0]!.services!.push({ ...services()[0]!, name: "www", ports: [{ protocol: "tcp", port: 443, targetPort: 8443 }] });
    assert.deepEqual(checkHost(host), []);
    assert.deepEqual(renderHost(host).tenants[0]!.bridges[0]!.addresses.filter((a) => a.endsWith("/32")), ["198.18.1.100/32"]);
  });
});

describe("diff: services", () => {
  function plan(from: DesiredHost, to: DesiredHost): string[] {
    const have = observedHost(renderHost(from));
    return diffHost(renderHost(to), have, { appliedNft: appliedScripts(renderHost(from)) }).steps.map(describeStep);
  }

  it("plans nothing when the kernel holds the services already", () => {
    assert.deepEqual(plan(servicesHost(), servicesHost()), []);
  });

  it("replaces the table, and nothing else, when providers change", () => {
    const to = servicesHost();
    to.tenants[0]!.services![0]!.providers.pop();
    to.tenants[0]!.services![1]!.providers.push({ endpoint: "ep2", ipv4: "198.18.1.2", ipv6: "" });
    assert.deepEqual(plan(servicesHost(), to), [
      `${NS_A}: update veth ne0000000002 | ip[${NS_A}] link set ne0000000002 type bridge_slave hairpin on`,
      `${NS_A}: update nft table inet netplugin_lb | nft[${NS_A}] -f -`,
    ]);
  });

  it("moves a VIP: the old address goes, the new one comes, the table is replaced", () => {
    const to = servicesHost();
    to.tenants[0]!.services![1]!.vip = "198.18.2.101";
    assert.deepEqual(plan(servicesHost(), to), [
      `${NS_A}: delete address 198.18.2.100/32 on nb00000002 | ip[${NS_A}] addr del 198.18.2.100/32 dev nb00000002`,
      `${NS_A}: create address 198.18.2.101/32 on nb00000002 | ip[${NS_A}] addr add 198.18.2.101/32 dev nb00000002 noprefixroute`,
      `${NS_A}: update nft table inet netplugin_lb | nft[${NS_A}] -f -`,
    ]);
  });

  it("takes everything away with the last service: table, VIPs, hairpin, forwarding (DNS interception stays)", () => {
    const to = servicesHost();
    to.tenants[0]!.services = [];
    const steps = plan(servicesHost(), to);
    assert.deepEqual(steps, [
      `${NS_A}: delete address 198.18.1.100/32 on nb00000001 | ip[${NS_A}] addr del 198.18.1.100/32 dev nb00000001`,
      `${NS_A}: delete address fd00:1::100/128 on nb00000001 | ip[${NS_A}] addr del fd00:1::100/128 dev nb00000001`,
      `${NS_A}: delete address 198.18.2.100/32 on nb00000002 | ip[${NS_A}] addr del 198.18.2.100/32 dev nb00000002`,
      `${NS_A}: update sysctls net.ipv6.conf.all.forwarding | sysctl[${NS_A}] -w net.ipv6.conf.all.forwarding=0`,
      `${NS_A}: update veth ne0000000001 | ip[${NS_A}] link set ne0000000001 type bridge_slave hairpin off`,
      `${NS_A}: update nft table inet netplugin_lb | nft[${NS_A}] -f -`,
    ]);
    to.tenants[0]!.networks[0]!.interceptDns = false;
    assert.ok(plan(servicesHost(), to).includes(`${NS_A}: delete nft table inet netplugin_lb | nft[${NS_A}] delete table inet netplugin_lb`));
  });

  it("makes a new provider's port a hairpin port when it creates the veth", () => {
    const from = servicesHost();
    const to = servicesHost();
    to.tenants[0]!.endpoints.push(endpoint(3));
    to.tenants[0]!.services![0]!.providers.push({ endpoint: "ep3", ipv4: "198.18.1.3", ipv6: "fd00:1::3" });
    const have = observedHost(renderHost(from));
    have.tenants[0]!.containers.push({ hostLink: "ne0000000003", netns: "/var/run/netns/c3", netnsMissing: false, link: null, routes: [] });
    const steps = diffHost(renderHost(to), have, { appliedNft: appliedScripts(renderHost(from)) }).steps.map(describeStep);
    assert.deepEqual(
      steps.filter((s) => s.includes("veth ne0000000003")).map((s) => s.split(" | ")[1]),
      [
        `ip[${NS_A}] link add ne0000000003 mtu 1450 type veth peer name eth0 address 02:00:00:00:00:03 mtu 1450 netns /var/run/netns/c3`,
        `ip[${NS_A}] link set ne0000000003 master nb00000001 up`,
        `ip[${NS_A}] link set ne0000000003 type bridge_slave hairpin on`,
      ],
    );
  });
});
