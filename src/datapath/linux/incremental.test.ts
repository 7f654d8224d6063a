import assert from "node:assert/strict";
import { describe, it } from "node:test";

import type { DesiredHost } from "../types.js";
import { nextApplied, NOTHING_APPLIED, selectScope, type AppliedState, type ObserveScope } from "./incremental.js";
import { HOST_GROUP } from "./plan.js";
import { renderHost } from "./render.js";
import type { HostState } from "./state.js";
import { clusterHost, desiredHost, endpoint, NS_A, PREFIX } from "../testing/desired.js";

const NS_B = `${PREFIX}-t-b`;
const LINK = (n: number): string => endpoint(n).hostLink;

/** desiredHost() plus tenant b with endpoint 3. */
function twoTenants(): DesiredHost {
  const host = desiredHost();
  host.tenants.push({ ...structuredClone(host.tenants[0]!), name: "b", namespace: NS_B, endpoints: [endpoint(3)] });
  return host;
}

/**
 * What is read, compactly: "NS: trusted links", "NS +added -removed links" for a tenant planned without reading it, and
 * "host" when the agent's namespace is read.
 */
function describeScope(scope: ObserveScope): string[] {
  return [
    ...[...scope.tenants].map(([ns, trusted]) => `${ns}: ${[...trusted].sort().join(" ")}`.trimEnd()),
    ...[...(scope.endpointsOnly ?? [])].map(([ns, c]) =>
      [`${ns}`, ...c.added.map((e) => `+${e.hostLink}`), ...c.removed.map((e) => `-${e.hostLink}`)].join(" "),
    ),
    ...(scope.host ? ["host"] : []),
  ];
}

/** The state after a run that read everything of `want` and failed nowhere. */
function appliedAll(want: HostState): AppliedState {
  return nextApplied(NOTHING_APPLIED, want, selectScope(want, NOTHING_APPLIED, namesOf(want)), new Set());
}

function namesOf(want: HostState): string[] {
  return want.tenants.map((t) => t.namespace);
}

describe("selectScope", () => {
  it("reads everything, trusting no container, when nothing is applied (agent start, full resync)", () => {
    const want = renderHost(twoTenants());
    assert.deepEqual(describeScope(selectScope(want, NOTHING_APPLIED, namesOf(want))), [`${NS_A}:`, `${NS_B}:`, "host"]);
  });

  it("reads nothing but the namespace list when what is wanted is what was applied", () => {
    const want = renderHost(twoTenants());
    const scope = selectScope(renderHost(twoTenants()), appliedAll(want), namesOf(want));
    assert.deepEqual(describeScope(scope), []);
    assert.deepEqual(scope.namespaces, namesOf(want));
  });

  it("after an ADD reads nothing: the tenant's new endpoint is planned from nothing", () => {
    const before = renderHost(twoTenants());
    const desired = twoTenants();
    desired.tenants[0]!.endpoints.push(endpoint(4));
    desired.tenants[0]!.policy.groups.push({ id: 1, name: "g", ipv4: [endpoint(4).ipv4.split("/")[0]!], ipv6: [], dscp: 0 });
    assert.deepEqual(describeScope(selectScope(renderHost(desired), appliedAll(before), namesOf(before))), [`${NS_A} +${LINK(4)}`]);
  });

  it("an ADD beside another change reads the tenant, and takes the new container side as not made yet", () => {
    const before = renderHost(twoTenants());
    const desired = twoTenants();
    desired.tenants[0]!.endpoints.push(endpoint(4));
    desired.tenants[0]!.endpoints[0]!.qos = { egressBps: 8_000_000, ingressBps: 0, burstBytes: 0 };
    const scope = selectScope(renderHost(desired), appliedAll(before), namesOf(before));
    assert.deepEqual(describeScope(scope), [`${NS_A}: ${LINK(1)} ${LINK(2)}`]);
    assert.deepEqual([...(scope.fresh ?? [])].map(([ns, links]) => [ns, [...links]]), [[NS_A, [LINK(4)]]]);
  });

  it("takes no container side as not made in a tenant nothing of which is applied", () => {
    const want = renderHost(twoTenants());
    assert.deepEqual(selectScope(want, NOTHING_APPLIED, namesOf(want)).fresh, new Map());
  });

  it("after a DEL reads nothing: the veth of the endpoint gone is deleted without a look", () => {
    const before = renderHost(twoTenants());
    const desired = twoTenants();
    desired.tenants[0]!.endpoints.pop();
    assert.deepEqual(describeScope(selectScope(renderHost(desired), appliedAll(before), namesOf(before))), [`${NS_A} -${LINK(2)}`]);
  });

  it("a change of an endpoint that stays, beside an ADD or a DEL, reads the tenant", () => {
    const before = renderHost(twoTenants());
    const desired = twoTenants();
    desired.tenants[0]!.endpoints.pop();
    desired.tenants[0]!.endpoints[0]!.qos = { egressBps: 8_000_000, ingressBps: 0, burstBytes: 0 };
    assert.deepEqual(describeScope(selectScope(renderHost(desired), appliedAll(before), namesOf(before))), [`${NS_A}: ${LINK(1)}`]);
  });

  it("reads the container side of an endpoint whose address, MAC, MTU, namespace or routes changed", () => {
    const before = renderHost(twoTenants());
    const changes: Array<(d: DesiredHost) => void> = [
      (d) => (d.tenants[0]!.endpoints[1]!.ipv4 = "198.18.1.9/24"),
      (d) => (d.tenants[0]!.endpoints[1]!.mac = "02:00:00:00:00:09"),
      (d) => (d.tenants[0]!.endpoints[1]!.mtu = 1400),
      (d) => (d.tenants[0]!.endpoints[1]!.netns = "/var/run/netns/other"),
      (d) => (d.tenants[0]!.endpoints[1]!.gateway = "198.18.1.253"),
    ];
    for (const change of changes) {
      const desired = twoTenants();
      change(desired);
      assert.deepEqual(describeScope(selectScope(renderHost(desired), appliedAll(before), namesOf(before))), [`${NS_A}: ${LINK(1)}`], change.toString());
    }
  });

  it("reads no container side a runtime owns: a steady runtime endpoint leaves its tenant unread, a new one is planned unread", () => {
    const runtime = (): DesiredHost => {
      const host = twoTenants();
      host.tenants[0]!.endpoints[1] = endpoint(2, { containerSide: "runtime", netns: "/proc/1/ns/net", ifname: "npu0d000002" });
      return host;
    };
    const before = renderHost(runtime());
    assert.deepEqual(describeScope(selectScope(renderHost(runtime()), appliedAll(before), namesOf(before))), []);
    const added = runtime();
    added.tenants[0]!.endpoints.push(endpoint(4, { containerSide: "runtime", netns: "/proc/1/ns/net", ifname: "npu0d000004" }));
    assert.deepEqual(describeScope(selectScope(renderHost(added), appliedAll(before), namesOf(before))), [`${NS_A} +${LINK(4)}`]);
    assert.deepEqual(describeScope(selectScope(before, NOTHING_APPLIED, namesOf(before))), [`${NS_A}:`, `${NS_B}:`, "host"]);
  });

  it("trusts the container sides when only the host side of an endpoint or the tenant changed", () => {
    const before = renderHost(twoTenants());
    const shaped = twoTenants();
    shaped.tenants[0]!.endpoints[0]!.qos = { egressBps: 8_000_000, ingressBps: 0, burstBytes: 0 };
    const policy = twoTenants();
    policy.tenants[1]!.policy.groups.push({ id: 1, name: "g", ipv4: ["198.18.2.99"], ipv6: [], dscp: 3 });
    assert.deepEqual(describeScope(selectScope(renderHost(shaped), appliedAll(before), namesOf(before))), [`${NS_A}: ${LINK(1)} ${LINK(2)}`]);
    // A policy change alone is the script's, which the driver compares with what it applied: nothing is read.
    assert.deepEqual(describeScope(selectScope(renderHost(policy), appliedAll(before), namesOf(before))), [`${NS_B}`]);
  });

  it("reads a tenant whole, and the agent's namespace, when its namespace is gone", () => {
    const want = renderHost(twoTenants());
    assert.deepEqual(describeScope(selectScope(want, appliedAll(want), [NS_B])), [`${NS_A}:`, "host"]);
  });

  it("reads the agent's namespace only when its part, or a read tenant's uplink or host endpoints, changed", () => {
    const before = renderHost(clusterHost());
    const applied = appliedAll(before);
    const added = clusterHost();
    added.tenants[0]!.endpoints.push(endpoint(4));
    assert.deepEqual(describeScope(selectScope(renderHost(added), applied, namesOf(before))), [`${NS_A} +${LINK(4)}`]);
    const routed = clusterHost();
    routed.tenants[0]!.uplink!.routes = ["198.18.1.1"];
    assert.deepEqual(describeScope(selectScope(renderHost(routed), applied, namesOf(before))), [`${NS_A}: ${LINK(1)} ${LINK(2)}`, "host"]);
    const hostEndpoint = clusterHost();
    hostEndpoint.tenants[0]!.hostEndpoints[0]!.mtu = 1400;
    assert.deepEqual(describeScope(selectScope(renderHost(hostEndpoint), applied, namesOf(before))), [`${NS_A}: ${LINK(1)} ${LINK(2)}`, "host"]);
    const noNat = clusterHost();
    noNat.host.natOutbound = false;
    assert.deepEqual(describeScope(selectScope(renderHost(noNat), applied, namesOf(before))), ["host"]);
  });
});

describe("nextApplied", () => {
  it("forgets a tenant that failed, so the next run reads it whole; the others stay trusted", () => {
    const before = renderHost(twoTenants());
    const desired = twoTenants();
    for (const tenant of desired.tenants) tenant.endpoints.push(endpoint(4));
    const want = renderHost(desired);
    const scope = selectScope(want, appliedAll(before), namesOf(want));
    assert.deepEqual(describeScope(scope), [`${NS_A} +${LINK(4)}`, `${NS_B} +${LINK(4)}`]);
    const after = nextApplied(appliedAll(before), want, scope, new Set([NS_A]));
    assert.equal(after.tenants.get(NS_B), want.tenants[1], "tenant b, planned unread, is remembered as wanted");
    assert.deepEqual([...after.tenants.keys()], [NS_B]);
    assert.deepEqual(describeScope(selectScope(want, after, namesOf(want))), [`${NS_A}:`, "host"]);
  });

  it("forgets the agent's namespace and every tenant of the run that failed there", () => {
    const want = renderHost(clusterHost());
    const scope = selectScope(want, NOTHING_APPLIED, namesOf(want));
    const after = nextApplied(NOTHING_APPLIED, want, scope, new Set([HOST_GROUP]));
    assert.deepEqual(after, { tenants: new Map(), host: null });
    assert.deepEqual(describeScope(selectScope(want, after, namesOf(want))), [`${NS_A}:`, "host"]);
  });

  it("keeps the agent's namespace as it was when the run did not read it", () => {
    const before = renderHost(clusterHost());
    const desired = clusterHost();
    desired.tenants[0]!.endpoints.push(endpoint(4));
    const want = renderHost(desired);
    const scope = selectScope(want, appliedAll(before), namesOf(want));
    const after = nextApplied(appliedAll(before), want, scope, new Set([HOST_GROUP]));
    assert.equal(after.host, before.host);
    assert.equal(after.tenants.get(NS_A), want.tenants[0]);
  });

  it("forgets tenants no longer wanted", () => {
    const before = renderHost(twoTenants());
    const one = desiredHost();
    const want = renderHost(one);
    const after = nextApplied(appliedAll(before), want, selectScope(want, appliedAll(before), namesOf(before)), new Set());
    assert.deepEqual([...after.tenants.keys()], [NS_A]);
  });
});
