// Delegated IPAM to the CNI `dhcp` plugin end to end on one host: a real agent and netmaster, the real CNI
// executable, Debian's dhcp plugin and its daemon (started by the test on its own socket, stopped by its PID),
// and dnsmasq as the site's DHCP server on the network's segment (test/harness/dnsmasq.ts: on the OVS datapath,
// NETPLUGIN_CLUSTER_DATAPATH=ovs, behind a site switch on the network's VLAN, the agent's uplink its trunk). The dhcp plugin
// leases on the container's interface, so the executable has the agent plumb it first (src/cni/delegate.ts):
// the container gets dnsmasq's lease for its MAC, reaches a netmaster-addressed container both ways, inspect
// says where the address came from, DEL releases the lease; with the daemon unreachable the ADD fails with
// nothing left behind. Everything in 198.18.0.0/15 with per-run names.

import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { run } from "../../src/lib/process.js";
import { waitFor } from "../../src/lib/wait.js";
import { Api } from "../harness/api.js";
import { agentGet, TestAgent } from "../harness/agent.js";
import { DhcpServer, SiteSwitch } from "../harness/dnsmasq.js";
import { runPrefix, TestNetns } from "../harness/netns.js";

const CNI_DIR = "/usr/lib/cni";

interface AddResult {
  ips: { address: string; gateway?: string }[];
  interfaces: { name: string; mac: string }[];
}

const ready = process.getuid?.() === 0 && existsSync("/usr/sbin/dnsmasq") && existsSync(path.join(CNI_DIR, "dhcp"));

describe("CNI delegated IPAM to the dhcp plugin", { skip: !ready && "needs root, dnsmasq and Debian's CNI dhcp plugin" }, () => {
  const prefix = runPrefix("npq");
  let api: Api;
  let agent: TestAgent;
  let dir: string;
  let socket: string;
  let daemon: ChildProcess | undefined;
  let server: DhcpServer | undefined;
  let site: SiteSwitch | undefined;
  /** The network's VLAN: a vlan network rides the overlay on Linux, and is handed off on the uplink on OVS. */
  const VLAN = 146;
  const containers = new Map<string, TestNetns>();
  const id = (name: string) => `${prefix}${name}`;
  const env = (name: string) => ({ containerId: id(name), netns: containers.get(name)!.path, path: CNI_DIR });
  const conf = (daemonSocketPath = socket) => ({ name: "cnidhcp", tenant: "t1", network: "nm", ipam: { type: "dhcp", daemonSocketPath } });
  const ip = (r: AddResult) => r.ips[0]!.address.split("/")[0]!;
  let leased: AddResult;

  async function container(name: string): Promise<TestNetns> {
    const ns = await TestNetns.create(`${prefix}-${name}`);
    containers.set(name, ns);
    return ns;
  }

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), `${prefix}-cnidhcp-`));
    socket = path.join(dir, "dhcp.sock");
    agent = await TestAgent.start({ ovsAgentArgs: SiteSwitch.agentArgs });
    if (agent.host.ovs !== undefined) site = await SiteSwitch.start(`${prefix}-site`, agent.host.namespace, dir);
    api = new Api(agent.apiBase);
    await api.create("/api/v1/tenants/t1/", { tenantName: "t1" });
    await api.create("/api/v1/networks/t1:nm/", { tenantName: "t1", networkName: "nm", encap: "vlan", pktTag: VLAN, subnet: "198.18.46.0/24", gateway: "198.18.46.254" });
    // A netmaster-addressed container (.1) brings the network's bridge to the host; dnsmasq hands out .100-.150.
    await container("anchor");
    const anchor = await agent.cni("ADD", env("anchor"), { name: "plain", tenant: "t1", network: "nm" });
    assert.equal(anchor.code, 0, `ADD anchor: ${anchor.stdout}\n${agent.logs()}`);
    await containers.get("anchor")!.serve("anchor", 80);
    const where = site === undefined ? {} : { site: { switch: site, vlan: VLAN } };
    server = await DhcpServer.start({ ns: `${prefix}-srv`, dir, tenantNamespace: `${agent.prefix}-t-t1`, network: "nm", address: "198.18.46.253/24", range: "198.18.46.100,198.18.46.150", ...where });
    daemon = spawn(path.join(CNI_DIR, "dhcp"), ["daemon", "-socketpath", socket, "-timeout", "5s"], { stdio: "ignore" });
    await waitFor(() => existsSync(socket), { timeoutMs: 5000, what: () => "the dhcp plugin's daemon listens" });
  });

  after(async () => {
    if (daemon?.pid !== undefined && daemon.exitCode === null) {
      const ended = new Promise((resolve) => daemon!.once("exit", resolve));
      daemon.kill("SIGTERM");
      await ended;
    }
    for (const ns of containers.values()) await ns.destroy();
    await server?.stop();
    await site?.stop();
    await agent?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("the container gets dnsmasq's lease for its MAC, with the network's gateway; inspect says cni:dhcp", async () => {
    await container("pa");
    const r = await agent.cni("ADD", env("pa"), conf());
    assert.equal(r.code, 0, `ADD pa: ${r.stdout}\n${agent.logs()}`);
    leased = r.out as unknown as AddResult;
    assert.match(ip(leased), /^198\.18\.46\.(1[0-4]\d|150)$/, JSON.stringify(leased));
    assert.equal(leased.ips[0]!.gateway, "198.18.46.254");
    const mac = leased.interfaces[0]!.mac;
    assert.match(server!.leases(), new RegExp(`${mac} ${ip(leased).replace(/\./g, "\\.")} `), "the lease is the container's MAC's");
    const shown = (await containers.get("pa")!.exec(["ip", "-4", "-o", "addr", "show", "eth0"])).stdout;
    assert.match(shown, new RegExp(`inet ${ip(leased).replace(/\./g, "\\.")}/24 `));
    const oper = (await api.get<{ Oper: { ipamSource?: string; ipAddress: string[] } }>(`/api/v1/inspect/endpoints/nm.t1-${id("pa")}/`)).body.Oper;
    assert.deepEqual([oper.ipamSource, oper.ipAddress[0]], ["cni:dhcp", ip(leased)]);
  });

  test("real packets both ways with the netmaster-addressed container", async () => {
    const A = containers.get("pa")!;
    await A.serve("pa", 80);
    assert.ok(await A.ping("198.18.46.1"));
    assert.equal(await A.tcpReaches("198.18.46.1", 80), "anchor");
    assert.equal(await containers.get("anchor")!.tcpReaches(ip(leased), 80), "pa");
  });

  test("with the daemon unreachable the ADD fails, leaving no endpoint, record, link or address", async () => {
    const stateBefore = await api.state();
    const attachmentsBefore = (await agentGet<{ attachments: unknown[] }>(agent.socket, "/inspect")).attachments;
    const linksBefore = (await run(["ip", "-n", `${agent.prefix}-t-t1`, "-o", "link"])).stdout;
    await container("bad");
    const r = await agent.cni("ADD", env("bad"), conf(path.join(dir, "nobody.sock")));
    assert.equal(r.code, 1, r.stdout);
    assert.match(String(r.out["msg"]), /IPAM plugin "dhcp" failed: .*; the interface was removed$/, r.stdout);
    assert.deepEqual(await api.state(), stateBefore, "netmaster state unchanged");
    assert.deepEqual((await agentGet<{ attachments: unknown[] }>(agent.socket, "/inspect")).attachments, attachmentsBefore, "agent's records unchanged");
    assert.equal((await run(["ip", "-n", `${agent.prefix}-t-t1`, "-o", "link"])).stdout, linksBefore, "no link left in the tenant");
    assert.equal((await containers.get("bad")!.exec(["ip", "-o", "link"])).stdout.split("\n").filter(Boolean).length, 1, "only lo in the container");
  });

  test("DEL releases the lease and the endpoint", async () => {
    const mac = leased.interfaces[0]!.mac;
    const del = await agent.cni("DEL", env("pa"), conf());
    assert.equal(del.code, 0, del.stdout);
    await waitFor(() => !server!.leases().includes(mac), { timeoutMs: 5000, what: () => `the lease gone from ${server!.leases()}` });
    assert.match(server!.log(), new RegExp(`DHCPRELEASE\\(srv0\\) ${ip(leased).replace(/\./g, "\\.")} ${mac}`));
    assert.equal((await api.get(`/api/v1/inspect/endpoints/nm.t1-${id("pa")}/`)).status, 404);
  });
});
