import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { audienceOf, presenceOf, projectForAgent } from "./slices.js";

describe("audienceOf", () => {
  const cases: [string, unknown, ReturnType<typeof audienceOf>][] = [
    ["/netplugin/obj/global/global", {}, { kind: "all" }],
    ["/netplugin/obj/Bgp/h1", {}, { kind: "host", host: "h1" }],
    ["/netplugin/obj/network/red:web", { nwType: "data" }, { kind: "tenant", tenant: "red", catalog: true }],
    ["/netplugin/obj/network/red:infra", { nwType: "infra" }, { kind: "all" }],
    ["/netplugin/obj/tenant/red", {}, { kind: "tenant", tenant: "red", catalog: true }],
    ["/netplugin/obj/endpointGroup/red:g", {}, { kind: "tenant", tenant: "red", catalog: true }],
    ["/netplugin/obj/rule/red:p:1", {}, { kind: "tenant", tenant: "red", catalog: false }],
    ["/netplugin/obj/serviceLB/red:s", {}, { kind: "tenant", tenant: "red", catalog: false }],
    ["/netplugin/obj/aciGw/aciGw", {}, { kind: "none" }],
    ["/netplugin/state/nets/red:web", {}, { kind: "tenant", tenant: "red", catalog: false }],
    ["/netplugin/state/eps/web.red-c1", { tenantName: "red" }, { kind: "tenant", tenant: "red", catalog: false }],
    ["/netplugin/state/eps/garbage", 7, { kind: "none" }],
    ["/netplugin/state/hosts/h2", {}, { kind: "all" }],
    ["/netplugin/state/docker/addresses/red:web/10.1.1.2", { host: "h2" }, { kind: "host", host: "h2" }],
    ["/netplugin/state/docker/pools/3", { host: "h2" }, { kind: "none" }],
    ["/netplugin/state/global/tags", {}, { kind: "none" }],
    ["/netplugin/state/macs/red:web/02:02:0a:01:01:02", {}, { kind: "none" }],
    ["/netplugin-stream-epochs", [], { kind: "none" }],
  ];
  for (const [key, value, audience] of cases) {
    it(`${key} → ${JSON.stringify(audience)}`, () => assert.deepEqual(audienceOf(key, value), audience));
  }
});

describe("presenceOf and projectForAgent", () => {
  it("an endpoint makes its tenant present on its host", () => {
    assert.deepEqual(presenceOf("/netplugin/state/eps/x", { tenantName: "red", homingHost: "h1" }), { tenant: "red", host: "h1" });
    assert.equal(presenceOf("/netplugin/obj/tenant/red", { tenantName: "red" }), undefined);
  });
  it("allocators stay in netmaster", () => {
    assert.deepEqual(projectForAgent("/netplugin/state/nets/red:w", { pktTag: 1, extPktTag: 2, ipv4: {}, ipv6: {} }), { pktTag: 1, extPktTag: 2 });
    assert.deepEqual(projectForAgent("/netplugin/state/epgs/red:g", { groupId: 3, pool: {} }), { groupId: 3 });
    assert.deepEqual(projectForAgent("/netplugin/obj/tenant/red", { tenantName: "red" }), { tenantName: "red" });
  });
});
