// The one seam that spawns processes to completion: the agent's tools (ip, tc, nft, sysctl, nsenter, the
// BGP daemons' clients) through an Executor, and the commands of the cluster tool, tests and benchmarks
// through run() and must(). Nothing else calls execFile, so unit tests swap in a fake Executor and every
// command gets the same timeout, output limit and error. What a tool's failure means is for its caller to
// read from ProcessError's exit code and stderr (the Linux datapath: datapath/linux/tools.ts).

import { execFile } from "node:child_process";
import { appendFileSync } from "node:fs";

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

/**
 * NETPLUGIN_TRACE_EXEC=FILE: every command started is appended to FILE as one JSON line ({ pid, ms, argv }), so a
 * benchmark can count what one operation spawns (bench/cni-procs.ts). Read once: an agent started with it traces all.
 */
const TRACE_FILE = process.env["NETPLUGIN_TRACE_EXEC"];

export function trace(argv: string[]): void {
  if (TRACE_FILE !== undefined && TRACE_FILE !== "") {
    appendFileSync(TRACE_FILE, `${JSON.stringify({ pid: process.pid, ms: Date.now(), argv })}\n`);
  }
}

/** The full argv actually spawned for a call (ip netns exec prefix included). */
export function spawnedArgv(argv: string[], netns?: string): string[] {
  return netns === undefined ? argv : ["ip", "netns", "exec", netns, ...argv];
}

/**
 * A command failed: the argv, its exit code (null when it could not start or was killed), stderr, and stdout
 * (for tools whose non-zero status is an answer: ovs-ofctl diff-flows exits 2 when it found differences).
 */
export class ProcessError extends UpstreamError {
  override name = "ProcessError";
  constructor(
    readonly argv: string[],
    readonly exitCode: number | null,
    readonly stderr: string,
    readonly stdout = "",
  ) {
    super(
      `Cannot run "${argv.join(" ")}": ${exitCode === null ? "did not exit normally" : `exit ${exitCode}`}${
        stderr.trim() === "" ? "" : `: ${stderr.trim().split("\n").join("; ")}`
      }`,
    );
  }
}

/** How a command ended: its exit code (null when it could not start or was killed), the signal that killed it, its output. */
export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CommandOptions {
  /** Written to the command's stdin, which is then closed; default nothing. */
  stdin?: string | Uint8Array;
  /** Named network namespace: the command runs as `ip netns exec NAME argv…`. */
  netns?: string;
  /** The command's whole environment; default this process's. */
  env?: NodeJS.ProcessEnv;
  /** Kill a command that runs longer than this; default 60 000 ms. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * Runs argv (no shell) to its end and never throws: a command that could not start has code null and the
 * reason in stderr. For callers that read the exit code themselves (probes, the CNI protocol's statuses).
 */
export function run(argv: string[], options: CommandOptions = {}): Promise<RunResult> {
  const [file, ...args] = spawnedArgv(argv, options.netns);
  if (file === undefined) return Promise.resolve({ code: null, signal: null, stdout: "", stderr: "empty argv" });
  trace([file, ...args]);
  return new Promise((resolve) => {
    const child = execFile(
      file,
      args,
      {
        encoding: "utf8",
        maxBuffer: 256 * 1024 * 1024,
        timeout: options.timeoutMs ?? 60_000,
        // A command past its time is hung: SIGTERM may be ignored, and the promise would wait for it.
        killSignal: "SIGKILL",
        env: options.env,
        signal: options.signal,
      },
      (error, stdout, stderr) => {
        if (error === null) {
          resolve({ code: 0, signal: null, stdout, stderr });
          return;
        }
        // A string code is Node's own (ENOENT, ABORT_ERR, output too large): the command's stderr cannot say why.
        const why = typeof error.code === "string" ? `${stderr}${error.message}` : stderr;
        resolve({ code: typeof error.code === "number" ? error.code : null, signal: error.signal ?? null, stdout, stderr: why });
      },
    );
    // A tool that exits before reading all of stdin makes the write fail with EPIPE; its exit status tells the story.
    child.stdin?.on("error", () => undefined);
    child.stdin?.end(options.stdin ?? "");
  });
}

/** Runs argv like run() and returns its stdout; throws ProcessError unless it exits 0. */
export async function must(argv: string[], options: CommandOptions = {}): Promise<string> {
  const r = await run(argv, options);
  if (r.code === 0) return r.stdout;
  // Some tools report failures on stdout (iperf3 -J); a killed one may have said nothing.
  const detail = r.stderr !== "" ? r.stderr : r.stdout !== "" ? r.stdout : r.signal !== null ? `killed by ${r.signal}` : "";
  throw new ProcessError(spawnedArgv(argv, options.netns), r.code, detail, r.stdout);
}

export interface RealExecutorOptions {
  /** Kill a command that runs longer than this; default 30 000 ms. */
  timeoutMs?: number;
}

/** The agent's Executor: must() with its timeout. */
export class RealExecutor implements Executor {
  private readonly timeoutMs: number;

  constructor(options: RealExecutorOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  run(argv: string[], options: RunOptions = {}): Promise<string> {
    return must(argv, { ...options, timeoutMs: this.timeoutMs });
  }
}
