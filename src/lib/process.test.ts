import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { UpstreamError } from "./errors.js";
import { ProcessError, RealExecutor, spawnedArgv } from "./process.js";

describe("ProcessError", () => {
  it("is an UpstreamError whose message names the command, exit code and stderr", () => {
    const error = new ProcessError(["ip", "link", "del", "ne01"], 1, 'Cannot find device "ne01"\n');
    assert.ok(error instanceof UpstreamError);
    assert.equal(error.message, 'Cannot run "ip link del ne01": exit 1: Cannot find device "ne01"');
  });

  it("says so when the command did not exit normally, and joins stderr's lines", () => {
    const error = new ProcessError(["sleep", "9"], null, "killed\nby timeout\n");
    assert.equal(error.message, 'Cannot run "sleep 9": did not exit normally: killed; by timeout');
  });
});

describe("RealExecutor", () => {
  const executor = new RealExecutor({ timeoutMs: 5_000 });

  it("returns stdout and feeds stdin", async () => {
    assert.equal(await executor.run(["cat"], { stdin: "hello\n" }), "hello\n");
  });

  it("throws ProcessError with the exit code and stderr", async () => {
    await assert.rejects(executor.run(["ls", "/nonexistent-netplugin-path"]), (error: unknown) => {
      assert.ok(error instanceof ProcessError);
      assert.equal(error.exitCode, 2);
      assert.match(error.stderr, /No such file or directory/);
      return true;
    });
  });

  it("throws ProcessError when the command does not exist", async () => {
    await assert.rejects(executor.run(["netplugin-no-such-tool"]), (error: unknown) => error instanceof ProcessError && error.exitCode === null);
  });

  it("kills a command that outlives its timeout", async () => {
    const quick = new RealExecutor({ timeoutMs: 100 });
    await assert.rejects(quick.run(["sleep", "5"]), (error: unknown) => error instanceof ProcessError && error.exitCode === null);
  });

  it("stops a command when its signal aborts", async () => {
    const abort = new AbortController();
    const run = executor.run(["sleep", "5"], { signal: abort.signal });
    abort.abort();
    await assert.rejects(run, (error: unknown) => error instanceof ProcessError);
  });

  it("refuses an empty argv", async () => {
    await assert.rejects(executor.run([]), (error: unknown) => error instanceof ProcessError && /empty argv/.test(error.message));
  });

  it("prefixes ip netns exec for a named namespace", () => {
    assert.deepEqual(spawnedArgv(["nft", "-f", "-"], "ns1"), ["ip", "netns", "exec", "ns1", "nft", "-f", "-"]);
    assert.deepEqual(spawnedArgv(["nft"]), ["nft"]);
  });
});
