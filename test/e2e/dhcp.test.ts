// DHCP networks end to end on one host: a real agent and netmaster, the real CNI executable, and dnsmasq as
// the site's DHCP server on the network's segment. On the Linux datapath the segment of a vlan network on a host
// is its bridge in the tenant namespace (vlan networks ride the overlay there: no 802.1Q uplink to put a server
// behind), so the server's port is a macvlan on that bridge moved into the server's own namespace (a kind of link
// the agent neither owns nor removes). On the OVS datapath (NETPLUGIN_CLUSTER_DATAPATH=ovs) the agent hands vlan
// networks off on its --uplink-if, the trunk of a simulated site switch, and the servers sit behind it on the
// networks' VLANs (test/harness/dnsmasq.ts SiteSwitch). Containers get dnsmasq's addresses, talk both ways, DEL releases the lease; a
// server handing out addresses outside the network's subnet is refused with nothing left behind.
// Everything is in 198.18.0.0/15 with per-run names; each dnsmasq is stopped by its PID, even on failure.

import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { run } from "../../src/lib/process.js";
import { waitFor } from "../../src/lib/wait.js";
import { Api } from "../harness/api.js";
import { agentGet, TestAgent } from "../harness/agent.js";
import { DhcpServer, SiteSwitch } from "../harness/dnsmasq.js";
import { runPrefix, TestNetns } from "../harness/netns.js";

interface AddResult {
  ips: { address: string; gateway?: string }[];
  interfaces: { name: string; mac: string }[];
}

const ready = process.getuid?.() === 0 && existsSync("/usr/sbin/dnsmasq") && existsSync("/usr/bin/busybox");

describe("ipam dhcp networks through CNI", { skip: !ready && "needs root, dnsmasq and busybox" }, () => {
  const prefix = runPrefix("npd");
  let api: Api;
  let agent: TestAgent;
  let dir: string;
  const containers = new Map<string, TestNetns>();
  const servers: DhcpServer[] = [];
  const id = (name: string) => `${prefix}${name}`;
  const tenantNs = () => `${agent.prefix}-t-t1`;
  const conf = (network: string) => ({ name: `dhcp-${network}`, tenant: "t1", network });

  async function add(name: string, network: string): Promise<{ code: number | null; out: Record<string, unknown>; stdout: string }> {
    const ns = containers.get(name) ?? (await TestNetns.create(`${prefix}-${name}`));
    containers.set(name, ns);
    return agent.cni("ADD", { containerId: id(name), netns: ns.path }, conf(network));
  }
  const ip = (r: AddResult) => r.ips[0]!.address.split("/")[0]!;

  let site: SiteSwitch | undefined;
  /** Each network's VLAN: on OVS its servers sit behind the site switch on it. */
  const vlans: Record<string, number> = { dh: 140, dx: 144 };
  const dhcpServer = async (network: string, address: string, range: string): Promise<DhcpServer> => {
    const where = site === undefined ? {} : { site: { switch: site, vlan: vlans[network]! } };
    const server = await DhcpServer.start({ ns: `${prefix}-srv-${network}`, dir, tenantNamespace: tenantNs(), network, address, range, ...where });
    servers.push(server);
    return server;
  };
  const leases = (s: DhcpServer) => s.leases();
  const dnsmasqLog = (s: DhcpServer) => s.log();

  let dh: DhcpServer, dx: DhcpServer;
  let a: AddResult, b: AddResult, c: AddResult;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), `${prefix}-dhcp-`));
    agent = await TestAgent.start({ ovsAgentArgs: SiteSwitch.agentArgs });
    if (agent.host.ovs !== undefined) site = await SiteSwitch.start(`${prefix}-site`, agent.host.namespace, dir);
    api = new Api(agent.apiBase);
    await api.create("/api/v1/tenants/t1/", { tenantName: "t1" });
    await api.create("/api/v1/networks/t1:nm/", { tenantName: "t1", networkName: "nm", encap: "vxlan", subnet: "198.18.41.0/24", gateway: "198.18.41.254" });
    await api.create("/api/v1/networks/t1:dh/", { tenantName: "t1", networkName: "dh", encap: "vlan", pktTag: vlans["dh"], ipam: "dhcp", subnet: "198.18.40.0/24", gateway: "198.18.40.254" });
    await api.create("/api/v1/networks/t1:dx/", { tenantName: "t1", networkName: "dx", encap: "vlan", pktTag: vlans["dx"], ipam: "dhcp", subnet: "198.18.44.0/24", gateway: "198.18.44.254" });
    // A netmaster-addressed container brings the tenant, with all its networks' bridges, to the host.
    const anchor = await add("zz", "nm");
    assert.equal(anchor.code, 0, `ADD zz: ${anchor.stdout}\n${agent.logs()}`);
    dh = await dhcpServer("dh", "198.18.40.253/24", "198.18.40.100,198.18.40.150");
    // A misconfigured server: it hands out addresses of another subnet than the network's.
    dx = await dhcpServer("dx", "198.18.45.253/24", "198.18.45.100,198.18.45.150");
    for (const name of ["pa", "pb"]) {
      const r = await add(name, "dh");
      assert.equal(r.code, 0, `ADD ${name}: ${r.stdout}\n${agent.logs()}`);
      if (name === "pa") a = r.out as unknown as AddResult;
      else b = r.out as unknown as AddResult;
      await containers.get(name)!.serve(name, 80);
    }
  });

  after(async () => {
    for (const ns of containers.values()) await ns.destroy();
    for (const s of servers) await s.stop();
    await site?.stop();
    await agent?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("each container has dnsmasq's lease for its MAC, on its interface, with the network's gateway", async () => {
    for (const [name, r] of [["pa", a], ["pb", b]] as const) {
      assert.match(ip(r), /^198\.18\.40\.(1[0-4]\d|150)$/, `${name}: ${JSON.stringify(r)}`);
      assert.equal(r.ips[0]!.address.split("/")[1], "24");
      assert.equal(r.ips[0]!.gateway, "198.18.40.254");
      const mac = r.interfaces[0]!.mac;
      assert.match(leases(dh), new RegExp(`${mac} ${ip(r).replace(/\./g, "\\.")} `), `${name}'s lease in dnsmasq's file`);
      const shown = (await containers.get(name)!.exec(["ip", "-4", "-o", "addr", "show", "eth0"])).stdout;
      assert.match(shown, new RegExp(`inet ${ip(r).replace(/\./g, "\\.")}/24 `));
      const routes = (await containers.get(name)!.exec(["ip", "-4", "route", "show", "default"])).stdout;
      assert.match(routes, /default via 198\.18\.40\.254 dev eth0/);
    }
    assert.notEqual(ip(a), ip(b));
    const oper = (await api.get<{ Oper: { ipamSource?: string; ipAddress: string[] } }>(`/api/v1/inspect/endpoints/${id("pa")}/`)).body.Oper;
    assert.equal(oper.ipamSource, "dhcp");
    assert.equal(oper.ipAddress[0], ip(a));
  });

  test("real packets both ways between the leased containers", async () => {
    const A = containers.get("pa")!;
    const B = containers.get("pb")!;
    assert.ok(await A.ping(ip(b)));
    assert.ok(await B.ping(ip(a)));
    assert.equal(await A.tcpReaches(ip(b), 80), "pb");
    assert.equal(await B.tcpReaches(ip(a), 80), "pa");
  });

  test("an address outside the network's subnet is refused, leaving nothing behind, the lease released", async () => {
    const stateBefore = await api.state();
    const attachmentsBefore = (await agentGet<{ attachments: unknown[] }>(agent.socket, "/inspect")).attachments;
    const linksBefore = (await run(["ip", "-n", tenantNs(), "-o", "link"])).stdout;
    const r = await add("bad", "dx");
    assert.equal(r.code, 1, r.stdout);
    assert.equal(r.out["code"], 104, r.stdout);
    assert.match(String(r.out["msg"]), /DHCP server gave 198\.18\.45\.1\d\d, which netmaster refused \(the lease was released\)/, r.stdout);
    assert.match(String(r.out["msg"]), /198\.18\.44\.0\/24/, r.stdout);
    assert.deepEqual(await api.state(), stateBefore, "netmaster state unchanged: no endpoint, no address held");
    assert.equal((await api.get(`/api/v1/inspect/endpoints/${id("bad")}/`)).status, 404);
    assert.deepEqual((await agentGet<{ attachments: unknown[] }>(agent.socket, "/inspect")).attachments, attachmentsBefore, "agent's records unchanged");
    assert.equal((await run(["ip", "-n", tenantNs(), "-o", "link"])).stdout, linksBefore, "no link left in the tenant");
    assert.equal((await containers.get("bad")!.exec(["ip", "-o", "link"])).stdout.split("\n").filter(Boolean).length, 1, "only lo in the container");
    await waitFor(() => /DHCPRELEASE/.test(dnsmasqLog(dx)), { timeoutMs: 3000, what: () => `DHCPRELEASE in ${dnsmasqLog(dx)}` });
    assert.equal(leases(dx).trim(), "", "no lease left in dnsmasq's file");
    assert.equal((await run(["ip", "netns", "pids", `${prefix}-bad`])).stdout.trim(), "", "no lease client left in the container");
  });

  test("DEL releases the lease (gone from dnsmasq's file), the endpoint, and is idempotent", async () => {
    const A = containers.get("pa")!;
    const mac = a.interfaces[0]!.mac;
    const del = await agent.cni("DEL", { containerId: id("pa"), netns: A.path }, conf("dh"));
    assert.equal(del.code, 0, del.stdout);
    await waitFor(() => !leases(dh).includes(mac), { timeoutMs: 3000, what: () => `a's lease gone from ${leases(dh)}` });
    assert.match(dnsmasqLog(dh), new RegExp(`DHCPRELEASE\\(srv0\\) ${ip(a).replace(/\./g, "\\.")} ${mac}`));
    assert.equal((await api.get(`/api/v1/inspect/endpoints/${id("pa")}/`)).status, 404);
    const again = await agent.cni("DEL", { containerId: id("pa"), netns: "" }, conf("dh"));
    assert.equal(again.code, 0, `a second DEL without netns: ${again.stdout}`);
    assert.ok(leases(dh).includes(b.interfaces[0]!.mac), "b keeps its lease");
    // The address is free again at netmaster: a new container may lease it.
    const addC = await add("pc", "dh");
    assert.equal(addC.code, 0, addC.stdout);
    c = addC.out as unknown as AddResult;
    // c holds the address a held, with another MAC: b's neighbour entry for it names a's MAC until the kernel
    // probes it again (seen once on the OVS datapath, CI of session 9), so c reaches b within a few seconds, not at once.
    await waitFor(() => containers.get("pc")!.ping(ip(b)), { timeoutMs: 8000, what: () => `c (${ip(c)}) never reached b (${ip(b)})` });
  });

  test("an agent restart keeps the address: the stopped agent's client ends unreleased, the new one asks for it again", async () => {
    const B = containers.get("pb")!;
    const isClient = (pid: string) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("udhcpc");
      } catch {
        return false; // ended meanwhile
      }
    };
    const pids = async () => (await run(["ip", "netns", "pids", B.name])).stdout.split("\n").filter(Boolean).filter(isClient);
    const before = await pids();
    assert.equal(before.length, 1, "one lease client in pb's namespace");
    await agent.host.agent?.stop();
    assert.deepEqual(await pids(), [], "the stopped agent's client ended");
    assert.ok(leases(dh).includes(b.interfaces[0]!.mac), "not released");
    await agent.start();
    const after = await waitFor(async () => ((await pids()).length === 1 ? await pids() : undefined), { timeoutMs: 20_000, what: () => `a lease client again: ${agent.logs()}` });
    assert.notDeepEqual(after, before);
    await waitFor(() => (dnsmasqLog(dh).match(new RegExp(`DHCPACK\\(srv0\\) ${ip(b).replace(/\./g, "\\.")} ${b.interfaces[0]!.mac}`, "g")) ?? []).length >= 2, { timeoutMs: 10_000, what: () => "the same address acked again" });
    assert.ok(await containers.get("pc")!.ping(ip(b)), "still reachable");
    assert.ok(await B.ping(ip(c)), "and reaches pc");
  });
});
