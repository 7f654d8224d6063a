// The one seam that spawns processes (ip, tc, nft, sysctl, nsenter, the BGP daemons' clients).
// Everything else builds argv arrays and hands them here, so unit tests swap in a fake and nothing
// else in the codebase calls execFile. What a tool's failure means is for its caller to read from
// ProcessError's exit code and stderr (the Linux datapath: datapath/linux/tools.ts).

import { execFile } from "node:child_process";

import { UpstreamError } from "./errors.js";

export interface RunOptions {
  /** Text written to the command's stdin (ip/tc -batch -, nft -f -). */
  stdin?: string;
  /** Named network namespace: the command runs as `ip netns exec NAME argv…`. */
  netns?: string;
  signal?: AbortSignal;
}

export interface Executor {
  /** Runs argv (no shell) and returns its stdout; throws ProcessError when it exits non-zero or cannot start. */
  run(argv: string[], options?: RunOptions): Promise<string>;
}

/** The full argv actually spawned for a call (ip netns exec prefix included). */
export function spawnedArgv(argv: string[], netns?: string): string[] {
  return netns === undefined ? argv : ["ip", "netns", "exec", netns, ...argv];
}

/** A command failed: the argv, its exit code (null when it could not start or was killed) and stderr. */
export class ProcessError extends UpstreamError {
  override name = "ProcessError";
  constructor(
    readonly argv: string[],
    readonly exitCode: number | null,
    readonly stderr: string,
    options?: { cause?: unknown },
  ) {
    super(
      `Cannot run "${argv.join(" ")}": ${exitCode === null ? "did not exit normally" : `exit ${exitCode}`}${
        stderr.trim() === "" ? "" : `: ${stderr.trim().split("\n").join("; ")}`
      }`,
      options,
    );
  }
}

export interface RealExecutorOptions {
  /** Kill a command that runs longer than this; default 30 000 ms. */
  timeoutMs?: number;
}

/** Spawns commands with execFile (no shell). */
export class RealExecutor implements Executor {
  private readonly timeoutMs: number;

  constructor(options: RealExecutorOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  run(argv: string[], options: RunOptions = {}): Promise<string> {
    const full = spawnedArgv(argv, options.netns);
    const [file, ...args] = full;
    if (file === undefined) return Promise.reject(new ProcessError(full, null, "empty argv"));
    return new Promise((resolve, reject) => {
      const child = execFile(
        file,
        args,
        { encoding: "utf8", maxBuffer: 256 * 1024 * 1024, timeout: this.timeoutMs, signal: options.signal },
        (error, stdout, stderr) => {
          if (error === null) {
            resolve(stdout);
            return;
          }
          const code = typeof error.code === "number" ? error.code : null;
          const detail = stderr !== "" ? stderr : error.message;
          reject(new ProcessError(full, code, detail, { cause: error }));
        },
      );
      // A tool that exits before reading all of stdin makes the write fail with EPIPE; its exit status tells the story.
      child.stdin?.on("error", () => undefined);
      child.stdin?.end(options.stdin ?? "");
    });
  }
}
