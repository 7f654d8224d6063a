// What a watch reports, recorded for tests of asynchronous store behaviour.

import { waitFor } from "../../lib/wait.js";
import type { Store, WatchEvent, WatchOptions, Watcher } from "../types.js";

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
      waitFor(() => events.length >= count && events, { timeoutMs, what: () => `${events.length} of ${count} events under "${prefix}"` }),
    waitForError: (timeoutMs) => waitFor(() => errors[0], { timeoutMs, what: () => `no watch error on "${prefix}"` }),
  };
}
