// Running a script's work in a session of its own. A terminal's Ctrl-C goes to
// the whole foreground process group: it would stop netmaster, the agents and
// dockerd (children of the cluster) at the moment the teardown needs them, since
// dockerd removes the containers and networks of our driver only through the
// agent, and retries for half a minute when the agent is gone. So the work runs
// in a child of its own session, and SIGINT or SIGTERM here are passed to that
// child alone, whose teardown then runs with everything still alive.

import { spawn } from "node:child_process";

const WORKER_FLAG = "--own-session-worker";

/** This process is the worker that inOwnSession started. */
export function isSessionWorker(): boolean {
  return process.argv.includes(WORKER_FLAG);
}

export interface SessionOutcome {
  /** The worker's exit code (128 when a signal killed it, 127 when it could not start). */
  code: number;
  /** A SIGINT or SIGTERM reached this process and was passed on. */
  signalled: boolean;
}

/**
 * Runs `script` with node in a new session (the worker, which sees isSessionWorker()), stdout and stderr
 * shared, and waits for it to exit. `label` names it in the line printed when a signal is passed on.
 */
export async function inOwnSession(script: string, options: { label: string; env?: NodeJS.ProcessEnv }): Promise<SessionOutcome> {
  const child = spawn(process.execPath, [script, WORKER_FLAG], { stdio: ["ignore", "inherit", "inherit"], detached: true, env: options.env ?? process.env });
  let signalled = false;
  const forward = (signal: NodeJS.Signals) => {
    signalled = true;
    process.stderr.write(`${options.label}: ${signal}, passed to the worker (PID ${child.pid}), which cleans up\n`);
    child.kill(signal);
  };
  process.on("SIGINT", forward);
  process.on("SIGTERM", forward);
  const code = await new Promise<number>((resolve) => {
    child.once("error", () => resolve(127));
    child.once("exit", (c, s) => resolve(c ?? (s ? 128 : 1)));
  });
  process.off("SIGINT", forward);
  process.off("SIGTERM", forward);
  return { code, signalled };
}
