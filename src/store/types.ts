// The state store contract shared by the SQLite and etcd backends.
//
// Revisions are store-wide and strictly increasing (etcd semantics): every
// successful write bumps the revision once, whatever number of keys it touched.
// modRevision 0 in a comparison means "the key does not exist".

export interface KeyValue {
  key: string;
  value: string;
  /** Revision of the write that created the key (since its last deletion). */
  createRevision: number;
  /** Revision of the last write to the key. */
  modRevision: number;
  /** Lease the key is attached to, if any ("" when none). */
  lease: string;
}

export interface ListResult {
  items: KeyValue[];
  /** Store revision at which the list was taken; watch from revision + 1 to follow on. */
  revision: number;
}

export type Compare =
  | { key: string; target: "modRevision"; equals: number }
  | { key: string; target: "value"; equals: string };

export type Op =
  | { type: "put"; key: string; value: string; lease?: string }
  | { type: "delete"; key: string }
  | { type: "deletePrefix"; prefix: string };

export interface TxnResult {
  succeeded: boolean;
  /** Store revision after the transaction (unchanged when it failed or wrote nothing). */
  revision: number;
}

export interface WatchEvent {
  type: "put" | "delete";
  key: string;
  /** New value for put, "" for delete. */
  value: string;
  /** Revision of the write that caused this event. */
  revision: number;
}

export interface WatchOptions {
  /** Deliver events with revision >= fromRevision. Omitted: only future events. */
  fromRevision?: number;
  signal?: AbortSignal;
}

export interface Watcher {
  close(): void;
}

/** Thrown by watch when fromRevision was compacted away: the caller must re-list. */
export class CompactedError extends Error {
  override name = "CompactedError";
  constructor(
    readonly requestedRevision: number,
    readonly compactRevision: number,
  ) {
    super(`Cannot watch from revision ${requestedRevision}: compacted up to ${compactRevision}`);
  }
}

export interface Lease {
  id: string;
  ttlSeconds: number;
  /** Keeps the lease alive until revoked or the store is closed; onLost fires once if it expires. */
  keepAlive(onLost: () => void): void;
  /** Revokes the lease, deleting its keys. Idempotent. */
  revoke(): Promise<void>;
}

export interface Store {
  get(key: string): Promise<KeyValue | undefined>;
  /** All keys starting with prefix, sorted by key. */
  list(prefix: string): Promise<ListResult>;
  /** Returns the new store revision. */
  put(key: string, value: string, options?: { lease?: string }): Promise<number>;
  /** Returns true when the key existed. */
  delete(key: string): Promise<boolean>;
  /** Applies success ops when every compare holds, else failure ops; atomically. */
  txn(compares: Compare[], success: Op[], failure?: Op[]): Promise<TxnResult>;
  /** Calls onEvent for each change under prefix, in revision order. onError gets CompactedError or a transport failure; the watcher is closed after it. */
  watch(
    prefix: string,
    onEvent: (event: WatchEvent) => void,
    onError: (err: Error) => void,
    options?: WatchOptions,
  ): Watcher;
  grantLease(ttlSeconds: number): Promise<Lease>;
  close(): Promise<void>;
}
