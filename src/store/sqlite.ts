// The embedded store: the Store contract on one SQLite file, for a single netmaster.
//
// better-sqlite3 is synchronous, so every method runs to completion without yielding:
// a write is one IMMEDIATE transaction that bumps the revision once and appends its events
// to the log, and publishes those events to in-process watchers right after commit.
// Watch, lease keep-alive and lease expiry are therefore in-process too: the file is meant
// to be used by one process at a time (use etcd for several netmaster replicas).

import Database from "better-sqlite3";
import { UpstreamError, ValidationError, errorMessage } from "../lib/errors.js";
import { touchPrivateFile } from "../lib/private-files.js";
import { assertKey, assertTxnKeys, prefixEnd } from "./key-range.js";
import { LeaseKeeper } from "./sqlite-leases.js";
import { createSchema, prepareStatements, type KvRow, type Statements } from "./sqlite-schema.js";
import { WriteBatch } from "./sqlite-write.js";
import {
  CompactedError,
  type Compare,
  type KeyValue,
  type Lease,
  type ListResult,
  type Op,
  type Store,
  type TxnResult,
  type WatchEvent,
  type WatchOptions,
  type Watcher,
} from "./types.js";
import { WatchHub } from "./watch-hub.js";

export interface SqliteStoreOptions {
  /** Path of the database file; its directory is created if missing. */
  file: string;
  /** Revisions of history kept for watch-from-revision; older ones raise CompactedError. Default 10 000. */
  eventRetention?: number;
  /** How often expired leases are looked for. Default 200 ms. */
  leaseSweepIntervalMs?: number;
  /** Failures of background lease work (refresh, expiry). Default: a process warning. */
  onBackgroundError?: (err: Error) => void;
}

export const DEFAULT_EVENT_RETENTION = 10_000;

export class SqliteStore implements Store {
  readonly file: string;
  readonly #db: Database.Database;
  readonly #stmts: Statements;
  readonly #retention: number;
  readonly #hub = new WatchHub();
  readonly #leases: LeaseKeeper;
  #closed = false;

  constructor(options: SqliteStoreOptions) {
    this.file = options.file;
    this.#retention = options.eventRetention ?? DEFAULT_EVENT_RETENTION;
    if (!Number.isSafeInteger(this.#retention) || this.#retention < 1) {
      throw new ValidationError(`Invalid event retention ${this.#retention}: expected a positive integer`);
    }
    let db: Database.Database | undefined;
    try {
      // Root's alone: the store holds the whole cluster's state and its credentials.
      touchPrivateFile(this.file);
      db = new Database(this.file);
      db.pragma("journal_mode = WAL");
      // FULL: a committed allocation must survive a power cut, not only a crash of this process.
      db.pragma("synchronous = FULL");
      createSchema(db);
      this.#stmts = prepareStatements(db);
    } catch (err) {
      db?.close();
      throw new UpstreamError(`Cannot open SQLite store "${this.file}": ${errorMessage(err)}`, { cause: err });
    }
    this.#db = db;
    const onError =
      options.onBackgroundError ?? ((err: Error) => process.emitWarning(err.message, "SqliteStoreWarning"));
    this.#leases = new LeaseKeeper(
      {
        refresh: (leaseId, ttlSeconds) => this.#refreshLease(leaseId, ttlSeconds),
        expireDue: () => this.#expireDueLeases(),
      },
      { sweepIntervalMs: options.leaseSweepIntervalMs ?? 200, onError },
    );
  }

  async get(key: string): Promise<KeyValue | undefined> {
    assertKey(key, "get key");
    return this.#read(`get "${key}"`, () => {
      const row = this.#stmts.getKey.get(key);
      return row === undefined ? undefined : toKeyValue(row);
    });
  }

  async list(prefix: string): Promise<ListResult> {
    return this.#read(`list "${prefix}"`, () =>
      this.#db.transaction(() => {
        const end = prefixEnd(prefix);
        const rows = end === undefined ? this.#stmts.listFrom.all(prefix) : this.#stmts.listRange.all(prefix, end);
        return { items: rows.map(toKeyValue), revision: this.#meta("revision") };
      })(),
    );
  }

  async put(key: string, value: string, options?: { lease?: string }): Promise<number> {
    assertKey(key, "put key");
    return this.#write(`put "${key}"`, (batch) => batch.put(key, value, options?.lease)).revision;
  }

  async delete(key: string): Promise<boolean> {
    assertKey(key, "delete key");
    return this.#write(`delete "${key}"`, (batch) => batch.delete(key)).result;
  }

  async txn(compares: Compare[], success: Op[], failure: Op[] = []): Promise<TxnResult> {
    assertTxnKeys(compares, success);
    assertTxnKeys([], failure);
    const { result, revision } = this.#write("run transaction", (batch) => {
      const succeeded = compares.every((compare) => this.#holds(compare));
      batch.apply(succeeded ? success : failure);
      return succeeded;
    });
    return { succeeded: result, revision };
  }

  watch(
    prefix: string,
    onEvent: (event: WatchEvent) => void,
    onError: (err: Error) => void,
    options: WatchOptions = {},
  ): Watcher {
    if (this.#closed) {
      return WatchHub.failed(new UpstreamError(`Cannot watch "${prefix}": SQLite store "${this.file}" is closed`), onError);
    }
    try {
      // Reading the history and subscribing happen in the same tick: no write can slip between.
      const from = options.fromRevision;
      const compactRevision = this.#meta("compact_revision");
      if (from !== undefined && from < compactRevision) {
        return WatchHub.failed(new CompactedError(from, compactRevision), onError);
      }
      const backlog = from === undefined ? [] : this.#history(prefix, from);
      return this.#hub.subscribe({
        prefix,
        fromRevision: from ?? this.#meta("revision") + 1,
        backlog,
        onEvent,
        onError,
        ...(options.signal ? { signal: options.signal } : {}),
      });
    } catch (err) {
      return WatchHub.failed(this.#wrapError(`watch "${prefix}"`, err), onError);
    }
  }

  async grantLease(ttlSeconds: number): Promise<Lease> {
    if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds < 1) {
      throw new ValidationError(`Cannot grant lease: TTL ${ttlSeconds} is not a whole number of seconds >= 1`);
    }
    const leaseId = this.#read("grant lease", () =>
      Number(this.#stmts.insertLease.run(ttlSeconds, Date.now() + ttlSeconds * 1000).lastInsertRowid),
    );
    return {
      id: String(leaseId),
      ttlSeconds,
      keepAlive: (onLost) => {
        if (!this.#closed) this.#leases.keepAlive(leaseId, ttlSeconds, onLost);
      },
      revoke: async () => {
        // The holder gives the lease up: its keep-alive stops without reporting a loss.
        this.#leases.forget(leaseId);
        this.#write(`revoke lease "${leaseId}"`, (batch) => batch.revokeLease(leaseId));
      },
    };
  }

  /**
   * Revokes a lease by id, deleting its keys (one revision), as an operator would: a holder
   * keeping it alive sees it lost. Idempotent.
   */
  async revokeLease(leaseId: string): Promise<void> {
    const id = Number(leaseId);
    if (!Number.isSafeInteger(id)) return;
    this.#write(`revoke lease "${leaseId}"`, (batch) => batch.revokeLease(id));
    this.#leases.revoked(id);
  }

  /** Drops the history before revision: watching from an older revision then raises CompactedError (etcd's compact). */
  async compact(revision: number): Promise<void> {
    this.#read(`compact to revision ${revision}`, () =>
      this.#db.transaction(() => {
        const current = this.#meta("revision");
        if (revision > current) {
          throw new ValidationError(`Cannot compact to revision ${revision}: the store is at revision ${current}`);
        }
        this.#compactTo(revision);
      }).immediate(),
    );
  }

  /** Stops lease timers and watchers and closes the file. Leases are not revoked: they expire. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#leases.stop();
    this.#hub.closeAll();
    this.#db.close();
  }

  #holds(compare: Compare): boolean {
    const row = this.#stmts.getKey.get(compare.key);
    switch (compare.target) {
      case "modRevision":
        return (row?.mod_revision ?? 0) === compare.equals;
      case "value":
        // As in etcd, a value comparison on an absent key is false whatever the value.
        return row !== undefined && row.value === compare.equals;
    }
  }

  #history(prefix: string, fromRevision: number): WatchEvent[] {
    const end = prefixEnd(prefix);
    const rows =
      end === undefined
        ? this.#stmts.eventsFrom.all(fromRevision, prefix)
        : this.#stmts.eventsInRange.all(fromRevision, prefix, end);
    return rows.map((row) => ({ type: row.type, key: row.key, value: row.value, revision: row.revision }));
  }

  #meta(name: "revision" | "compact_revision"): number {
    return (this.#stmts.getMeta.get(name) as { value: number }).value;
  }

  #compactTo(revision: number): void {
    if (revision <= this.#meta("compact_revision")) return;
    this.#stmts.pruneEvents.run(revision);
    this.#stmts.setMeta.run(revision, "compact_revision");
  }

  #refreshLease(leaseId: number, ttlSeconds: number): boolean {
    if (this.#closed) return true;
    const now = Date.now();
    return this.#stmts.refreshLease.run(now + ttlSeconds * 1000, leaseId, now).changes > 0;
  }

  #expireDueLeases(): number[] {
    if (this.#closed) return [];
    const due = this.#stmts.expiredLeases.all(Date.now()).map((row) => row.id);
    // One write per lease, like etcd's lessor: each expiry is its own revision.
    for (const leaseId of due) this.#write(`expire lease "${leaseId}"`, (batch) => batch.revokeLease(leaseId));
    return due;
  }

  #write<T>(action: string, apply: (batch: WriteBatch) => T): { result: T; revision: number } {
    this.#assertOpen(action);
    let batch: WriteBatch | undefined;
    const run = this.#db.transaction(() => {
      batch = new WriteBatch(this.#stmts, this.#meta("revision"), Date.now());
      const result = apply(batch);
      if (batch.events.length > 0) {
        this.#stmts.setMeta.run(batch.revision, "revision");
        this.#compactTo(batch.revision - this.#retention + 1);
      }
      return result;
    });
    let result: T;
    try {
      // IMMEDIATE takes the write lock up front: no lock upgrade that could fail half-way.
      result = run.immediate();
    } catch (err) {
      throw this.#wrapError(action, err);
    }
    const committed = batch as WriteBatch;
    this.#hub.publish(committed.events);
    return { result, revision: committed.revision };
  }

  #read<T>(action: string, read: () => T): T {
    this.#assertOpen(action);
    try {
      return read();
    } catch (err) {
      throw this.#wrapError(action, err);
    }
  }

  #assertOpen(action: string): void {
    if (this.#closed) throw new UpstreamError(`Cannot ${action}: SQLite store "${this.file}" is closed`);
  }

  /** SQLite failures (busy, disk full, corrupt file) become UpstreamError; our own errors pass through. */
  #wrapError(action: string, err: unknown): Error {
    if (err instanceof Database.SqliteError) {
      return new UpstreamError(`Cannot ${action} in SQLite store "${this.file}": ${err.message}`, { cause: err });
    }
    return err instanceof Error ? err : new Error(String(err));
  }
}

function toKeyValue(row: KvRow): KeyValue {
  return {
    key: row.key,
    value: row.value,
    createRevision: row.create_revision,
    modRevision: row.mod_revision,
    lease: row.lease === 0 ? "" : String(row.lease),
  };
}
