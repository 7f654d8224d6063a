import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { ProcessError } from "../../lib/process.js";
import { ETHTOOL_K_VETH_VXLAN } from "./testing/ethtool.js";
import { FakeExecutor } from "./testing/fakeExecutor.js";
import { observeHost } from "./observe.js";
import { renderHost } from "./render.js";
import { dnatRule, services, servicesMap } from "./testing/services.js";
import { desiredHost, endpoint, NS_A, PREFIX } from "../testing/desired.js";

// Trimmed from what iproute2 6.1 / nft 1.0.6 print.
const LINKS = JSON.stringify([
  { ifindex: 1, ifname: "lo", flags: ["LOOPBACK", "UP", "LOWER_UP"], mtu: 65536, address: "00:00:00:00:00:00", addr_info: [{ family: "inet", local: "127.0.0.1", prefixlen: 8, scope: "host" }] },
  {
    ifindex: 2, ifname: "nb00000001", flags: ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"], mtu: 1450, address: "02:AD:8F:12:8B:16",
    linkinfo: { info_kind: "bridge", info_data: { mcast_snooping: 1, stp_state: 0, nf_call_iptables: 1, nf_call_ip6tables: 0 } },
    addr_info: [
      { family: "inet", local: "198.18.1.254", prefixlen: 24, scope: "global", noprefixroute: true, label: "nb00000001" },
      { family: "inet6", local: "fd00:1::fe", prefixlen: 64, scope: "global", nodad: true },
      { family: "inet6", local: "fe80::ff:fe00:1", prefixlen: 64, scope: "link" },
    ],
  },
  {
    ifindex: 3, link_index: 2, ifname: "ne0000000001", flags: ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"], mtu: 1450, master: "nb00000001",
    address: "7e:c4:5a:cc:58:66", link_netnsid: 0, linkinfo: { info_kind: "veth", info_slave_kind: "bridge", info_slave_data: { learning: true, hairpin: true } }, addr_info: [],
  },
  { ifindex: 4, ifname: "ni0000000001", flags: ["BROADCAST", "NOARP"], mtu: 1450, linkinfo: { info_kind: "ifb" }, addr_info: [] },
]);
const QDISCS = JSON.stringify([
  { kind: "noqueue", handle: "0:", dev: "lo", root: true, refcnt: 2, options: {} },
  { kind: "tbf", handle: "1:", dev: "ne0000000001", root: true, refcnt: 3, options: { rate: 500000, burst: 5856, lat: 50000 } },
  { kind: "ingress", handle: "ffff:", dev: "ne0000000001", parent: "ffff:fff1", options: {} },
]);
const FILTERS = JSON.stringify([
  { parent: "ffff:", protocol: "all", pref: 1, kind: "u32", chain: 0 },
  {
    parent: "ffff:", protocol: "all", pref: 1, kind: "u32", chain: 0,
    options: { fh: "800::800", actions: [{ order: 1, kind: "mirred", mirred_action: "redirect", direction: "egress", to_dev: "ni0000000001" }] },
  },
]);
const NFT = JSON.stringify({
  nftables: [{ metainfo: { version: "1.0.6", json_schema_version: 1 } }, { table: { family: "inet", name: "netplugin", handle: 1 } }],
});
const C1_LINKS = JSON.stringify([
  { ifindex: 1, ifname: "lo", flags: ["LOOPBACK"], mtu: 65536, addr_info: [] },
  {
    ifindex: 2, link_index: 3, ifname: "eth0", flags: ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"], mtu: 1450, address: "02:00:00:00:00:01",
    linkinfo: { info_kind: "veth" },
    addr_info: [
      { family: "inet", local: "198.18.1.1", prefixlen: 24, scope: "global" },
      { family: "inet6", local: "fd00:1:0::1", prefixlen: 64, scope: "global" },
    ],
  },
]);
const C1_ROUTES = JSON.stringify([
  { dst: "default", gateway: "198.18.1.254", dev: "eth0", flags: [] },
  { dst: "198.18.1.0/24", dev: "eth0", protocol: "kernel", scope: "link", prefsrc: "198.18.1.1", flags: [] },
  { type: "local", dst: "198.18.1.1", table: "local", dev: "eth0", protocol: "kernel", scope: "host", flags: [] },
  { dst: "default", gateway: "fd00:1::fe", dev: "eth0", metric: 1024, flags: [], pref: "medium" },
  { dst: "default", gateway: "198.18.9.1", dev: "eth1", flags: [] },
]);

const TENANT_ROUTES = JSON.stringify([
  { dst: "default", gateway: "169.254.0.1", dev: "nuplink", flags: [] },
  { dst: "198.18.1.1", dev: "nb00000001", scope: "link", flags: [] },
  { dst: "198.18.1.7", dev: "nb00000001", protocol: "static", scope: "link", flags: [] },
  { dst: "198.18.2.0/24", dev: "nb00000001", protocol: "kernel", scope: "link", prefsrc: "198.18.2.254", flags: [] },
  { dst: "198.18.1.9", gateway: "169.254.0.1", dev: "nuplink", flags: [] },
]);
const HOST_ROUTES = JSON.stringify([
  { dst: "default", gateway: "198.18.0.1", dev: "eth0", flags: [] },
  { dst: "169.254.0.0/30", dev: `${PREFIX}u12345`, protocol: "kernel", scope: "link", prefsrc: "169.254.0.1", flags: [] },
  { dst: "198.18.1.1", gateway: "169.254.0.2", dev: `${PREFIX}u12345`, flags: [] },
  { dst: "198.18.1.21", gateway: "198.18.0.200", dev: "eth0", protocol: "bgp", flags: [] },
]);

const HOST_LINKS = JSON.stringify([
  { ifindex: 1, ifname: "lo", flags: ["LOOPBACK", "UP"], mtu: 65536, addr_info: [] },
  { ifindex: 2, ifname: "eth0", flags: ["UP"], mtu: 1500, address: "52:54:00:00:00:01", addr_info: [{ family: "inet", local: "198.18.0.11", prefixlen: 24 }] },
  {
    ifindex: 7, link_index: 5, ifname: `${PREFIX}u12345`, flags: ["BROADCAST", "UP", "LOWER_UP"], mtu: 1500, address: "9a:00:00:00:00:01",
    linkinfo: { info_kind: "veth" }, addr_info: [{ family: "inet", local: "169.254.0.1", prefixlen: 30, scope: "global" }],
  },
]);

function scripted(): FakeExecutor {
  const sysctls = [
    "net.ipv6.conf.all.accept_dad = 0",
    "net.ipv6.conf.default.accept_dad = 0",
    "net.bridge.bridge-nf-call-iptables = 1",
    "net.bridge.bridge-nf-call-ip6tables = 1",
    "net.ipv4.ip_forward = 1",
    "net.ipv6.conf.all.forwarding = 1",
  ].join("\n");
  return new FakeExecutor()
    .on("ip -json netns list", { stdout: JSON.stringify([{ name: NS_A }, { name: `${PREFIX}-t-old` }, { name: `${PREFIX}-c-1` }, { name: "other" }]) })
    .on(`ip -n ${NS_A} -json -d -batch -`, { stdout: `${LINKS}\n${TENANT_ROUTES}\n[]\n[]\n` })
    .on("ip -json -d addr show", { stdout: HOST_LINKS })
    .on("ip -json route show", { stdout: HOST_ROUTES })
    .on("ip -json -6 route show", { stdout: "[]" })
    .on(`ip -n ${NS_A} -json -6 route show`, { stdout: "[]" })
    .on("sysctl -e net.ipv4.ip_forward net.ipv6.conf.all.forwarding", { stdout: "net.ipv4.ip_forward = 0\n" })
    .on(`nft list table inet netplugin_${PREFIX}`, { stderr: `Error: No such file or directory\nlist table inet netplugin_${PREFIX}\n` })
    .on(`ip -n ${PREFIX}-t-old -json -d link show`, { stdout: LINKS })
    .on(/^ip netns exec \S+ sysctl -e /, { stdout: `${sysctls}\n` })
    .on(`tc -n ${NS_A} -json qdisc show`, { stdout: QDISCS })
    .on(`tc -n ${NS_A} -json -batch -`, { stdout: `${FILTERS}\n` })
    .on(`ip netns exec ${NS_A} nft -j list tables`, { stdout: NFT })
    .on(/^ip netns exec \S+ sh -c for d; do ethtool -k .* sh ne0000000001$/, { stdout: ETHTOOL_K_VETH_VXLAN.replace("Features for va:", "Features for ne0000000001:") })
    .on("ip -n c1 -json -d -batch -", { stdout: `${C1_LINKS}\n${C1_ROUTES}\n` })
    .on("ip -n c2 -json -d -batch -", {
      stderr: 'Cannot open network namespace "c2": No such file or directory',
    });
}

/** A read of a container namespace: the tests' are named ones (c1, c2), which ip enters itself. */
const CONTAINER_READ = /^ip -n c\d /;

describe("observeHost", () => {
  it("reads links, addresses, qdiscs, redirects, nft table and container sides into ObservedTenant", async () => {
    const fake = scripted();
    const observed = await observeHost(fake, renderHost(desiredHost()));
    assert.deepEqual(observed.namespaces, [NS_A, `${PREFIX}-t-old`]);
    assert.deepEqual(observed.failures, []);
    assert.deepEqual(observed.unwanted, [{ namespace: `${PREFIX}-t-old`, veths: ["ne0000000001"], vxlans: [] }]);
    const t = observed.tenants[0]!;
    assert.equal(t.exists, true);
    assert.equal(t.loopbackUp, true);
    assert.equal(t.sysctls["net.ipv4.ip_forward"], "1");
    // Offload features of the wanted devices that exist (one host-side veth here), in one process.
    assert.ok(fake.commands().some((c) => c.endsWith("exit 0 sh ne0000000001")), "only the wanted device that exists is asked for");
    assert.deepEqual(t.offloads?.ne0000000001?.["tcp-segmentation-offload"], { on: true, fixed: false });
    assert.deepEqual(t.bridges, [
      {
        name: "nb00000001", mac: "02:ad:8f:12:8b:16", mtu: 1450, up: true, mcastSnooping: true, mcastQuerier: false, netfilter: false,
        addresses: ["198.18.1.254/24", "fd00:1::fe/64"], noPrefixRoute: ["198.18.1.254/24"],
      },
    ]);
    // Host routes on bridges other than the kernel's; the default route apart.
    assert.deepEqual(t.hostRoutes, [
      { dst: "198.18.1.1/32", dev: "nb00000001" },
      { dst: "198.18.1.7/32", dev: "nb00000001" },
    ]);
    assert.deepEqual(t.routes, [{ family: 4, via: "169.254.0.1", dev: "nuplink" }]);
    assert.deepEqual(t.veths, [{ name: "ne0000000001", ifindex: 3, peerIfindex: 2, master: "nb00000001", mtu: 1450, up: true, addresses: [], linkLocal: [], hairpin: true }]);
    assert.deepEqual(t.ifbs, [{ name: "ni0000000001", mtu: 1450, up: false }]);
    assert.deepEqual(t.qdiscs[1], { dev: "ne0000000001", kind: "tbf", handle: "1:", root: true, shaper: { rateBytes: 500000, burstBytes: 5856 } });
    assert.deepEqual(t.redirects, [{ dev: "ne0000000001", toDev: "ni0000000001" }]);
    assert.equal(t.nftTable, true);
    assert.deepEqual(t.containers[0], {
      hostLink: "ne0000000001",
      netns: "/var/run/netns/c1",
      netnsMissing: false,
      link: { ifname: "eth0", ifindex: 2, peerIfindex: 3, kind: "veth", mac: "02:00:00:00:00:01", mtu: 1450, up: true, addresses: ["198.18.1.1/24", "fd00:1::1/64"] },
      routes: [{ family: 4, via: "198.18.1.254" }, { family: 6, via: "fd00:1::fe" }],
    });
    assert.deepEqual(t.containers[1], { hostLink: "ne0000000002", netns: "/var/run/netns/c2", netnsMissing: true, link: null, routes: [] });
    assert.equal(fake.calls.find((c) => c.argv[0] === "tc" && c.argv.includes("-batch"))?.stdin, "filter show dev ne0000000001 ingress\n");
    assert.deepEqual(observed.host, {
      links: [{ name: `${PREFIX}u12345`, kind: "veth", ifindex: 7, peerIfindex: 5, mac: "9a:00:00:00:00:01", mtu: 1500, up: true, addresses: ["169.254.0.1/30"], linkLocal: [] }],
      // only routes through our links: not the BGP speaker's, not the kernel's
      routes: [{ dst: "198.18.1.1/32", via: "169.254.0.2", dev: `${PREFIX}u12345` }],
      sysctls: { "net.ipv4.ip_forward": "0" },
      nftTag: null,
    });
    assert.ok(!fake.commands().some((c) => c.startsWith("bridge")), "no FDB read without a VXLAN network");
  });

  it("observes a tenant whose namespace does not exist as empty, containers included", async () => {
    const fake = new FakeExecutor()
      .on("ip -json netns list", { stdout: "" })
      .on(/^ip -n c\d /, { stdout: `${JSON.stringify([{ ifindex: 1, ifname: "lo", flags: [], mtu: 65536 }])}\n[]\n` })
      .on(/^ip -n h1 -json -d addr show$/, { stdout: "[]" })
      .on(/^ip -n h1 -json (-6 )?route show$/, { stdout: "[]" })
      .on(/^ip netns exec h1 (sysctl|nft) /, { stdout: "" });
    const observed = await observeHost(fake, renderHost(desiredHost()), { hostNamespace: "h1" });
    assert.equal(observed.tenants[0]!.exists, false);
    assert.equal(observed.tenants[0]!.containers[0]!.link, null);
    assert.deepEqual(observed.host, { links: [], routes: [], sysctls: {}, nftTag: "" });
    assert.ok(
      fake.commands().every((c) => CONTAINER_READ.test(c) || c === "ip -json netns list" || c.includes(" h1 ")),
      "only the container namespaces, the namespace list and the host namespace are read",
    );
  });

  it("never reads a container side the runtime owns, also when the whole tenant is read", async () => {
    const host = desiredHost();
    host.tenants[0]!.endpoints[1] = endpoint(2, { containerSide: "runtime" });
    const fake = scripted();
    const observed = await observeHost(fake, renderHost(host));
    assert.deepEqual(observed.tenants[0]!.containers.map((c) => c.hostLink), ["ne0000000001"]);
    assert.deepEqual(fake.commands().filter((c) => CONTAINER_READ.test(c)), ["ip -n c1 -json -d -batch -"]);
  });

  it("turns output it cannot parse into a failure of that tenant, not a throw", async () => {
    const host = desiredHost();
    host.tenants[0]!.endpoints = [endpoint(1)];
    const fake = scripted().on(`ip -n ${NS_A} -json -d -batch -`, { stdout: '[{"ifname": 3}]\n[]\n[]\n[]\n' });
    const observed = await observeHost(fake, renderHost(host));
    assert.equal(observed.tenants.length, 0);
    assert.equal(observed.failures.length, 1);
    assert.ok(observed.failures[0]!.error instanceof ProcessError);
    assert.match(observed.failures[0]!.error.message, /unexpected output/);
  });

  it("reads only what the scope names; a trusted container side is taken as applied while its veth is there", async () => {
    const fake = scripted();
    const want = renderHost(desiredHost());
    // Both container sides trusted; only ne0000000001 is in the tenant namespace.
    const trusted = new Set(["ne0000000001", "ne0000000002"]);
    const observed = await observeHost(fake, want, { scope: { namespaces: [NS_A], tenants: new Map([[NS_A, trusted]]), whole: new Set(), host: false } });
    assert.deepEqual(observed.failures, []);
    assert.equal(observed.host, null);
    const [c1, c2] = observed.tenants[0]!.containers;
    const e1 = want.tenants[0]!.endpoints[0]!.container;
    assert.deepEqual(c1, {
      hostLink: "ne0000000001",
      netns: e1.netns,
      netnsMissing: false,
      link: { ifname: "eth0", ifindex: 2, peerIfindex: 3, kind: "veth", mac: e1.mac, mtu: e1.mtu, up: true, addresses: e1.addresses },
      routes: e1.routes,
    });
    assert.equal(c2!.netnsMissing, true, "no veth for ne0000000002: its container side is read");
    const commands = fake.commands();
    assert.deepEqual(commands.filter((c) => CONTAINER_READ.test(c)), ["ip -n c2 -json -d -batch -"]);
    assert.ok(!commands.some((c) => c.includes("netns list") || c.includes("addr show") || c.includes(`${PREFIX}-t-old`)), commands.join("\n"));
    assert.ok(!commands.some((c) => c.includes("ethtool")), "a tenant not read whole: no offloads read");
    assert.equal(observed.tenants[0]!.offloads, undefined);
  });

  it("reads what the services table sends to only when that table is about to be replaced or deleted", async () => {
    const host = desiredHost();
    host.tenants[0]!.services = [services()[0]!];
    const want = renderHost(host);
    const lbJson = ["nft", "-j", "list", "table", "inet", "netplugin_lb"].join(" ");
    const observe = async (wanted: typeof want, tag: string | null): Promise<{ backends: unknown; read: boolean }> => {
      const tables = [{ table: { family: "inet", name: "netplugin" } }, ...(tag === null ? [] : [{ table: { family: "inet", name: "netplugin_lb" } }])];
      const fake = scripted()
        .on(`ip netns exec ${NS_A} nft -j list tables`, { stdout: JSON.stringify({ nftables: tables }) })
        .on(`ip netns exec ${NS_A} nft list table inet netplugin_lb`, { stdout: `table inet netplugin_lb {\n\tcomment "netplugin:${tag}"\n}\n` })
        .on(`ip netns exec ${NS_A} ${lbJson}`, {
          stdout: JSON.stringify({ nftables: [servicesMap(4, [["198.18.1.100", "udp", 53, "svc0_udp_53"]]), dnatRule("svc0_udp_53", 4, "udp", [["198.18.1.21", 5353]])] }),
        });
      const observed = await observeHost(fake, wanted);
      assert.deepEqual(observed.failures, []);
      return { backends: observed.tenants[0]!.lbBackends, read: fake.commands().some((c) => c.endsWith(lbJson)) };
    };
    const old = [{ vip: "198.18.1.100", protocol: "udp", port: 53, address: "198.18.1.21", targetPort: 5353 }];
    assert.deepEqual(await observe(want, want.tenants[0]!.lbTable!.tag), { backends: null, read: false }, "the wanted table");
    assert.deepEqual(await observe(want, "0123abcd"), { backends: old, read: true }, "another table");
    assert.deepEqual(await observe(want, null), { backends: null, read: false }, "no table");
    assert.deepEqual(await observe(renderHost(desiredHost()), "0123abcd"), { backends: old, read: true }, "a table no longer wanted");
  });
});
