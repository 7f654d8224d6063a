import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { SqliteStore } from "../store/index.js";
import { recordEpoch, STREAM_EPOCHS_KEY, StreamEpochs } from "./epochs.js";

describe("recordEpoch", () => {
  const dir = mkdtempSync(join(tmpdir(), "np-epochs-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("appends each process with the store's revision when it started, and keeps the newest hundred", async () => {
    const store = new SqliteStore({ file: join(dir, "state.db") });
    try {
      await store.put("/netplugin/x", "1");
      const atFirst = await store.put("/netplugin/x", "2");
      await recordEpoch(store, "first");
      const atSecond = await store.put("/netplugin/x", "3");
      await recordEpoch(store, "second");
      const read = async () => StreamEpochs.parse(JSON.parse((await store.get(STREAM_EPOCHS_KEY))!.value));
      assert.deepEqual(await read(), [
        { epoch: "first", startRevision: atFirst },
        { epoch: "second", startRevision: atSecond },
      ]);
      for (let i = 0; i < 100; i++) await recordEpoch(store, `e${i}`);
      const kept = await read();
      assert.equal(kept.length, 100);
      assert.deepEqual([kept[0]!.epoch, kept[99]!.epoch], ["e0", "e99"]);
    } finally {
      store.close();
    }
  });
});
