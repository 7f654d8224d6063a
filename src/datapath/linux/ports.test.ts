// Unit tests for published host ports (renderPorts.ts): the DNAT chains of the tenant's uplink table and
// of the agent namespace's table, route_localnet on the uplink, and what render refuses. Pure.

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { ValidationError } from "../../lib/errors.js";
import type { DesiredHost, DesiredPortMapping } from "../types.js";
import { diffHost } from "./diff.js";
import { describeStep } from "./plan.js";
import { renderHost } from "./render.js";
import { clusterHost, NS_A, PREFIX } from "../testing/desired.js";
import { appliedScripts, observedHost } from "./testing/observed.js";

const tcp8080: DesiredPortMapping = { protocol: "tcp", hostPort: 8080, containerPort: 80, hostIP: "" };
const udp5353: DesiredPortMapping = { protocol: "udp", hostPort: 5353, containerPort: 53, hostIP: "198.18.0.11" };

/** clusterHost() with mappings on its first endpoint (198.18.1.1). */
function published(...mappings: DesiredPortMapping[]): DesiredHost {
  const host = clusterHost();
  host.tenants[0]!.endpoints[0]!.portMappings = mappings;
  return host;
}

/** A second tenant on the same host with its own uplink (and the same subnet). */
function withTenantB(host: DesiredHost, mappings: DesiredPortMapping[]): DesiredHost {
  const b = structuredClone(host.tenants[0]!);
  b.name = "b";
  b.namespace = `${PREFIX}-t-b`;
  b.networks[0]!.vxlan!.vni = 200;
  b.networks[0]!.vxlan!.device = "nv200";
  b.uplink = { hostLink: `${PREFIX}u00002`, tenantLink: "nuplink", hostAddr: "169.254.0.5/30", tenantAddr: "169.254.0.6/30", routes: [] };
  b.hostEndpoints = [];
  b.endpoints = [{ ...b.endpoints[0]!, portMappings: mappings }];
  host.tenants.push(b);
  return host;
}

function tableBody(script: string): string[] {
  return script.split("\n").filter((l) => l.startsWith("  ") && !l.includes("comment"));
}

describe("render: published host ports", () => {
  it("DNATs at the tenant's uplink to the container and lets those connections in (golden)", () => {
    const tenant = renderHost(published(tcp8080, udp5353)).tenants[0]!;
    assert.deepEqual(tenant.portForwards, [
      { protocol: "tcp", hostIP: "", hostPort: 8080, containerIp: "198.18.1.1", containerPort: 80 },
      { protocol: "udp", hostIP: "198.18.0.11", hostPort: 5353, containerIp: "198.18.1.1", containerPort: 53 },
    ]);
    assert.deepEqual(tableBody(tenant.natTable!.script), [
      "  chain ports {",
      "    type nat hook prerouting priority dstnat; policy accept;",
      '    iifname "nuplink" ip daddr 169.254.0.2 tcp dport 8080 dnat to 198.18.1.1:80',
      '    iifname "nuplink" ip daddr 169.254.0.2 udp dport 5353 dnat to 198.18.1.1:53',
      "  }",
      "  chain postrouting {",
      "    type nat hook postrouting priority srcnat; policy accept;",
      '    oifname "nuplink" masquerade',
      "  }",
      "  chain forward {",
      "    type filter hook forward priority filter; policy accept;",
      '    iifname "nuplink" ct state established,related accept',
      '    iifname "nuplink" ct status dnat accept',
      '    iifname "nuplink" drop',
      "  }",
    ]);
  });

  it("DNATs the host's ports to the tenant's uplink, for arriving and own connections; loopback is masqueraded (golden)", () => {
    const script = renderHost(published(tcp8080, udp5353)).host.nftTable!.script;
    const body = tableBody(script);
    const chain = (name: string) => body.slice(body.indexOf(`  chain ${name} {`), body.indexOf("  }", body.indexOf(`  chain ${name} {`)) + 1);
    assert.deepEqual(chain("ports"), [
      "  chain ports {",
      "    tcp dport 8080 dnat ip to 169.254.0.2",
      "    ip daddr 198.18.0.11 udp dport 5353 dnat ip to 169.254.0.2",
      "  }",
    ]);
    assert.deepEqual(chain("ports_in"), [
      "  chain ports_in {",
      "    type nat hook prerouting priority dstnat; policy accept;",
      "    fib daddr type local jump ports",
      "  }",
    ]);
    assert.deepEqual(chain("ports_out"), [
      "  chain ports_out {",
      "    type nat hook output priority -100; policy accept;",
      "    fib daddr type local jump ports",
      "  }",
    ]);
    assert.ok(chain("postrouting").includes(`    oifname "${PREFIX}u*" ip saddr 127.0.0.0/8 masquerade`));
    // Hairpin: a container connecting through its host's address crosses uplinks, only when DNATed, masqueraded.
    // Only our own published ports after the DNAT, not any DNAT other software makes on the host.
    const set = body.slice(body.indexOf("  set published {"), body.indexOf("  }", body.indexOf("  set published {")) + 1);
    assert.deepEqual(set, [
      "  set published {",
      "    type ipv4_addr . inet_proto . inet_service",
      "    elements = { 169.254.0.2 . tcp . 8080, 169.254.0.2 . udp . 5353 }",
      "  }",
    ]);
    const ours = `iifname "${PREFIX}u*" oifname "${PREFIX}u*" ct status dnat ip daddr . meta l4proto . th dport @published`;
    assert.ok(chain("postrouting").includes(`    ${ours} masquerade`));
    const forward = chain("forward");
    const hairpin = forward.indexOf(`    ${ours} accept`);
    assert.equal(forward[hairpin + 1], `    iifname "${PREFIX}u*" oifname "${PREFIX}u*" ct state established,related accept`, "its replies");
    assert.ok(hairpin > 0 && hairpin < forward.indexOf(`    iifname "${PREFIX}u*" oifname "${PREFIX}u*" drop`), forward.join("\n"));
  });

  it("renders no port chains, no loopback masquerade and the same tables as before without mappings", () => {
    const plain = renderHost(clusterHost());
    const none = renderHost(published());
    assert.equal(none.tenants[0]!.natTable!.tag, plain.tenants[0]!.natTable!.tag);
    assert.equal(none.host.nftTable!.tag, plain.host.nftTable!.tag);
    assert.doesNotMatch(plain.host.nftTable!.script, /ports|127\.0\.0\.0|ct status dnat/);
    assert.doesNotMatch(renderHost(published(udp5353)).host.nftTable!.script, /127\.0\.0\.0/, "no mapping covers loopback");
  });

  it("keeps one target per (protocol, host port) in a tenant: several addresses for it, repeats dropped", () => {
    const local = { ...tcp8080, hostIP: "127.0.0.1" };
    const host = published(tcp8080, local, tcp8080);
    const tenant = renderHost(host).tenants[0]!;
    assert.equal(tenant.portForwards.length, 2);
    assert.equal(tenant.natTable!.script.match(/dnat to/g)!.length, 1, "one rule at the uplink for both addresses");
    assert.equal(renderHost(host).host.nftTable!.script.match(/dnat ip to/g)!.length, 2);
  });

  it("lets two tenants publish one port on different host addresses", () => {
    const host = withTenantB(published({ ...tcp8080, hostIP: "198.18.0.11" }), [{ ...tcp8080, hostIP: "127.0.0.1" }]);
    const script = renderHost(host).host.nftTable!.script;
    assert.match(script, /ip daddr 198\.18\.0\.11 tcp dport 8080 dnat ip to 169\.254\.0\.2/);
    assert.match(script, /ip daddr 127\.0\.0\.1 tcp dport 8080 dnat ip to 169\.254\.0\.6/);
  });

  const bad: Array<[string, (h: DesiredHost) => DesiredHost, string, RegExp]> = [
    ["port 0", () => published({ ...tcp8080, hostPort: 0 }), "tenants[0].endpoints[0].portMappings[0].hostPort", /invalid port 0/],
    ["container port 70000", () => published({ ...tcp8080, containerPort: 70_000 }), "tenants[0].endpoints[0].portMappings[0].containerPort", /invalid port/],
    ["an IPv6 host address", () => published({ ...tcp8080, hostIP: "::1" }), "tenants[0].endpoints[0].portMappings[0].hostIP", /IPv4/],
    ["0.0.0.0 for every address", () => published({ ...tcp8080, hostIP: "0.0.0.0" }), "tenants[0].endpoints[0].portMappings[0].hostIP", /""/],
    ["icmp", () => published({ ...tcp8080, protocol: "icmp" as "tcp" }), "tenants[0].endpoints[0].portMappings[0].protocol", /protocol/],
    [
      "one port to two targets in a tenant",
      () => published(tcp8080, { ...tcp8080, hostIP: "127.0.0.1", containerPort: 81 }),
      "tenants[0].endpoints[0].portMappings[1].hostPort",
      /already goes to 198\.18\.1\.1:80/,
    ],
    ["the VXLAN port", () => published({ ...udp5353, hostPort: 4789 }), "tenants[0].endpoints[0].portMappings", /VXLAN port/],
    [
      "no uplink",
      () => {
        const h = published(tcp8080);
        h.tenants[0]!.uplink = undefined;
        return h;
      },
      "tenants[0].endpoints[0].portMappings",
      /needs the tenant's uplink/,
    ],
    ["two tenants on one port and address", (h) => withTenantB(h, [{ ...tcp8080, hostIP: "198.18.0.11" }]), "tenants[1].endpoints[0].portMappings", /published by tenant "a" too/],
  ];
  for (const [name, make, path, message] of bad) {
    it(`rejects ${name} with a ValidationError naming ${path}`, () => {
      assert.throws(
        () => renderHost(make(published(tcp8080))),
        (error: unknown) => error instanceof ValidationError && error.issues.some((i) => i.path === path && message.test(i.message)),
      );
    });
  }
});

describe("diff: published host ports", () => {
  const lines = (host: DesiredHost, from: DesiredHost) => {
    const have = observedHost(renderHost(from));
    const want = renderHost(host);
    return diffHost(want, have, { appliedNft: appliedScripts(want) }).steps.map(describeStep);
  };
  const localnet = `net.ipv4.conf.${PREFIX}u00001.route_localnet`;

  it("plans nothing when the kernel is already right", () => {
    assert.deepEqual(lines(published(tcp8080, udp5353), published(tcp8080, udp5353)), []);
  });

  it("publishing replaces both tables and sets route_localnet on the uplink; withdrawing undoes all three", () => {
    assert.deepEqual(lines(published(tcp8080), clusterHost()), [
      `host: update nft table inet netplugin_${PREFIX} | nft[host] -f -`,
      `${NS_A}: update sysctl ${localnet} | sysctl[host] -w ${localnet}=1`,
      `${NS_A}: update nft table ip netplugin_nat | nft[${NS_A}] -f -`,
    ]);
    assert.deepEqual(lines(clusterHost(), published(tcp8080)), [
      `host: update nft table inet netplugin_${PREFIX} | nft[host] -f -`,
      `${NS_A}: update sysctl ${localnet} | sysctl[host] -w ${localnet}=0`,
      `${NS_A}: update nft table ip netplugin_nat | nft[${NS_A}] -f -`,
    ]);
  });

  it("needs no route_localnet for a mapping on a non-loopback address", () => {
    assert.ok(!lines(published(udp5353), clusterHost()).some((l) => l.includes("route_localnet")));
  });

  it("sets route_localnet after creating a new uplink, in the uplink phase", () => {
    const have = observedHost(renderHost(clusterHost()));
    have.host!.links = have.host!.links.filter((l) => !l.name.startsWith(`${PREFIX}u`));
    have.tenants[0]!.veths = have.tenants[0]!.veths.filter((v) => v.name !== "nuplink");
    delete have.host!.sysctls[localnet];
    const want = renderHost(published(tcp8080));
    const steps = diffHost(want, have, { appliedNft: appliedScripts(want) }).steps.map(describeStep);
    const create = steps.findIndex((s) => s.includes(`link add ${PREFIX}u00001`));
    const sysctl = steps.findIndex((s) => s.includes(`${localnet}=1`));
    assert.ok(create >= 0 && sysctl > create, steps.join("\n"));
  });
});
