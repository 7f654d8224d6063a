import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { SqliteStore } from "../store/index.js";
import { canResume, recordEpoch, STREAM_EPOCHS_KEY, StreamEpochs } from "./watch-stream.js";

describe("canResume", () => {
  // Processes a, b, c opened the store at revisions 10, 50 and 90; c serves now; the store is at 120.
  const epochs: StreamEpochs = [
    { epoch: "a", startRevision: 10 },
    { epoch: "b", startRevision: 50 },
    { epoch: "c", startRevision: 90 },
  ];
  const can = (revision: number, epoch: string) => canResume({ revision, epoch }, "c", epochs, 120);

  it("resumes a revision this process streamed", () => {
    assert.equal(can(120, "c"), true);
    assert.equal(can(95, "c"), true);
  });

  it("resumes a revision of an earlier process up to where the next one began (restarts on the same store)", () => {
    assert.equal(can(50, "a"), true);
    assert.equal(can(90, "b"), true);
    assert.equal(can(51, "a"), false, "a replica b started at 50 while the agent followed a: b's start is all that is vouched for");
  });

  it("starts over from a revision past the next start: a store restored from a backup, written again, restarted", () => {
    // The backup was taken at 80 while b served; the store came back as [a, b] and d opened it at 80, then e at 100.
    const restored: StreamEpochs = [...epochs.slice(0, 2), { epoch: "d", startRevision: 80 }, { epoch: "e", startRevision: 100 }];
    assert.equal(canResume({ revision: 85, epoch: "b" }, "e", restored, 120), false, "85 of b is not the 85 of this history");
    assert.equal(canResume({ revision: 78, epoch: "b" }, "e", restored, 120), true, "78 of b is in the backup");
    assert.equal(canResume({ revision: 95, epoch: "c" }, "e", restored, 120), false, "c started after the backup");
  });

  it("starts over from an epoch it does not know, a revision the store has not reached, or from nothing", () => {
    assert.equal(can(60, ""), false);
    assert.equal(can(60, "x"), false);
    assert.equal(can(121, "c"), false);
    assert.equal(can(0, "c"), false);
  });
});

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
