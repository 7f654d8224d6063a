// Delegated IPAM end to end on one host: conflists whose ipam section names Debian's host-local and
// static, run by the real CNI executable (which execs the IPAM plugin from CNI_PATH), a real agent and
// netmaster, and real packets. The container gets the IPAM plugin's address, reaches containers
// addressed by netmaster both ways, policy still denies what it should, netctl's inspect says where
// each address came from, an address outside the subnet or already held is refused with nothing left
// behind (no endpoint, no record, no interface, no host-local reservation), and DEL releases
// host-local's reservation.

import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { run } from "../../src/lib/process.js";
import { Api } from "../harness/api.js";
import { agentGet, TestAgent } from "../harness/agent.js";
import { runPrefix, TestNetns } from "../harness/netns.js";

const DEBIAN_CNI = "/usr/lib/cni";
const CNI_PATH = `/nonexistent-cni-dir:${DEBIAN_CNI}`;

interface AddResult {
  ips: { address: string }[];
  interfaces: { name: string; mac: string }[];
}

describe("delegated IPAM through CNI", { skip: existsSync(`${DEBIAN_CNI}/host-local`) ? false : `no ${DEBIAN_CNI}/host-local (containernetworking-plugins)` }, () => {
  const prefix = runPrefix("npi");
  let api: Api;
  let agent: TestAgent;
  let dataDir: string;
  const containers = new Map<string, TestNetns>();
  const id = (name: string) => `${prefix}${name}`;

  const hostLocal = (subnet: string, start: string, end: string) => ({
    type: "host-local",
    dataDir,
    ranges: [[{ subnet, rangeStart: start, rangeEnd: end }]],
  });
  const HOST_LOCAL = () => hostLocal("198.18.30.0/24", "198.18.30.100", "198.18.30.120");
  /** host-local's reservations of the "ipam-hl" network: one file per address, holding the container id. */
  const reservations = (network: string) => {
    const dir = path.join(dataDir, network);
    return existsSync(dir) ? readdirSync(dir).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f)).sort() : [];
  };

  async function add(name: string, config: Record<string, unknown>, args = ""): Promise<{ code: number | null; out: Record<string, unknown>; stdout: string }> {
    const ns = containers.get(name) ?? (await TestNetns.create(`${prefix}-${name}`));
    containers.set(name, ns);
    return agent.cni("ADD", { containerId: id(name), netns: ns.path, args, path: CNI_PATH }, config);
  }
  async function container(name: string, config: Record<string, unknown>, args = ""): Promise<AddResult> {
    const r = await add(name, config, args);
    assert.equal(r.code, 0, `ADD ${name}: ${r.stdout}\n${agent.logs()}`);
    return r.out as unknown as AddResult;
  }
  const ip = (r: AddResult) => r.ips[0]!.address.split("/")[0]!;

  const hlConf = () => ({ name: "ipam-hl", tenant: "t1", network: "net", group: "web", ipam: HOST_LOCAL() });
  const staticConf = (address: string) => ({ name: "ipam-st", tenant: "t1", network: "net", group: "client", ipam: { type: "static", addresses: [{ address }] } });

  let hl: AddResult, st: AddResult, nm: AddResult;

  before(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), `${prefix}-ipam-`));
    agent = await TestAgent.start();
    api = new Api(agent.apiBase);
    await api.create("/api/v1/tenants/t1/", { tenantName: "t1" });
    await api.create("/api/v1/networks/t1:net/", { tenantName: "t1", networkName: "net", encap: "vxlan", subnet: "198.18.30.0/24", gateway: "198.18.30.254" });
    await api.create("/api/v1/policys/t1:no-8080/", { tenantName: "t1", policyName: "no-8080" });
    await api.create("/api/v1/rules/t1:no-8080:1/", { tenantName: "t1", policyName: "no-8080", ruleId: "1", direction: "in", protocol: "tcp", port: 8080, action: "deny", priority: 1 });
    await api.create("/api/v1/endpointGroups/t1:web/", { tenantName: "t1", groupName: "web", networkName: "net", policies: ["no-8080"] });
    await api.create("/api/v1/endpointGroups/t1:client/", { tenantName: "t1", groupName: "client", networkName: "net" });

    hl = await container("hl", hlConf());
    st = await container("st", staticConf("198.18.30.77/24"));
    nm = await container("nm", { name: "ipam-nm", tenant: "t1", network: "net", group: "client" });
    for (const [name, ns] of containers) {
      await ns.serve(name, 80);
      await ns.serve(name, 8080);
    }
  });

  after(async () => {
    for (const ns of containers.values()) await ns.destroy();
    await agent?.destroy();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  test("each container has the address its IPAM gave, on its interface", async () => {
    assert.equal(ip(hl), "198.18.30.100", "host-local's first address of its range");
    assert.equal(ip(st), "198.18.30.77", "static's address");
    assert.equal(ip(nm), "198.18.30.1", "netmaster's allocator for a config without ipam");
    assert.deepEqual(reservations("ipam-hl"), ["198.18.30.100"]);
    const shown = (await containers.get("hl")!.exec(["ip", "-4", "-o", "addr", "show", "eth0"])).stdout;
    assert.match(shown, /inet 198\.18\.30\.100\/24 /);
  });

  test("real packets both ways between delegated and netmaster-addressed containers", async () => {
    const HL = containers.get("hl")!;
    const ST = containers.get("st")!;
    const NM = containers.get("nm")!;
    assert.ok(await HL.ping(ip(st)));
    assert.ok(await ST.ping(ip(hl)));
    assert.ok(await NM.ping(ip(hl)));
    assert.ok(await HL.ping(ip(nm)));
    assert.equal(await ST.tcpReaches(ip(hl), 80), "hl");
    assert.equal(await HL.tcpReaches(ip(st), 8080), "st");
  });

  test("policy: the deny rule of the delegated container's group holds", async () => {
    const ST = containers.get("st")!;
    const NM = containers.get("nm")!;
    assert.equal(await ST.tcpReaches(ip(hl), 8080, 800), "timeout");
    assert.equal(await NM.tcpReaches(ip(hl), 8080, 800), "timeout");
    assert.equal(await NM.tcpReaches(ip(hl), 80), "hl");
  });

  test("inspect shows where each address came from", async () => {
    const source = async (name: string) =>
      (await api.get<{ Oper: { ipamSource?: string; ipAddress: string[] } }>(`/api/v1/inspect/endpoints/${id(name)}/`)).body.Oper;
    assert.deepEqual(await source("hl"), { ...(await source("hl")), ipamSource: "cni:host-local", ipAddress: ["198.18.30.100", ""] });
    assert.equal((await source("st")).ipamSource, "cni:static");
    assert.equal((await source("nm")).ipamSource, "netmaster");
  });

  test("CHECK runs ours and the IPAM plugin's", async () => {
    const HL = containers.get("hl")!;
    const prevResult = { cniVersion: "1.0.0", interfaces: [{ name: "eth0", mac: hl.interfaces[0]!.mac, sandbox: HL.path }], ips: [{ ...hl.ips[0], interface: 0 }] };
    const check = await agent.cni("CHECK", { containerId: id("hl"), netns: HL.path, path: CNI_PATH }, { ...hlConf(), prevResult });
    assert.equal(check.code, 0, check.stdout);
  });

  test("an address outside the subnet or already held is refused, leaving nothing behind", async () => {
    const stateBefore = await api.state();
    const attachmentsBefore = (await agentGet<{ attachments: unknown[] }>(agent.socket, "/inspect")).attachments;
    const linksBefore = (await run(["ip", "-n", `${agent.prefix}-t-t1`, "-o", "link"])).stdout;
    const cases: [string, Record<string, unknown>, number, RegExp][] = [
      ["static outside the subnet", staticConf("198.18.99.9/24"), 104, /198\.18\.99\.9/],
      ["host-local outside the subnet", { ...hlConf(), name: "ipam-out", ipam: hostLocal("198.18.31.0/24", "198.18.31.10", "198.18.31.20") }, 104, /198\.18\.31\.10/],
      ["static, held by the host-local container", staticConf("198.18.30.100/24"), 103, /198\.18\.30\.100/],
      ["static, held by netmaster's allocation", staticConf(`${ip(nm)}/24`), 103, /198\.18\.30\.1\b/],
    ];
    for (const [name, config, code, mentions] of cases) {
      const r = await add("bad", config);
      assert.equal(r.code, 1, `${name}: ${r.stdout}`);
      assert.equal(r.out["code"], code, `${name}: ${r.stdout}`);
      assert.match(String(r.out["msg"]), mentions, name);
      assert.match(String(r.out["msg"]), /the IPAM reservation was released$/, name);
    }
    assert.deepEqual(await api.state(), stateBefore, "netmaster state unchanged: no endpoint, no address held");
    assert.deepEqual((await agentGet<{ attachments: unknown[] }>(agent.socket, "/inspect")).attachments, attachmentsBefore, "agent's records unchanged");
    assert.equal((await run(["ip", "-n", `${agent.prefix}-t-t1`, "-o", "link"])).stdout, linksBefore, "no link left in the tenant");
    assert.equal((await containers.get("bad")!.exec(["ip", "-o", "link"])).stdout.split("\n").filter(Boolean).length, 1, "only lo in the container");
    assert.deepEqual(reservations("ipam-out"), [], "host-local's reservation undone");
    assert.deepEqual(reservations("ipam-hl"), ["198.18.30.100"], "the running container keeps its reservation");

    // A second ADD for a running container: host-local refuses it itself (it holds an address for that
    // container and interface); static keeps no state, so the agent refuses it and the executable must not
    // run static's DEL. Either way the running containers keep their addresses.
    const twice = await add("hl", hlConf());
    assert.equal(twice.code, 1, twice.stdout);
    assert.match(String(twice.out["msg"]), /^Cannot ADD: IPAM plugin "host-local" failed: /, twice.stdout);
    assert.deepEqual(reservations("ipam-hl"), ["198.18.30.100"], "a second ADD does not release the running container's address");
    const twiceStatic = await add("st", staticConf("198.18.30.77/24"));
    assert.equal(twiceStatic.out["code"], 103, twiceStatic.stdout);
    assert.doesNotMatch(String(twiceStatic.out["msg"]), /released/);
    assert.ok(await containers.get("st")!.ping(ip(hl)), "the containers ADDed twice still work");
  });

  test("DEL releases the endpoint and host-local's reservation, and is idempotent", async () => {
    const HL = containers.get("hl")!;
    const del = await agent.cni("DEL", { containerId: id("hl"), netns: HL.path, path: CNI_PATH }, hlConf());
    assert.equal(del.code, 0, del.stdout);
    assert.deepEqual(reservations("ipam-hl"), []);
    assert.equal((await api.get(`/api/v1/inspect/endpoints/${id("hl")}/`)).status, 404);
    const again = await agent.cni("DEL", { containerId: id("hl"), netns: "", path: CNI_PATH }, hlConf());
    assert.equal(again.code, 0, `a second DEL without netns: ${again.stdout}`);

    // The address is free again, for host-local and for netmaster.
    const back = await container("hl2", hlConf());
    assert.equal(ip(back), "198.18.30.101", "host-local moves on round-robin, then wraps");
    assert.ok(await containers.get("hl2")!.ping(ip(st)));
    const delSt = await agent.cni("DEL", { containerId: id("st"), netns: containers.get("st")!.path, path: CNI_PATH }, staticConf("198.18.30.77/24"));
    assert.equal(delSt.code, 0, delSt.stdout);
  });
});
