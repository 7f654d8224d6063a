// Unit tests of service load balancers and DNS interception: what render makes of them (the table, the VIPs on
// the bridges, hairpin ports, forwarding) and what check() says of bad input; diffServices.test.ts has what diff
// plans as they change. Render and diff are pure; services.kernel.test.ts sends the packets.

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import type { DesiredHost, DesiredService } from "../types.js";
import { checkHost, renderHost } from "./render.js";
import { services, servicesHost } from "./testing/services.js";
import { desiredHost } from "../testing/desired.js";

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
