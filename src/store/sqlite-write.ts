// One write to the embedded store: the changes of a put, delete, transaction or lease
// revocation, applied inside a single SQLite transaction at a single new revision.
//
// The revision is taken lazily, on the first real change, so a write that changes nothing
// (deleting an absent key) leaves the store revision alone, as etcd does.

import { NotFoundError } from "../lib/errors.js";
import { prefixEnd } from "./key-range.js";
import type { Statements } from "./sqlite-schema.js";
import type { Op, WatchEvent } from "./types.js";

export class WriteBatch {
  readonly events: WatchEvent[] = [];
  readonly #stmts: Statements;
  readonly #baseRevision: number;
  readonly #now: number;

  constructor(stmts: Statements, baseRevision: number, now: number) {
    this.#stmts = stmts;
    this.#baseRevision = baseRevision;
    this.#now = now;
  }

  /** The store revision once this batch commits. */
  get revision(): number {
    return this.events.length > 0 ? this.#baseRevision + 1 : this.#baseRevision;
  }

  put(key: string, value: string, lease: string | undefined): void {
    const leaseId = this.#liveLease(key, lease);
    const revision = this.#baseRevision + 1;
    const existing = this.#stmts.getKey.get(key);
    this.#stmts.upsertKey.run(key, value, existing?.create_revision ?? revision, revision, leaseId);
    this.#record(key, "put", value);
  }

  /** Returns true when the key existed. */
  delete(key: string): boolean {
    const deleted = this.#stmts.deleteKey.run(key).changes > 0;
    if (deleted) this.#record(key, "delete", "");
    return deleted;
  }

  deletePrefix(prefix: string): number {
    const end = prefixEnd(prefix);
    const rows = end === undefined ? this.#stmts.keysFrom.all(prefix) : this.#stmts.keysInRange.all(prefix, end);
    for (const { key } of rows) this.delete(key);
    return rows.length;
  }

  /** Deletes the keys attached to a lease and the lease itself. */
  revokeLease(leaseId: number): void {
    for (const { key } of this.#stmts.keysOfLease.all(leaseId)) this.delete(key);
    this.#stmts.deleteLease.run(leaseId);
  }

  apply(ops: readonly Op[]): void {
    for (const op of ops) {
      if (op.type === "put") this.put(op.key, op.value, op.lease);
      else if (op.type === "delete") this.delete(op.key);
      else this.deletePrefix(op.prefix);
    }
  }

  #liveLease(key: string, lease: string | undefined): number {
    if (lease === undefined || lease === "") return 0;
    const id = Number(lease);
    const row = Number.isSafeInteger(id) ? this.#stmts.getLease.get(id) : undefined;
    if (row === undefined || row.expiry <= this.#now) {
      throw new NotFoundError(`Cannot put "${key}": lease "${lease}" not found`);
    }
    return id;
  }

  #record(key: string, type: "put" | "delete", value: string): void {
    const revision = this.#baseRevision + 1;
    this.#stmts.insertEvent.run(revision, this.events.length, key, type, value);
    this.events.push({ type, key, value, revision });
  }
}
