// The cache's list reads one directory of its index, not every key: whatever keys were put and deleted, and
// whatever the prefix (a directory, part of a name, no slash at all), it answers what a scan of every key
// would, in key order.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import fc from "fast-check";
import { ROOT } from "../contract/keys.js";
import { SqliteStore } from "../store/index.js";
import { StateCache } from "./cache.js";

const segment = fc.constantFrom("a", "b", "ab", "a:b", "c");
const key = fc.array(segment, { minLength: 1, maxLength: 4 }).map((parts) => ROOT + parts.join("/"));
const prefix = fc.oneof(
  key,
  key.map((k) => k.slice(0, -1)),
  key.map((k) => `${k}/`),
  fc.constantFrom("", "/", ROOT, `${ROOT}a`, `${ROOT}a/`, "/other/"),
);

describe("StateCache.list", () => {
  const dir = mkdtempSync(join(tmpdir(), "np-cache-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("answers as a scan of every key would, after puts and deletes", async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.boolean(), key), { maxLength: 30 }), fc.array(prefix, { minLength: 1, maxLength: 5 }), async (ops, prefixes) => {
        const store = new SqliteStore({ file: join(dir, `state-${run++}.db`) });
        const cache = await StateCache.open(store);
        try {
          const expected = new Map<string, number>();
          for (const [put, k] of ops) {
            if (put) {
              await store.put(k, JSON.stringify(expected.size));
              expected.set(k, expected.size);
            } else {
              await store.delete(k);
              expected.delete(k);
            }
          }
          await cache.waitFor((await store.list(ROOT)).revision);
          for (const p of prefixes) {
            const want = [...expected.entries()].filter(([k]) => k.startsWith(p)).sort((x, y) => (x[0] < y[0] ? -1 : 1));
            assert.deepEqual(cache.list(p).map(([k, v]) => [k, v.value]), want, `list(${JSON.stringify(p)})`);
          }
        } finally {
          cache.close();
          await store.close();
        }
      }),
      { numRuns: 60 },
    );
  });
});
