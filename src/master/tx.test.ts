// The Mutator against a real SQLite store: mutations that queue up while a commit is in flight go together in
// the next one, each reading what those before it wrote; one that throws leaves nothing and fails alone; a
// conflict runs them again; a commit holds no more keys than an etcd transaction takes.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { ROOT } from "../contract/keys.js";
import { SqliteStore } from "../store/index.js";
import type { Compare, Op, TxnResult } from "../store/types.js";
import { StateCache } from "./cache.js";
import { Mutator, type Tx } from "./tx.js";

const COUNTER = `${ROOT}test/counter`;

/** A store whose transactions are counted, and whose next one can be preceded by a write of someone else. */
class CountingStore extends SqliteStore {
  txns = 0;
  before: (() => Promise<unknown>) | undefined;

  override async txn(compares: Compare[], success: Op[], failure?: Op[]): Promise<TxnResult> {
    this.txns++;
    const before = this.before;
    this.before = undefined;
    await before?.();
    return super.txn(compares, success, failure);
  }
}

const increment = (tx: Tx, own: string): number => {
  const n = (tx.get<number>(COUNTER) ?? 0) + 1;
  tx.put(COUNTER, n);
  tx.put(own, n);
  return n;
};

describe("Mutator", () => {
  const dir = mkdtempSync(join(tmpdir(), "np-tx-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  let run = 0;

  async function open(): Promise<{ store: CountingStore; cache: StateCache; mutator: Mutator }> {
    const store = new CountingStore({ file: join(dir, `state-${run++}.db`) });
    const cache = await StateCache.open(store);
    return { store, cache, mutator: new Mutator(store, cache) };
  }

  it("commits a burst in fewer transactions than mutations, each seeing those before it", async () => {
    const { store, cache, mutator } = await open();
    try {
      const results = await Promise.all(Array.from({ length: 40 }, (_, i) => mutator.run((tx) => increment(tx, `${ROOT}test/own/${i}`))));
      assert.deepEqual([...results].sort((a, b) => a - b), Array.from({ length: 40 }, (_, i) => i + 1), "every mutation saw every one before it");
      assert.equal(cache.get(COUNTER)?.value, 40);
      assert.ok(store.txns < 40 && store.txns >= 2, `${store.txns} transactions`);
    } finally {
      await store.close();
    }
  });

  it("a mutation that throws fails alone and leaves nothing it wrote; those around it commit", async () => {
    const { store, cache, mutator } = await open();
    try {
      const outcomes = await Promise.allSettled([
        mutator.run((tx) => increment(tx, `${ROOT}test/a`)),
        mutator.run((tx) => {
          increment(tx, `${ROOT}test/b`);
          throw new Error("refused");
        }),
        mutator.run((tx) => increment(tx, `${ROOT}test/c`)),
      ]);
      assert.deepEqual(
        outcomes.map((o) => (o.status === "fulfilled" ? o.value : (o.reason as Error).message)),
        [1, "refused", 2],
      );
      assert.equal(cache.get(`${ROOT}test/b`), undefined);
      assert.equal(cache.get(COUNTER)?.value, 2);
    } finally {
      await store.close();
    }
  });

  it("runs the mutations again when another writer changed what they read", async () => {
    const { store, cache, mutator } = await open();
    try {
      await mutator.run((tx) => increment(tx, `${ROOT}test/first`));
      store.before = () => store.put(COUNTER, JSON.stringify(100));
      const results = await Promise.all([mutator.run((tx) => increment(tx, `${ROOT}test/x`)), mutator.run((tx) => increment(tx, `${ROOT}test/y`))]);
      assert.deepEqual(results, [101, 102]);
      assert.equal(cache.get(COUNTER)?.value, 102);
    } finally {
      await store.close();
    }
  });

  it("puts no more than 100 keys in one commit", async () => {
    const { store, cache, mutator } = await open();
    try {
      const wide = (i: number) => (tx: Tx) => {
        for (let k = 0; k < 60; k++) tx.put(`${ROOT}test/wide/${i}/${k}`, k);
      };
      await Promise.all([mutator.run((tx) => tx.put(`${ROOT}test/head`, 1)), ...[0, 1, 2].map((i) => mutator.run(wide(i)))]);
      assert.ok(store.txns >= 3, `${store.txns} transactions for 181 keys`);
      assert.equal(cache.list(`${ROOT}test/wide/`).length, 180);
    } finally {
      await store.close();
    }
  });
});
