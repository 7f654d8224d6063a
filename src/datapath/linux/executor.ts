// The one seam that spawns kernel tools (ip, tc, nft, sysctl, nsenter). Everything
// else in the datapath builds argv arrays and hands them here, so unit tests swap
// in FakeExecutor and nothing else in the codebase calls execFile.

import { execFile } from "node:child_process";

import { UpstreamError } from "../../lib/errors.js";

export interface RunOptions {
  /** Text written to the tool's stdin (ip/tc -batch -, nft -f -). */
  stdin?: string;
  /** Named network namespace: the command runs as `ip netns exec NAME argv…`. */
  netns?: string;
  signal?: AbortSignal;
}

export interface Executor {
  /** Runs argv (no shell) and returns its stdout; throws KernelError when it exits non-zero or cannot start. */
  run(argv: string[], options?: RunOptions): Promise<string>;
}

/** The full argv actually spawned for a call (ip netns exec prefix included). */
export function spawnedArgv(argv: string[], netns?: string): string[] {
  return netns === undefined ? argv : ["ip", "netns", "exec", netns, ...argv];
}

/**
 * A command for the agent's own namespace. In production the agent runs inside its host's namespace and
 * commands run as they are; a test that simulates several hosts from one process names each host's
 * namespace: ip / tc / bridge then get `-n NAME`, anything else runs under `ip netns exec NAME`.
 * (`ip netns add/del` never goes through here: namespace names are a file system matter.)
 */
export function hostCommand(argv: string[], hostNamespace?: string): { argv: string[]; netns?: string } {
  if (hostNamespace === undefined) return { argv };
  const [tool, ...rest] = argv;
  if (tool === "ip" || tool === "tc" || tool === "bridge") return { argv: [tool, "-n", hostNamespace, ...rest] };
  return { argv, netns: hostNamespace };
}

const NOT_FOUND =
  /No such file or directory|Cannot find device|does not exist|No such device|No such process|Address not found|Cannot delete qdisc with handle of zero|Cannot find specified qdisc/i;
const EXISTS = /File exists|already exists|Address already assigned/i;

/** A kernel tool failed: the argv, its exit code (null when it could not start or was killed) and stderr. */
export class KernelError extends UpstreamError {
  override name = "KernelError";
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

  /** The object the command addressed does not exist (device, address, route, qdisc, namespace, nft table). */
  isNotFound(): boolean {
    return NOT_FOUND.test(this.stderr);
  }

  /** The object the command would create exists already. */
  isExists(): boolean {
    return EXISTS.test(this.stderr);
  }

  /**
   * Line numbers (1-based) that `ip -batch`/`tc -batch` reported as failed ("Command failed -:N").
   * Empty when the tool did not say.
   */
  failedBatchLines(): number[] {
    return [...this.stderr.matchAll(/Command failed -:(\d+)/g)].map((m) => Number(m[1]));
  }
}

export interface RealExecutorOptions {
  /** Kill a command that runs longer than this; default 30 000 ms. */
  timeoutMs?: number;
}

/** Spawns the tools with execFile (no shell). */
export class RealExecutor implements Executor {
  private readonly timeoutMs: number;

  constructor(options: RealExecutorOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  run(argv: string[], options: RunOptions = {}): Promise<string> {
    const full = spawnedArgv(argv, options.netns);
    const [file, ...args] = full;
    if (file === undefined) return Promise.reject(new KernelError(full, null, "empty argv"));
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
          reject(new KernelError(full, code, detail, { cause: error }));
        },
      );
      // A tool that exits before reading all of stdin makes the write fail with EPIPE; its exit status tells the story.
      child.stdin?.on("error", () => undefined);
      child.stdin?.end(options.stdin ?? "");
    });
  }
}
