import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { commonOwner, StepBuilder } from "./stepBuilder.js";

describe("StepBuilder", () => {
  it("gives every step the owner of the builder that made it, one list for the namespace", () => {
    const tenant = StepBuilder.of("ns", { tenant: "a" }, 7);
    const endpoint = tenant.unit({ tenant: "a", network: "blue", endpoint: "e1" });
    tenant.netns("create", ["add", "ns"]);
    endpoint.ip("veth", "create", "veth ne1", ["link", "add", "ne1"]);
    endpoint.problem("endpoint e1", "gone");
    assert.deepEqual(tenant.steps().map((s) => [s.object, s.owner]), [
      ["namespace ns", { tenant: "a" }],
      ["veth ne1", { tenant: "a", network: "blue", endpoint: "e1" }],
    ]);
    assert.deepEqual(tenant.problems, [{ namespace: "ns", owner: { tenant: "a", network: "blue", endpoint: "e1" }, object: "endpoint e1", message: "gone" }]);
  });

  it("owns the deletion of a phase's marked links by what those links have in common", () => {
    const tenant = StepBuilder.of("ns", { tenant: "a" }, 7);
    tenant.unit({ tenant: "a", network: "blue", endpoint: "e1" }).deleteLink("veth", "veth ne1", "ne1");
    tenant.unit({ tenant: "a", network: "blue", endpoint: "e1" }).deleteLink("veth", "ifb ni1", "ni1");
    tenant.unit({ tenant: "a", network: "blue", endpoint: "e2" }).deleteLink("vxlan", "veth ne2", "ne2");
    tenant.unit({ tenant: "a", network: "red" }).deleteLink("vxlan", "vxlan nv2", "nv2");
    const groups = tenant.steps().filter((s) => s.object === "links marked for deletion");
    assert.deepEqual(groups.map((s) => [s.phase, s.owner, s.args.join(" ")]), [
      ["veth", { tenant: "a", network: "blue", endpoint: "e1" }, "link del group 7"],
      ["vxlan", { tenant: "a" }, "link del group 7"],
    ]);
  });
});

describe("commonOwner", () => {
  it("keeps what every owner shares, from the tenant down", () => {
    assert.deepEqual(commonOwner([{ tenant: "a", network: "n", endpoint: "e" }, { tenant: "a", network: "n", endpoint: "f" }]), { tenant: "a", network: "n" });
    assert.deepEqual(commonOwner([{ tenant: "a", ports: true }, { tenant: "a", ports: true }]), { tenant: "a", ports: true });
    assert.deepEqual(commonOwner([{ tenant: "a" }, { tenant: "b" }]), {});
    assert.deepEqual(commonOwner([]), {});
  });
});
