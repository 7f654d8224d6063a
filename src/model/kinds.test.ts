import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ValidationError } from "../lib/errors.js";
import {
  keyOf,
  kindByCollection,
  kinds,
  type ObjectKind,
  type ObjectType,
  omitEmpty,
  parseObject,
  splitKey,
} from "./kinds.js";
import { expectInvalid } from "./testing/cases.js";

/** A valid body and key for every kind. */
const valid: { [K in ObjectType]: { key: string; body: Record<string, unknown> } } = {
  tenant: { key: "blue", body: { tenantName: "blue" } },
  network: {
    key: "blue:net1",
    body: { tenantName: "blue", networkName: "net1", encap: "vlan", subnet: "10.1.1.0/24", pktTag: 100 },
  },
  endpointGroup: { key: "blue:web", body: { tenantName: "blue", groupName: "web", networkName: "net1" } },
  policy: { key: "blue:prod", body: { tenantName: "blue", policyName: "prod" } },
  rule: {
    key: "blue:prod:r1",
    body: { tenantName: "blue", policyName: "prod", ruleId: "r1", direction: "in", action: "deny" },
  },
  netprofile: { key: "blue:gold", body: { tenantName: "blue", profileName: "gold", bandwidth: "1gbps" } },
  appProfile: { key: "blue:app", body: { tenantName: "blue", appProfileName: "app", endpointGroups: ["web"] } },
  extContractsGroup: {
    key: "blue:ext",
    body: { tenantName: "blue", contractsGroupName: "ext", contractsType: "consumed", contracts: ["uni/x"] },
  },
  global: {
    key: "global",
    body: { name: "global", vlans: "1-4094", vxlans: "1-10000", pvtSubnet: "172.19.0.0/16" },
  },
  aciGw: {
    key: "aciGw",
    body: { name: "aciGw", enforcePolicies: "yes", includeCommonTenant: "no", physicalDomain: "dom" },
  },
  Bgp: { key: "host1", body: { hostname: "host1", routerip: "10.0.0.1/24", as: "65001", neighbor: "10.0.0.2", "neighbor-as": "65000" } },
  serviceLB: {
    key: "blue:svc",
    body: { tenantName: "blue", serviceName: "svc", networkName: "net1", selectors: ["a=b"], ports: ["80:80:TCP"] },
  },
};

const collections: { [K in ObjectType]: string } = {
  tenant: "tenants",
  network: "networks",
  endpointGroup: "endpointGroups",
  policy: "policys",
  rule: "rules",
  netprofile: "netprofiles",
  appProfile: "appProfiles",
  extContractsGroup: "extContractsGroups",
  global: "globals",
  aciGw: "aciGws",
  Bgp: "Bgps",
  serviceLB: "serviceLBs",
};

const types = Object.keys(valid) as ObjectType[];

describe("every kind", () => {
  for (const type of types) {
    const kind: ObjectKind<unknown> = kinds[type];
    const { key, body } = valid[type];
    describe(type, () => {
      it("is registered under its type and collection", () => {
        assert.equal(kind.type, type);
        assert.equal(kind.collection, collections[type]);
        assert.equal(kindByCollection(collections[type]), kind);
      });
      it("accepts a valid body and sets key", () => {
        const obj = parseObject(kind, key, body) as Record<string, unknown>;
        assert.equal(obj.key, key);
        assert.equal(keyOf(kind, obj), key);
        for (const [f, v] of Object.entries(body)) assert.deepEqual(obj[f], v);
      });
      it("strips what Contiv clients send back (key, link-sets, links, unknown)", () => {
        const obj = parseObject(kind, key, {
          ...body,
          key: "something:else",
          "link-sets": { Networks: { x: { type: "network", key: "x" } } },
          links: { Tenant: { type: "tenant", key: "t" } },
          extra: 1,
        }) as Record<string, unknown>;
        assert.equal(obj.key, key);
        for (const f of ["link-sets", "links", "extra"]) assert.equal(f in obj, false, f);
      });
      it("rejects a URL key that does not match the key fields", () => {
        expectInvalid(kind, `${key}x`, body, "Invalid Key");
      });
      it("requires the key fields in the body, as Contiv does", () => {
        for (const field of kind.keyFields) {
          const partial = { ...body };
          delete partial[field];
          expectInvalid(kind, key, partial, "Invalid Key");
        }
      });
      it("re-parses its own output unchanged (rows read back from the store)", () => {
        const obj = parseObject(kind, key, body);
        assert.deepEqual(kind.schema.parse(obj), obj);
        assert.deepEqual(parseObject(kind, key, JSON.parse(JSON.stringify(obj))), obj);
      });
    });
  }
});

describe("kindByCollection", () => {
  it("is case-sensitive, as Contiv's routes are", () => {
    assert.equal(kindByCollection("bgps"), undefined);
    assert.equal(kindByCollection("Bgps"), kinds.Bgp);
    assert.equal(kindByCollection("policies"), undefined);
    assert.equal(kindByCollection("volumes"), undefined);
  });
});

describe("parseObject decoding", () => {
  const net = kinds.network;
  const body = valid.network.body;

  it("rejects a body that is not an object, with Go's text", () => {
    expectInvalid(net, "blue:net1", [body], "json: cannot unmarshal array into Go value of type contivModel.Network");
    expectInvalid(net, "blue:net1", "x", "json: cannot unmarshal string into Go value of type contivModel.Network");
    expectInvalid(kinds.Bgp, "h", 3, "json: cannot unmarshal number into Go value of type contivModel.Bgp");
  });
  it("treats a null body as an empty object (Go leaves the struct at zero)", () => {
    expectInvalid(kinds.tenant, "", null, "tenantName string invalid format");
    expectInvalid(kinds.tenant, "t1", null, "Invalid Key");
  });
  it("creates nothing from a body that names nothing", () => {
    expectInvalid(kinds.tenant, "newt", { foo: 1 }, "Invalid Key");
  });
  it("treats a null field as absent", () => {
    const obj = parseObject(net, "blue:net1", { ...body, gateway: null, pktTag: null, nwType: null });
    assert.equal(obj.gateway, "");
    assert.equal(obj.pktTag, 0);
    assert.equal(obj.nwType, "data");
  });
  it("matches JSON names case-insensitively when there is no exact match, as Go does", () => {
    const obj = parseObject(net, "blue:net1", { TenantName: "blue", NETWORKNAME: "net1", Encap: "vxlan", subnet: "10.1.1.0/24" });
    assert.equal(obj.encap, "vxlan");
    assert.equal(obj.tenantName, "blue");
  });
  it("reports JSON type errors first, then the key, then field rules", () => {
    assert.throws(
      () => parseObject(net, "other:key", { ...body, encap: "gre", pktTag: "1", tenantName: "blue" }),
      (err: unknown) => {
        assert.ok(err instanceof ValidationError);
        assert.equal(err.message, "json: cannot unmarshal string into Go struct field Network.pktTag of type int");
        assert.deepEqual(err.issues.map((i) => i.path), ["pktTag", "key", "encap"]);
        return true;
      },
    );
  });
  it("reports a wrong type in a key field before Invalid Key", () => {
    expectInvalid(kinds.policy, "blue:prod", { tenantName: "blue", policyName: 5 }, "json: cannot unmarshal number into Go struct field Policy.policyName of type string");
  });
  it("names every bad field", () => {
    assert.throws(
      () => parseObject(net, "blue:net1", { ...body, gateway: true, cfgdTag: [], pktTag: {} }),
      (err: unknown) => {
        assert.ok(err instanceof ValidationError);
        assert.deepEqual(
          err.issues.map((i) => i.message),
          [
            "json: cannot unmarshal array into Go struct field Network.cfgdTag of type string",
            "json: cannot unmarshal bool into Go struct field Network.gateway of type string",
            "json: cannot unmarshal object into Go struct field Network.pktTag of type int",
          ],
        );
        return true;
      },
    );
  });
  it("refuses a URL key with the wrong number of parts", () => {
    expectInvalid(net, "blue:net1:x", { encap: "vxlan", subnet: "10.1.1.0/24" }, "Invalid Key");
  });
  it("checks key fields given in the body against the URL key", () => {
    expectInvalid(net, "blue:net1", { ...body, networkName: "net2" }, "Invalid Key");
  });
});

describe("splitKey and keyOf", () => {
  it("splits on ':'", () => {
    assert.deepEqual(splitKey("blue:prod:r1"), ["blue", "prod", "r1"]);
    assert.deepEqual(splitKey("global"), ["global"]);
  });
  it("joins key fields with ':'", () => {
    assert.equal(keyOf(kinds.rule, { tenantName: "t", policyName: "p", ruleId: "1" }), "t:p:1");
    assert.equal(keyOf(kinds.Bgp, { hostname: "h1" }), "h1");
    assert.equal(keyOf(kinds.network, { networkName: "n" }), ":n");
  });
});

describe("omitEmpty", () => {
  it("drops what Go's omitempty drops", () => {
    const obj = parseObject(kinds.network, "blue:net1", valid.network.body);
    assert.deepEqual(omitEmpty(obj), {
      encap: "vlan",
      ipam: "netmaster",
      key: "blue:net1",
      networkName: "net1",
      nwType: "data",
      pktTag: 100,
      subnet: "10.1.1.0/24",
      tenantName: "blue",
    });
    assert.deepEqual(omitEmpty({ a: [], b: false, c: null, d: ["x"], e: 1 }), { d: ["x"], e: 1 });
  });
});
