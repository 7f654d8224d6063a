// Mutations of netmaster state. A mutation is a synchronous function over a
// Tx (a view of the cache plus pending writes); it either throws (nothing it
// wrote is kept) or its writes are committed in a store transaction guarded by
// the mod revisions of every key it read or wrote. Mutations are queued so
// one replica applies them one at a time; those that queue up while a commit
// is in flight go together in the next one (group commit: one store
// transaction, so one fsync, for a burst such as many containers starting at
// once), each reading what those before it wrote. The revision guards protect
// against anything else writing meanwhile (a former leader, a second process),
// in which case the mutations are simply run again on the fresher cache.

import type { Compare, Op, Store } from "../store/types.js";
import { UpstreamError } from "../lib/errors.js";
import type { StateCache } from "./cache.js";

const DELETED = Symbol("deleted");

/** Writes not committed yet, by key: a value, or DELETED. */
type Writes = Map<string, unknown>;

export class Tx {
  private readonly seen = new Map<string, number>();
  private readonly writes: Writes = new Map();

  /** before: what mutations earlier in the same commit wrote, seen as if committed. */
  constructor(
    private readonly cache: StateCache,
    private readonly before: ReadonlyMap<string, unknown> = new Map(),
  ) {}

  get<T>(key: string): T | undefined {
    if (this.writes.has(key)) {
      const v = this.writes.get(key);
      return v === DELETED ? undefined : (v as T);
    }
    const entry = this.cache.get(key);
    if (!this.seen.has(key)) this.seen.set(key, entry?.modRevision ?? 0);
    if (this.before.has(key)) {
      const v = this.before.get(key);
      return v === DELETED ? undefined : (v as T);
    }
    return entry?.value as T | undefined;
  }

  /** Values under prefix, pending writes included, sorted by key. */
  list<T>(prefix: string): [string, T][] {
    const merged = new Map<string, unknown>();
    for (const [key, entry] of this.cache.list(prefix)) merged.set(key, entry.value);
    for (const layer of [this.before, this.writes]) {
      for (const [key, v] of layer) {
        if (!key.startsWith(prefix)) continue;
        if (v === DELETED) merged.delete(key);
        else merged.set(key, v);
      }
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

  /** Guards of this Tx's reads and writes: the mod revision each key had in the cache when first touched. */
  guards(): ReadonlyMap<string, number> {
    return this.seen;
  }

  /** What this Tx wrote, in the form `before` takes. */
  pending(): ReadonlyMap<string, unknown> {
    return this.writes;
  }

  private guard(key: string): void {
    if (!this.seen.has(key)) this.seen.set(key, this.cache.get(key)?.modRevision ?? 0);
  }
}

function opsOf(writes: ReadonlyMap<string, unknown>): Op[] {
  return [...writes].map(([key, v]) => (v === DELETED ? { type: "delete", key } : { type: "put", key, value: JSON.stringify(v) }));
}

const MAX_ATTEMPTS = 5;
/**
 * At most this many keys written, and as many guarded, by one commit: etcd refuses a transaction of more than
 * 128 operations by default. A single mutation may go past it (as before group commits): it then goes alone.
 */
const MAX_KEYS_PER_COMMIT = 100;

interface Queued {
  fn: (tx: Tx) => unknown;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

type Outcome = { ok: true; value: unknown } | { ok: false; err: unknown };

export class Mutator {
  private readonly queue: Queued[] = [];
  private draining = false;

  /** fence, when given, is checked by every commit: a replica that lost leadership cannot write. */
  constructor(
    private readonly store: Store,
    private readonly cache: StateCache,
    private readonly fence?: { compare: Compare; holds: () => boolean },
  ) {}

  /** Runs fn with retries on write conflicts; resolves with fn's result once the cache shows the write. */
  run<R>(fn: (tx: Tx) => R): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ fn, resolve: resolve as (value: unknown) => void, reject });
      if (!this.draining) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.queue.length > 0) await this.commitNext();
    } finally {
      this.draining = false;
    }
  }

  /** Commits the mutations at the head of the queue that fit in one transaction, and settles each. */
  private async commitNext(): Promise<void> {
    for (let i = 0; i < MAX_ATTEMPTS; i++) {
      if (this.fence && !this.fence.holds()) {
        const err = new UpstreamError("Cannot commit change: this netmaster is no longer the leader");
        for (const q of this.queue.splice(0)) q.reject(err);
        return;
      }
      const writes: Writes = new Map();
      const guards = new Map<string, number>();
      const outcomes: Outcome[] = [];
      for (const q of this.queue) {
        const tx = new Tx(this.cache, writes);
        let outcome: Outcome;
        try {
          outcome = { ok: true, value: q.fn(tx) };
        } catch (err) {
          outcomes.push({ ok: false, err }); // what it wrote is dropped
          continue;
        }
        const keys = new Set([...writes.keys(), ...tx.pending().keys()]).size;
        const guarded = new Set([...guards.keys(), ...tx.guards().keys()]).size;
        if (outcomes.length > 0 && (keys > MAX_KEYS_PER_COMMIT || guarded > MAX_KEYS_PER_COMMIT)) break;
        for (const [key, v] of tx.pending()) writes.set(key, v);
        // A mutation that wrote nothing answered from what it read: there is nothing of it to guard.
        if (tx.pending().size > 0) for (const [key, rev] of tx.guards()) if (!guards.has(key)) guards.set(key, rev);
        outcomes.push(outcome);
      }
      let committed = writes.size === 0;
      if (!committed) {
        const compares: Compare[] = [...guards].map(([key, rev]) => ({ key, target: "modRevision", equals: rev }));
        if (this.fence) compares.push(this.fence.compare);
        let result: { succeeded: boolean; revision: number };
        try {
          result = await this.store.txn(compares, opsOf(writes));
        } catch (err) {
          for (const q of this.queue.splice(0, outcomes.length)) q.reject(err);
          return;
        }
        await this.cache.waitFor(result.revision);
        committed = result.succeeded;
      }
      if (committed) {
        const done = this.queue.splice(0, outcomes.length);
        done.forEach((q, n) => {
          const o = outcomes[n]!;
          if (o.ok) q.resolve(o.value);
          else q.reject(o.err);
        });
        return;
      }
    }
    // As many mutations as a commit holds kept conflicting: the first of them fails, the others try again.
    this.queue.shift()?.reject(new UpstreamError("Cannot commit change: state kept changing underneath (another writer?)"));
  }
}
