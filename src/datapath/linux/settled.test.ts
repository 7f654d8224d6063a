import assert from "node:assert/strict";
import { describe, it } from "node:test";

import type { DesiredHost } from "../types.js";
import { diffHost } from "./diff.js";
import { describeStep } from "./plan.js";
import { renderHost } from "./render.js";
import { settledObservation, settledParts } from "./settled.js";
import type { TenantState } from "./state.js";
import { observedHost } from "./testing/observed.js";
import { clusterHost, desiredHost, endpoint } from "../testing/desired.js";

function tenantOf(host: DesiredHost): TenantState {
  return renderHost(host).tenants[0]!;
}

function partsAfter(change: (host: DesiredHost) => void, base: () => DesiredHost = clusterHost): string[] {
  const after = base();
  change(after);
  return [...settledParts(tenantOf(base()), tenantOf(after))].sort();
}

describe("settledParts", () => {
  it("settles everything but links, addresses and routes when an endpoint comes or goes (CNI ADD, DEL)", () => {
    assert.deepEqual(partsAfter((h) => h.tenants[0]!.endpoints.push(endpoint(4))), ["fdb", "nftTables", "qdiscs", "sysctls"]);
    assert.deepEqual(partsAfter((h) => h.tenants[0]!.endpoints.pop()), ["fdb", "nftTables", "qdiscs", "sysctls"]);
  });

  it("reads what changed", () => {
    const cases: [string, (host: DesiredHost) => void, string[], (() => DesiredHost)?][] = [
      ["limits of an endpoint that stays", (h) => (h.tenants[0]!.endpoints[0]!.qos = { egressBps: 8_000_000, ingressBps: 0, burstBytes: 0 }), ["fdb", "nftTables", "sysctls"]],
      ["a new endpoint with limits is planned from nothing", (h) => h.tenants[0]!.endpoints.push(endpoint(4, { qos: { egressBps: 0, ingressBps: 8_000_000, burstBytes: 0 } })), ["fdb", "nftTables", "qdiscs", "sysctls"]],
      ["a remote endpoint", (h) => h.tenants[0]!.networks[0]!.vxlan!.remotes.pop(), ["nftTables", "qdiscs", "sysctls"]],
      ["a routed network (bridge sysctls)", (h) => (h.tenants[0]!.networks[0]!.routed = true), ["fdb", "nftTables", "qdiscs"], desiredHost],
      ["the uplink (its NAT table)", (h) => delete h.tenants[0]!.uplink, ["fdb", "qdiscs", "sysctls"]],
    ];
    for (const [what, change, parts, base] of cases) assert.deepEqual(partsAfter(change, base), parts, what);
  });
});

describe("settledObservation", () => {
  it("of a tenant in sync plans nothing, like what observe reads of it", () => {
    const want = renderHost(clusterHost());
    const have = observedHost(want);
    const tenant = want.tenants[0]!;
    const links = new Set(have.tenants[0]!.veths.map((v) => v.name));
    have.tenants[0] = {
      ...have.tenants[0]!,
      sysctls: settledObservation.sysctls(tenant),
      fdb: settledObservation.fdb(tenant),
      ...settledObservation.qdiscs(tenant, links),
    };
    assert.deepEqual(diffHost(want, have, { appliedNft: new Map([[tenant.namespace, tenant.nftScript]]) }).steps.map(describeStep), []);
  });

  it("gives no qdisc to an endpoint whose veth is not there yet", () => {
    const tenant = tenantOf(clusterHost());
    const links = new Set([tenant.endpoints[0]!.hostLink]);
    assert.deepEqual([...new Set(settledObservation.qdiscs(tenant, links).qdiscs.map((q) => q.dev))], [tenant.endpoints[0]!.hostLink]);
  });
});
