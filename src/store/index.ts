// src/store owns persisted state: the Store contract, its SQLite and etcd backends, and
// leader election on top of it. This file is the folder's public API.

export {
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
export { SqliteStore, DEFAULT_EVENT_RETENTION, type SqliteStoreOptions } from "./sqlite.js";
export { EtcdStore, type EtcdStoreOptions } from "./etcd.js";
export { openStore, parseStoreUrl, DEFAULT_STORE_URL, type StoreLocation } from "./open.js";
export { LeaderElection, type LeaderElectionOptions } from "./leader.js";
