// The gateway namespaces' pure parts: what is wanted, the steps from what exists, and the flows of a gateway port.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { gatewayMac } from "../linux/addr.js";
import { gatewayHostLink, gatewayTenantLink } from "../names.js";
import { clusterHost, desiredHost, endpoint, network, NS_A, PREFIX } from "../testing/desired.js";
import type { DesiredHost } from "../types.js";
import { gatewayFlows, planGateways, REFUSE_TABLE, refuseTable, wantedGateways, type ObservedGateways, type WantedGatewayNamespace } from "./gateway.js";
import { FLAG_FROM_GATEWAY, TABLE } from "./layout.js";
import { checkOvs, renderFlows } from "./render.js";

/** Tenant a with networks blue (198.18.1.0/24) and red (198.18.2.0/24, no gateway unless `redGateway`), IPv4 only. */
function host(fwdMode: "routing" | "bridge", redGateway = "198.18.2.254"): DesiredHost {
  const d = desiredHost();
  const t = d.tenants[0]!;
  t.fwdMode = fwdMode;
  t.networks = [
    network({ ipv6Subnet: "", ipv6Gateway: "" }),
    network({ name: "red", bridge: "nb00000002", subnet: "198.18.2.0/24", gateway: redGateway, ipv6Subnet: "", ipv6Gateway: "", mtu: 1400 }),
  ];
  t.endpoints = [endpoint(1, { ipv6: "" }), endpoint(2, { network: "red", ipv4: "198.18.2.2/24", gateway: "198.18.2.254", ipv6: "" })];
  return d;
}

const blue = { tenant: "a", network: "blue", hostLink: gatewayHostLink(PREFIX, "a", "blue"), nsLink: gatewayTenantLink("blue"), mac: gatewayMac("nb00000001"), addresses: ["198.18.1.254/24"], routes: [] as string[], mtu: 1450 };
const red = { tenant: "a", network: "red", hostLink: gatewayHostLink(PREFIX, "a", "red"), nsLink: gatewayTenantLink("red"), mac: gatewayMac("nb00000002"), addresses: ["198.18.2.254/24"], routes: [] as string[], mtu: 1400 };

describe("wantedGateways", () => {
  it("one namespace per tenant, a link per network with a gateway; forwarding in fwdMode routing, IPv4 also with a way out", () => {
    assert.deepEqual(wantedGateways(host("routing")), [{ name: NS_A, tenant: "a", forwarding: true, forwarding6: true, links: [blue, red] }]);
    assert.deepEqual(wantedGateways(host("bridge", "")), [{ name: NS_A, tenant: "a", forwarding: false, forwarding6: false, links: [blue] }]);
    const out = host("bridge");
    out.tenants[0]!.uplink = { hostLink: "npu0uaaaaa", tenantLink: "nuplink", hostAddr: "169.254.0.1/30", tenantAddr: "169.254.0.2/30", routes: [] };
    assert.deepEqual(wantedGateways(out).map((g) => [g.forwarding, g.forwarding6]), [[true, false]], "the NAT table confines IPv4 only");
    out.tenants[0]!.uplink.routes = ["fd00:1::1"];
    assert.deepEqual(wantedGateways(out).map((g) => [g.forwarding, g.forwarding6]), [[true, true]], "routed IPv6: its guard table confines it");
  });

  it("a skipped network (handed off: the site's router is its gateway) gets no link, a tenant without links no namespace", () => {
    assert.deepEqual(wantedGateways(host("routing"), (n) => n.name === "red")[0]!.links, [blue]);
    assert.deepEqual(wantedGateways(host("routing"), () => true), []);
  });

  it("a network's VIPs are addresses of its link (in the families it has a gateway in), refused there by the refuse table", () => {
    const d = host("bridge");
    d.tenants[0]!.services = [
      { name: "web", network: "blue", vip: "198.18.1.100", vip6: "", ports: [{ protocol: "tcp", port: 80, targetPort: 8080 }], providers: [] },
      { name: "api", network: "blue", vip: "198.18.1.99", vip6: "", ports: [{ protocol: "udp", port: 53, targetPort: 53 }], providers: [] },
      { name: "db", network: "red", vip: "198.18.2.100", vip6: "", ports: [{ protocol: "tcp", port: 5432, targetPort: 5432 }], providers: [] },
    ];
    const [ns] = wantedGateways(d);
    assert.deepEqual(ns!.links.map((l) => l.addresses), [["198.18.1.254/24", "198.18.1.100/32", "198.18.1.99/32"], ["198.18.2.254/24", "198.18.2.100/32"]]);
    assert.deepEqual(ns!.refuseTable, refuseTable(["198.18.1.100/32", "198.18.1.99/32", "198.18.2.100/32"]));
    const script = ns!.refuseTable!.script;
    assert.match(script, /set vips4 \{\n    type ipv4_addr\n    elements = \{ 198\.18\.1\.100, 198\.18\.1\.99, 198\.18\.2\.100 \}/);
    assert.match(script, /type filter hook input priority filter; policy accept;\n    ip daddr @vips4 meta l4proto tcp reject with tcp reset\n    ip daddr @vips4 meta l4proto udp reject\n/);
    assert.match(script, new RegExp(`^table inet ${REFUSE_TABLE}\ndelete table inet ${REFUSE_TABLE}\n`), "replaced whole, atomically");
    // The same VIPs, the same tag; a network without its family's gateway gets no VIP (nothing could refuse there).
    assert.equal(refuseTable(["198.18.1.100/32"]).tag, refuseTable(["198.18.1.100/32"]).tag);
    assert.notEqual(refuseTable(["198.18.1.100/32"]).tag, refuseTable(["198.18.1.101/32"]).tag);
    d.tenants[0]!.networks[1]!.gateway = "";
    d.tenants[0]!.networks[1]!.ipv6Subnet = "fd00:2::/64";
    d.tenants[0]!.networks[1]!.ipv6Gateway = "fd00:2::fe";
    assert.deepEqual(wantedGateways(d)[0]!.links.find((l) => l.network === "red")!.addresses, ["fd00:2::fe/64"]);
    assert.equal(wantedGateways(host("bridge"))[0]!.refuseTable, undefined, "no services, no table");
  });

  it("checkOvs no longer refuses fwdMode routing", () => {
    assert.deepEqual(checkOvs(host("routing")), []);
  });
});

describe("planGateways", () => {
  const wanted = wantedGateways(host("routing"));
  const right = (): ObservedGateways => ({
    namespaces: [NS_A, "other"],
    inside: new Map([[NS_A, { forwarding: true, forwarding6: true, loUp: true, links: [blue, red].map((l) => ({ name: l.nsLink, mac: l.mac, mtu: l.mtu, up: true, addresses: l.addresses, routes: l.routes })) }]]),
    ports: [blue, red].map((l) => ({ name: l.hostLink, namespace: NS_A })),
  });

  it("from nothing: the namespace, lo, each link, then forwarding", () => {
    assert.deepEqual(planGateways(PREFIX, wanted, { namespaces: [], inside: new Map(), ports: [] }), [
      { kind: "add-namespace", namespace: NS_A },
      { kind: "lo-up", namespace: NS_A },
      { kind: "add-link", namespace: NS_A, link: blue },
      { kind: "add-link", namespace: NS_A, link: red },
      { kind: "set-forwarding", namespace: NS_A, v4: true, v6: true },
    ]);
  });

  it("what is right: nothing to do", () => {
    assert.deepEqual(planGateways(PREFIX, wanted, right()), []);
  });

  it("the refuse table: put when its tag differs (before the links, which add the VIPs), deleted when no VIP is left", () => {
    const table = refuseTable(["198.18.1.100/32"]);
    const withTable = wanted.map((ns) => ({ ...ns, refuseTable: table }));
    assert.deepEqual(planGateways(PREFIX, withTable, right()), [{ kind: "put-refuse-table", namespace: NS_A, table }]);
    const o = right();
    o.inside.get(NS_A)!.refuseTag = table.tag;
    assert.deepEqual(planGateways(PREFIX, withTable, o), []);
    assert.deepEqual(planGateways(PREFIX, wanted, o), [{ kind: "delete-refuse-table", namespace: NS_A }]);
    const fresh = planGateways(PREFIX, withTable, { namespaces: [], inside: new Map(), ports: [] }).map((s) => s.kind);
    assert.deepEqual(fresh.slice(0, 4), ["add-namespace", "lo-up", "put-refuse-table", "add-link"]);
  });

  it("only what differs: a link without its port or with another MAC made again, an address changed, forwarding off in bridge mode", () => {
    const o = right();
    o.ports = o.ports.filter((p) => p.name !== red.hostLink);
    const links = o.inside.get(NS_A)!.links;
    links[0] = { ...links[0]!, addresses: ["198.18.1.1/24", ...blue.addresses] };
    const bridged: WantedGatewayNamespace[] = [{ ...wanted[0]!, forwarding: false, forwarding6: false }];
    assert.deepEqual(planGateways(PREFIX, bridged, o), [
      { kind: "delete-address", namespace: NS_A, link: blue.nsLink, address: "198.18.1.1/24" },
      { kind: "add-link", namespace: NS_A, link: red },
      { kind: "set-forwarding", namespace: NS_A, v4: false, v6: false },
    ]);
    links[0] = { ...links[0]!, mac: "02:00:00:00:00:99", addresses: blue.addresses };
    assert.deepEqual(planGateways(PREFIX, wanted, right()).length, 0);
    assert.deepEqual(planGateways(PREFIX, wanted, o)[0], { kind: "add-link", namespace: NS_A, link: blue });
  });

  it("a network gone loses its port, a tenant gone its namespace (ours only); frozen ones are left alone", () => {
    const o = right();
    o.namespaces.push(`${PREFIX}-t-gone`, `${PREFIX}-t-frozen`);
    o.ports.push({ name: "npu0gdead1", namespace: `${PREFIX}-t-gone` }, { name: "npu0gdead2", namespace: `${PREFIX}-t-frozen` });
    assert.deepEqual(planGateways(PREFIX, wanted, o, [`${PREFIX}-t-frozen`]), [
      { kind: "delete-port", name: "npu0gdead1" },
      { kind: "delete-namespace", namespace: `${PREFIX}-t-gone` },
    ]);
  });
});

describe("gatewayFlows", () => {
  const base = { network: network({ ipv6Subnet: "", ipv6Gateway: "" }), tenant: 5, networkNumber: 1, port: 7, known: [{ ip: "198.18.1.1", mac: "02:00:00:00:00:01" }], known6: [], localPorts: [3] };
  const mac = gatewayMac("nb00000001");

  it("classifies the namespace's packets by its MAC with the gateway flag, answers its ARP, keeps its floods on this host", () => {
    const flows = gatewayFlows({ ...base, forwarding: true, forwarding6: true });
    const classify = flows.filter((f) => f.includes(`table=${TABLE.CLASSIFY},`));
    assert.equal(classify.length, 2);
    for (const f of classify) assert.match(f, new RegExp(`in_port=7,dl_src=${mac},vlan_tci=0x0000\\/0x1fff,(arp|ip),actions=set_field:5->reg6,set_field:1->reg7,set_field:${FLAG_FROM_GATEWAY}->reg8,goto_table:${TABLE.LOCAL}$`));
    assert.ok(flows.some((f) => f.includes(`table=${TABLE.LOCAL},priority=95,reg7=1,reg8=2/2,arp,arp_op=1,arp_tpa=198.18.1.1,`)));
    assert.ok(flows.some((f) => f.endsWith(`table=${TABLE.L2_FORWARD},priority=60,reg7=1,reg8=2/2,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00,actions=output:3`)));
  });

  it("DNS interception without forwarding: queries to port 53 of any address go to the namespace too", () => {
    const dns = gatewayFlows({ ...base, forwarding: false, forwarding6: false, network: { ...base.network, interceptDns: true } }).filter((f) => f.includes("tp_dst=53"));
    assert.equal(dns.length, 2);
    for (const f of dns) assert.match(f, /dl_dst=.*actions=output:7$/);
    assert.deepEqual(gatewayFlows({ ...base, forwarding: true, forwarding6: true, network: { ...base.network, interceptDns: true } }).filter((f) => f.includes("tp_dst=53")), [], "forwarding: already all IP");
  });

  it("routing: every IP packet to the gateway's MAC goes to the namespace; bridge: only those to the gateway's address", () => {
    const to = (routing: boolean) => gatewayFlows({ ...base, forwarding: routing, forwarding6: routing }).filter((f) => f.endsWith("actions=output:7"));
    assert.deepEqual(to(true).map((f) => f.replace(/^.*priority=/, "")), [`100,reg7=1,reg8=0/1,ip,dl_dst=${mac},actions=output:7`]);
    assert.deepEqual(to(false).map((f) => f.replace(/^.*priority=/, "")), [`100,reg7=1,reg8=0/1,ip,nw_dst=198.18.1.254,dl_dst=${mac},actions=output:7`]);
  });

  it("renderFlows adds them once the port has an OpenFlow number, with remote endpoints known, and not before", () => {
    const d = clusterHost();
    d.tenants[0]!.networks[0]!.ipv6Subnet = "";
    const facts = (ofports: [string, number][]) => ({ ofports: new Map(ofports), policy: () => [] });
    const port = gatewayHostLink(PREFIX, "a", "blue");
    const without = renderFlows(d, facts([["ne0000000001", 1]]));
    const withPort = renderFlows(d, facts([["ne0000000001", 1], [port, 9]]));
    assert.ok(!without.some((f) => f.includes("in_port=9")));
    const added = withPort.filter((f) => !without.includes(f));
    assert.ok(added.some((f) => f.includes("in_port=9,")));
    assert.ok(added.some((f) => f.includes("arp_tpa=198.18.1.21,")), "a remote endpoint answered to the namespace");
  });
});

describe("the gateway namespace with IPv6", () => {
  const net6 = network();
  const mac = gatewayMac("nb00000001");
  const base = { network: net6, tenant: 5, networkNumber: 1, port: 7, known: [], known6: [{ ip: "fd00:1::1", mac: "02:00:00:00:00:01" }], localPorts: [3] };

  it("the link holds the IPv6 gateway too (canonical, the subnet's length); only global addresses are compared", () => {
    const wanted = wantedGateways(desiredHost());
    assert.deepEqual(wanted[0]!.links[0]!.addresses, ["198.18.1.254/24", "fd00:1::fe/64"]);
    const link = wanted[0]!.links[0]!;
    const observed: ObservedGateways = {
      namespaces: [NS_A],
      inside: new Map([[NS_A, { forwarding: true, forwarding6: true, loUp: true, links: [{ name: link.nsLink, mac: link.mac, mtu: link.mtu, up: true, addresses: ["198.18.1.254/24"], routes: [] }] }]]),
      ports: [{ name: link.hostLink, namespace: NS_A }],
    };
    assert.deepEqual(planGateways(PREFIX, wanted, observed), [{ kind: "add-address", namespace: NS_A, link: link.nsLink, address: "fd00:1::fe/64" }]);
    // IPv6 forwarding off where IPv4's is on: forwarding set again (both).
    observed.inside.get(NS_A)!.links[0]!.addresses.push("fd00:1::fe/64");
    (observed.inside.get(NS_A) as { forwarding6: boolean }).forwarding6 = false;
    assert.deepEqual(planGateways(PREFIX, wanted, observed), [{ kind: "set-forwarding", namespace: NS_A, v4: true, v6: true }]);
  });

  it("classifies the namespace's IPv6, answers its ND for the network's endpoints, sends it IPv6 (bridge: to its addresses only)", () => {
    const flows = gatewayFlows({ ...base, forwarding: true, forwarding6: true });
    assert.ok(flows.some((f) => f.includes(`in_port=7,dl_src=${mac},vlan_tci=0x0000/0x1fff,ipv6,actions=`)));
    assert.match(flows.find((f) => f.includes("nd_target=fd00:1::1"))!, /priority=95,reg7=1,reg8=2\/2,icmp6,icmp_type=135,nd_target=fd00:1::1,.*set_field:02:00:00:00:00:01->eth_src,.*set_field:1610612736->nd_reserved/);
    const to = (routing: boolean) => gatewayFlows({ ...base, forwarding: routing, forwarding6: routing }).filter((f) => f.endsWith("actions=output:7")).map((f) => f.replace(/^.*priority=100,reg7=1,reg8=0\/1,/, ""));
    assert.deepEqual(to(true), [`ip,dl_dst=${mac},actions=output:7`, `ipv6,dl_dst=${mac},actions=output:7`]);
    assert.deepEqual(to(false), [
      `ip,nw_dst=198.18.1.254,dl_dst=${mac},actions=output:7`,
      `ipv6,ipv6_dst=fd00:1::fe,dl_dst=${mac},actions=output:7`,
      `ipv6,ipv6_dst=fe80::/10,dl_dst=${mac},actions=output:7`,
    ]);
  });

  it("a network with only an IPv6 gateway still gets the namespace's link", () => {
    const d = desiredHost();
    d.tenants[0]!.networks[0]!.gateway = "";
    assert.deepEqual(wantedGateways(d)[0]!.links[0]!.addresses, ["fd00:1::fe/64"]);
  });
});

describe("routed networks (BGP)", () => {
  /** host("routing") with blue routed in both families, c1 (198.18.1.1, fd00:1::1) local, fd00:1::21 on another host. */
  function routed(): DesiredHost {
    const d = host("routing");
    const t = d.tenants[0]!;
    t.networks[0] = { ...t.networks[0]!, routed: true, ipv6Subnet: "fd00:1::/64", ipv6Gateway: "fd00:1::fe", remoteIpv6: ["fd00:1::21"] };
    t.endpoints[0] = { ...t.endpoints[0]!, ipv6: "fd00:1::1/64" };
    return d;
  }

  it("the namespace holds the gateways without their subnets and a route per local container", () => {
    const link = wantedGateways(routed())[0]!.links.find((l) => l.network === "blue")!;
    assert.deepEqual(link.addresses, ["198.18.1.254/32", "fd00:1::fe/128"]);
    assert.deepEqual(link.routes, ["198.18.1.1/32", "fd00:1::1/128"]);
    assert.deepEqual(wantedGateways(routed())[0]!.links.find((l) => l.network === "red")!.routes, [], "a bridged network has none");
  });

  it("a route of a container gone is deleted, a new one's added", () => {
    const wanted = wantedGateways(routed());
    const blueLink = wanted[0]!.links.find((l) => l.network === "blue")!;
    const observed: ObservedGateways = {
      namespaces: [NS_A],
      inside: new Map([[NS_A, { forwarding: true, forwarding6: true, loUp: true, links: wanted[0]!.links.map((l) => ({ name: l.nsLink, mac: l.mac, mtu: l.mtu, up: true, addresses: l.addresses, routes: l.network === "blue" ? ["198.18.1.9/32", "fd00:1::1/128"] : [] })) }]]),
      ports: wanted[0]!.links.map((l) => ({ name: l.hostLink, namespace: NS_A })),
    };
    assert.deepEqual(planGateways(PREFIX, wanted, observed), [
      { kind: "delete-route", namespace: NS_A, link: blueLink.nsLink, route: "198.18.1.9/32" },
      { kind: "add-route", namespace: NS_A, link: blueLink.nsLink, route: "198.18.1.1/32" },
    ]);
  });

  it("checkOvs no longer refuses them; the gateway answers ARP for any other address of the subnet, and ND for the containers elsewhere", () => {
    const d = routed();
    assert.deepEqual(checkOvs(d), []);
    const flows = renderFlows(d, { ofports: new Map([[d.tenants[0]!.endpoints[0]!.hostLink, 3]]), policy: () => [] });
    const mac = gatewayMac("nb00000001");
    assert.ok(flows.some((f) => /table=10,priority=80,reg7=1,reg8=0\/1,arp,arp_op=1,actions=.*move:NXM_OF_ARP_TPA\[\]->NXM_NX_REG5\[\]/.test(f) && f.includes(`set_field:${mac}->arp_sha`)), flows.join("\n"));
    assert.ok(flows.some((f) => f.includes("priority=80,") && f.includes("nd_target=fd00:1::21") && f.includes(`set_field:${mac}->eth_src`)));
    assert.equal(flows.filter((f) => f.includes("priority=80,") && f.includes("reg7=2")).length, 0, "not on the bridged network");
  });
});
