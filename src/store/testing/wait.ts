// Small test helpers for asynchronous store behaviour: polling and event collection.

import type { Store, WatchEvent, WatchOptions, Watcher } from "../types.js";

/** Polls probe until it returns something other than undefined/false; throws after timeoutMs. */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 5000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(25);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface EventLog {
  events: WatchEvent[];
  errors: Error[];
  watcher: Watcher;
  /** Resolves once at least count events arrived. */
  waitForEvents(count: number, timeoutMs?: number): Promise<WatchEvent[]>;
  /** Resolves with the first error reported to onError. */
  waitForError(timeoutMs?: number): Promise<Error>;
}

/** Watches prefix and records everything it reports. */
export function recordEvents(store: Store, prefix: string, options?: WatchOptions): EventLog {
  const events: WatchEvent[] = [];
  const errors: Error[] = [];
  const watcher = store.watch(
    prefix,
    (event) => events.push(event),
    (err) => errors.push(err),
    options,
  );
  return {
    events,
    errors,
    watcher,
    waitForEvents: (count, timeoutMs) =>
      waitFor(`${count} events under "${prefix}" (have ${events.length})`, () => events.length >= count && events, timeoutMs),
    waitForError: (timeoutMs) => waitFor(`a watch error on "${prefix}"`, () => errors[0], timeoutMs),
  };
}
