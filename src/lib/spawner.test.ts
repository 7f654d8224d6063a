// SpawnerExecutor with the helper `make build` compiles: the same answers as RealExecutor (stdout; a
// ProcessError with the command, exit code and stderr), each to its own caller when many run at once, and a
// helper that dies fails what it was running and is replaced by the next command.

import assert from "node:assert/strict";
import { getEventListeners } from "node:events";
import { existsSync } from "node:fs";
import { describe, it } from "node:test";

import { ProcessError, RealExecutor } from "./process.js";
import { SPAWNER, SpawnerExecutor } from "./spawner.js";

describe("SpawnerExecutor", { skip: existsSync(SPAWNER) ? false : "the helper is built by make build" }, () => {
  it("answers as RealExecutor does: stdout, stdin, exit code and stderr, a command that cannot start", async () => {
    const spawner = new SpawnerExecutor(SPAWNER);
    const real = new RealExecutor();
    try {
      for (const [argv, stdin] of [[["cat"], "a line\n"], [["sh", "-c", "echo out; echo err >&2; exit 3"], undefined], [["/nonexistent/tool"], undefined]] as const) {
        const outcome = async (e: SpawnerExecutor | RealExecutor) =>
          e.run([...argv], stdin === undefined ? {} : { stdin }).then(
            (stdout) => ({ stdout }),
            (err: ProcessError) => ({ code: err.exitCode, argv: err.argv, stdout: err.stdout, err: err.exitCode === null ? "" : err.stderr }),
          );
        assert.deepEqual(await outcome(spawner), await outcome(real), argv.join(" "));
      }
    } finally {
      spawner.close();
    }
  });

  it("gives each of many commands at once its own answer", async () => {
    const spawner = new SpawnerExecutor(SPAWNER);
    try {
      const outs = await Promise.all(Array.from({ length: 50 }, (_, i) => spawner.run(["sh", "-c", `sleep 0.0${i % 5}; echo ${i}`])));
      assert.deepEqual(outs, Array.from({ length: 50 }, (_, i) => `${i}\n`));
    } finally {
      spawner.close();
    }
  });

  it("kills a command past its time", async () => {
    const spawner = new SpawnerExecutor(SPAWNER, 200);
    try {
      await assert.rejects(spawner.run(["sleep", "10"]), (err: ProcessError) => err.exitCode === null && /killed by SIGKILL/.test(err.message));
    } finally {
      spawner.close();
    }
  });

  it("an aborted command is answered at once; a finished one leaves no listener on the caller's signal", async () => {
    const spawner = new SpawnerExecutor(SPAWNER);
    try {
      const abort = new AbortController();
      const running = spawner.run(["sleep", "10"], { signal: abort.signal });
      abort.abort();
      await assert.rejects(running, /aborted/);
      const kept = new AbortController();
      for (let i = 0; i < 3; i++) await spawner.run(["true"], { signal: kept.signal });
      assert.equal(getEventListeners(kept.signal, "abort").length, 0);
    } finally {
      spawner.close();
    }
  });

  it("a helper that dies fails what it was running; the next command starts a new one", async () => {
    const spawner = new SpawnerExecutor(SPAWNER);
    try {
      const running = spawner.run(["sleep", "10"]);
      const pid = Number((await spawner.run(["sh", "-c", "echo $PPID"])).trim());
      process.kill(pid, "SIGKILL");
      await assert.rejects(running, /the process starter exited/);
      assert.equal(await spawner.run(["echo", "again"]), "again\n");
    } finally {
      spawner.close();
    }
  });
});
