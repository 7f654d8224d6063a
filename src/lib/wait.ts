// Polling until something holds, for the cluster tool (src/cluster), tests and benchmarks: they wait for
// processes they started to answer and for a change to reach every simulated host, neither of which
// tells them when it is done.

import { setTimeout as sleep } from "node:timers/promises";

import { errorMessage } from "./errors.js";

/** Thrown by a probe to end the wait at once (what it waits for has exited) instead of being tried again. */
export class StopWaiting extends Error {
  override name = "StopWaiting";
}

export interface WaitOptions {
  /**
   * What is awaited, for the timeout's message: "Timed out after 5000 ms waiting for <what>". Called only
   * then, so it can describe the state at that moment (logs, counts).
   */
  what: () => string;
  /** Give up after this long; default 5000 ms. */
  timeoutMs?: number;
  /** Pause between probes; default 100 ms. */
  intervalMs?: number;
}

/**
 * Calls probe until it returns something other than undefined or false, and returns that. A probe that
 * throws has not succeeded yet: it is tried again, and if it was the last try its error ends the timeout's
 * message and is its cause. A StopWaiting ends the wait at once.
 */
export async function waitFor<T>(probe: () => T | undefined | false | Promise<T | undefined | false>, options: WaitOptions): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 5_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let failure: { error: unknown } | undefined;
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      if (error instanceof StopWaiting) throw error;
      failure = { error };
    }
    if (Date.now() > deadline) {
      const message = `Timed out after ${timeoutMs} ms waiting for ${options.what()}`;
      throw failure === undefined ? new Error(message) : new Error(`${message}: ${errorMessage(failure.error)}`, { cause: failure.error });
    }
    await sleep(options.intervalMs ?? 100);
  }
}
