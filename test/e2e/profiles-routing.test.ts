// Bandwidth profiles measured with iperf3 in both directions, changed live; a
// policy change during a running iperf3 session does not cut it; and routing
// mode, where the networks of a tenant reach each other through the gateway.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { waitFor } from "../../src/lib/wait.js";
import { Api } from "../harness/api.js";
import { TestAgent } from "../harness/agent.js";
import { runPrefix, TestNetns } from "../harness/netns.js";

interface AddResult {
  ips: { address: string }[];
}

interface Cluster {
  api: Api;
  agent: TestAgent;
  add(name: string, config: Record<string, unknown>): Promise<{ ns: TestNetns; ip: string }>;
  teardown(): Promise<void>;
}

async function startCluster(prefix: string, fwdMode: "bridge" | "routing" = "bridge"): Promise<Cluster> {
  const agent = await TestAgent.start({ fwdMode });
  const api = new Api(agent.apiBase);
  const namespaces: TestNetns[] = [];
  return {
    api,
    agent,
    async add(name, config) {
      const ns = await TestNetns.create(`${prefix}-${name}`);
      namespaces.push(ns);
      const r = await agent.cni("ADD", { containerId: `${prefix}${name}`, netns: ns.path }, config);
      assert.equal(r.code, 0, `ADD ${name}: ${r.stdout}\n${agent.logs()}`);
      return { ns, ip: (r.out as unknown as AddResult).ips[0]!.address.split("/")[0]! };
    },
    async teardown() {
      for (const ns of namespaces) await ns.destroy();
      await agent.destroy();
    },
  };
}

/** Mbit/s measured by an iperf3 client in `from` against a server in `to`; reverse = the server sends. */
async function iperf(from: TestNetns, to: TestNetns, toIp: string, port: number, seconds: number, reverse = false): Promise<number> {
  const server = await to.iperfServer(port);
  try {
    const r = await from.exec(["iperf3", "-c", toIp, "-p", String(port), "-t", String(seconds), "-J", ...(reverse ? ["-R"] : [])]);
    const json = JSON.parse(r.stdout) as { end: { sum_received: { bits_per_second: number } } };
    return json.end.sum_received.bits_per_second / 1e6;
  } finally {
    server.kill("SIGKILL");
  }
}

describe("bandwidth profiles and established connections across policy changes", () => {
  const prefix = runPrefix("npq");
  let cl: Cluster;
  let src: { ns: TestNetns; ip: string };
  let dst: { ns: TestNetns; ip: string };

  before(async () => {
    cl = await startCluster(prefix);
    await cl.api.create("/api/v1/networks/default:net/", { tenantName: "default", networkName: "net", encap: "vxlan", subnet: "198.18.30.0/24", gateway: "198.18.30.254" });
    await cl.api.create("/api/v1/netprofiles/default:ten/", { tenantName: "default", profileName: "ten", bandwidth: "10Mbps", burst: 64 });
    await cl.api.create("/api/v1/policys/default:p/", { tenantName: "default", policyName: "p" });
    await cl.api.create("/api/v1/endpointGroups/default:slow/", { tenantName: "default", groupName: "slow", networkName: "net", netProfile: "ten" });
    await cl.api.create("/api/v1/endpointGroups/default:fast/", { tenantName: "default", groupName: "fast", networkName: "net", policies: ["p"] });
    src = await cl.add("s", { tenant: "default", network: "net", group: "slow" });
    dst = await cl.add("d", { tenant: "default", network: "net", group: "fast" });
  });
  after(async () => {
    await cl?.teardown();
  });

  test("a 10 Mbit/s profile holds within 15% in both directions, and follows a live change", async () => {
    // Contiv's units: 10Mbps = 10 × 1024 × 1024 bit/s.
    const limit = (10 * 1024 * 1024) / 1e6;
    const sent = await iperf(src.ns, dst.ns, dst.ip, 5201, 3);
    const received = await iperf(src.ns, dst.ns, dst.ip, 5202, 3, true);
    for (const [what, v] of [["sent", sent], ["received", received]] as const) {
      assert.ok(Math.abs(v - limit) / limit <= 0.15, `${what} ${v.toFixed(2)} Mbit/s vs limit ${limit.toFixed(2)}`);
    }
    await cl.api.create("/api/v1/netprofiles/default:ten/", { tenantName: "default", profileName: "ten", bandwidth: "20Mbps", burst: 64 });
    const limit2 = (20 * 1024 * 1024) / 1e6;
    let now = 0;
    await waitFor(async () => {
      now = await iperf(src.ns, dst.ns, dst.ip, 5203, 2);
      return Math.abs(now - limit2) / limit2 <= 0.15;
    }, { timeoutMs: 20_000, what: () => `after the change: ${now.toFixed(2)} Mbit/s vs ${limit2.toFixed(2)}` });
  });

  test("a deny rule added during a running iperf3 session does not cut it; new connections are refused", async () => {
    const server = await dst.ns.iperfServer(5301);
    try {
      const run = src.ns.exec(["iperf3", "-c", dst.ip, "-p", "5301", "-t", "5", "-J"]);
      await new Promise((r) => setTimeout(r, 1500));
      await cl.api.create("/api/v1/rules/default:p:1/", { tenantName: "default", policyName: "p", ruleId: "1", direction: "in", protocol: "tcp", action: "deny", priority: 1 });
      await dst.ns.serve("d", 8080);
      await waitFor(async () => (await src.ns.tcpReaches(dst.ip, 8080, 500)) === "timeout", { timeoutMs: 10_000, what: () => "the new rule was not applied" });
      const r = await run;
      const json = JSON.parse(r.stdout) as { end: { sum_received: { seconds: number; bytes: number } }; error?: string };
      assert.equal(json.error, undefined, r.stdout);
      assert.ok(json.end.sum_received.seconds >= 4.5, `session lasted ${json.end.sum_received.seconds}s`);
    } finally {
      server.kill("SIGKILL");
    }
  });
});

describe("routing mode", () => {
  const prefix = runPrefix("npr");
  let cl: Cluster;

  before(async () => {
    cl = await startCluster(prefix, "routing");
  });
  after(async () => {
    await cl?.teardown();
  });

  test("networks of a tenant reach each other through the gateway; another tenant stays apart", async () => {
    for (const t of ["blue", "red"]) {
      await cl.api.create(`/api/v1/tenants/${t}/`, { tenantName: t });
      await cl.api.create(`/api/v1/networks/${t}:n1/`, { tenantName: t, networkName: "n1", encap: "vxlan", subnet: "198.18.40.0/24", gateway: "198.18.40.254", ipv6Subnet: "fd00:40::/64", ipv6Gateway: "fd00:40::fe" });
      await cl.api.create(`/api/v1/networks/${t}:n2/`, { tenantName: t, networkName: "n2", encap: "vxlan", subnet: "198.18.41.0/24", gateway: "198.18.41.254", ipv6Subnet: "fd00:41::/64", ipv6Gateway: "fd00:41::fe" });
    }
    const x = await cl.add("x", { tenant: "blue", network: "n1" });
    const y = await cl.add("y", { tenant: "blue", network: "n2" });
    const z = await cl.add("z", { tenant: "red", network: "n2" });
    await y.ns.serve("y", 80);
    await z.ns.serve("z", 80);
    assert.ok(await x.ns.ping(y.ip));
    assert.ok(await y.ns.ping(x.ip));
    assert.equal(await x.ns.tcpReaches(y.ip, 80), "y");
    assert.equal(y.ip, z.ip, "red's n2 hands out the same address");
    assert.equal(await z.ns.ping(x.ip, 1), false, "red cannot reach blue's n1 address: its own n1 has nobody there");
  });
});
