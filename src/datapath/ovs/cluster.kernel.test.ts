// The OVS driver on two simulated hosts over VXLAN: each host a namespace with its own private Open vSwitch
// (userspace datapath), an underlay veth between them. The userspace datapath tunnels through OVS's own routing,
// so each host's underlay address sits on an OVS bridge of its own (`ul`, a plain learning switch holding the
// underlay veth), as the README's OVS section tells operators to do. Containers on the same network on both
// hosts reach each other both ways; the ARP for the remote one is answered on the sender's host (proxy mode); a
// service whose provider is on the other host is reached through the tunnel, its replies from the VIP; in fwdMode
// routing a container reaches one of another network on the other host through the gateway namespaces. IPv6 the
// same way: ping -6 and TCP over IPv6 across the tunnel both ways, the remote endpoint's neighbour solicitation
// answered on the sender's host (in flood mode the solicitation, IPv6 multicast, crosses the tunnel and the remote
// endpoint answers), an IPv6 VIP whose provider is on the other host, and IPv6 routed across hosts; in fwdMode
// routing a VIP balanced to a provider on another network, from clients on either host, and a client on another
// network than the VIP's balanced over providers on both hosts, IPv4 and IPv6.
// Needs root and openvswitch-switch. Per-run names in 198.18.0.0/15 and 2001:2::/48; everything removed at the end.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { must, run } from "../../lib/process.js";
import { waitFor } from "../../lib/wait.js";
import { exec, ping, removeNamespaces, startProbe, tcp, killChildren } from "../linux/testing/netns.js";
import { emptyPolicy } from "../testing/desired.js";
import type { DesiredEndpoint, DesiredHost, DesiredNetwork, DesiredService, FwdMode } from "../types.js";
import { OvsDatapath } from "./driver.js";
import { PrivateOvs } from "./private-ovs.js";

const root = process.getuid?.() === 0;
const ovsInstalled = (await run(["ovs-vswitchd", "--version"])).code === 0;

describe("OVS driver across two hosts over VXLAN", { skip: !root ? "needs root" : !ovsInstalled ? "openvswitch-switch is not installed" : false }, () => {
  const P = `npv${randomBytes(2).toString("hex")}`;
  const hosts = [1, 2].map((i) => ({ i, ns: `${P}-h${i}`, container: `${P}-c${i}`, vtep: `198.19.60.${i}`, prefix: `${P}h${i}` }));
  const ovs: PrivateOvs[] = [];
  const drivers: OvsDatapath[] = [];

  const ep = (i: number): DesiredEndpoint => ({
    id: `blue-c${i}`,
    network: "blue",
    hostLink: `ne${P.slice(3)}c${i}`,
    netns: `/var/run/netns/${P}-c${i}`,
    ifname: "eth0",
    mac: `02:00:c6:12:3c:0${i}`,
    ipv4: `198.18.60.${i}/24`,
    ipv6: `2001:2:0:60::${i}/64`,
    gateway: "198.18.60.254",
    ipv6Gateway: "2001:2:0:60::fe",
    mtu: 1450,
    qos: { egressBps: 0, ingressBps: 0, burstBytes: 0 },
  });
  /** c3: on network red (198.18.61.0/24, VNI 5001) on host 2, when the tenant routes. */
  const c3: DesiredEndpoint = {
    ...ep(3), id: "red-c3", network: "red", netns: `/var/run/netns/${P}-c3`, ipv4: "198.18.61.3/24", gateway: "198.18.61.254", ipv6: "2001:2:0:61::3/64", ipv6Gateway: "2001:2:0:61::fe",
  };
  const desired = (i: number, services: DesiredService[] = [], fwdMode: FwdMode = "bridge", arpMode: "proxy" | "flood" = "proxy"): DesiredHost => {
    const other = 3 - i;
    const vxlan = (vni: number, remotes: DesiredEndpoint[]): NonNullable<DesiredNetwork["vxlan"]> => ({
      vni, device: `nv${vni}`, localVtep: hosts[i - 1]!.vtep, port: 4789, peers: [hosts[other - 1]!.vtep], arpMode,
      remotes: remotes.map((e) => ({ id: e.id, mac: e.mac, ipv4: e.ipv4.split("/")[0]!, ipv6: e.ipv6.split("/")[0]!, vtep: hosts[other - 1]!.vtep })),
    });
    const network = (name: string, third: number, vni: number, remotes: DesiredEndpoint[]): DesiredNetwork => ({
      name, bridge: `nb${name}`, subnet: `198.18.${third}.0/24`, gateway: `198.18.${third}.254`, ipv6Subnet: `2001:2:0:${third}::/64`, ipv6Gateway: `2001:2:0:${third}::fe`,
      mtu: 1450, routed: false, netfilter: false,
      vxlan: vxlan(vni, remotes),
    });
    const routing = fwdMode === "routing";
    return {
      prefix: hosts[i - 1]!.prefix,
      tenants: [
        {
          name: "a",
          namespace: `${hosts[i - 1]!.prefix}-t-a`,
          fwdMode,
          networks: [network("blue", 60, 5000, [ep(other)]), ...(routing ? [network("red", 61, 5001, i === 1 ? [c3] : [])] : [])],
          endpoints: [ep(i), ...(routing && i === 2 ? [c3] : [])],
          policy: { ...emptyPolicy(), fwdMode },
          hostEndpoints: [],
          services,
        },
      ],
      host: { natOutbound: false },
    };
  };

  before(async () => {
    for (const h of hosts) await must(["ip", "netns", "add", h.ns]);
    for (const c of [...hosts.map((h) => h.container), `${P}-c3`]) {
      await must(["ip", "netns", "add", c]);
      await must(["ip", "-n", c, "link", "set", "lo", "up"]);
    }
    await must(["ip", "-n", hosts[0]!.ns, "link", "add", "u1", "type", "veth", "peer", "name", "u2", "netns", hosts[1]!.ns]);
    for (const h of hosts) {
      const o = await PrivateOvs.start({ dir: mkdtempSync(path.join(tmpdir(), `${P}-ovs${h.i}-`)), netns: h.ns });
      ovs.push(o);
      const vsctl = (...args: string[]) => must(["ovs-vsctl", `--db=${o.db}`, ...args]);
      await vsctl("add-br", "ul", "--", "set", "bridge", "ul", "datapath_type=netdev");
      await vsctl("add-port", "ul", `u${h.i}`);
      await must(["ip", "-n", h.ns, "link", "set", `u${h.i}`, "up"]);
      await must(["ip", "-n", h.ns, "addr", "add", `${h.vtep}/24`, "dev", "ul"]);
      await must(["ip", "-n", h.ns, "link", "set", "ul", "up"]);
      drivers.push(new OvsDatapath(exec, { db: o.db, rundir: o.dir, datapathType: "netdev", hostNamespace: h.ns }));
    }
    for (const h of hosts) await startProbe(h.container, "serve", `c${h.i}`, 8080);
    await startProbe(`${P}-c3`, "serve", "c3", 8080);
  });

  after(async () => {
    killChildren();
    for (const [i, d] of drivers.entries()) await d.cleanup(hosts[i]!.prefix).catch(() => undefined);
    for (const o of ovs) await o.stop();
    await removeNamespaces(P);
  });

  it("containers on one network on two hosts reach each other both ways", async () => {
    for (const [i, d] of drivers.entries()) {
      const report = await d.reconcile(desired(i + 1), { full: true });
      assert.deepEqual(report.errors, [], `host ${i + 1}`);
    }
    // The first packets are lost while OVS resolves the tunnel's next hop on the underlay.
    await waitFor(() => ping(hosts[0]!.container, "198.18.60.2"), { timeoutMs: 10_000, what: () => `c1 → c2 over the tunnel\n${ovs[0]!.log().slice(-1500)}` });
    assert.ok(await ping(hosts[1]!.container, "198.18.60.1"), "c2 → c1");
    assert.equal(await tcp(hosts[0]!.container, "198.18.60.2", 8080), "reply c2");
    assert.equal(await tcp(hosts[1]!.container, "198.18.60.1", 8080), "reply c1");
  });

  it("the remote endpoint's ARP is answered on the sender's host", async () => {
    const neigh = await must(["ip", "-n", hosts[0]!.container, "neigh", "show", "198.18.60.2"]);
    assert.match(neigh, new RegExp(`lladdr ${ep(2).mac}`));
  });

  it("IPv6: ping -6 and TCP over IPv6 across the tunnel both ways; the remote endpoint's solicitation answered on the sender's host", async () => {
    await waitFor(() => ping(hosts[0]!.container, "2001:2:0:60::2"), { timeoutMs: 10_000, what: () => `c1 → c2 over IPv6\n${ovs[0]!.log().slice(-1500)}` });
    assert.ok(await ping(hosts[1]!.container, "2001:2:0:60::1"), "c2 → c1");
    assert.equal(await tcp(hosts[0]!.container, "2001:2:0:60::2", 8080), "reply c2");
    assert.equal(await tcp(hosts[1]!.container, "2001:2:0:60::1", 8080), "reply c1");
    const neigh = await must(["ip", "-n", hosts[0]!.container, "-6", "neigh", "show", "2001:2:0:60::2"]);
    assert.match(neigh, new RegExp(`lladdr ${ep(2).mac}`));
    // The answer came from host 1's flows: its responder for c2's address counted the solicitation.
    const flows = await must(["ovs-ofctl", "-O", "OpenFlow15", "dump-flows", `unix:${ovs[0]!.dir}/${hosts[0]!.prefix}-br.mgmt`, "icmp6,icmp_type=135,nd_target=2001:2:0:60::2"]);
    assert.match(flows, /n_packets=[1-9]/, flows);
    assert.ok(await ping(hosts[0]!.container, "2001:2:0:60::fe"), "the IPv6 gateway on host 1");
  });

  it("flood mode: the neighbour solicitation for the remote endpoint crosses the tunnel (IPv6 multicast flooded) and c2 answers it", async () => {
    for (const [i, d] of drivers.entries()) {
      const report = await d.reconcile(desired(i + 1, [], "bridge", "flood"), { full: false });
      assert.deepEqual(report.errors, [], `host ${i + 1}`);
    }
    const c1 = hosts[0]!.container;
    await must(["ip", "-n", c1, "-6", "neigh", "flush", "all"]);
    assert.ok(await ping(c1, "2001:2:0:60::2"), "c1 → c2 over IPv6, its solicitation flooded");
    assert.match(await must(["ip", "-n", c1, "-6", "neigh", "show", "2001:2:0:60::2"]), new RegExp(`lladdr ${ep(2).mac}`));
    // Not answered on host 1 for containers in flood mode: its only responder for c2's address is the gateway
    // namespace's (reg8 FLAG_FROM_GATEWAY), whatever the mode.
    const flows = await must(["ovs-ofctl", "-O", "OpenFlow15", "dump-flows", `unix:${ovs[0]!.dir}/${hosts[0]!.prefix}-br.mgmt`, "icmp6,icmp_type=135,nd_target=2001:2:0:60::2"]);
    const responders = flows.split("\n").filter((l) => l.includes("nd_target="));
    assert.ok(responders.length > 0 && responders.every((l) => l.includes("reg8=0x2/0x2")), flows);
    assert.equal(await tcp(hosts[1]!.container, "2001:2:0:60::1", 8080), "reply c1");
  });

  it("a service whose provider is on the other host: through the tunnel, replies from the VIP", async () => {
    const web: DesiredService = {
      name: "web", network: "blue", vip: "198.18.60.100", vip6: "2001:2:0:60::100",
      ports: [{ protocol: "tcp", port: 80, targetPort: 8080 }],
      providers: [{ endpoint: "blue-c2", ipv4: "198.18.60.2", ipv6: "2001:2:0:60::2" }],
    };
    for (const [i, d] of drivers.entries()) {
      const report = await d.reconcile(desired(i + 1, [web]), { full: false });
      assert.deepEqual(report.errors, [], `host ${i + 1}`);
    }
    for (let k = 0; k < 3; k++) assert.equal(await tcp(hosts[0]!.container, "198.18.60.100", 80), "reply c2", `connection ${k}`);
    for (let k = 0; k < 3; k++) assert.equal(await tcp(hosts[0]!.container, "2001:2:0:60::100", 80), "reply c2", `IPv6 connection ${k}`);
  });

  it("fwdMode routing: each host's gateway namespace routes to a network's container on the other host, both ways, IPv4 and IPv6", async () => {
    for (const [i, d] of drivers.entries()) {
      const report = await d.reconcile(desired(i + 1, [], "routing"), { full: false });
      assert.deepEqual(report.errors, [], `host ${i + 1}`);
    }
    const c1 = hosts[0]!.container;
    const c3 = `${P}-c3`;
    await waitFor(() => ping(c1, "198.18.61.3"), { timeoutMs: 10_000, what: () => `c1 (blue, host 1) → c3 (red, host 2)\n${ovs[0]!.log().slice(-1500)}` });
    assert.ok(await ping(c3, "198.18.60.1"), "c3 → c1");
    assert.equal(await tcp(c1, "198.18.61.3", 8080), "reply c3");
    assert.equal(await tcp(c3, "198.18.60.1", 8080), "reply c1");
    assert.equal(await tcp(c3, "198.18.60.2", 8080), "reply c2", "and to blue on its own host");
    // IPv6 the same way.
    await waitFor(() => ping(c1, "2001:2:0:61::3"), { timeoutMs: 10_000, what: () => "c1 → c3 over IPv6" });
    assert.ok(await ping(c3, "2001:2:0:60::1"), "c3 → c1 over IPv6");
    assert.equal(await tcp(c1, "2001:2:0:61::3", 8080), "reply c3");
    assert.equal(await tcp(c3, "2001:2:0:60::1", 8080), "reply c1");
  });

  it("fwdMode routing: a VIP on blue balanced to a provider on red, from a client on the other host and from one on the provider's host; replies from the VIP", async () => {
    const svc: DesiredService = {
      name: "across", network: "blue", vip: "198.18.60.101", vip6: "2001:2:0:60::101",
      ports: [{ protocol: "tcp", port: 80, targetPort: 8080 }],
      providers: [{ endpoint: "red-c3", ipv4: "198.18.61.3", ipv6: "2001:2:0:61::3" }],
    };
    for (const [i, d] of drivers.entries()) {
      const report = await d.reconcile(desired(i + 1, [svc], "routing"), { full: false });
      assert.deepEqual(report.errors, [], `host ${i + 1}`);
    }
    // c1 (blue, host 1) → c3 (red, host 2): host 1 routes the translated packet onto red's overlay; c3's reply goes
    // through host 2's gateway namespace onto blue and is translated back on host 1. c2 (blue, host 2): all on host 2.
    for (const [client, who] of [[hosts[0]!.container, "c1 on the other host"], [hosts[1]!.container, "c2 on the provider's host"]] as const) {
      for (let k = 0; k < 3; k++) assert.equal(await tcp(client, "198.18.60.101", 80), "reply c3", `${who}, connection ${k}\n${ovs[0]!.log().slice(-800)}`);
      for (let k = 0; k < 2; k++) assert.equal(await tcp(client, "2001:2:0:60::101", 80), "reply c3", `${who}, IPv6 connection ${k}`);
    }
    for (const [i, d] of drivers.entries()) assert.deepEqual(await d.reconcile(desired(i + 1, [svc], "routing"), { full: true }), { changes: [], errors: [] }, `host ${i + 1}: a second run`);
  });

  it("fwdMode routing: a client on red reaches a VIP on blue, balanced over a provider on its own host and one on the other host; replies from the VIP", async () => {
    const web: DesiredService = {
      name: "web", network: "blue", vip: "198.18.60.102", vip6: "2001:2:0:60::102",
      ports: [{ protocol: "tcp", port: 80, targetPort: 8080 }],
      providers: [
        { endpoint: "blue-c1", ipv4: "198.18.60.1", ipv6: "2001:2:0:60::1" },
        { endpoint: "blue-c2", ipv4: "198.18.60.2", ipv6: "2001:2:0:60::2" },
      ],
    };
    for (const [i, d] of drivers.entries()) {
      const report = await d.reconcile(desired(i + 1, [web], "routing"), { full: false });
      assert.deepEqual(report.errors, [], `host ${i + 1}`);
    }
    // c3 (red, host 2): c2 on its host, c1 on host 1; the client's socket is connected to the VIP, so an answer
    // proves the reply came from it.
    const c3 = `${P}-c3`;
    for (const vip of ["198.18.60.102", "2001:2:0:60::102"]) {
      const seen = new Set<string>();
      for (let k = 0; k < 12 && seen.size < 2; k++) seen.add(await tcp(c3, vip, 80));
      assert.deepEqual([...seen].sort(), ["reply c1", "reply c2"], `${vip}: ${[...seen].join(", ")}`);
    }
    // The blue clients still get both too.
    const seen = new Set<string>();
    for (let k = 0; k < 12 && seen.size < 2; k++) seen.add(await tcp(hosts[0]!.container, "198.18.60.102", 80));
    assert.deepEqual([...seen].sort(), ["reply c1", "reply c2"]);
    await drivers[0]!.reconcile(desired(1, [], "routing"), { full: false });
  });
});
