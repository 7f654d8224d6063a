import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { ValidationError } from "../lib/errors.js";
import { createDatapath, DATAPATH_DRIVERS, isDatapathName } from "./index.js";

describe("createDatapath", () => {
  it("refuses a driver it does not have, naming the ones it has", async () => {
    await assert.rejects(createDatapath("vpp", { prefix: "npt0" }), (error: unknown) => {
      assert.ok(error instanceof ValidationError);
      assert.equal(error.message, 'Cannot use the datapath "vpp": expected one of linux, ovs');
      assert.deepEqual(error.issues, [{ path: "datapath", message: 'unknown driver "vpp"' }]);
      return true;
    });
    assert.equal(isDatapathName("vpp"), false);
  });

  it("builds the Linux driver, with the capabilities it has", async () => {
    assert.deepEqual([...DATAPATH_DRIVERS], ["linux", "ovs"]);
    const driver = await createDatapath("linux", { prefix: "npt0", probe: false });
    assert.equal(typeof driver.check, "function");
    assert.equal(typeof driver.reconcile, "function");
    assert.equal(typeof driver.counters, "function");
    assert.equal(typeof driver.cleanup, "function");
  });

  it("builds the OVS driver without asking Open vSwitch when not probing; probing, an absent one is named", async () => {
    const driver = await createDatapath("ovs", { prefix: "npt0", probe: false, ovs: { db: "unix:/nonexistent/db.sock" } });
    assert.equal(typeof driver.reconcile, "function");
    assert.equal(typeof driver.cleanup, "function");
    await assert.rejects(createDatapath("ovs", { prefix: "npt0", ovs: { db: "unix:/nonexistent/db.sock" } }), /Open vSwitch does not answer at unix:\/nonexistent\/db\.sock/);
  });
});
