import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { ValidationError } from "../lib/errors.js";
import { createDatapath, DATAPATH_DRIVERS, isDatapathName } from "./index.js";

describe("createDatapath", () => {
  it("refuses a driver it does not have, naming the ones it has", async () => {
    await assert.rejects(createDatapath("ovs", { prefix: "npt0" }), (error: unknown) => {
      assert.ok(error instanceof ValidationError);
      assert.equal(error.message, 'Cannot use the datapath "ovs": expected one of linux');
      assert.deepEqual(error.issues, [{ path: "datapath", message: 'unknown driver "ovs"' }]);
      return true;
    });
    assert.equal(isDatapathName("ovs"), false);
  });

  it("builds the Linux driver, with the capabilities it has", async () => {
    assert.deepEqual([...DATAPATH_DRIVERS], ["linux"]);
    const driver = await createDatapath("linux", { prefix: "npt0", probe: false });
    assert.equal(typeof driver.check, "function");
    assert.equal(typeof driver.reconcile, "function");
    assert.equal(typeof driver.counters, "function");
    assert.equal(typeof driver.cleanup, "function");
  });
});
