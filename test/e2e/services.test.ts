// Service load balancing end to end, as Contiv's `netctl service create` promises it: three simulated hosts,
// containers attached through the real CNI executable with labels (args.cni.labels), a service created
// through the REST API. A client on the third host spreads 200 connections over the two providers labelled
// app=web (never the container labelled app=db); a provider that leaves gets no new connection while a
// running one to the other carries on; a service without a provider refuses at once; a provider reaches its
// own service; UDP and IPv6; a deny rule on the providers' group blocks the VIP as it blocks direct access.

import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { Cluster } from "../../src/cluster/index.js";
import { waitFor } from "../../src/lib/wait.js";
import { Api } from "../harness/api.js";
import { attach, type Attached } from "../harness/cluster.js";
import type { TestNetns } from "../harness/netns.js";

const LBPROBE = fileURLToPath(new URL("../../src/datapath/linux/testing/lbprobe.js", import.meta.url));

interface Tally {
  answers: Record<string, number>;
  peers: Record<string, number>;
  refused: number;
  timeout: number;
  error: number;
}

interface Realization {
  revision: number;
  pendingHosts: string[];
}

interface ServiceOper {
  serviceVip: string;
  serviceVip6?: string;
  numProviders: number;
  providers: { containerID: string; labels: string }[];
  realization: Realization;
}

describe("service load balancing on a cluster", () => {
  let cluster: Cluster;
  let api: Api;
  const made: TestNetns[] = [];
  const servers: ChildProcess[] = [];
  let p1: Attached, p2: Attached, other: Attached, client: Attached;
  let vip = "";
  let vip6 = "";
  const labelled = (labels: Record<string, string>) => ({ args: { cni: { labels: Object.entries(labels).map(([key, value]) => ({ key, value })) } } });
  const net = { tenant: "lb", network: "net" };

  const lbprobe = async (from: Attached, ...args: (string | number)[]): Promise<Tally> => {
    const r = await from.ns.exec([process.execPath, LBPROBE, ...args.map(String)]);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout.trim().split("\n").pop()!) as Tally;
  };
  /** An lbprobe server (TCP and UDP) answering with its tag; stopped at the end. */
  const serve = async (on: Attached, tag: string, port: number): Promise<void> => {
    const child = spawn("ip", ["netns", "exec", on.ns.name, process.execPath, LBPROBE, "serve", tag, String(port)], { stdio: ["ignore", "pipe", "ignore"] });
    servers.push(child);
    await new Promise<void>((resolve, reject) => {
      child.stdout!.once("data", () => resolve());
      child.once("exit", (code) => reject(new Error(`lbprobe serve exited ${code}`)));
    });
  };
  const service = async (name: string) => (await api.get<{ Oper: ServiceOper }>(`/api/v1/inspect/serviceLBs/lb:${name}/`)).body.Oper;
  const inForce = (name: string) =>
    waitFor(async () => (await service(name)).realization.pendingHosts.length === 0, { timeoutMs: 15_000, what: () => `service ${name} not in force everywhere` });

  before(async () => {
    cluster = await Cluster.up({ hosts: 3, logLevel: "warn" });
    api = new Api(cluster.apiBase);
    await api.create("/api/v1/tenants/lb/", { tenantName: "lb" });
    await api.create("/api/v1/networks/lb:net/", { tenantName: "lb", networkName: "net", encap: "vxlan", subnet: "198.18.180.0/24", gateway: "198.18.180.254", ipv6Subnet: "fd00:180::/64", ipv6Gateway: "fd00:180::fe" });
    await api.create("/api/v1/policys/lb:webpol/", { tenantName: "lb", policyName: "webpol" });
    await api.create("/api/v1/endpointGroups/lb:web/", { tenantName: "lb", groupName: "web", networkName: "net", policies: ["webpol"] });
    p1 = await attach(cluster, made, 1, "p1", { ...net, group: "web", ...labelled({ app: "web" }) });
    p2 = await attach(cluster, made, 2, "p2", { ...net, group: "web", ...labelled({ app: "web", tier: "front" }) });
    other = await attach(cluster, made, 1, "o1", { ...net, ...labelled({ app: "db" }) });
    client = await attach(cluster, made, 3, "c1", net);
    for (const [on, tag] of [[p1, "p1"], [p2, "p2"], [other, "o1"]] as const) await serve(on, tag, 8080);
    await api.create("/api/v1/serviceLBs/lb:web/", { tenantName: "lb", serviceName: "web", networkName: "net", selectors: ["app=web"], ports: ["80:8080:TCP", "81:8080:UDP"] });
    await api.create("/api/v1/serviceLBs/lb:empty/", { tenantName: "lb", serviceName: "empty", networkName: "net", selectors: ["app=nobody"], ports: ["80:8080:TCP", "81:8080:UDP"] });
    const oper = await service("web");
    vip = oper.serviceVip;
    vip6 = oper.serviceVip6 ?? "";
    await inForce("web");
    await inForce("empty");
  });
  after(async () => {
    for (const s of servers) s.kill("SIGKILL");
    for (const ns of made.splice(0)) await ns.destroy();
    await cluster?.down();
  });

  test("an endpoint carries its runtime's labels and netmaster's own", async () => {
    const ep = (await api.get<{ Oper: { labels: string } }>(`/api/v1/inspect/endpoints/${cluster.prefix}p2/`)).body.Oper;
    assert.equal(ep.labels, "map[app:web io.contiv.net-group:web io.contiv.network:net io.contiv.tenant:lb tier:front]");
    const oper = await service("web");
    assert.equal(oper.numProviders, 2);
    assert.ok(vip.startsWith("198.18.180."), vip);
    assert.ok(vip6.startsWith("fd00:180::"), vip6);
  });

  test("200 connections from another host spread over both providers, never the one that does not match", async () => {
    const tally = await lbprobe(client, "tcp", vip, 80, 200, 2000);
    assert.equal(tally.timeout + tally.error + tally.refused, 0, JSON.stringify(tally));
    const [a = 0, b = 0] = [tally.answers["p1"], tally.answers["p2"]];
    assert.equal(a + b, 200, JSON.stringify(tally));
    for (const n of [a, b]) assert.ok(n >= 70 && n <= 130, `each provider between 35 and 65 %: ${JSON.stringify(tally.answers)}`);
    assert.equal(tally.answers["o1"] ?? 0, 0);
    // The provider's policy sees the client itself: no source NAT on the way.
    assert.deepEqual(Object.keys(tally.peers), [client.ip]);
  });

  test("UDP and IPv6 go through the VIP too", async () => {
    const udp = await lbprobe(client, "udp", vip, 81, 20, 2000);
    assert.equal((udp.answers["p1"] ?? 0) + (udp.answers["p2"] ?? 0), 20, JSON.stringify(udp));
    const v6 = await lbprobe(client, "tcp", vip6, 80, 20, 2000);
    assert.equal((v6.answers["p1"] ?? 0) + (v6.answers["p2"] ?? 0), 20, JSON.stringify(v6));
  });

  test("a service without a provider refuses at once, TCP and UDP", async () => {
    const empty = (await service("empty")).serviceVip;
    const tcp = await lbprobe(client, "tcp", empty, 80, 3, 2000);
    assert.equal(tcp.refused, 3, JSON.stringify(tcp));
    const udp = await lbprobe(client, "udp", empty, 81, 3, 2000);
    assert.equal(udp.refused, 3, JSON.stringify(udp));
  });

  test("a provider reaches its own service (hairpin)", async () => {
    const tally = await lbprobe(p1, "tcp", vip, 80, 20, 2000);
    assert.equal((tally.answers["p1"] ?? 0) + (tally.answers["p2"] ?? 0), 20, JSON.stringify(tally));
  });

  test("a deny rule on the providers' group blocks the VIP as it blocks direct access", async () => {
    await api.create("/api/v1/rules/lb:webpol:1/", { tenantName: "lb", policyName: "webpol", ruleId: "1", direction: "in", protocol: "tcp", port: 8080, action: "deny", priority: 10 });
    await waitFor(async () => (await api.get<{ Oper: { realization: Realization } }>("/api/v1/inspect/policys/lb:webpol/")).body.Oper.realization.pendingHosts.length === 0, {
      timeoutMs: 15_000,
      what: () => "the rule is not in force everywhere",
    });
    const viaVip = await lbprobe(client, "tcp", vip, 80, 5, 800);
    assert.equal(viaVip.timeout, 5, JSON.stringify(viaVip));
    const direct = await lbprobe(client, "tcp", p2.ip, 8080, 2, 800);
    assert.equal(direct.timeout, 2, JSON.stringify(direct));
    assert.equal((await api.del("/api/v1/rules/lb:webpol:1/")).status, 200);
    await waitFor(async () => (await lbprobe(client, "tcp", vip, 80, 4, 800)).timeout === 0, {
      timeoutMs: 15_000,
      what: () => "the VIP does not answer again once the rule is gone",
    });
  });

  test("a provider that leaves gets no new connection; a running connection to the other carries on", async () => {
    const hold = spawn("ip", ["netns", "exec", client.ns.name, process.execPath, LBPROBE, "hold", p1.ip, "8080", "40", "100"], { stdio: ["ignore", "pipe", "ignore"] });
    servers.push(hold);
    let output = "";
    hold.stdout!.on("data", (d: Buffer) => (output += d.toString()));
    await waitFor(() => Promise.resolve(output.includes('"ready"')), { timeoutMs: 10_000, what: () => `the held connection to p1 never answered: ${output}` });
    const r = await cluster.removeContainer(2, "p2", { ...net, group: "web", ...labelled({ app: "web", tier: "front" }) });
    assert.equal(r.code, 0, JSON.stringify(r.out));
    await inForce("web");
    assert.equal((await service("web")).numProviders, 1);
    const after = await lbprobe(client, "tcp", vip, 80, 30, 2000);
    assert.deepEqual(after.answers, { p1: 30 }, JSON.stringify(after));
    const done = await new Promise<string>((resolve) => hold.once("exit", () => resolve(output)));
    const last = JSON.parse(done.trim().split("\n").pop()!) as { sent: number; received: number; error: string | null };
    assert.equal(last.error, null, done);
    assert.equal(last.received, 40, done);
  });
});
