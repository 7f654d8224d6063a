import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { UpstreamError } from "../../lib/errors.js";
import { KernelError, RealExecutor, spawnedArgv } from "./executor.js";
import { FakeExecutor } from "./fakeExecutor.js";

describe("KernelError", () => {
  const cases: Array<[string, "notFound" | "exists" | "neither"]> = [
    ['Cannot find device "ne01"', "notFound"],
    ["Error: ipv4: Address not found.", "notFound"],
    ["RTNETLINK answers: No such process", "notFound"],
    ['Cannot open network namespace "x": No such file or directory', "notFound"],
    ["Error: Cannot delete qdisc with handle of zero.", "notFound"],
    ["Error: No such file or directory\nlist table inet netplugin", "notFound"],
    ["RTNETLINK answers: File exists", "exists"],
    ["Error: ipv4: Address already assigned.", "exists"],
    ['Cannot create namespace file "/run/netns/a": File exists', "exists"],
    ["Error: Failed to load TC action module.", "neither"],
    ["/dev/stdin:4:8-10: Error: syntax error, unexpected fwd", "neither"],
  ];
  for (const [stderr, kind] of cases) {
    it(`classifies "${stderr.split("\n")[0]}" as ${kind}`, () => {
      const error = new KernelError(["ip", "x"], 2, stderr);
      assert.equal(error.isNotFound(), kind === "notFound");
      assert.equal(error.isExists(), kind === "exists");
    });
  }

  it("is an UpstreamError whose message names the command, exit code and stderr", () => {
    const error = new KernelError(["ip", "link", "del", "ne01"], 1, 'Cannot find device "ne01"\n');
    assert.ok(error instanceof UpstreamError);
    assert.equal(error.message, 'Cannot run "ip link del ne01": exit 1: Cannot find device "ne01"');
  });

  it("reads the failed lines of a batch", () => {
    const error = new KernelError(["ip", "-batch", "-"], 1, "RTNETLINK answers: File exists\nCommand failed -:2\nx\nCommand failed -:5\n");
    assert.deepEqual(error.failedBatchLines(), [2, 5]);
  });
});

describe("RealExecutor", () => {
  const executor = new RealExecutor({ timeoutMs: 5_000 });

  it("returns stdout and feeds stdin", async () => {
    assert.equal(await executor.run(["cat"], { stdin: "hello\n" }), "hello\n");
  });

  it("throws KernelError with the exit code and stderr", async () => {
    await assert.rejects(executor.run(["ls", "/nonexistent-netplugin-path"]), (error: unknown) => {
      assert.ok(error instanceof KernelError);
      assert.equal(error.exitCode, 2);
      assert.match(error.stderr, /No such file or directory/);
      assert.ok(error.isNotFound());
      return true;
    });
  });

  it("throws KernelError when the tool does not exist", async () => {
    await assert.rejects(executor.run(["netplugin-no-such-tool"]), (error: unknown) => error instanceof KernelError && error.exitCode === null);
  });

  it("prefixes ip netns exec for a named namespace", () => {
    assert.deepEqual(spawnedArgv(["nft", "-f", "-"], "ns1"), ["ip", "netns", "exec", "ns1", "nft", "-f", "-"]);
    assert.deepEqual(spawnedArgv(["nft"]), ["nft"]);
  });
});

describe("FakeExecutor", () => {
  it("replays scripted answers, the last added rule first, and records calls", async () => {
    const fake = new FakeExecutor().on(/^ip /, { stdout: "any" }).on("ip link", { stdout: "one" }, 1);
    assert.equal(await fake.run(["ip", "link"]), "one");
    assert.equal(await fake.run(["ip", "link"]), "any");
    await assert.rejects(fake.run(["tc"]), /unexpected command "tc"/);
    assert.deepEqual(fake.commands(), ["ip link", "ip link", "tc"]);
  });

  it("fails like the real tool", async () => {
    const fake = new FakeExecutor().on("ip netns add x", { stderr: "File exists", exitCode: 1 });
    await assert.rejects(fake.run(["ip", "netns", "add", "x"]), (e: unknown) => e instanceof KernelError && e.isExists());
  });
});
