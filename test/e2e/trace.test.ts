// GET /api/v1/trace against real packets: on one two-host cluster, many seeded random policies (allow and
// deny rules of every direction, priorities, protocols and ports, with and without peer groups) are put in
// force one after another, and for each the trace's verdict of many (sender, receiver, protocol, port)
// cases must be what a real TCP connect, UDP exchange or ping between the containers does, both ways; so
// must a service VIP's, whose backends the load balancer picks. A frozen agent shows that `pending` is
// honest: the host still does what it did, and the trace says it has not applied the change.
//
// TRACE_SEED=<n> replays a run; TRACE_SCENARIOS sets how many policies (default 12).

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import fc from "fast-check";
import { Cluster, defaultDatapath } from "../../src/cluster/index.js";
import { waitFor } from "../../src/lib/wait.js";
import { Api } from "../harness/api.js";
import { attach, type Attached } from "../harness/cluster.js";
import type { TestNetns } from "../harness/netns.js";

interface Hop {
  host: string;
  direction: string;
  verdict: "allow" | "deny";
  pending: boolean;
  rule: { id: string } | null;
  datapath?: string;
}
interface Trace {
  verdict: "allow" | "deny";
  hops: Hop[];
  service: null | { backends: { endpoint: string; verdict: "allow" | "deny" }[] };
}

type Probe = { proto: "tcp"; port: number } | { proto: "udp"; port: number } | { proto: "icmp" };

const PORTS = [8080, 9090];
const GROUPS = ["g1", "g2", "g3"];
/** Each group's own policy, attached from the start: a scenario only changes rules. */
const POLICY_OF: Record<string, string> = { g1: "p1", g2: "p2", g3: "p3" };

/** Up to `limit` at a time: the machine has two cores and each probe is a process. */
async function inBatches<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}

describe("trace agrees with real packets", () => {
  const seed = Number(process.env["TRACE_SEED"] ?? Math.floor(Math.random() * 2 ** 31));
  const scenarios = Number(process.env["TRACE_SCENARIOS"] ?? 12);
  const datapath = defaultDatapath();
  let cluster: Cluster;
  let api: Api;
  const made: TestNetns[] = [];
  const c: Record<string, Attached> = {};
  let id: (name: string) => string;
  let rules: string[] = [];
  const VIP_PORT = 80;

  const trace = async (from: string, to: string, probe: Probe): Promise<Trace> => {
    const q = new URLSearchParams({ tenant: "t", from, to, proto: probe.proto, ...(probe.proto === "icmp" ? {} : { port: String(probe.port) }) });
    const r = await api.get<Trace>(`/api/v1/trace?${q.toString()}`);
    assert.equal(r.status, 200, `trace ${q.toString()}: ${r.text}`);
    return r.body;
  };

  /** Whether a new flow of `probe` from `from` gets through to `address` (a reply comes back). */
  const reaches = async (from: TestNetns, address: string, probe: Probe): Promise<boolean> => {
    if (probe.proto === "tcp") {
      const r = await from.tcpReaches(address, probe.port, 700);
      assert.ok(r !== "refused" && r !== "error", `tcp ${address}:${probe.port}: ${r}`);
      return r !== "timeout";
    }
    if (probe.proto === "udp") return Number((await from.probe("udp", address, probe.port, 2, 50))["received"]) > 0;
    return (await from.exec(["ping", "-4", "-c", "1", "-W", "1", "-q", address])).code === 0;
  };

  /** Until every hop of a trace that crosses both hosts is in force: then the hosts hold the newest policy. */
  const settled = async () => {
    let last: Trace | undefined;
    await waitFor(async () => (last = await trace(id("a"), id("b"), { proto: "icmp" })).hops.every((h) => !h.pending), {
      timeoutMs: 20_000,
      what: () => `hosts never applied the policy: ${JSON.stringify(last)}`,
    });
  };

  before(async () => {
    cluster = await Cluster.up({ hosts: 2, logLevel: "warn" });
    api = new Api(cluster.apiBase);
    id = (name) => `${cluster.prefix}${name}`;
    await api.create("/api/v1/tenants/t/", { tenantName: "t" });
    await api.create("/api/v1/networks/t:net/", { tenantName: "t", networkName: "net", encap: "vxlan", subnet: "198.18.161.0/24", gateway: "198.18.161.254" });
    for (const g of GROUPS) {
      await api.create(`/api/v1/policys/t:${POLICY_OF[g]}/`, { tenantName: "t", policyName: POLICY_OF[g] });
      await api.create(`/api/v1/endpointGroups/t:${g}/`, { tenantName: "t", groupName: g, networkName: "net", policies: [POLICY_OF[g]] });
    }
    const labels = (app: string) => ({ args: { cni: { labels: [{ key: "app", value: app }] } } });
    // a, c on h1; b, d on h2; b and c serve behind the VIP.
    for (const [name, host, group, app] of [["a", 1, "g1", "client"], ["c", 1, "g2", "web"], ["b", 2, "g2", "web"], ["d", 2, "g3", "db"]] as const) {
      c[name] = await attach(cluster, made, host, name, { tenant: "t", network: "net", group, ...labels(app) });
      for (const port of PORTS) await c[name].ns.serve(name, port);
    }
    // OVS's userspace datapath drops a host's first packet to a peer VTEP while it asks for its MAC (tnl/neigh):
    // a probe would lose its SYN and time out. A ping answered (one packet each way) teaches both hosts first.
    await waitFor(async () => (await c["a"]!.ns.exec(["ping", "-4", "-c", "1", "-W", "1", "-q", c["b"]!.ip])).code === 0, { timeoutMs: 10_000, what: () => "a never reached b" });
    await api.create("/api/v1/serviceLBs/t:web/", { tenantName: "t", serviceName: "web", networkName: "net", selectors: ["app=web"], ports: [`${VIP_PORT}:8080:TCP`] });
  });

  after(async () => {
    for (const ns of made.splice(0)) await ns.destroy();
    await cluster?.down();
  });

  /** A rule of one group's policy; ports only with tcp or udp. */
  const ruleArb = fc
    .record({
      group: fc.constantFrom(...GROUPS),
      direction: fc.constantFrom("in" as const, "out" as const),
      // Deny twice as often: with default allow, denials are the rarer and the more telling cases.
      action: fc.constantFrom("allow" as const, "deny" as const, "deny" as const),
      priority: fc.integer({ min: 1, max: 5 }),
      protocol: fc.constantFrom("tcp", "udp", "icmp", ""),
      port: fc.constantFrom(...PORTS, 0),
      peer: fc.constantFrom(...GROUPS, ""),
    })
    .map(({ group, direction, action, priority, protocol, port, peer }) => ({
      tenantName: "t", policyName: POLICY_OF[group]!, direction, action, priority, protocol, port: protocol === "tcp" || protocol === "udp" ? port : 0,
      ...(peer === "" ? {} : direction === "in" ? { fromEndpointGroup: peer } : { toEndpointGroup: peer }),
    }));
  type RuleBody = typeof ruleArb extends fc.Arbitrary<infer R> ? R : never;

  const putPolicy = async (policy: RuleBody[]) => {
    for (const key of rules.splice(0)) assert.equal((await api.del(`/api/v1/rules/${key}/`)).status, 200);
    for (const [n, r] of policy.entries()) {
      await api.create(`/api/v1/rules/t:${r.policyName}:r${n}/`, { ...r, ruleId: `r${n}` });
      rules.push(`t:${r.policyName}:r${n}`);
    }
  };

  /**
   * The VIP: the load balancer may pick any backend, so every connection that succeeds must have reached a
   * backend the trace allows, none may succeed when it allows none, and all must when it allows all.
   */
  const checkVip = async (s: number, from: string) => {
    const vip = (await api.get<{ Oper: { serviceVip: string } }>("/api/v1/inspect/serviceLBs/t:web/")).body.Oper.serviceVip;
    const svc = await trace(id(from), vip, { proto: "tcp", port: VIP_PORT });
    const allowed = new Set(Object.keys(c).filter((n) => svc.service!.backends.some((b) => b.verdict === "allow" && b.endpoint.endsWith(id(n)))));
    assert.equal(svc.service!.backends.length, 2, JSON.stringify(svc.service));
    const tags = await inBatches([0, 1, 2, 3, 4, 5], 3, () => c[from]!.ns.tcpReaches(vip, VIP_PORT, 700));
    const where = `seed ${seed} scenario ${s}: ${from} -> VIP: ${JSON.stringify(tags)}, trace allows ${[...allowed].join(",") || "none"} (${JSON.stringify(svc.hops)})`;
    for (const tag of tags) if (tag !== "timeout") assert.ok(allowed.has(tag), where);
    if (allowed.size === 2) assert.ok(tags.every((t) => t !== "timeout"), where);
    assert.equal(svc.verdict, allowed.size === 2 ? "allow" : "deny", where);
  };

  test(`random policies (seed ${seed}): each traced verdict is what real packets do`, async () => {
    const names = Object.keys(c);
    const probes: Probe[] = [{ proto: "tcp", port: 8080 }, { proto: "tcp", port: 9090 }, { proto: "udp", port: 9090 }, { proto: "icmp" }];
    const pairs = names.flatMap((from) => names.filter((to) => to !== from).map((to) => [from, to] as const));
    // Every ordered pair with a probe of its own, and as many more cases drawn at random.
    const scenarioArb = fc.record({
      policy: fc.array(ruleArb, { minLength: 2, maxLength: 6 }),
      cases: fc.tuple(fc.array(fc.constantFrom(...probes), { minLength: pairs.length, maxLength: pairs.length }), fc.array(fc.tuple(fc.constantFrom(...pairs), fc.constantFrom(...probes)), { minLength: 12, maxLength: 12 })),
      vipFrom: fc.constantFrom(...names),
    });
    let checked = 0;
    let latePending = 0;
    const seen = { allow: 0, deny: 0 };
    for (const [s, { policy, cases: [own, more], vipFrom }] of fc.sample(scenarioArb, { seed, numRuns: scenarios }).entries()) {
      await putPolicy(policy);
      await settled();
      const cases: [string, string, Probe][] = [...pairs.map(([from, to], i) => [from, to, own[i]!] as [string, string, Probe]), ...more.map(([[from, to], p]) => [from, to, p] as [string, string, Probe])];
      const results = await inBatches(cases, 4, async ([from, to, probe]) => {
        let t = await trace(id(from), id(to), probe);
        // Seen on OVS about once in eight runs, right after the service's deletion: a hop that turns pending after
        // settled() (cause not found; docs in the issue note). Packets are compared only with what is in force.
        if (t.hops.some((h) => h.pending)) {
          latePending++;
          await waitFor(async () => (t = await trace(id(from), id(to), probe)).hops.every((h) => !h.pending), {
            timeoutMs: 20_000,
            what: () => `seed ${seed} scenario ${s}: ${from} -> ${to}: a hop still pending 20 s after the hosts settled: ${JSON.stringify(t.hops)}`,
          });
        }
        const real = await reaches(c[from]!.ns, c[to]!.ip, probe);
        return { from, to, probe, t, real };
      });
      const wrong: string[] = [];
      for (const { from, to, probe, t, real } of results) {
        seen[t.verdict]++;
        checked++;
        assert.deepEqual(t.hops.filter((h) => h.datapath !== datapath), [], `every host says it runs the ${datapath} datapath`);
        if (t.verdict !== (real ? "allow" : "deny")) wrong.push(`${from} -> ${to} ${JSON.stringify(probe)}: trace ${JSON.stringify(t.hops)}, real ${real ? "passes" : "blocked"}`);
      }
      // Every disagreement of the scenario at once: together they tell which rule the datapath reads otherwise.
      assert.deepEqual(wrong, [], `seed ${seed} scenario ${s} on ${datapath}, rules ${JSON.stringify(policy)}:\n${wrong.join("\n")}`);
      if (s < scenarios / 2) await checkVip(s, vipFrom);
      // Half way: without the service, a host filters a bridge only where an endpoint's group has rules.
      if (s === Math.ceil(scenarios / 2) - 1) assert.equal((await api.del("/api/v1/serviceLBs/t:web/")).status, 200);
    }
    assert.ok(seen.allow > 0 && seen.deny > 0, `both verdicts seen: ${JSON.stringify(seen)}`);
    console.log(`# trace e2e: seed ${seed}, ${scenarios} policies, ${checked} cases (${seen.allow} allowed, ${seen.deny} denied) agreed with real packets (${latePending} traced pending after settling, compared once in force)`);
  });

  test("a host that has not applied a change is pending, and still does what it did", async () => {
    for (const key of rules.splice(0)) assert.equal((await api.del(`/api/v1/rules/${key}/`)).status, 200);
    await settled();
    const probe: Probe = { proto: "tcp", port: 8080 };
    assert.equal((await trace(id("d"), id("b"), probe)).verdict, "allow");
    const [h1, h2] = [cluster.hosts[0]!.name, cluster.hosts[1]!.name];
    const pid = cluster.hosts[1]!.agent!.child.pid!;
    process.kill(pid, "SIGSTOP");
    try {
      // b's group denies tcp/8080 in; the receiver b and d are on the frozen h2, the sender a on h1, and c (b's group) keeps h1's linux bridge filtered.
      await api.create("/api/v1/rules/t:p2:block/", { tenantName: "t", policyName: "p2", ruleId: "block", direction: "in", protocol: "tcp", port: 8080, action: "deny", priority: 5 });
      rules.push("t:p2:block");
      let t: Trace | undefined;
      await waitFor(async () => !(t = await trace(id("a"), id("b"), probe)).hops[0]!.pending, { timeoutMs: 15_000, what: () => JSON.stringify(t) });
      const hops = t!.hops.map((h) => [h.host, h.direction, h.verdict, h.pending, h.rule?.id ?? null]);
      if (datapath === "linux") {
        assert.deepEqual(hops, [[h1, "egress", "deny", false, "block"]], "h1 applied it and drops: its filter runs b's in rules too");
        assert.equal(await c["a"]!.ns.tcpReaches(c["b"]!.ip, 8080, 700), "timeout");
      } else {
        // OVS judges b's in rules only on b's host: h1 lets it by, h2 will drop it once it has applied the rule.
        assert.deepEqual(hops, [[h1, "egress", "allow", false, null], [h2, "ingress", "deny", true, "block"]], "h2 has not applied it");
        assert.equal(await c["a"]!.ns.tcpReaches(c["b"]!.ip, 8080), "b", "h2 has not applied the rule: the connection still passes");
      }
      const local = await trace(id("d"), id("b"), probe);
      assert.deepEqual(local.hops.map((h) => [h.host, h.verdict, h.pending, h.rule?.id ?? null]), [[h2, "deny", true, "block"]], "what h2 will decide, marked pending");
      assert.equal(await c["d"]!.ns.tcpReaches(c["b"]!.ip, 8080), "b", "h2 has not applied the rule: the connection still passes");
    } finally {
      process.kill(pid, "SIGCONT");
    }
    await settled();
    const t = await trace(id("d"), id("b"), probe);
    assert.deepEqual([t.verdict, t.hops.map((h) => h.pending)], ["deny", [false]]);
    assert.equal(await c["d"]!.ns.tcpReaches(c["b"]!.ip, 8080, 700), "timeout");
  });
});
