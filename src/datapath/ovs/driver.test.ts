// flowChanges: the bundle that turns the bridge's flows into ours, from what `ovs-ofctl diff-flows` prints.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { clusterHost, desiredHost } from "../testing/desired.js";
import { OvsDatapath } from "./driver.js";
import { flowChanges } from "./flow-sync.js";

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

describe("OvsDatapath.check", () => {
  // check() runs no command: an executor that refuses every one proves it.
  const driver = new OvsDatapath({ run: () => Promise.reject(new Error("check must not run commands")) }, { datapathType: "netdev" });

  it("refuses what the Linux driver could not render, in its words: an IPv6 gateway without its subnet, bad addresses", () => {
    const d = desiredHost();
    d.tenants[0]!.networks[0]!.ipv6Subnet = "";
    assert.ok(driver.check(d).some((p) => p.owner.network === "blue" && /ipv6/.test(p.message)), JSON.stringify(driver.check(d)));
    const e = desiredHost();
    e.tenants[0]!.endpoints[0]!.ipv6 = "fd00:1::zz/64";
    assert.deepEqual(driver.check(e).map((p) => [p.owner.endpoint, p.message]), [["ep1", 'ipv6: invalid address "fd00:1::zz/64"']]);
  });

  it("a remote endpoint with a MAC no interface can carry fails that endpoint only", () => {
    const d = clusterHost();
    d.tenants[0]!.networks[0]!.vxlan!.remotes[0]!.mac = "zz:zz:zz:zz:zz:zz";
    assert.deepEqual(driver.check(d), [{ owner: { tenant: "a", network: "blue", endpoint: "net1.blue-21" }, message: 'mac: invalid MAC "zz:zz:zz:zz:zz:zz"' }]);
  });

  it("each problem once, though two checks find it", () => {
    const d = desiredHost();
    d.tenants[0]!.endpoints[0]!.portMappings = [{ protocol: "tcp", hostIP: "", hostPort: 80, containerPort: 80 }];
    const problems = driver.check(d);
    assert.equal(problems.filter((p) => /needs the tenant's uplink/.test(p.message)).length, 1, JSON.stringify(problems));
  });
});
