import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { vswitchdControl } from "./datapath-cache.js";

describe("vswitchdControl", () => {
  const dir = () => mkdtempSync(path.join(tmpdir(), "np-ctl-"));

  it("takes a private instance's own socket, else the one its pid file names, else says what is missing", () => {
    const d = dir();
    try {
      assert.throws(() => vswitchdControl(d), /Cannot find ovs-vswitchd's control socket in .*: no ovs-vswitchd.ctl, no pid/);
      writeFileSync(path.join(d, "ovs-vswitchd.pid"), "4242\n");
      assert.equal(vswitchdControl(d), path.join(d, "ovs-vswitchd.4242.ctl"));
      writeFileSync(path.join(d, "ovs-vswitchd.ctl"), "");
      assert.equal(vswitchdControl(d), path.join(d, "ovs-vswitchd.ctl"));
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
