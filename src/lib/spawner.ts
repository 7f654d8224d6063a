// An Executor that has a long-lived helper (src/bin/netplugin-spawner.ts, compiled by `make build`) start the
// commands: the agent writes a line to it instead of forking its own large process for every `ip` (1–3 ms of
// its main thread each, more when the machine is busy). Same contract as RealExecutor: stdout, or a
// ProcessError naming the command, its exit code and stderr. The helper is started on first use and again after
// it died (the commands it was running then fail, and are retried by their callers as any failure is).

import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

import { ProcessError, RealExecutor, spawnedArgv, trace, type Executor, type RunOptions } from "./process.js";

/** Where `make build` puts the helper, from dist/src/lib. */
export const SPAWNER = fileURLToPath(new URL("../../spawner/netplugin-spawner", import.meta.url));

interface Answer {
  id: number;
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

interface Waiting {
  argv: string[];
  resolve: (stdout: string) => void;
  reject: (err: Error) => void;
  /** Stops listening to the caller's signal. */
  forget: () => void;
}

export class SpawnerExecutor implements Executor {
  private helper: ChildProcess | undefined;
  private readonly waiting = new Map<number, Waiting>();
  private nextId = 1;

  constructor(
    private readonly path: string,
    private readonly timeoutMs = 30_000,
  ) {}

  run(argv: string[], options: RunOptions = {}): Promise<string> {
    const full = spawnedArgv(argv, options.netns);
    trace(full);
    if (options.signal?.aborted) return Promise.reject(new ProcessError(full, null, "aborted before it started"));
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      const helper = this.started();
      // Aborted: the caller stops waiting; the command runs to its end in the helper, its answer dropped.
      const onAbort = (): void => this.settle(id)?.reject(new ProcessError(full, null, "aborted"));
      options.signal?.addEventListener("abort", onAbort, { once: true });
      this.wait(id, { argv: full, resolve, reject, forget: () => options.signal?.removeEventListener("abort", onAbort) });
      helper.stdin!.write(`${JSON.stringify({ id, argv: full, stdin: options.stdin, timeoutMs: this.timeoutMs })}\n`);
    });
  }

  /** Commands waited for keep the process alive (a short-lived `--cleanup` too); an idle helper does not. */
  private wait(id: number, w: Waiting): void {
    if (this.waiting.size === 0) this.keepAlive(true);
    this.waiting.set(id, w);
  }

  private settle(id: number): Waiting | undefined {
    const w = this.waiting.get(id);
    if (w === undefined) return undefined;
    this.waiting.delete(id);
    w.forget();
    if (this.waiting.size === 0) this.keepAlive(false);
    return w;
  }

  /** The helper's process and answers hold the event loop open while someone waits for an answer. */
  private keepAlive(on: boolean): void {
    refStream(this.helper, on);
    refStream(this.helper?.stdout, on);
  }

  /** Stops the helper; commands still running fail. For the agent's stop and tests. */
  close(): void {
    const helper = this.helper;
    if (helper === undefined) return;
    helper.stdin!.end();
    this.lose(helper, "was stopped");
  }

  /** A helper that no longer runs (gone, killed, stopped) fails what it was given; the next command starts another. */
  private lose(helper: ChildProcess, why: string): void {
    if (this.helper !== helper) return;
    this.helper = undefined;
    for (const id of [...this.waiting.keys()]) {
      const w = this.settle(id)!;
      w.reject(new ProcessError(w.argv, null, `the process starter ${why}`));
    }
  }

  private started(): ChildProcess {
    if (this.helper !== undefined) return this.helper;
    const helper = spawn(this.path, [], { stdio: ["pipe", "pipe", "inherit"] });
    this.helper = helper;
    helper.on("error", (err) => this.lose(helper, `could not run: ${err.message}`));
    helper.on("exit", (code, signal) => this.lose(helper, `exited (${signal ?? code})`));
    helper.stdin!.on("error", () => undefined);
    // The agent's own lifetime decides: an idle helper does not keep it alive.
    refStream(helper, false);
    refStream(helper.stdin, false);
    refStream(helper.stdout, false);
    createInterface({ input: helper.stdout!, crlfDelay: Infinity }).on("line", (line) => {
      let a: Answer;
      try {
        a = JSON.parse(line) as Answer;
      } catch {
        return; // not an answer: nothing waits for it
      }
      const w = this.settle(a.id);
      if (w === undefined) return;
      if (a.code === 0) w.resolve(a.stdout);
      else {
        const detail = a.stderr !== "" ? a.stderr : a.stdout !== "" ? a.stdout : a.signal !== null ? `killed by ${a.signal}` : "";
        w.reject(new ProcessError(w.argv, a.code, detail, a.stdout));
      }
    });
    return helper;
  }
}

function refStream(stream: unknown, on: boolean): void {
  const handle = stream as { ref?: () => void; unref?: () => void } | undefined;
  if (on) handle?.ref?.();
  else handle?.unref?.();
}

let shared: Executor | undefined;

/**
 * The agent's Executor, one per process: through the helper when the build made it (a build by `tsc` alone
 * does not), else one fork per command (RealExecutor).
 */
export function agentExecutor(): Executor {
  shared ??= existsSync(SPAWNER) ? new SpawnerExecutor(SPAWNER) : new RealExecutor();
  return shared;
}
