import assert from "node:assert/strict";
import { describe, it } from "node:test";

import type { DatapathError, DatapathErrorOwner } from "./driver.js";
import { concernsUnit, errorsOfPorts, errorsOfUnit } from "./errors.js";

const error = (owner: DatapathErrorOwner, message: string): DatapathError => ({ owner, namespace: "ns", objects: [], message });

const errors = [
  error({}, "host"),
  error({ ports: true }, "host ports"),
  error({ tenant: "a" }, "tenant a"),
  error({ tenant: "a", ports: true }, "ports of a"),
  error({ tenant: "a", network: "blue" }, "network blue"),
  error({ tenant: "a", network: "blue", endpoint: "e1" }, "endpoint e1"),
  error({ tenant: "a", network: "blue", endpoint: "e2" }, "endpoint e2"),
  error({ tenant: "a", network: "red" }, "network red"),
  error({ tenant: "b" }, "tenant b"),
  error({ tenant: "b", ports: true }, "ports of b"),
];
const messages = (list: DatapathError[]): string[] => list.map((e) => e.message);

describe("errorsOfUnit", () => {
  it("an endpoint: its own errors, its network's and its tenant's", () => {
    assert.deepEqual(messages(errorsOfUnit(errors, { tenant: "a", network: "blue", endpoint: "e1" })), ["tenant a", "network blue", "endpoint e1"]);
  });

  it("a network: its own and its tenant's, none of its endpoints'", () => {
    assert.deepEqual(messages(errorsOfUnit(errors, { tenant: "a", network: "red" })), ["tenant a", "network red"]);
  });

  it("a tenant: its own only", () => {
    assert.deepEqual(messages(errorsOfUnit(errors, { tenant: "b" })), ["tenant b"]);
  });

  it("never the host's, nor those about published ports", () => {
    assert.equal(concernsUnit({}, { tenant: "a" }), false);
    assert.equal(concernsUnit({ tenant: "a", ports: true }, { tenant: "a" }), false);
  });
});

describe("errorsOfPorts", () => {
  it("a tenant's: about its ports, and the host's, where every tenant's ports come in", () => {
    assert.deepEqual(messages(errorsOfPorts(errors, "a")), ["host", "host ports", "ports of a"]);
    assert.deepEqual(messages(errorsOfPorts(errors, "c")), ["host", "host ports"]);
  });
});
