import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { isNotFound } from "../tools.js";
import { FakeExecutor } from "./fakeExecutor.js";

describe("FakeExecutor", () => {
  it("replays scripted answers, the last added rule first, and records calls", async () => {
    const fake = new FakeExecutor().on(/^ip /, { stdout: "any" }).on("ip link", { stdout: "one" }, 1);
    assert.equal(await fake.run(["ip", "link"]), "one");
    assert.equal(await fake.run(["ip", "link"]), "any");
    await assert.rejects(fake.run(["tc"]), /unexpected command "tc"/);
    assert.deepEqual(fake.commands(), ["ip link", "ip link", "tc"]);
  });

  it("fails like the real tool", async () => {
    const fake = new FakeExecutor().on("ip link del x", { stderr: 'Cannot find device "x"', exitCode: 1 });
    await assert.rejects(fake.run(["ip", "link", "del", "x"]), (e: unknown) => isNotFound(e));
  });
});
