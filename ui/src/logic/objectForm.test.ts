import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { kindByCollection } from "./kinds.js";
import { fieldValue, formBody, formFields, objectKeyOf } from "./objectForm.js";

describe("object form", () => {
  const groups = kindByCollection("endpointGroups")!;

  test("an object round-trips through its fields; key is dropped, lists are comma separated", () => {
    const obj = { key: "t:web", tenantName: "t", groupName: "web", networkName: "net", policies: ["a", "b"], netProfile: "", ipPool: "", extContractsGrps: [], cfgdTag: "x" };
    const fields = formFields(groups, obj);
    assert.equal(fields.find((f) => f.name === "policies")?.text, "a, b");
    assert.ok(!fields.some((f) => f.name === "key"));
    assert.deepEqual(formBody(fields), { tenantName: "t", groupName: "web", networkName: "net", policies: ["a", "b"], cfgdTag: "x" });
    assert.equal(objectKeyOf(groups, formBody(fields)), "t:web");
  });

  test("a new object starts from the kind's template; numbers are read back as numbers", () => {
    const rules = kindByCollection("rules")!;
    const fields = formFields(rules, undefined).map((f) => (f.name === "port" ? { ...f, text: "8080" } : f));
    assert.equal(formBody(fields)["port"], 8080);
    assert.equal(formBody(fields)["direction"], "in");
  });

  test("bad input is refused before anything is sent", () => {
    assert.throws(() => fieldValue({ name: "port", type: "number", text: "eighty" }), /Field port: "eighty" is not a number/);
    assert.throws(() => objectKeyOf(groups, { tenantName: "t" }), /groupName must be filled in/);
  });
});
