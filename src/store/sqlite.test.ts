import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { UpstreamError } from "../lib/errors.js";
import { waitFor } from "../lib/wait.js";
import { runStoreConformance } from "./testing/conformance.js";
import { SqliteStore } from "./sqlite.js";
import { recordEvents } from "./testing/events.js";
import { CompactedError, type Store } from "./types.js";

const dir = mkdtempSync(join(tmpdir(), "netplugin-sqlite-test-"));
after(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
const newFile = () => join(dir, `store-${++files}.db`);

runStoreConformance("sqlite", {
  open: async () => new SqliteStore({ file: newFile() }),
  compact: (store, revision) => (store as SqliteStore).compact(revision),
  revokeLease: (store, leaseId) => (store as SqliteStore).revokeLease(leaseId),
});

describe("sqlite: persistence", () => {
  test("creates the file's directory 0700, and the file and its journals 0600", async () => {
    const file = join(dir, "nested", "deeper", "state.db");
    const store = new SqliteStore({ file });
    await store.put("/k", "v");
    assert.ok(existsSync(file));
    assert.equal(statSync(join(dir, "nested")).mode & 0o777, 0o700);
    for (const f of [file, `${file}-wal`, `${file}-shm`]) assert.equal(statSync(f).mode & 0o777, 0o600, f);
    await store.close();
  });

  test("reopening keeps keys, revisions and history", async () => {
    const file = newFile();
    const first = new SqliteStore({ file });
    const created = await first.put("/a", "1");
    const last = await first.put("/b", "2");
    await first.close();

    const second = new SqliteStore({ file });
    try {
      assert.deepEqual(await second.get("/a"), {
        key: "/a", value: "1", createRevision: created, modRevision: created, lease: "",
      });
      assert.equal((await second.list("/")).revision, last);
      assert.equal(await second.put("/c", "3"), last + 1, "revisions continue after a reopen");
      const log = recordEvents(second, "/", { fromRevision: created });
      try {
        const events = await log.waitForEvents(3);
        assert.deepEqual(events.map((e) => e.revision), [created, last, last + 1]);
      } finally {
        log.watcher.close();
      }
    } finally {
      await second.close();
    }
  });

  test("leases survive a reopen only until they expire", async () => {
    const file = newFile();
    const first = new SqliteStore({ file });
    const lease = await first.grantLease(1);
    await first.put("/leased", "v", { lease: lease.id });
    await first.close();
    const second = new SqliteStore({ file });
    try {
      await waitFor(async () => (await second.get("/leased")) === undefined, { timeoutMs: 3000, what: () => "the leased key did not expire" });
    } finally {
      await second.close();
    }
  });
});

describe("sqlite: bounded history", () => {
  test("only the last eventRetention revisions can be watched", async () => {
    const store = new SqliteStore({ file: newFile(), eventRetention: 3 });
    try {
      const revisions: number[] = [];
      for (let i = 0; i < 6; i++) revisions.push(await store.put("/k", String(i)));
      const oldest = revisions[3] as number;
      const compacted = recordEvents(store, "/", { fromRevision: oldest - 1 });
      const err = await compacted.waitForError();
      assert.ok(err instanceof CompactedError);
      assert.equal(err.compactRevision, oldest);
      const kept = recordEvents(store, "/", { fromRevision: oldest });
      assert.deepEqual((await kept.waitForEvents(3)).map((e) => e.value), ["3", "4", "5"]);
      kept.watcher.close();
    } finally {
      await store.close();
    }
  });

  test("compact refuses a future revision", async () => {
    const store = new SqliteStore({ file: newFile() });
    try {
      const revision = await store.put("/k", "v");
      await assert.rejects(store.compact(revision + 1), /is at revision/);
    } finally {
      await store.close();
    }
  });
});

describe("sqlite: failures", () => {
  test("a closed store refuses calls with UpstreamError and fails new watches", async () => {
    const store: Store = new SqliteStore({ file: newFile() });
    await store.close();
    await assert.rejects(store.get("/k"), UpstreamError);
    await assert.rejects(store.put("/k", "v"), /is closed/);
    const log = recordEvents(store, "/");
    assert.ok((await log.waitForError()) instanceof UpstreamError);
    await store.close();
  });

  test("an unopenable file is an UpstreamError naming it", () => {
    // The "directory" is a regular file, so neither mkdir nor open can succeed.
    const notADir = newFile();
    writeFileSync(notADir, "");
    const file = join(notADir, "x.db");
    assert.throws(() => new SqliteStore({ file }), (err: Error) => {
      assert.ok(err instanceof UpstreamError);
      assert.ok(err.message.startsWith(`Cannot open SQLite store "${file}": `), err.message);
      assert.ok(err.cause instanceof Error);
      return true;
    });
  });

  test("a watch callback that writes sees its own write afterwards, in order", async () => {
    const store = new SqliteStore({ file: newFile() });
    try {
      const seen: string[] = [];
      const watcher = store.watch("/w/", (event) => {
        seen.push(event.key);
        if (event.key === "/w/1") void store.put("/w/2", "from callback");
      }, assert.fail);
      await store.put("/w/1", "x");
      await waitFor(() => seen.length === 2, { what: () => `${seen.length} of 2 events` });
      assert.deepEqual(seen, ["/w/1", "/w/2"]);
      await sleep(50);
      watcher.close();
    } finally {
      await store.close();
    }
  });
});
