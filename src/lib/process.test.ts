import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { UpstreamError } from "./errors.js";
import { must, ProcessError, RealExecutor, run, spawnedArgv } from "./process.js";

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

describe("run", () => {
  it("returns a non-zero exit with its output instead of throwing", async () => {
    assert.deepEqual(await run(["sh", "-c", "echo out; echo err >&2; exit 3"]), { code: 3, signal: null, stdout: "out\n", stderr: "err\n" });
  });

  it("feeds stdin, bytes included, and passes exactly the environment given", async () => {
    assert.equal((await run(["cat"], { stdin: Buffer.from([0xff, 0x0a]) })).stdout, "\ufffd\n");
    assert.equal((await run(["sh", "-c", 'echo "$ONLY,$HOME"'], { env: { ONLY: "this" } })).stdout, "this,\n");
  });

  it("kills a command past its timeout: no exit code, the signal", async () => {
    const r = await run(["sleep", "5"], { timeoutMs: 100 });
    assert.equal(r.code, null);
    assert.equal(r.signal, "SIGKILL");
  });

  it("says why a command could not start", async () => {
    const r = await run(["netplugin-no-such-tool"]);
    assert.equal(r.code, null);
    assert.match(r.stderr, /ENOENT/);
  });
});

describe("must", () => {
  it("returns stdout", async () => {
    assert.equal(await must(["echo", "hi"]), "hi\n");
  });

  it("throws ProcessError with stderr, or stdout when a tool reports there", async () => {
    await assert.rejects(must(["sh", "-c", "echo bad >&2; exit 1"]), (error: unknown) => error instanceof ProcessError && error.stderr === "bad\n");
    await assert.rejects(
      must(["sh", "-c", 'echo \'{"error": "busy"}\'; exit 1']),
      (error: unknown) => error instanceof ProcessError && error.message === 'Cannot run "sh -c echo \'{"error": "busy"}\'; exit 1": exit 1: {"error": "busy"}',
    );
  });

  it("names the namespace prefix in the argv it reports", async () => {
    await assert.rejects(must(["true"], { netns: "netplugin-no-such-ns", timeoutMs: 5_000 }), (error: unknown) => error instanceof ProcessError && error.argv.slice(0, 4).join(" ") === "ip netns exec netplugin-no-such-ns");
  });
});
