// Mutations of netmaster state. A mutation is a synchronous function over a
// Tx (a view of the cache plus pending writes); it either throws (nothing is
// written) or its writes are committed in one store transaction guarded by
// the mod revisions of every key it read or wrote. Mutations are queued so
// one replica applies them one at a time; the revision guards protect against
// anything else writing meanwhile (a former leader, a second process), in
// which case the mutation is simply run again on the fresher cache.

import type { Compare, Op, Store } from "../store/types.js";
import { UpstreamError } from "../lib/errors.js";
import type { StateCache } from "./cache.js";

const DELETED = Symbol("deleted");

export class Tx {
  private readonly seen = new Map<string, number>();
  private readonly writes = new Map<string, unknown>();

  constructor(private readonly cache: StateCache) {}

  get<T>(key: string): T | undefined {
    if (this.writes.has(key)) {
      const v = this.writes.get(key);
      return v === DELETED ? undefined : (v as T);
    }
    const entry = this.cache.get(key);
    if (!this.seen.has(key)) this.seen.set(key, entry?.modRevision ?? 0);
    return entry?.value as T | undefined;
  }

  /** Values under prefix, pending writes included, sorted by key. */
  list<T>(prefix: string): [string, T][] {
    const merged = new Map<string, unknown>();
    for (const [key, entry] of this.cache.list(prefix)) merged.set(key, entry.value);
    for (const [key, v] of this.writes) {
      if (!key.startsWith(prefix)) continue;
      if (v === DELETED) merged.delete(key);
      else merged.set(key, v);
    }
    return [...merged.entries()]
      .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .map(([k, v]) => [k, v as T]);
  }

  put(key: string, value: unknown): void {
    this.guard(key);
    this.writes.set(key, value);
  }

  delete(key: string): void {
    this.guard(key);
    this.writes.set(key, DELETED);
  }

  get hasWrites(): boolean {
    return this.writes.size > 0;
  }

  compares(): Compare[] {
    return [...this.seen].map(([key, rev]) => ({ key, target: "modRevision", equals: rev }));
  }

  ops(): Op[] {
    return [...this.writes].map(([key, v]) =>
      v === DELETED ? { type: "delete", key } : { type: "put", key, value: JSON.stringify(v) },
    );
  }

  private guard(key: string): void {
    if (!this.seen.has(key)) this.seen.set(key, this.cache.get(key)?.modRevision ?? 0);
  }
}

const MAX_ATTEMPTS = 5;

export class Mutator {
  private tail: Promise<unknown> = Promise.resolve();

  /** fence, when given, is checked by every commit: a replica that lost leadership cannot write. */
  constructor(
    private readonly store: Store,
    private readonly cache: StateCache,
    private readonly fence?: { compare: Compare; holds: () => boolean },
  ) {}

  /** Runs fn with retries on write conflicts; resolves with fn's result once the cache shows the write. */
  run<R>(fn: (tx: Tx) => R): Promise<R> {
    const next = this.tail.then(() => this.attempt(fn));
    this.tail = next.catch(() => undefined);
    return next;
  }

  private async attempt<R>(fn: (tx: Tx) => R): Promise<R> {
    for (let i = 0; i < MAX_ATTEMPTS; i++) {
      if (this.fence && !this.fence.holds()) {
        throw new UpstreamError("Cannot commit change: this netmaster is no longer the leader");
      }
      const tx = new Tx(this.cache);
      const result = fn(tx);
      if (!tx.hasWrites) return result;
      const compares = tx.compares();
      if (this.fence) compares.push(this.fence.compare);
      const { succeeded, revision } = await this.store.txn(compares, tx.ops());
      await this.cache.waitFor(revision);
      if (succeeded) return result;
    }
    throw new UpstreamError("Cannot commit change: state kept changing underneath (another writer?)");
  }
}
