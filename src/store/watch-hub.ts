// In-process fan-out of committed changes to watchers, for the embedded (SQLite) store.
//
// Writes publish their events synchronously right after commit, so a watcher that is
// subscribed in the same tick as its history is read can neither miss nor repeat an event.
// Delivery itself is asynchronous (a microtask per batch): a watcher callback that writes
// to the store must not run inside the writer's SQLite transaction.

import type { WatchEvent, Watcher } from "./types.js";

interface Subscription {
  prefix: string;
  fromRevision: number;
  onEvent: (event: WatchEvent) => void;
  onError: (err: Error) => void;
  queue: WatchEvent[];
  draining: boolean;
  closed: boolean;
  detachSignal?: () => void;
}

export interface SubscribeOptions {
  prefix: string;
  /** Live events below this revision are dropped (they were replayed from the log or predate the watch). */
  fromRevision: number;
  /** Events replayed from the log, delivered before any live event. */
  backlog: WatchEvent[];
  onEvent: (event: WatchEvent) => void;
  onError: (err: Error) => void;
  signal?: AbortSignal;
}

export class WatchHub {
  readonly #subscriptions = new Set<Subscription>();

  subscribe(options: SubscribeOptions): Watcher {
    const sub: Subscription = {
      prefix: options.prefix,
      fromRevision: options.fromRevision,
      onEvent: options.onEvent,
      onError: options.onError,
      queue: [...options.backlog],
      draining: false,
      closed: false,
    };
    const watcher: Watcher = { close: () => this.#close(sub) };
    if (options.signal?.aborted) {
      sub.closed = true;
      return watcher;
    }
    if (options.signal) {
      const signal = options.signal;
      const onAbort = () => this.#close(sub);
      signal.addEventListener("abort", onAbort, { once: true });
      sub.detachSignal = () => signal.removeEventListener("abort", onAbort);
    }
    this.#subscriptions.add(sub);
    this.#scheduleDrain(sub);
    return watcher;
  }

  /** Queues events (already committed, in revision order) for every matching watcher. */
  publish(events: readonly WatchEvent[]): void {
    if (events.length === 0) return;
    for (const sub of this.#subscriptions) {
      let added = false;
      for (const event of events) {
        if (event.revision >= sub.fromRevision && event.key.startsWith(sub.prefix)) {
          sub.queue.push(event);
          added = true;
        }
      }
      if (added) this.#scheduleDrain(sub);
    }
  }

  /** Closes every watcher without an error (the store is closing). */
  closeAll(): void {
    for (const sub of [...this.#subscriptions]) this.#close(sub);
  }

  /** A watcher that reports err once, asynchronously, and delivers nothing. */
  static failed(err: Error, onError: (err: Error) => void): Watcher {
    let closed = false;
    queueMicrotask(() => {
      if (!closed) onError(err);
    });
    return { close: () => (closed = true) };
  }

  #close(sub: Subscription): void {
    sub.closed = true;
    sub.queue.length = 0;
    sub.detachSignal?.();
    this.#subscriptions.delete(sub);
  }

  #scheduleDrain(sub: Subscription): void {
    if (sub.draining || sub.queue.length === 0) return;
    sub.draining = true;
    queueMicrotask(() => this.#drain(sub));
  }

  #drain(sub: Subscription): void {
    // Events may be published by onEvent itself (a write from a callback); they are appended
    // and delivered by this same loop, still in revision order.
    while (!sub.closed && sub.queue.length > 0) {
      const event = sub.queue.shift() as WatchEvent;
      try {
        sub.onEvent(event);
      } catch (err) {
        // A throwing callback is a caller bug: surface it like an EventEmitter listener would,
        // without losing the rest of the stream.
        setImmediate(() => {
          throw err;
        });
      }
    }
    sub.draining = false;
  }
}
