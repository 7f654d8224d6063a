import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { ValidationError } from "../../lib/errors.js";
import { gatewayMac } from "./addr.js";
import { checkHost, defaultBurst, renderHost, tenantSysctls } from "./render.js";
import { clusterHost, desiredHost, endpoint, network, NS_A, PREFIX } from "../testing/desired.js";
import { SCRIPT } from "./testing/observed.js";

describe("renderHost", () => {
  it("renders a tenant into namespace, sysctls, bridge, endpoints and script (golden)", () => {
    const state = renderHost(desiredHost());
    assert.deepEqual(state, {
      prefix: PREFIX,
      tenants: [
        {
          tenant: "a",
          namespace: NS_A,
          sysctls: [
            { key: "net.ipv6.conf.all.accept_dad", value: "0" },
            { key: "net.ipv6.conf.default.accept_dad", value: "0" },
            { key: "net.bridge.bridge-nf-call-iptables", value: "0" },
            { key: "net.bridge.bridge-nf-call-ip6tables", value: "0" },
            { key: "net.ipv4.ip_forward", value: "1" },
            { key: "net.ipv6.conf.all.forwarding", value: "1" },
          ],
          bridges: [
            {
              name: "nb00000001",
              network: "blue",
              mac: gatewayMac("nb00000001"),
              mtu: 1450,
              mcastSnooping: true,
              mcastQuerier: true,
              netfilter: true,
              // gateway with the subnet's prefix; the IPv6 gateway in canonical form
              addresses: ["198.18.1.254/24", "fd00:1::fe/64"],
              noPrefixRoute: [],
              sysctls: [
                { key: "net.ipv4.conf.nb00000001.proxy_arp", value: "0" },
                { key: "net.ipv6.conf.nb00000001.proxy_ndp", value: "0" },
              ],
              hostRoutes: [],
              proxyNeighbours: [],
            },
          ],
          endpoints: [1, 2].map((n) => ({
            id: `ep${n}`,
            network: "blue",
            hostLink: `ne000000000${n}`,
            bridge: "nb00000001",
            mtu: 1450,
            containerSide: "ours",
            container: {
              netns: `/var/run/netns/c${n}`,
              ifname: "eth0",
              mac: `02:00:00:00:00:0${n}`,
              mtu: 1450,
              addresses: [`198.18.1.${n}/24`, `fd00:1::${n}/64`],
              routes: [
                { family: 4, via: "198.18.1.254" },
                { family: 6, via: "fd00:1::fe" },
              ],
            },
            ingressLimit: null,
            egressLimit: null,
            hairpin: false,
          })),
          nftScript: SCRIPT,
          vxlans: [],
          uplink: null,
          natTable: null,
          route6Table: null,
          hostEndpoints: [],
          portForwards: [],
          lbTable: null,
          lbBackends: [],
        },
      ],
      host: { sysctls: [], nftName: `netplugin_${PREFIX}`, nftTable: null },
      frozen: [],
    });
  });

  it("turns forwarding off in bridge mode", () => {
    const forward = tenantSysctls("bridge").filter((s) => s.key.includes("forward"));
    assert.deepEqual(forward.map((s) => s.value), ["0", "0"]);
  });

  it("gives the gateway a stable, locally administered MAC", () => {
    assert.equal(gatewayMac("nb00000001"), gatewayMac("nb00000001"));
    assert.notEqual(gatewayMac("nb00000001"), gatewayMac("nb00000002"));
    assert.match(gatewayMac("nb00000001"), /^02(:[0-9a-f]{2}){5}$/);
  });

  it("renders QoS: ingress as a tbf on the host link, egress through an ifb; burst derived when 0", () => {
    const host = desiredHost();
    host.tenants[0]!.endpoints[0] = endpoint(1, { qos: { egressBps: 8_000_000, ingressBps: 4_000_000, burstBytes: 0 } });
    host.tenants[0]!.endpoints[1] = endpoint(2, { qos: { egressBps: 1_000_000_000, ingressBps: 0, burstBytes: 30_000 } });
    const [e1, e2] = renderHost(host).tenants[0]!.endpoints;
    assert.deepEqual(e1!.ingressLimit, { rateBytes: 500_000, burstBytes: defaultBurst(500_000, 1450) });
    assert.deepEqual(e1!.egressLimit, { ifb: "ni0000000001", shaper: { rateBytes: 1_000_000, burstBytes: 10_000 } });
    assert.equal(e2!.ingressLimit, null);
    assert.deepEqual(e2!.egressLimit?.shaper, { rateBytes: 125_000_000, burstBytes: 30_000 });
  });

  it("derives the burst as 10 ms at the rate, at least four frames", () => {
    assert.equal(defaultBurst(125_000_000, 1500), 1_250_000);
    assert.equal(defaultBurst(1_000, 1500), 4 * 1514);
  });

  it("leaves out addresses and routes that are empty", () => {
    const host = desiredHost();
    host.tenants[0]!.networks[0]!.ipv6Gateway = "";
    host.tenants[0]!.endpoints = [endpoint(1, { ipv6: "", gateway: "", ipv6Gateway: "" })];
    const tenant = renderHost(host).tenants[0]!;
    assert.deepEqual(tenant.bridges[0]!.addresses, ["198.18.1.254/24"]);
    assert.deepEqual(tenant.endpoints[0]!.container.addresses, ["198.18.1.1/24"]);
    assert.deepEqual(tenant.endpoints[0]!.container.routes, []);
  });

  it("renders a runtime's container side without routes, keeping its addresses (routed host routes)", () => {
    const host = desiredHost();
    host.tenants[0]!.endpoints[0] = endpoint(1, { containerSide: "runtime" });
    const [e1, e2] = renderHost(host).tenants[0]!.endpoints;
    assert.equal(e1!.containerSide, "runtime");
    assert.deepEqual(e1!.container.routes, []);
    assert.deepEqual(e1!.container.addresses, ["198.18.1.1/24", "fd00:1::1/64"]);
    assert.equal(e2!.containerSide, "ours", "absent: ours");
  });

  const bad: Array<[string, (h: ReturnType<typeof desiredHost>) => void, string]> = [
    ["unknown network", (h) => (h.tenants[0]!.endpoints[0]!.network = "red"), "tenants[0].endpoints[0].network"],
    ["bad MAC", (h) => (h.tenants[0]!.endpoints[0]!.mac = "02:00:00:00:00"), "tenants[0].endpoints[0].mac"],
    ["bad address", (h) => (h.tenants[0]!.endpoints[0]!.ipv4 = "198.18.1.300/24"), "tenants[0].endpoints[0].ipv4"],
    ["long ifname", (h) => (h.tenants[0]!.endpoints[0]!.ifname = "a-very-long-ifname"), "tenants[0].endpoints[0].ifname"],
    ["relative netns", (h) => (h.tenants[0]!.endpoints[0]!.netns = "c1"), "tenants[0].endpoints[0].netns"],
    ["netns with a space", (h) => (h.tenants[0]!.endpoints[0]!.netns = "/run/netns/a b"), "tenants[0].endpoints[0].netns"],
    ["foreign namespace", (h) => (h.tenants[0]!.namespace = "other-t-a"), "tenants[0].namespace"],
    ["bad gateway", (h) => (h.tenants[0]!.networks[0]!.gateway = "x"), "tenants[0].networks[0].gateway"],
    ["duplicate host link", (h) => (h.tenants[0]!.endpoints[1]!.hostLink = "ne0000000001"), "tenants[0].endpoints[1].hostLink"],
    ["empty prefix", (h) => (h.prefix = ""), "prefix"],
  ];
  for (const [name, mutate, path] of bad) {
    it(`rejects ${name} with a ValidationError naming ${path}`, () => {
      const host = desiredHost();
      mutate(host);
      assert.throws(
        () => renderHost(host),
        (error: unknown) => error instanceof ValidationError && error.issues.some((i) => i.path === path),
      );
    });
  }
});

describe("checkHost", () => {
  it("finds nothing in what renders", () => {
    assert.deepEqual(checkHost(clusterHost()), []);
  });

  it("names the smallest unit of each problem: endpoint, remote endpoint, network, tenant, host", () => {
    const host = clusterHost();
    const tenant = host.tenants[0]!;
    tenant.networks.push(network({ name: "bad6", bridge: "nb00000002", subnet: "198.18.9.0/24", gateway: "", ipv6Subnet: "", ipv6Gateway: "fd00:99::1" }));
    tenant.endpoints[1]!.mac = "not-a-mac";
    tenant.networks[0]!.vxlan!.remotes[1]!.ipv4 = "198.18.1.31/24";
    tenant.uplink!.tenantAddr = "fd00::2/126";
    const second = structuredClone(tenant);
    second.name = "b";
    second.namespace = `${PREFIX}-t-b`;
    second.uplink = undefined;
    second.hostEndpoints = [];
    second.networks = [tenant.networks[0]!];
    second.endpoints = [];
    host.tenants.push(second);
    assert.deepEqual(checkHost(host), [
      { owner: { tenant: "a", network: "blue", endpoint: "net1.blue-31" }, message: 'ipv4: invalid IPv4 address "198.18.1.31/24"' },
      { owner: { tenant: "a", network: "bad6" }, message: 'ipv6Subnet: invalid subnet ""' },
      { owner: { tenant: "a", network: "blue", endpoint: "ep2" }, message: 'mac: invalid MAC "not-a-mac"' },
      { owner: { tenant: "a" }, message: 'uplink.tenantAddr: invalid IPv4 address "fd00::2/126"' },
      { owner: { tenant: "b", network: "blue", endpoint: "net1.blue-31" }, message: 'ipv4: invalid IPv4 address "198.18.1.31/24"' },
      { owner: { tenant: "b", network: "blue" }, message: "vxlan.vni: VNI 100 is also used in npu0-t-a" },
    ]);
  });

  it("gives what concerns no tenant to the host", () => {
    const host = desiredHost();
    host.prefix = "x";
    assert.deepEqual(checkHost(host)[0], { owner: {}, message: 'prefix: invalid prefix "x"' });
  });
});
