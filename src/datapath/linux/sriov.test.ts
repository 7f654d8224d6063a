import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";

import { describeHostDevice } from "./sriov.js";

// A sysfs tree as the kernel lays it out for a PF with two VFs (real sysfs uses symlinks; plain
// directories read the same): class/net/PF/device/virtfnN/net/VF and class/net/VF/device/physfn/net/PF.
const root = mkdtempSync(join(tmpdir(), "npt-sysfs-"));
const mk = (...p: string[]) => mkdirSync(join(root, ...p), { recursive: true });
mk("class/net/ens1f0/device/virtfn0/net/ens1f0v0");
mk("class/net/ens1f0/device/virtfn1/net/ens1f0v1");
mk("class/net/ens1f0/device/virtfn10/net/ens1f0v10");
mk("class/net/ens1f0/device/virtfn2"); // a VF whose driver made no netdev
mk("class/net/ens1f0v1/device/physfn/net/ens1f0");
mk("class/net/eth0/device");
mk("class/net/veth0");

describe("SR-IOV through sysfs", () => {
  after(() => rmSync(root, { recursive: true, force: true }));

  it("names a PF's VFs in VF order, leaving out VFs without a netdev", () => {
    assert.deepEqual(describeHostDevice("ens1f0", root), { name: "ens1f0", virtfns: ["ens1f0v0", "ens1f0v1", "ens1f0v10"] });
  });
  it("names a VF's physical function", () => {
    assert.deepEqual(describeHostDevice("ens1f0v1", root), { name: "ens1f0v1", physfn: "ens1f0" });
  });
  it("a plain NIC, a virtual device and a missing one are neither", () => {
    for (const n of ["eth0", "veth0", "nosuch"]) assert.deepEqual(describeHostDevice(n, root), { name: n });
  });
});
