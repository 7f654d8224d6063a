import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { UpstreamError } from "../../lib/errors.js";
import { FakeExecutor } from "./testing/fakeExecutor.js";
import { probeFeatures } from "./features.js";

describe("probeFeatures", () => {
  it("names the first missing feature and removes its namespace", async () => {
    const fake = new FakeExecutor({ stdout: "" }).on(/ tbf /, { stderr: "Error: Specified qdisc kind is unknown.\n", exitCode: 2 });
    await assert.rejects(probeFeatures(fake, "npu0"), (error: unknown) => {
      assert.ok(error instanceof UpstreamError);
      assert.equal(error.message, "Cannot use the Linux datapath: tc tbf qdisc not available: Error: Specified qdisc kind is unknown.");
      return true;
    });
    const commands = fake.commands();
    assert.equal(commands[1], "ip netns add npu0-probe");
    assert.equal(commands.at(-1), "ip netns del npu0-probe");
    assert.ok(!commands.some((c) => c.includes("mirred")), "stops at the first failure");
  });

  it("resolves when everything works", async () => {
    const fake = new FakeExecutor({ stdout: "" });
    await probeFeatures(fake, "npu0");
    assert.ok(fake.commands().some((c) => c === "ip netns exec npu0-probe nft -f -"));
    assert.ok(fake.commands().some((c) => c === "ip netns exec npu0-probe sh -c cat | conntrack -R -"));
  });
});
