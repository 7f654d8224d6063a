// The one test suite every Store implementation must pass (run by ../sqlite.test.ts and
// ../etcd.test.ts): keys, lists, revisions, transactions and watches here; leases and leader
// election in conformance-leases.ts.
//
// Each test works under its own key prefix, so backends may share one server between tests
// (etcd); revisions are store-wide, so tests must leave nothing running behind them.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { NotFoundError, ValidationError } from "../../lib/errors.js";
import { describeLeaseConformance } from "./conformance-leases.js";
import { withStore, type StoreFixture } from "./store-fixture.js";
import { recordEvents } from "./events.js";
import { CompactedError, type Store } from "../types.js";

export type { StoreFixture } from "./store-fixture.js";

export function runStoreConformance(name: string, fixture: StoreFixture): void {
  const run = (body: (store: Store, p: string) => Promise<void>) => () => withStore(fixture, body);

  describe(`${name}: keys and lists`, () => {
    test("put, get and delete a key", run(async (store, p) => {
      assert.equal(await store.get(`${p}k`), undefined);
      const created = await store.put(`${p}k`, "one");
      assert.deepEqual(await store.get(`${p}k`), {
        key: `${p}k`, value: "one", createRevision: created, modRevision: created, lease: "",
      });
      const updated = await store.put(`${p}k`, "two");
      assert.deepEqual(await store.get(`${p}k`), {
        key: `${p}k`, value: "two", createRevision: created, modRevision: updated, lease: "",
      });
      assert.equal(await store.delete(`${p}k`), true);
      assert.equal(await store.get(`${p}k`), undefined);
      assert.equal(await store.delete(`${p}k`), false);
    }));

    test("values keep unicode and empty strings", run(async (store, p) => {
      await store.put(`${p}é/ключ`, "värde ✓ 🚀");
      await store.put(`${p}empty`, "");
      assert.equal((await store.get(`${p}é/ключ`))?.value, "värde ✓ 🚀");
      assert.equal((await store.get(`${p}empty`))?.value, "");
    }));

    test("an empty key is refused", run(async (store) => {
      await assert.rejects(store.put("", "x"), ValidationError);
      await assert.rejects(store.get(""), ValidationError);
      await assert.rejects(store.delete(""), ValidationError);
    }));

    test("list returns the keys under a prefix, sorted, and nothing beyond its boundary", run(async (store, p) => {
      for (const key of ["a/b/c", "a/bc", "a/b/", "a/a", "a/b/a", "z", "a/b"]) await store.put(`${p}${key}`, key);
      const under = await store.list(`${p}a/b/`);
      assert.deepEqual(under.items.map((kv) => kv.key), [`${p}a/b/`, `${p}a/b/a`, `${p}a/b/c`]);
      const all = await store.list(`${p}a/`);
      assert.deepEqual(all.items.map((kv) => kv.value), ["a/a", "a/b", "a/b/", "a/b/a", "a/b/c", "a/bc"]);
      assert.deepEqual((await store.list(`${p}nothing/`)).items, []);
    }));

    test("list reports the store revision it was taken at", run(async (store, p) => {
      const revision = await store.put(`${p}x`, "1");
      assert.equal((await store.list(`${p}`)).revision, revision);
      assert.equal((await store.list(`${p}none/`)).revision, revision);
    }));

    test("a put with an unknown lease is refused", run(async (store, p) => {
      await assert.rejects(store.put(`${p}k`, "v", { lease: "123456789" }), NotFoundError);
      assert.equal(await store.get(`${p}k`), undefined);
    }));
  });

  describe(`${name}: revisions and transactions`, () => {
    test("every write bumps the revision by exactly one; no-op writes do not", run(async (store, p) => {
      const r1 = await store.put(`${p}a`, "1");
      const r2 = await store.put(`${p}b`, "1");
      assert.equal(r2, r1 + 1);
      assert.equal(await store.delete(`${p}a`), true);
      assert.equal((await store.list(p)).revision, r2 + 1);
      assert.equal(await store.delete(`${p}a`), false);
      assert.equal((await store.list(p)).revision, r2 + 1);
      const multi = await store.txn([], [
        { type: "put", key: `${p}c`, value: "1" },
        { type: "put", key: `${p}d`, value: "1" },
        { type: "delete", key: `${p}b` },
      ]);
      assert.deepEqual(multi, { succeeded: true, revision: r2 + 2 });
      const c = await store.get(`${p}c`);
      const d = await store.get(`${p}d`);
      assert.equal(c?.modRevision, r2 + 2);
      assert.equal(d?.modRevision, r2 + 2);
    }));

    test("txn compares modRevision, with 0 meaning absent", run(async (store, p) => {
      const absent = { key: `${p}k`, target: "modRevision", equals: 0 } as const;
      const first = await store.txn([absent], [{ type: "put", key: `${p}k`, value: "first" }]);
      assert.equal(first.succeeded, true);
      const second = await store.txn(
        [absent],
        [{ type: "put", key: `${p}k`, value: "second" }],
        [{ type: "put", key: `${p}lost`, value: "yes" }],
      );
      assert.equal(second.succeeded, false);
      assert.equal(second.revision, first.revision + 1, "the failure branch wrote once");
      assert.equal((await store.get(`${p}k`))?.value, "first");
      assert.equal((await store.get(`${p}lost`))?.value, "yes");
      const current = { key: `${p}k`, target: "modRevision", equals: first.revision } as const;
      const third = await store.txn([current], [{ type: "put", key: `${p}k`, value: "third" }]);
      assert.equal(third.succeeded, true);
      const stale = await store.txn([current], [{ type: "put", key: `${p}k`, value: "stale" }]);
      assert.deepEqual(stale, { succeeded: false, revision: third.revision }, "a failed txn without ops writes nothing");
      assert.equal((await store.get(`${p}k`))?.value, "third");
    }));

    test("txn compares values; a value never matches an absent key", run(async (store, p) => {
      await store.put(`${p}k`, "v1");
      const put = (value: string) => [{ type: "put", key: `${p}k`, value }] as const;
      assert.equal((await store.txn([{ key: `${p}k`, target: "value", equals: "v1" }], [...put("v2")])).succeeded, true);
      assert.equal((await store.txn([{ key: `${p}k`, target: "value", equals: "v1" }], [...put("v3")])).succeeded, false);
      assert.equal((await store.get(`${p}k`))?.value, "v2");
      const onAbsent = await store.txn([{ key: `${p}none`, target: "value", equals: "" }], [...put("v4")]);
      assert.equal(onAbsent.succeeded, false);
    }));

    test("txn needs every compare to hold", run(async (store, p) => {
      const ra = await store.put(`${p}a`, "1");
      await store.put(`${p}b`, "2");
      const both = [
        { key: `${p}a`, target: "modRevision", equals: ra },
        { key: `${p}b`, target: "value", equals: "wrong" },
      ] as const;
      const res = await store.txn([...both], [{ type: "put", key: `${p}c`, value: "x" }]);
      assert.equal(res.succeeded, false);
      assert.equal(await store.get(`${p}c`), undefined);
    }));

    test("txn refuses to write one key twice", run(async (store, p) => {
      await assert.rejects(
        store.txn([], [
          { type: "put", key: `${p}k`, value: "1" },
          { type: "put", key: `${p}k`, value: "2" },
        ]),
        ValidationError,
      );
      await assert.rejects(
        store.txn([], [
          { type: "deletePrefix", prefix: `${p}` },
          { type: "put", key: `${p}k`, value: "2" },
        ]),
        ValidationError,
      );
    }));

    test("deletePrefix removes exactly the keys under the prefix, in one revision", run(async (store, p) => {
      for (const key of ["x/1", "x/2", "x/", "xy", "x"]) await store.put(`${p}${key}`, "v");
      const before = (await store.list(p)).revision;
      const res = await store.txn([], [{ type: "deletePrefix", prefix: `${p}x/` }]);
      assert.deepEqual(res, { succeeded: true, revision: before + 1 });
      assert.deepEqual((await store.list(p)).items.map((kv) => kv.key), [`${p}x`, `${p}xy`]);
    }));

    test("50 concurrent compare-and-swap increments count to exactly 50", run(async (store, p) => {
      const key = `${p}counter`;
      await store.put(key, "0");
      const increment = async () => {
        for (;;) {
          const current = await store.get(key);
          assert.ok(current);
          const res = await store.txn(
            [{ key, target: "modRevision", equals: current.modRevision }],
            [{ type: "put", key, value: String(Number(current.value) + 1) }],
          );
          if (res.succeeded) return;
        }
      };
      await Promise.all(Array.from({ length: 50 }, increment));
      assert.equal((await store.get(key))?.value, "50");
    }));
  });

  describe(`${name}: watch`, () => {
    test("watch from a revision replays history, then follows live changes, in order", run(async (store, p) => {
      const start = await store.put(`${p}w/a`, "1");
      await store.put(`${p}other`, "ignored");
      await store.put(`${p}w/b`, "2");
      await store.delete(`${p}w/a`);
      const log = recordEvents(store, `${p}w/`, { fromRevision: start });
      try {
        await log.waitForEvents(3);
        const live = await store.txn([], [
          { type: "put", key: `${p}w/c`, value: "3" },
          { type: "delete", key: `${p}w/b` },
        ]);
        await log.waitForEvents(5);
        assert.deepEqual(log.events, [
          { type: "put", key: `${p}w/a`, value: "1", revision: start },
          { type: "put", key: `${p}w/b`, value: "2", revision: start + 2 },
          { type: "delete", key: `${p}w/a`, value: "", revision: start + 3 },
          { type: "put", key: `${p}w/c`, value: "3", revision: live.revision },
          { type: "delete", key: `${p}w/b`, value: "", revision: live.revision },
        ]);
        assert.deepEqual(log.errors, []);
      } finally {
        log.watcher.close();
      }
    }));

    test("watch without a revision sees only later changes, within its prefix", run(async (store, p) => {
      await store.put(`${p}w/before`, "old");
      const log = recordEvents(store, `${p}w/`);
      try {
        // Give the watch time to be established before writing (etcd creates it asynchronously).
        await new Promise((resolve) => setTimeout(resolve, 200));
        await store.put(`${p}wx`, "outside");
        const revision = await store.put(`${p}w/after`, "new");
        await log.waitForEvents(1);
        await new Promise((resolve) => setTimeout(resolve, 100));
        assert.deepEqual(log.events, [{ type: "put", key: `${p}w/after`, value: "new", revision }]);
      } finally {
        log.watcher.close();
      }
    }));

    test("a closed or aborted watch delivers nothing more", run(async (store, p) => {
      const abort = new AbortController();
      const start = await store.put(`${p}w/1`, "1");
      const closed = recordEvents(store, `${p}w/`, { fromRevision: start });
      const aborted = recordEvents(store, `${p}w/`, { fromRevision: start, signal: abort.signal });
      await closed.waitForEvents(1);
      await aborted.waitForEvents(1);
      closed.watcher.close();
      abort.abort();
      await store.put(`${p}w/2`, "2");
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(closed.events.length, 1);
      assert.equal(aborted.events.length, 1);
    }));

    test("watch from a compacted revision reports CompactedError", run(async (store, p) => {
      const old = await store.put(`${p}c`, "1");
      await store.put(`${p}c`, "2");
      const latest = await store.put(`${p}c`, "3");
      await fixture.compact(store, latest);
      const log = recordEvents(store, `${p}`, { fromRevision: old });
      try {
        const err = await log.waitForError();
        assert.ok(err instanceof CompactedError, `expected CompactedError, got ${err.name}: ${err.message}`);
        assert.equal(err.requestedRevision, old);
        assert.equal(err.compactRevision, latest);
        assert.deepEqual(log.events, []);
      } finally {
        log.watcher.close();
      }
      const fromLatest = recordEvents(store, `${p}`, { fromRevision: latest });
      try {
        await fromLatest.waitForEvents(1);
        assert.deepEqual(fromLatest.errors, []);
      } finally {
        fromLatest.watcher.close();
      }
    }));
  });

  describeLeaseConformance(name, fixture);
}
