import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { NotFoundError, ValidationError } from "../lib/errors.js";
import { ENDPOINT_PREFIX, groupStateKey, objectKey, serviceStateKey } from "../contract/keys.js";
import type { EndpointState } from "../contract/records.js";
import { compilePolicy, tracePacket } from "../policy/index.js";
import type { RealizationReport } from "./realization.js";
import { traceFlow, type TraceFacts } from "./trace.js";
import { tenantPolicyInput, tenantRevision, type StateReader } from "./trace-policy.js";
import { parseTraceQuery } from "./trace-query.js";

/** netmaster's records in a map, each with the revision it was written at. */
class FakeState implements StateReader {
  readonly rows = new Map<string, { value: unknown; modRevision: number }>();
  revision = 0;
  put(key: string, value: unknown): this {
    this.rows.set(key, { value, modRevision: ++this.revision });
    return this;
  }
  get<T>(key: string): T | undefined {
    return this.rows.get(key)?.value as T | undefined;
  }
  list<T>(prefix: string): [string, T][] {
    return [...this.rows].filter(([k]) => k.startsWith(prefix)).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, v.value as T]);
  }
  entries(prefix: string): [string, { value: unknown; modRevision: number }][] {
    return [...this.rows].filter(([k]) => k.startsWith(prefix));
  }
}

function endpoint(id: string, host: string, group: string, ip: string, network = "net", labels: Record<string, string> = {}): EndpointState {
  return {
    endpointID: id, tenantName: "t", networkName: network, groupName: group, containerID: `cid-${id}`, containerName: `/${id}-name`, ipAddress: ip,
    ipv6Address: "", macAddress: "", homingHost: host, intfName: "", vtepIP: "", labels, requestedIp: false,
  };
}

interface RuleSpec {
  id: string;
  policy: string;
  direction: "in" | "out";
  action: "allow" | "deny";
  priority: number;
  protocol?: string;
  port?: number;
  group?: string;
  ip?: string;
}

function rule(s: RuleSpec): Record<string, unknown> {
  const peerGroup = s.direction === "in" ? "fromEndpointGroup" : "toEndpointGroup";
  const peerIp = s.direction === "in" ? "fromIpAddress" : "toIpAddress";
  return {
    key: `t:${s.policy}:${s.id}`, tenantName: "t", policyName: s.policy, ruleId: s.id, direction: s.direction, action: s.action, priority: s.priority,
    protocol: s.protocol ?? "", port: s.port ?? 0, fromEndpointGroup: "", toEndpointGroup: "", fromNetwork: "", toNetwork: "", fromIpAddress: "", toIpAddress: "",
    ...(s.group ? { [peerGroup]: s.group } : {}), ...(s.ip ? { [peerIp]: s.ip } : {}),
  };
}

/** Tenant t: client a on h1, web b on h2, db c on h2 (network net2); groups with policies pc (client), pw (web). */
function cluster(mode: "bridge" | "routing" = "bridge"): FakeState {
  const s = new FakeState();
  s.put(objectKey("global", "global"), { fwdMode: mode });
  s.put(objectKey("tenant", "t"), { tenantName: "t" });
  s.put(objectKey("network", "t:net"), { tenantName: "t", networkName: "net", subnet: "198.18.1.0/24", ipv6Subnet: "" });
  s.put(objectKey("network", "t:net2"), { tenantName: "t", networkName: "net2", subnet: "198.18.2.0/24", ipv6Subnet: "" });
  for (const [name, id, policies] of [["client", 1, ["pc"]], ["web", 2, ["pw"]], ["db", 3, []]] as const) {
    s.put(objectKey("endpointGroup", `t:${name}`), { tenantName: "t", groupName: name, networkName: "net", policies: [...policies] });
    s.put(groupStateKey(`t:${name}`), { groupId: id });
  }
  for (const p of ["pc", "pw"]) s.put(objectKey("policy", `t:${p}`), { tenantName: "t", policyName: p });
  s.put(ENDPOINT_PREFIX + "a", endpoint("a", "h1", "client", "198.18.1.2"));
  s.put(ENDPOINT_PREFIX + "b", endpoint("b", "h2", "web", "198.18.1.3", "net", { app: "web" }));
  s.put(ENDPOINT_PREFIX + "b2", endpoint("b2", "h1", "web", "198.18.1.4", "net", { app: "web" }));
  s.put(ENDPOINT_PREFIX + "c", endpoint("c", "h2", "db", "198.18.2.3", "net2"));
  return s;
}

function addRule(s: FakeState, spec: RuleSpec): void {
  s.put(objectKey("rule", `t:${spec.policy}:${spec.id}`), rule(spec));
}

function facts(s: FakeState, reports: Record<string, Partial<RealizationReport>> = { h1: {}, h2: {} }): TraceFacts {
  const newest = tenantRevision({ list: (p) => s.entries(p) }, "t");
  const map = new Map(Object.entries(reports).map(([h, r]) => [h, { revision: newest, epoch: "e", failures: [], ...r }]));
  return { state: s, tenantRevision: newest, currentRevision: s.revision, reports: map };
}

const trace = (s: FakeState, q: Record<string, string>, f = facts(s)) => traceFlow(parseTraceQuery({ tenant: "t", ...q }), f);

describe("traceFlow", () => {
  it("with no rule, no host's filter looks at the packet", () => {
    const r = trace(cluster(), { from: "a", to: "b", port: "80" });
    assert.equal(r.verdict, "allow");
    assert.deepEqual(r.from, { ip: "198.18.1.2", endpoint: "a", host: "h1", group: "client", network: "net" });
    assert.deepEqual(r.to, { ip: "198.18.1.3", port: 80, endpoint: "b", host: "h2", group: "web", network: "net" });
    assert.equal(r.service, null);
    assert.deepEqual(
      r.hops.map((h) => [h.host, h.direction, h.verdict, h.rule, h.pending, h.reason]),
      [["h1", "egress", "allow", null, false, "not-filtered"], ["h2", "ingress", "allow", null, false, "not-filtered"]],
    );
  });

  it("names the receiver's in rule that denies, at the first host that filters the packet", () => {
    const s = cluster();
    addRule(s, { id: "1", policy: "pw", direction: "in", action: "deny", priority: 10, protocol: "tcp", port: 8080 });
    // a (h1) -> b2 (h1): one host, one hop.
    let r = trace(s, { from: "a", to: "198.18.1.4", port: "8080" });
    assert.equal(r.verdict, "deny");
    assert.equal(r.hops.length, 1);
    const hop = r.hops[0]!;
    assert.deepEqual([hop.host, hop.direction, hop.verdict, hop.reason, hop.outRule], ["h1", "egress", "deny", "rule", null]);
    assert.deepEqual(hop.rule, { id: "1", policy: "pw", priority: 10, action: "deny", text: "deny in from anyone, tcp/8080 (priority 10, policy pw)" });
    assert.deepEqual(hop.inRule, hop.rule);
    // a (h1) -> b (h2): web's b2 lives on h1, so h1 filters the bridge and drops it there, before it leaves.
    r = trace(s, { from: "a-name", to: "b", port: "8080" });
    assert.deepEqual(r.hops.map((h) => [h.host, h.direction, h.verdict, h.rule?.id]), [["h1", "egress", "deny", "1"]]);
    addRule(s, { id: "2", policy: "pw", direction: "in", action: "allow", priority: 20, protocol: "tcp", port: 8080, group: "client" });
    r = trace(s, { from: "/a-name", to: "b", port: "8080" });
    assert.equal(r.verdict, "allow");
    assert.deepEqual(r.hops.map((h) => [h.host, h.direction, h.verdict, h.rule?.id]), [["h1", "egress", "allow", "2"], ["h2", "ingress", "allow", "2"]]);
    assert.equal(r.hops[1]!.rule?.text, "allow in from group client, tcp/8080 (priority 20, policy pw)");
    assert.equal(trace(s, { from: "a", to: "b", port: "8081" }).verdict, "allow", "another port: no rule");
    assert.equal(trace(s, { from: "c", to: "b", port: "8080", proto: "udp" }).verdict, "deny", "c is on another network (bridge mode)");
  });

  it("stops at the sender's host when its out rule denies", () => {
    const s = cluster();
    addRule(s, { id: "9", policy: "pc", direction: "out", action: "deny", priority: 5, group: "web" });
    const r = trace(s, { from: "a", to: "b", proto: "icmp" });
    assert.equal(r.verdict, "deny");
    assert.equal(r.hops.length, 1);
    assert.deepEqual([r.hops[0]!.host, r.hops[0]!.direction, r.hops[0]!.rule?.id, r.hops[0]!.outRule?.id], ["h1", "egress", "9", "9"]);
    assert.equal(r.to.port, null);
  });

  it("a host whose bridge carries nothing with rules lets the packet by; the receiver's host judges", () => {
    const s = cluster();
    addRule(s, { id: "1", policy: "pw", direction: "in", action: "deny", priority: 10 });
    // c (db, h2, net2) is the only one there: move b2 off h1 so that h1 holds no web endpoint.
    s.put(ENDPOINT_PREFIX + "b2", endpoint("b2", "h2", "web", "198.18.1.4", "net", { app: "web" }));
    const r = trace(s, { from: "a", to: "b", port: "80" });
    assert.deepEqual(r.hops.map((h) => [h.host, h.direction, h.verdict, h.reason, h.rule?.id ?? null]), [["h1", "egress", "allow", "not-filtered", null], ["h2", "ingress", "deny", "rule", "1"]]);
  });

  it("says which host has not applied the newest change, and why when it failed", () => {
    const s = cluster();
    addRule(s, { id: "1", policy: "pc", direction: "out", action: "allow", priority: 10 });
    addRule(s, { id: "2", policy: "pw", direction: "in", action: "deny", priority: 10, group: "db" });
    const f = facts(s, { h1: {}, h2: { revision: 1 } });
    let r = trace(s, { from: "a", to: "b", port: "80" }, f);
    assert.deepEqual(r.hops.map((h) => [h.host, h.pending, h.verdict]), [["h1", false, "allow"], ["h2", true, "allow"]]);
    r = trace(s, { from: "a", to: "b", port: "80" }, facts(s, { h1: { failures: [{ tenant: "t", message: "boom" }] }, h2: {} }));
    assert.deepEqual([r.hops[0]!.pending, r.hops[0]!.errors], [true, ["boom"]]);
    r = trace(s, { from: "a", to: "b", port: "80" }, facts(s, { h1: {} }));
    assert.equal(r.hops[1]!.pending, true, "h2 never reported");
  });

  it("names each hop's datapath, as its agent reported it", () => {
    const s = cluster(); // no rule: the packet reaches both hosts
    let r = trace(s, { from: "a", to: "b", port: "80" }, facts(s, { h1: { datapath: "linux" }, h2: { datapath: "ovs" } }));
    assert.deepEqual(r.hops.map((h) => [h.host, h.datapath]), [["h1", "linux"], ["h2", "ovs"]]);
    r = trace(s, { from: "a", to: "b", port: "80" });
    assert.deepEqual(r.hops.filter((h) => h.datapath !== undefined), [], "agents that do not say: taken as linux");
  });

  it("an OVS host judges only its end's rules: the receiver's in rule drops at the receiver's host", () => {
    const s = cluster();
    const before = facts(s);
    addRule(s, { id: "1", policy: "pw", direction: "in", action: "deny", priority: 10, protocol: "tcp", port: 8080 });
    addRule(s, { id: "2", policy: "pc", direction: "out", action: "allow", priority: 5, protocol: "tcp" });
    const f = facts(s, { h1: { datapath: "ovs" }, h2: { datapath: "ovs" } });
    // Where linux's h1 drops already (b2 of web is on h1: its bridge is filtered), OVS's h1 judges a's out rules only.
    let r = trace(s, { from: "a", to: "b", port: "8080" }, f);
    assert.deepEqual(
      r.hops.map((h) => [h.host, h.direction, h.verdict, h.reason, h.rule?.id ?? null, h.outRule?.id ?? null, h.inRule?.id ?? null]),
      [["h1", "egress", "allow", "rule", "2", "2", null], ["h2", "ingress", "deny", "rule", "1", null, "1"]],
    );
    assert.equal(r.verdict, "deny");
    // Both ends on one OVS host: one hop judges both.
    r = trace(s, { from: "a", to: "198.18.1.4", port: "8080" }, f);
    assert.deepEqual(r.hops.map((h) => [h.host, h.verdict, h.outRule?.id, h.inRule?.id]), [["h1", "deny", "2", "1"]]);
    // A host that has not applied the rule: on OVS the packet passes the sender's host and waits at the receiver's.
    const late = facts(s, { h1: { datapath: "ovs" }, h2: { datapath: "ovs", revision: before.tenantRevision } });
    r = trace(s, { from: "a", to: "b", port: "8080" }, late);
    assert.deepEqual(r.hops.map((h) => [h.host, h.verdict, h.pending]), [["h1", "allow", false], ["h2", "deny", true]]);
  });

  it("an OVS host judges every packet of its bridge: no host is not-filtered there", () => {
    const s = cluster();
    addRule(s, { id: "1", policy: "pw", direction: "in", action: "deny", priority: 10 });
    s.put(ENDPOINT_PREFIX + "b2", endpoint("b2", "h2", "web", "198.18.1.4", "net", { app: "web" }));
    const r = trace(s, { from: "a", to: "b", port: "80" }, facts(s, { h1: { datapath: "ovs" }, h2: { datapath: "ovs" } }));
    assert.deepEqual(r.hops.map((h) => [h.host, h.verdict, h.reason, h.rule?.id ?? null]), [["h1", "allow", "default", null], ["h2", "deny", "rule", "1"]]);
  });

  it("an endpoint attached directly to a host interface is judged by the linux module on an OVS host too", () => {
    const s = cluster();
    s.put(objectKey("network", "t:mac"), { tenantName: "t", networkName: "mac", subnet: "198.18.3.0/24", ipv6Subnet: "", attachMode: "macvlan" });
    s.put(objectKey("endpointGroup", "t:edge"), { tenantName: "t", groupName: "edge", networkName: "mac", policies: ["pe"] });
    s.put(groupStateKey("t:edge"), { groupId: 4 });
    s.put(objectKey("policy", "t:pe"), { tenantName: "t", policyName: "pe" });
    s.put(ENDPOINT_PREFIX + "m", endpoint("m", "h1", "edge", "198.18.3.2", "mac"));
    s.put(ENDPOINT_PREFIX + "m2", endpoint("m2", "h2", "edge", "198.18.3.3", "mac"));
    addRule(s, { id: "1", policy: "pe", direction: "in", action: "deny", priority: 10, protocol: "tcp" });
    // Its own namespace's filter runs the whole chain: m's host drops for m2's in rule, as on Linux.
    const r = trace(s, { from: "m", to: "m2", port: "80" }, facts(s, { h1: { datapath: "ovs" }, h2: { datapath: "ovs" } }));
    assert.deepEqual(r.hops.map((h) => [h.host, h.verdict, h.inRule?.id ?? null]), [["h1", "deny", "1"]]);
  });

  it("agrees with the linux datapath's verdict for any policy, once every host applied it", () => {
    const spec = fc.record({
      policy: fc.constantFrom("pc", "pw"),
      direction: fc.constantFrom("in" as const, "out" as const),
      action: fc.constantFrom("allow" as const, "deny" as const),
      priority: fc.integer({ min: 1, max: 3 }),
      protocol: fc.constantFrom("tcp", "udp", "icmp", ""),
      port: fc.constantFrom(0, 80),
      group: fc.constantFrom("client", "web", "db", ""),
    });
    fc.assert(
      fc.property(fc.array(spec, { maxLength: 5 }), fc.constantFrom("a", "b", "b2"), fc.constantFrom("a", "b", "b2"), fc.constantFrom("tcp", "udp", "icmp"), (rules, from, to, proto) => {
        fc.pre(from !== to);
        const s = cluster();
        rules.forEach((r, i) => addRule(s, { ...r, id: String(i), port: r.protocol === "tcp" || r.protocol === "udp" ? r.port : 0, ...(r.group === "" ? { group: undefined } : {}) }));
        const q = { from, to, proto, ...(proto === "icmp" ? {} : { port: "80" }) };
        const linux = trace(s, q);
        const ovs = trace(s, q, facts(s, { h1: { datapath: "ovs" }, h2: { datapath: "ovs" } }));
        assert.equal(ovs.verdict, linux.verdict);
      }),
    );
  });

  it("bridge mode keeps networks apart; routing mode routes between them", () => {
    const bridged = trace(cluster("bridge"), { from: "a", to: "c", port: "80" });
    assert.deepEqual([bridged.verdict, bridged.hops.map((h) => h.reason)], ["deny", ["cross-network"]]);
    assert.equal(trace(cluster("routing"), { from: "a", to: "c", port: "80" }).verdict, "allow");
  });

  it("translates a service VIP to each backend at its target port, and to a named one", () => {
    const s = cluster();
    s.put(objectKey("serviceLB", "t:websvc"), { key: "t:websvc", tenantName: "t", serviceName: "websvc", networkName: "net", selectors: ["app=web"], ports: ["80:8080:TCP"] });
    s.put(serviceStateKey("t:websvc"), { vip: "198.18.1.200" });
    addRule(s, { id: "1", policy: "pw", direction: "in", action: "deny", priority: 10, protocol: "tcp", port: 8080 });
    addRule(s, { id: "2", policy: "pw", direction: "in", action: "allow", priority: 20, ip: "198.18.1.2" });
    let r = trace(s, { from: "a", to: "198.18.1.200", port: "80" });
    assert.equal(r.verdict, "allow");
    assert.deepEqual(r.service, {
      name: "websvc", vip: "198.18.1.200", port: 80,
      backends: [{ endpoint: "b", ip: "198.18.1.3", port: 8080, verdict: "allow" }, { endpoint: "b2", ip: "198.18.1.4", port: 8080, verdict: "allow" }],
    });
    // A tenant with services has every bridge filtered; b2 is on the client's host: one hop.
    assert.deepEqual(r.hops.map((h) => [h.backend, h.host, h.direction, h.rule?.id ?? null]), [["b", "h1", "egress", "2"], ["b", "h2", "ingress", "2"], ["b2", "h1", "egress", "2"]]);
    r = trace(s, { from: "b2", to: "198.18.1.200", port: "80", backend: "b" });
    assert.deepEqual([r.verdict, r.service?.backends.map((b) => b.endpoint), r.hops.at(-1)?.rule?.id], ["deny", ["b"], "1"]);
    assert.throws(() => trace(s, { from: "a", to: "198.18.1.200", port: "81" }), (e: unknown) => e instanceof ValidationError && /has no tcp port 81 \(it has tcp\/80\)/.test(e.message));
    assert.throws(() => trace(s, { from: "a", to: "198.18.1.200", port: "80", backend: "c" }), NotFoundError);
  });

  it("an OVS host in bridge mode balances a VIP only for clients on the VIP's network", () => {
    const s = cluster("bridge");
    s.put(objectKey("serviceLB", "t:websvc"), { key: "t:websvc", tenantName: "t", serviceName: "websvc", networkName: "net", selectors: ["app=web"], ports: ["80:8080:TCP"] });
    s.put(serviceStateKey("t:websvc"), { vip: "198.18.1.200" });
    const ovs = facts(s, { h1: { datapath: "ovs" }, h2: { datapath: "ovs" } });
    // c is on net2: Linux translates its packets and lets them cross; OVS drops them on c's host.
    assert.equal(trace(s, { from: "c", to: "198.18.1.200", port: "80" }).verdict, "allow");
    const r = trace(s, { from: "c", to: "198.18.1.200", port: "80" }, ovs);
    assert.deepEqual([r.verdict, r.hops.map((h) => [h.backend, h.host, h.verdict, h.reason])], ["deny", [["b", "h2", "deny", "cross-network"], ["b2", "h2", "deny", "cross-network"]]]);
    assert.equal(trace(s, { from: "a", to: "198.18.1.200", port: "80" }, ovs).verdict, "allow", "a client on the VIP's network");
    s.put(objectKey("global", "global"), { fwdMode: "routing" });
    assert.equal(trace(s, { from: "c", to: "198.18.1.200", port: "80" }, facts(s, { h1: { datapath: "ovs" }, h2: { datapath: "ovs" } })).verdict, "allow", "routing mode: balanced on every network");
  });

  it("refuses what it cannot trace, with a message naming it", () => {
    const s = cluster();
    s.put(ENDPOINT_PREFIX + "d", { ...endpoint("d", "h1", "db", "198.18.1.9"), containerName: "/a-name" });
    const cases: [Record<string, string>, new (...a: never[]) => Error, RegExp][] = [
      [{ tenant: "nope", from: "a", to: "b", port: "1" }, NotFoundError, /tenant "nope" not found/],
      [{ from: "zzz", to: "b", port: "1" }, NotFoundError, /from "zzz" is no endpoint id, container name or address of tenant t/],
      [{ from: "a", to: "zzz", port: "1" }, NotFoundError, /to "zzz"/],
      [{ from: "a-name", to: "b", port: "1" }, ValidationError, /names 2 endpoints \(a, d\): name one by its id/],
      [{ from: "198.18.9.9", to: "198.18.9.8", port: "1" }, ValidationError, /neither end is an endpoint/],
      [{ from: "a", to: "2001:db8::1", port: "1" }, ValidationError, /from a has no IPv6 address/],
      [{ from: "198.18.1.2", to: "2001:db8::1", port: "1" }, ValidationError, /different address families/],
      [{ from: "a", to: "b", port: "1", backend: "b" }, ValidationError, /backend is only for a service VIP/],
    ];
    for (const [q, type, message] of cases) {
      assert.throws(() => trace(s, q), (e: unknown) => e instanceof type && message.test((e as Error).message), JSON.stringify(q));
    }
  });

  it("an outside address is traced at the endpoint's host only", () => {
    const s = cluster();
    addRule(s, { id: "1", policy: "pw", direction: "in", action: "deny", priority: 10, ip: "203.0.113.0/24" });
    const r = trace(s, { from: "203.0.113.7", to: "b", port: "80" });
    assert.deepEqual([r.verdict, r.from.endpoint, r.hops.map((h) => [h.host, h.direction, h.rule?.id])], ["deny", null, [["h2", "ingress", "1"]]]);
    const routed = trace(cluster(), { from: "203.0.113.7", to: "b", port: "80" });
    assert.deepEqual(routed.hops.map((h) => [h.host, h.reason]), [["h2", "default"]], "routed in by the uplink: the filter sees it");
  });

  it("its hops together decide exactly what tracePacket decides on the whole compiled policy (random rules)", () => {
    const spec = fc.record({
      policy: fc.constantFrom("pc", "pw"),
      direction: fc.constantFrom("in" as const, "out" as const),
      action: fc.constantFrom("allow" as const, "deny" as const),
      priority: fc.integer({ min: 1, max: 5 }),
      protocol: fc.constantFrom(undefined, "tcp", "udp", "icmp"),
      port: fc.constantFrom(undefined, 80, 443),
      group: fc.constantFrom(undefined, "client", "web", "db"),
    });
    const names = ["a", "b", "b2", "c"];
    fc.assert(
      fc.property(fc.array(spec, { maxLength: 8 }), fc.constantFrom(...names), fc.constantFrom(...names), fc.constantFrom("tcp", "udp", "icmp"), fc.constantFrom(80, 443), fc.constantFrom("bridge" as const, "routing" as const), (rules, from, to, proto, port, mode) => {
        if (from === to) return;
        const s = cluster(mode);
        rules.forEach((r, i) => addRule(s, { ...r, id: String(i), port: r.protocol === "tcp" || r.protocol === "udp" ? r.port : undefined }));
        const r = trace(s, { from, to, proto, ...(proto === "icmp" ? {} : { port: String(port) }) });
        const whole = tracePacket(compilePolicy(tenantPolicyInput(s, "t")), {
          saddr: r.from.ip, daddr: r.to.ip, protocol: { tcp: 6, udp: 17, icmp: 1 }[proto]!, ...(proto === "icmp" ? {} : { dport: port }), iif: r.from.network!, oif: r.to.network!,
        });
        assert.equal(r.verdict, whole.verdict === "accept" ? "allow" : "deny");
      }),
      { numRuns: 400 },
    );
  });
});
