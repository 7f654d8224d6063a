// The ways out's pure parts: what is wanted (the Linux driver's tables on the gateway namespace's links), what
// is refused, and the steps from what exists.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { gatewayTenantLink, hostNftTable, UPLINK_TENANT_LINK, uplinkHostLink } from "../names.js";
import { desiredHost, endpoint, network, NS_A, PREFIX } from "../testing/desired.js";
import type { DesiredHost } from "../types.js";
import { wantedGateways } from "./gateway.js";
import { checkOutside, planOutside, wantedOutside, type ObservedOutside } from "./outside.js";

/** Tenant a in bridge mode, networks blue and red with gateways, an uplink, c1 publishing 8080 on host port 9080. */
function host(): DesiredHost {
  const d = desiredHost();
  const t = d.tenants[0]!;
  t.fwdMode = "bridge";
  t.networks = [
    network({ ipv6Subnet: "", ipv6Gateway: "" }),
    network({ name: "red", bridge: "nb00000002", subnet: "198.18.2.0/24", gateway: "198.18.2.254", ipv6Subnet: "", ipv6Gateway: "" }),
  ];
  t.endpoints = [
    endpoint(1, { ipv6: "", portMappings: [{ protocol: "tcp", hostIP: "", hostPort: 9080, containerPort: 8080 }] }),
    endpoint(2, { network: "red", ipv4: "198.18.2.2/24", gateway: "198.18.2.254", ipv6: "" }),
  ];
  t.uplink = { hostLink: uplinkHostLink(PREFIX, "a"), tenantLink: UPLINK_TENANT_LINK, hostAddr: "169.254.0.1/30", tenantAddr: "169.254.0.2/30", routes: [] };
  d.host.natOutbound = true;
  return d;
}

const HOST_LINK = uplinkHostLink(PREFIX, "a");

/** What exists once planOutside's steps for `d` have all been carried out. */
function made(d: DesiredHost): ObservedOutside {
  const wanted = wantedOutside(d, wantedGateways(d));
  const w = wanted.wayOuts[0]!;
  return {
    hostLinks: [{ name: HOST_LINK, up: true, addresses: ["169.254.0.1/30"], linkLocal: [] }],
    hostRoutes: new Map([[HOST_LINK, w.uplink.routes.map((dst) => ({ dst, via: "169.254.0.2" }))]]),
    namespaces: new Map([
      [NS_A, { link: { name: UPLINK_TENANT_LINK, up: true, addresses: ["169.254.0.2/30"], linkLocal: [] }, defaultVia: ["169.254.0.1"], default6Via: [], natTag: w.natTable.tag, route6Tag: null, dnsTag: wanted.dns[0]?.table.tag ?? null }],
    ]),
    hostTag: wanted.hostTable!.tag,
    forwarding: true,
    forwarding6: false,
    localnet: new Map([[HOST_LINK, true]]),
  };
}

const NOTHING: ObservedOutside = { hostLinks: [], hostRoutes: new Map(), namespaces: new Map(), hostTag: null, forwarding: false, forwarding6: false, localnet: new Map() };

describe("wantedOutside", () => {
  it("the tenant's NAT table confines its networks by their gateway links, masquerades to the uplink and DNATs the published port", () => {
    const { wayOuts, hostTable } = wantedOutside(host(), wantedGateways(host()));
    assert.equal(wayOuts.length, 1);
    const script = wayOuts[0]!.natTable.script;
    assert.match(script, new RegExp(`iifname "${gatewayTenantLink("blue")}" oifname != \\{ "${gatewayTenantLink("blue")}", "${UPLINK_TENANT_LINK}" \\} drop`));
    assert.match(script, new RegExp(`oifname "${UPLINK_TENANT_LINK}" masquerade`));
    assert.match(script, /tcp dport 9080 dnat to 198\.18\.1\.1:8080/);
    assert.equal(wayOuts[0]!.localnet, true, "a port on every address covers 127.0.0.1");
    assert.equal(hostTable?.name, hostNftTable(PREFIX));
    assert.match(hostTable!.script, /tcp dport 9080 dnat ip to 169\.254\.0\.2/);
  });

  it("no uplink, or no gateway namespace: no way out and no host table", () => {
    const d = host();
    delete d.tenants[0]!.uplink;
    d.tenants[0]!.endpoints[0]!.portMappings = [];
    assert.deepEqual(wantedOutside(d, wantedGateways(d)).wayOuts, []);
    assert.equal(wantedOutside(d, wantedGateways(d)).hostTable, null);
    assert.deepEqual(wantedOutside(host(), []).wayOuts, []);
  });
});

describe("checkOutside", () => {
  it("passes the host", () => {
    assert.deepEqual(checkOutside(host(), wantedGateways(host())), []);
  });

  it("refuses a published port of a tenant without an uplink, and of a network without a gateway here", () => {
    const d = host();
    delete d.tenants[0]!.uplink;
    const c1 = { tenant: "a", network: "blue", endpoint: "ep1" };
    assert.deepEqual(checkOutside(d, wantedGateways(d)), [{ owner: c1, message: "portMappings: host port 9080/tcp needs the tenant's uplink" }]);
    const handedOff = host();
    assert.deepEqual(checkOutside(handedOff, wantedGateways(handedOff, (n) => n.name === "blue")), [
      { owner: c1, message: `portMappings: its network "blue" has no gateway on this host for the published ports' replies` },
    ]);
  });

  it("refuses the same host port published by two tenants", () => {
    const d = host();
    const b = structuredClone(d.tenants[0]!);
    b.name = "b";
    b.namespace = `${NS_A}b`;
    b.uplink = { ...b.uplink!, hostLink: uplinkHostLink(PREFIX, "b"), hostAddr: "169.254.0.5/30", tenantAddr: "169.254.0.6/30" };
    d.tenants.push(b);
    const problems = checkOutside(d, wantedGateways(d));
    assert.equal(problems.length, 1, JSON.stringify(problems));
    assert.match(problems[0]!.message, /host port 9080\/tcp is published by tenant "a" too/);
  });
});

/** host() with blue routed (BGP) in both families: c1's /32 and /128 routed to the tenant. */
function routedHost(): DesiredHost {
  const d = host();
  const t = d.tenants[0]!;
  t.fwdMode = "routing";
  t.networks[0] = { ...t.networks[0]!, routed: true, ipv6Subnet: "fd00:1::/64", ipv6Gateway: "fd00:1::fe" };
  t.endpoints[0]!.portMappings = [];
  t.uplink!.routes = ["198.18.1.1", "fd00:1::1"];
  return d;
}

describe("routed networks", () => {
  it("their subnets are not NATed, IPv6 gets the guard table, and the containers' routes and the IPv6 link-local ends are planned", () => {
    const d = routedHost();
    const wanted = wantedOutside(d, wantedGateways(d));
    const w = wanted.wayOuts[0]!;
    assert.match(w.natTable.script, /ip saddr \{ 198\.18\.1\.0\/24 \} accept/);
    assert.match(w.route6Table!.script, /ip6 daddr \{ fd00:1::\/64 \} accept/);
    const steps = planOutside(wanted, NOTHING);
    assert.deepEqual(steps.filter((s) => s.kind === "host-route"), [
      { kind: "host-route", hostLink: HOST_LINK, dst: "198.18.1.1/32", via: "169.254.0.2" },
      { kind: "host-route", hostLink: HOST_LINK, dst: "fd00:1::1/128", via: "fe80::2" },
    ]);
    assert.deepEqual(steps.map((s) => s.kind).filter((k) => ["host-forwarding", "link-local", "default-route", "put-route6"].includes(k)), ["host-forwarding", "host-forwarding", "link-local", "default-route", "default-route", "put-route6"]);
  });

  it("a route of a container gone is deleted, the others kept", () => {
    const d = routedHost();
    const wanted = wantedOutside(d, wantedGateways(d));
    const w = wanted.wayOuts[0]!;
    const have: ObservedOutside = {
      hostLinks: [{ name: HOST_LINK, up: true, addresses: ["169.254.0.1/30"], linkLocal: ["fe80::1/64"] }],
      hostRoutes: new Map([[HOST_LINK, [{ dst: "198.18.1.1/32", via: "169.254.0.2" }, { dst: "fd00:1::1/128", via: "fe80::2" }, { dst: "198.18.1.9/32", via: "169.254.0.2" }]]]),
      namespaces: new Map([[NS_A, { link: { name: UPLINK_TENANT_LINK, up: true, addresses: ["169.254.0.2/30"], linkLocal: ["fe80::2/64"] }, defaultVia: ["169.254.0.1"], default6Via: ["fe80::1"], natTag: w.natTable.tag, route6Tag: w.route6Table!.tag, dnsTag: null }]]),
      hostTag: wanted.hostTable!.tag,
      forwarding: true,
      forwarding6: true,
      localnet: new Map([[HOST_LINK, false]]),
    };
    assert.deepEqual(planOutside(wanted, have), [{ kind: "delete-host-route", hostLink: HOST_LINK, dst: "198.18.1.9/32", via: "169.254.0.2" }]);
  });
});

describe("planOutside", () => {
  it("from nothing: forwarding, the uplink, its route, route_localnet, the tenant's table, the host's table last", () => {
    const d = host();
    const steps = planOutside(wantedOutside(d, wantedGateways(d)), NOTHING).map((s) => s.kind);
    assert.deepEqual(steps, ["host-forwarding", "add-uplink", "default-route", "localnet", "put-nat", "put-host-table"]);
  });

  it("what is made plans nothing", () => {
    const d = host();
    assert.deepEqual(planOutside(wantedOutside(d, wantedGateways(d)), made(d)), []);
  });

  it("an uplink end without its address is made again whole, with its route", () => {
    const d = host();
    const have = made(d);
    const broken = { ...have, hostLinks: [{ name: HOST_LINK, up: true, addresses: [], linkLocal: [] }] };
    assert.deepEqual(planOutside(wantedOutside(d, wantedGateways(d)), broken).map((s) => s.kind), ["add-uplink", "default-route", "localnet"]);
  });

  it("a stale uplink end goes, unless its tenant is frozen; a namespace without a way out loses its NAT table", () => {
    const d = host();
    const have = made(d);
    const stale = uplinkHostLink(PREFIX, "gone");
    const frozenLink = uplinkHostLink(PREFIX, "held");
    const observed: ObservedOutside = {
      ...have,
      hostLinks: [...have.hostLinks, { name: stale, up: true, addresses: [], linkLocal: [] }, { name: frozenLink, up: true, addresses: [], linkLocal: [] }],
      namespaces: new Map([...have.namespaces, [`${PREFIX}-t-old`, { defaultVia: [], default6Via: [], natTag: "abc", route6Tag: null, dnsTag: "def" }]]),
    };
    assert.deepEqual(planOutside(wantedOutside(d, wantedGateways(d)), observed, [`${PREFIX}-t-held`]), [
      { kind: "delete-uplink", hostLink: stale },
      { kind: "delete-nat", namespace: `${PREFIX}-t-old` },
      { kind: "delete-dns", namespace: `${PREFIX}-t-old` },
    ]);
  });

  it("no way out left: the host's table goes, forwarding stays on", () => {
    const d = host();
    const have = made(d);
    delete d.tenants[0]!.uplink;
    d.tenants[0]!.endpoints[0]!.portMappings = [];
    assert.deepEqual(planOutside(wantedOutside(d, wantedGateways(d)), have), [
      { kind: "delete-uplink", hostLink: HOST_LINK },
      { kind: "delete-nat", namespace: NS_A },
      { kind: "delete-host-table", name: hostNftTable(PREFIX) },
    ]);
  });
});
