// One host end to end: a real netmaster, a real agent, containers created by
// running the real CNI executable, and real packets between them: tenants with
// the same subnet stay apart, bridge mode isolates networks, a whitelist policy
// allows and blocks exactly what it should, IPv6, DNS, bad input, restarts.

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { run } from "../../src/lib/process.js";
import { StopWaiting, waitFor } from "../../src/lib/wait.js";
import { Api } from "../harness/api.js";
import { agentGet, TestAgent } from "../harness/agent.js";
import { runPrefix, TestNetns } from "../harness/netns.js";

const DNS_QUERY_JS = fileURLToPath(new URL("../harness/dns-query.js", import.meta.url));

interface AddResult {
  ips: { address: string; gateway?: string }[];
  interfaces: { name: string; mac: string; sandbox?: string }[];
  dns?: { nameservers?: string[] };
}

describe("one host through CNI", () => {
  const prefix = runPrefix("npe");
  let api: Api;
  let agent: TestAgent;
  const containers = new Map<string, TestNetns>();

  async function container(name: string, config: Record<string, unknown>, env: { args?: string } = {}): Promise<AddResult> {
    const ns = await TestNetns.create(`${prefix}-${name}`);
    containers.set(name, ns);
    const r = await agent.cni("ADD", { containerId: `${prefix}${name}`, netns: ns.path, ifname: "eth0", ...env }, config);
    assert.equal(r.code, 0, `ADD ${name}: ${r.stdout}\n${agent.logs()}`);
    return r.out as unknown as AddResult;
  }

  const ip = (r: AddResult, v6 = false) => r.ips.find((i) => i.address.includes(":") === v6)!.address.split("/")[0]!;

  let a: AddResult, b: AddResult, a2: AddResult, b2: AddResult, c: AddResult;

  before(async () => {
    agent = await TestAgent.start();
    api = new Api(agent.apiBase);
    for (const t of ["t1", "t2"]) {
      await api.create(`/api/v1/tenants/${t}/`, { tenantName: t });
      await api.create(`/api/v1/networks/${t}:net/`, {
        tenantName: t, networkName: "net", encap: "vxlan",
        subnet: "198.18.20.0/24", gateway: "198.18.20.254", ipv6Subnet: "fd00:20::/64", ipv6Gateway: "fd00:20::fe",
      });
    }
    await api.create("/api/v1/networks/t1:other/", { tenantName: "t1", networkName: "other", encap: "vxlan", subnet: "198.18.21.0/24", gateway: "198.18.21.254" });
    await api.create("/api/v1/policys/t1:web-only/", { tenantName: "t1", policyName: "web-only" });
    await api.create("/api/v1/rules/t1:web-only:1/", { tenantName: "t1", policyName: "web-only", ruleId: "1", direction: "in", protocol: "tcp", action: "deny", priority: 1 });
    await api.create("/api/v1/rules/t1:web-only:2/", { tenantName: "t1", policyName: "web-only", ruleId: "2", direction: "in", protocol: "tcp", port: 80, action: "allow", priority: 100 });
    await api.create("/api/v1/endpointGroups/t1:web/", { tenantName: "t1", groupName: "web", networkName: "net", policies: ["web-only"] });
    await api.create("/api/v1/endpointGroups/t1:client/", { tenantName: "t1", groupName: "client", networkName: "net" });


    a = await container("a", { tenant: "t1", network: "net", group: "client" }, { args: "K8S_POD_NAME=alpha" });
    b = await container("b", { tenant: "t1", network: "net", group: "web" }, { args: "K8S_POD_NAME=bravo" });
    a2 = await container("a2", { tenant: "t2", network: "net" });
    b2 = await container("b2", { tenant: "t2", network: "net" });
    c = await container("c", { tenant: "t1", network: "other" });
    for (const [name, ns] of containers) {
      await ns.serve(name, 80);
      await ns.serve(name, 8080);
    }
  });

  after(async () => {
    for (const ns of containers.values()) await ns.destroy();
    await agent?.destroy();
  });

  test("results carry the interface, addresses, routes and DNS", () => {
    assert.equal(a.interfaces[0]!.name, "eth0");
    assert.match(a.interfaces[0]!.mac, /^02:02:/);
    assert.equal(ip(a), "198.18.20.1");
    assert.equal(ip(a2), "198.18.20.1", "the same subnet in another tenant hands out the same address");
    assert.match(ip(a, true), /^fd00:20::/);
    assert.deepEqual(a.dns?.nameservers, ["198.18.20.254", "fd00:20::fe"]);
  });

  test("containers of a tenant reach each other and their gateway, IPv4 and IPv6", async () => {
    const A = containers.get("a")!;
    const B = containers.get("b")!;
    assert.ok(await A.ping(ip(b)));
    assert.ok(await B.ping(ip(a)));
    assert.ok(await A.ping("198.18.20.254"));
    assert.ok(await A.ping(ip(b, true)));
    assert.ok(await B.ping(ip(a, true)));
  });

  test("two tenants with the same subnet stay apart", async () => {
    const A = containers.get("a")!;
    const A2 = containers.get("a2")!;
    // .2 exists in both tenants: each container reaches its own tenant's .2 only.
    assert.equal(await A.tcpReaches(ip(b), 80), "b");
    assert.equal(await A2.tcpReaches(ip(b2), 8080), "b2");
    assert.equal(ip(b), ip(b2));
    assert.ok(await A2.ping(ip(b2)));
  });

  test("bridge mode keeps the networks of a tenant apart", async () => {
    const A = containers.get("a")!;
    const C = containers.get("c")!;
    assert.ok(await C.ping("198.18.21.254"), "c reaches its own gateway");
    assert.equal(await A.ping(ip(c), 1), false);
    assert.equal(await C.ping(ip(a), 1), false);
    assert.notEqual(await C.tcpReaches(ip(a), 8080, 800), "a");
  });

  test("whitelist policy: tcp/80 allowed into web, other tcp blocked, replies and other directions pass", async () => {
    const A = containers.get("a")!;
    const B = containers.get("b")!;
    assert.equal(await A.tcpReaches(ip(b), 80), "b");
    assert.equal(await A.tcpReaches(ip(b), 8080, 800), "timeout");
    assert.equal(await A.tcpReaches(ip(b, true), 80), "b");
    assert.equal(await A.tcpReaches(ip(b, true), 8080, 800), "timeout");
    assert.equal(await B.tcpReaches(ip(a), 8080), "a", "web's outgoing connections are not limited by its in rules");
    assert.ok(await A.ping(ip(b)), "icmp is not tcp");
    const udp = await A.probe("udp", ip(b), 8080, 5, 20);
    assert.equal(udp.received, 5, "udp is not tcp");
  });

  test("policy inspect shows per-rule packet counters", async () => {
    type Stats = { Oper: { numEndpoints: number; ruleStats: { ruleId: string; packets: number }[] } };
    let stats: Stats["Oper"]["ruleStats"] = [];
    await waitFor(async () => {
      const ins = await api.get<Stats>("/api/v1/inspect/policys/t1:web-only/");
      if (ins.body.Oper.numEndpoints !== 1) throw new StopWaiting(`numEndpoints is ${ins.body.Oper.numEndpoints}, want 1`);
      stats = ins.body.Oper.ruleStats;
      return stats.every((r) => r.packets > 0);
    }, { timeoutMs: 20_000, what: () => `counters did not arrive: ${JSON.stringify(stats)}` });
    // The blocked connects of the whitelist test (SYN retries, v4 and v6) hit the deny rule; the allowed ones the allow rule.
    assert.deepEqual(stats.map((r) => r.ruleId).sort(), ["1", "2"]);
  });

  test("DNS answers container and group names of the tenant", async () => {
    const A = containers.get("a")!;
    const q = async (name: string, type = "A") =>
      JSON.parse((await A.exec([process.execPath, DNS_QUERY_JS, "198.18.20.254", name, type])).stdout) as { rcode: number | string; addresses: string[] };
    await waitFor(async () => (await q("bravo")).addresses.length > 0, { timeoutMs: 10_000, what: () => "no DNS answer" });
    assert.deepEqual((await q("bravo")).addresses, [ip(b)]);
    assert.deepEqual((await q("web")).addresses, [ip(b)]);
    assert.equal((await q("bravo", "AAAA")).addresses.length, 1);
    assert.deepEqual((await q("client")).addresses, [ip(a)]);
    const none = await q("no-such-name.invalid");
    assert.equal(none.addresses.length, 0);
  });

  test("bad CNI input gets a CNI error and leaves nothing behind", async () => {
    const before = await api.state();
    const attachmentsBefore = (await agentGet<{ attachments: unknown[] }>(agent.socket, "/inspect")).attachments;
    const linksBefore = (await run(["ip", "-n", `${agent.prefix}-t-t1`, "-o", "link"])).stdout;
    const ns = await TestNetns.create(`${prefix}-bad`);
    containers.set("bad", ns);
    const cases: [string, Record<string, unknown>, { containerId?: string; netns?: string; args?: string }, number][] = [
      ["unknown network", { tenant: "t1", network: "nope" }, {}, 102],
      ["unknown tenant", { tenant: "zz", network: "net" }, {}, 102],
      ["unknown group", { tenant: "t1", network: "net", group: "nope" }, {}, 102],
      ["no network", { tenant: "t1" }, {}, 7],
      ["bad cniVersion", { cniVersion: "9.9.9", tenant: "t1", network: "net" }, {}, 1],
      ["vanished netns", { tenant: "t1", network: "net" }, { netns: "/var/run/netns/does-not-exist" }, 4],
      ["netns is a regular file", { tenant: "t1", network: "net" }, { netns: "/etc/passwd" }, 4],
      ["netns is a directory", { tenant: "t1", network: "net" }, { netns: "/etc" }, 4],
      ["container id of 300 characters", { tenant: "t1", network: "net" }, { containerId: "c".repeat(300) }, 4],
      ["network name of 300 characters", { name: "n".repeat(300), tenant: "t1", network: "net" }, {}, 7],
      ["config over 1 MiB", { tenant: "t1", network: "net", pad: "p".repeat(1 << 20) }, {}, 7],
      ["address taken", { tenant: "t1", network: "net" }, { args: `IgnoreUnknown=1;IP=${ip(a)}` }, 103],
      ["address outside subnet", { tenant: "t1", network: "net" }, { args: "IgnoreUnknown=1;IP=198.18.99.9" }, 104],
      ["second ADD for a container", { tenant: "t1", network: "net" }, { containerId: `${prefix}a`, netns: containers.get("a")!.path }, 103],
    ];
    for (const [name, config, env, code] of cases) {
      const r = await agent.cni("ADD", { containerId: `${prefix}bad`, netns: ns.path, ...env }, config);
      assert.equal(r.code, 1, `${name}: ${r.stdout}`);
      assert.equal(r.out.code, code, `${name}: ${r.stdout}`);
      assert.ok(typeof r.out.msg === "string" && r.out.msg.length > 0, name);
    }
    assert.deepEqual(await api.state(), before, "netmaster state unchanged");
    assert.deepEqual((await agentGet<{ attachments: unknown[] }>(agent.socket, "/inspect")).attachments, attachmentsBefore, "agent's records unchanged");
    assert.equal((await run(["ip", "-n", `${agent.prefix}-t-t1`, "-o", "link"])).stdout, linksBefore, "no link left in the tenant");
    assert.equal((await ns.exec(["ip", "-o", "link"])).stdout.split("\n").filter(Boolean).length, 1, "only lo in the container");
    assert.ok(await containers.get("a")!.ping(ip(b)), "the container that was ADDed twice still works");
    const malformed = await agent.cni("ADD", { containerId: `${prefix}bad`, netns: ns.path }, { tenant: 5 });
    assert.equal(malformed.code, 1);
  });

  test("CHECK, STATUS and GC", async () => {
    const A = containers.get("a")!;
    const prev = { cniVersion: "1.0.0", interfaces: [{ name: "eth0", mac: a.interfaces[0]!.mac, sandbox: A.path }], ips: a.ips };
    const check = await agent.cni("CHECK", { containerId: `${prefix}a`, netns: A.path }, { tenant: "t1", network: "net", group: "client", prevResult: prev });
    assert.equal(check.code, 0, check.stdout);
    const unknown = await agent.cni("CHECK", { containerId: `${prefix}zz`, netns: A.path }, { tenant: "t1", network: "net", prevResult: prev });
    assert.equal(unknown.code, 1);
    assert.equal(unknown.out.code, 3);
    assert.equal((await agent.cni("STATUS", {}, { tenant: "t1", network: "net" })).code, 0);

    const ns = await TestNetns.create(`${prefix}-g`);
    containers.set("g", ns);
    const add = await agent.cni("ADD", { containerId: `${prefix}g`, netns: ns.path }, { name: "gc-net", tenant: "t1", network: "net" });
    assert.equal(add.code, 0, add.stdout);
    const gc = await agent.cni("GC", {}, { name: "gc-net", tenant: "t1", network: "net", "cni.dev/valid-attachments": [] });
    assert.equal(gc.code, 0, gc.stdout);
    assert.equal((await ns.exec(["ip", "-o", "link"])).stdout.split("\n").filter(Boolean).length, 1, "GC removed the stale attachment");
    assert.ok(await A.ping(ip(b)), "attachments of other network configs are kept");
  });

  test("DEL is idempotent, also with an empty netns", async () => {
    const ns = await TestNetns.create(`${prefix}-d`);
    containers.set("d", ns);
    const add = await agent.cni("ADD", { containerId: `${prefix}d`, netns: ns.path }, { tenant: "t1", network: "net" });
    assert.equal(add.code, 0, add.stdout);
    const addr = (add.out as unknown as AddResult).ips[0]!.address.split("/")[0]!;
    assert.equal((await agent.cni("DEL", { containerId: `${prefix}d`, netns: "" }, { tenant: "t1", network: "net" })).code, 0);
    assert.equal((await agent.cni("DEL", { containerId: `${prefix}d`, netns: ns.path }, { tenant: "t1", network: "net" })).code, 0);
    assert.equal((await ns.exec(["ip", "-o", "link"])).stdout.split("\n").filter(Boolean).length, 1, "interface removed");
    // The address came from the host's block: netmaster hears of the DEL right after it answers.
    const allocated = async () => (await api.get<{ Oper: { allocatedIPAddresses: string } }>("/api/v1/inspect/networks/t1:net/")).body.Oper.allocatedIPAddresses.split(", ");
    await waitFor(async () => !(await allocated()).includes(addr), { timeoutMs: 5_000, what: () => `address ${addr} not released` });
  });

  test("endpoint inspect shows what the agent reported", async () => {
    const r = await api.get<{ Oper: { homingHost: string; intfName: string; ipAddress: string[] } }>(`/api/v1/inspect/endpoints/${prefix}b/`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.Oper.homingHost, agent.name);
    assert.match(r.body.Oper.intfName, /^ne[0-9a-f]{10}$/);
  });

  test("agent killed and restarted during a ping flood loses nothing; endpoints deleted meanwhile are removed", async () => {
    const A = containers.get("a")!;
    const flood = A.exec(["ping", "-c", "400", "-i", "0.01", "-q", ip(b)]);
    await new Promise((r) => setTimeout(r, 300));
    await agent.kill();
    // While the agent is down, c's endpoint is deleted at netmaster.
    const cId = `other.t1-${prefix}c`;
    assert.equal((await api.del(`/api/v1/agent/endpoints/${cId}/`)).status, 200);
    await agent.start();
    const out = await flood;
    assert.match(out.stdout, / 0% packet loss/, out.stdout);
    await waitFor(async () => (await containers.get("c")!.exec(["ip", "-o", "link"])).stdout.split("\n").filter(Boolean).length === 1, { timeoutMs: 10_000, what: () => "c's interface still there" });
    const inspect = await agentGet<{ attachments: { endpointId: string }[] }>(agent.socket, "/inspect");
    assert.ok(!inspect.attachments.some((x) => x.endpointId === cId));
    assert.ok(await A.ping(ip(b)));
  });
});
