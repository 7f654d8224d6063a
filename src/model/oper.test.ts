import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AciGwOper } from "./aci.js";
import { BgpOper } from "./bgp.js";
import { EndpointOper } from "./endpoint.js";
import { GlobalOper } from "./global.js";
import { ServiceLBOper } from "./serviceLB.js";
import { TenantOper } from "./tenant.js";

const endpoint = {
  network: "net1.default",
  endpointID: "e1",
  serviceName: "web",
  endpointGroupId: 3,
  endpointGroupKey: "web:default",
  ipAddress: ["10.1.1.2", ""],
  macAddress: "02:02:0a:01:01:02",
  homingHost: "node1",
  intfName: "vport1",
  vtepIP: "192.168.2.10",
  labels: "map[app:web]",
  containerID: "abc",
  containerName: "c1",
  virtualPort: "vvport1",
};

describe("oper shapes (inspect responses, every field omitempty)", () => {
  it("reads a tenant inspect Oper with nested networks, groups and endpoints", () => {
    const oper = TenantOper.parse({
      totalNetworks: 1,
      totalEPGs: 1,
      totalEndpoints: 1,
      networks: [{ pktTag: 1, externalPktTag: 10000, numEndpoints: 1, allocatedIPAddresses: "10.1.1.1-10.1.1.2", endpoints: [endpoint] }],
      endpointGroups: [{ groupTag: "web.default", numEndpoints: 1 }],
    });
    assert.equal(oper.networks?.[0]?.endpoints?.[0]?.virtualPort, "vvport1");
    assert.equal(oper.totalPolicies, undefined);
  });
  it("accepts empty objects (Go omits zero values)", () => {
    for (const schema of [TenantOper, GlobalOper, ServiceLBOper, BgpOper, AciGwOper, EndpointOper]) {
      assert.deepEqual(schema.parse({}), {});
    }
  });
  it("reads the other opers", () => {
    assert.equal(GlobalOper.parse({ clusterMode: "docker", vlansInUse: "1-3, 300", freeVXLANsStart: 10001 }).vlansInUse, "1-3, 300");
    assert.equal(ServiceLBOper.parse({ serviceVip: "10.1.1.100", numProviders: 1, providers: [endpoint] }).providers?.length, 1);
    assert.deepEqual(BgpOper.parse({ numRoutes: 1, routes: ["20.1.1.0/24"], adminStatus: "up" }).routes, ["20.1.1.0/24"]);
    assert.equal(AciGwOper.parse({ numAppProfiles: 2 }).numAppProfiles, 2);
  });
  it("rejects wrong types", () => {
    assert.equal(EndpointOper.safeParse({ endpointGroupId: "3" }).success, false);
    assert.equal(TenantOper.safeParse({ networks: {} }).success, false);
  });
});
