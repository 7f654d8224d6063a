// flowChanges: the bundle that turns the bridge's flows into ours, from what `ovs-ofctl diff-flows` prints.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { flowChanges } from "./driver.js";

describe("flowChanges", () => {
  it("adds what only we have, deletes by exact match what only the bridge has of ours, leaves others' flows", () => {
    const diff = [
      "-table=15 priority=100,tcp,tp_dst=9090 cookie=0xc0de actions=drop",
      "-table=0 priority=1 cookie=0x6e70 actions=drop",
      "+table=0 priority=2,ip cookie=0x6e70 actions=goto_table:10",
      "-table=31 priority=10,reg6=5,ip cookie=0x100056e70 actions=drop",
      "+table=31 priority=10,reg6=5,ip cookie=0x100056e70 actions=goto_table:40",
      "",
    ].join("\n");
    assert.deepEqual(flowChanges(diff), [
      "delete_strict table=0 priority=1 cookie=0x6e70/-1",
      "delete_strict table=31 priority=10,reg6=5,ip cookie=0x100056e70/-1",
      "add table=0 priority=2,ip cookie=0x6e70 actions=goto_table:10",
      "add table=31 priority=10,reg6=5,ip cookie=0x100056e70 actions=goto_table:40",
    ]);
  });

  it("no differences: nothing to do", () => {
    assert.deepEqual(flowChanges(""), []);
    assert.deepEqual(flowChanges("-table=15 priority=100,tcp cookie=0xc0de actions=drop\n"), [], "a controller's flow only");
  });
});
