// The SQLite file layout of the embedded store, and the statements that read and write it.
//
// kv      the current value of every key (a WITHOUT ROWID table: the key is the B-tree key,
//         so a prefix list is one range scan)
// events  one row per changed key per revision, the history a watch replays; pruned to a
//         bounded number of revisions (etcd's compaction)
// leases  granted leases and when they expire (ms since the epoch)
// meta    the store revision and the compaction point, persisted so they survive a restart

import type Database from "better-sqlite3";

const SCHEMA_VERSION = 1;

export function createSchema(db: Database.Database): void {
  const version = db.pragma("user_version", { simple: true }) as number;
  if (version > SCHEMA_VERSION) {
    throw new Error(`store schema version ${version} is newer than this program supports (${SCHEMA_VERSION})`);
  }
  db.exec(`
    CREATE TABLE IF NOT EXISTS meta (
      name  TEXT PRIMARY KEY,
      value INTEGER NOT NULL
    ) WITHOUT ROWID;
    INSERT OR IGNORE INTO meta (name, value) VALUES ('revision', 1), ('compact_revision', 0);

    CREATE TABLE IF NOT EXISTS kv (
      key             TEXT PRIMARY KEY,
      value           TEXT NOT NULL,
      create_revision INTEGER NOT NULL,
      mod_revision    INTEGER NOT NULL,
      lease           INTEGER NOT NULL DEFAULT 0
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS kv_by_lease ON kv (lease) WHERE lease != 0;

    CREATE TABLE IF NOT EXISTS events (
      revision INTEGER NOT NULL,
      seq      INTEGER NOT NULL,
      key      TEXT NOT NULL,
      type     TEXT NOT NULL CHECK (type IN ('put', 'delete')),
      value    TEXT NOT NULL,
      PRIMARY KEY (revision, seq)
    ) WITHOUT ROWID;

    CREATE TABLE IF NOT EXISTS leases (
      id     INTEGER PRIMARY KEY AUTOINCREMENT,
      ttl    INTEGER NOT NULL,
      expiry INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS leases_by_expiry ON leases (expiry);
  `);
  db.pragma(`user_version = ${SCHEMA_VERSION}`);
}

export interface KvRow {
  key: string;
  value: string;
  create_revision: number;
  mod_revision: number;
  lease: number;
}

export interface EventRow {
  revision: number;
  key: string;
  type: "put" | "delete";
  value: string;
}

/** Every statement the store runs, prepared once per connection. */
export function prepareStatements(db: Database.Database) {
  return {
    getMeta: db.prepare<[string], { value: number }>("SELECT value FROM meta WHERE name = ?"),
    setMeta: db.prepare<[number, string]>("UPDATE meta SET value = ? WHERE name = ?"),

    getKey: db.prepare<[string], KvRow>("SELECT * FROM kv WHERE key = ?"),
    listRange: db.prepare<[string, string], KvRow>("SELECT * FROM kv WHERE key >= ? AND key < ? ORDER BY key"),
    listFrom: db.prepare<[string], KvRow>("SELECT * FROM kv WHERE key >= ? ORDER BY key"),
    keysInRange: db.prepare<[string, string], { key: string }>(
      "SELECT key FROM kv WHERE key >= ? AND key < ? ORDER BY key",
    ),
    keysFrom: db.prepare<[string], { key: string }>("SELECT key FROM kv WHERE key >= ? ORDER BY key"),
    keysOfLease: db.prepare<[number], { key: string }>("SELECT key FROM kv WHERE lease = ? ORDER BY key"),
    upsertKey: db.prepare<[string, string, number, number, number]>(
      `INSERT INTO kv (key, value, create_revision, mod_revision, lease) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value, mod_revision = excluded.mod_revision,
         lease = excluded.lease`,
    ),
    deleteKey: db.prepare<[string]>("DELETE FROM kv WHERE key = ?"),

    insertEvent: db.prepare<[number, number, string, string, string]>(
      "INSERT INTO events (revision, seq, key, type, value) VALUES (?, ?, ?, ?, ?)",
    ),
    eventsInRange: db.prepare<[number, string, string], EventRow>(
      `SELECT revision, key, type, value FROM events
       WHERE revision >= ? AND key >= ? AND key < ? ORDER BY revision, seq`,
    ),
    eventsFrom: db.prepare<[number, string], EventRow>(
      "SELECT revision, key, type, value FROM events WHERE revision >= ? AND key >= ? ORDER BY revision, seq",
    ),
    pruneEvents: db.prepare<[number]>("DELETE FROM events WHERE revision < ?"),

    insertLease: db.prepare<[number, number]>("INSERT INTO leases (ttl, expiry) VALUES (?, ?)"),
    getLease: db.prepare<[number], { id: number; ttl: number; expiry: number }>("SELECT * FROM leases WHERE id = ?"),
    // An expired lease stays expired even if the sweep has not deleted it yet.
    refreshLease: db.prepare<[number, number, number]>("UPDATE leases SET expiry = ? WHERE id = ? AND expiry > ?"),
    deleteLease: db.prepare<[number]>("DELETE FROM leases WHERE id = ?"),
    expiredLeases: db.prepare<[number], { id: number }>("SELECT id FROM leases WHERE expiry <= ? ORDER BY expiry"),
  };
}

export type Statements = ReturnType<typeof prepareStatements>;
