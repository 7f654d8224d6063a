// An in-memory copy of everything netmaster keeps under ROOT, kept current by
// one store watch. Reads (REST GETs, inspect, conflict checks) are served from
// here; writes go to the store and come back through the watch, so the watch
// is the only thing that changes the cache and it always reflects one store
// revision. Values are parsed from JSON once, when they arrive.

import type { Store, WatchEvent, Watcher } from "../store/types.js";
import { CompactedError } from "../store/types.js";
import { ROOT } from "../contract/keys.js";

export interface CachedValue {
  value: unknown;
  modRevision: number;
}

export type ChangeListener = (event: WatchEvent, value: unknown) => void;

export class StateCache {
  private readonly entries = new Map<string, CachedValue>();
  /** Every key under each of its ancestor directories ("/a/", "/a/b/" for "/a/b/c"): a list reads one, not every key. */
  private readonly dirs = new Map<string, Set<string>>();
  private revision = 0;
  private watcher: Watcher | undefined;
  private closed = false;
  private waiters: { revision: number; resolve: () => void }[] = [];
  private readonly listeners = new Set<ChangeListener>();
  private readonly reloadListeners = new Set<() => void>();

  private constructor(
    private readonly store: Store,
    private readonly onWatchError: (err: Error) => void,
  ) {}

  /** Loads the whole state and follows it; re-lists by itself when the watch history was compacted. */
  static async open(store: Store, onWatchError: (err: Error) => void = () => {}): Promise<StateCache> {
    const cache = new StateCache(store, onWatchError);
    await cache.load();
    return cache;
  }

  get currentRevision(): number {
    return this.revision;
  }

  get(key: string): CachedValue | undefined {
    return this.entries.get(key);
  }

  /** Entries whose key starts with prefix, sorted by key. */
  list(prefix: string): [string, CachedValue][] {
    const out: [string, CachedValue][] = [];
    const slash = prefix.lastIndexOf("/");
    const keys = slash < 0 ? this.entries.keys() : (this.dirs.get(prefix.slice(0, slash + 1)) ?? []);
    for (const key of keys) if (key.startsWith(prefix)) out.push([key, this.entries.get(key)!]);
    return out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  }

  /** Resolves once the cache reflects at least this store revision. */
  waitFor(revision: number): Promise<void> {
    if (this.revision >= revision || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ revision, resolve }));
  }

  onChange(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Called after the whole state was read afresh (a compacted history or a broken watch): no change events tell what changed. */
  onReload(listener: () => void): () => void {
    this.reloadListeners.add(listener);
    return () => this.reloadListeners.delete(listener);
  }

  close(): void {
    this.closed = true;
    this.watcher?.close();
    for (const w of this.waiters) w.resolve();
    this.waiters = [];
  }

  private async load(): Promise<void> {
    const { items, revision } = await this.store.list(ROOT);
    this.entries.clear();
    this.dirs.clear();
    for (const kv of items) this.set(kv.key, { value: JSON.parse(kv.value), modRevision: kv.modRevision });
    this.advance(revision);
    for (const listener of this.reloadListeners) listener();
    this.watcher = this.store.watch(
      ROOT,
      (event) => this.apply(event),
      (err) => this.recover(err),
      { fromRevision: revision + 1 },
    );
  }

  private set(key: string, value: CachedValue): void {
    if (!this.entries.has(key)) {
      for (let i = key.indexOf("/"); i >= 0; i = key.indexOf("/", i + 1)) {
        const dir = key.slice(0, i + 1);
        let keys = this.dirs.get(dir);
        if (keys === undefined) this.dirs.set(dir, (keys = new Set()));
        keys.add(key);
      }
    }
    this.entries.set(key, value);
  }

  private remove(key: string): void {
    if (!this.entries.delete(key)) return;
    for (let i = key.indexOf("/"); i >= 0; i = key.indexOf("/", i + 1)) {
      const dir = key.slice(0, i + 1);
      const keys = this.dirs.get(dir);
      keys?.delete(key);
      if (keys?.size === 0) this.dirs.delete(dir);
    }
  }

  private apply(event: WatchEvent): void {
    let value: unknown;
    if (event.type === "put") {
      value = JSON.parse(event.value);
      this.set(event.key, { value, modRevision: event.revision });
    } else {
      this.remove(event.key);
    }
    for (const listener of this.listeners) listener(event, value);
    this.advance(event.revision);
  }

  private advance(revision: number): void {
    if (revision > this.revision) this.revision = revision;
    if (this.waiters.length === 0) return;
    const still: typeof this.waiters = [];
    for (const w of this.waiters) (w.revision <= this.revision ? w.resolve() : still.push(w));
    this.waiters = still;
  }

  private recover(err: Error): void {
    if (this.closed) return;
    this.onWatchError(err);
    // A compacted history or a broken stream both end in a fresh list; retry until the store answers.
    const retry = (): void => {
      if (this.closed) return;
      this.load().catch(() => setTimeout(retry, 1000));
    };
    setTimeout(retry, err instanceof CompactedError ? 0 : 500);
  }
}
