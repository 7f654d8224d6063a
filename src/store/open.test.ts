import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { ValidationError } from "../lib/errors.js";
import { EtcdStore } from "./etcd.js";
import { DEFAULT_STORE_URL, openStore, parseStoreUrl, type StoreLocation } from "./open.js";
import { SqliteStore } from "./sqlite.js";

describe("parseStoreUrl", () => {
  const good: Array<[string, StoreLocation]> = [
    [DEFAULT_STORE_URL, { backend: "sqlite", file: "/var/lib/netplugin/netmaster.db" }],
    ["sqlite:///tmp/a%20b.db", { backend: "sqlite", file: "/tmp/a b.db" }],
    ["etcd://127.0.0.1:2379", { backend: "etcd", endpoints: ["127.0.0.1:2379"] }],
    ["etcd://a:1,b.example:2379,[::1]:2380", { backend: "etcd", endpoints: ["a:1", "b.example:2379", "[::1]:2380"] }],
    ["http://10.0.0.1:2379", { backend: "etcd", endpoints: ["10.0.0.1:2379"] }],
    ["http://10.0.0.1:2379,http://10.0.0.2:2379/", { backend: "etcd", endpoints: ["10.0.0.1:2379", "10.0.0.2:2379"] }],
  ];
  for (const [url, want] of good) {
    test(`accepts ${url}`, () => assert.deepEqual(parseStoreUrl(url), want));
  }

  const bad = [
    "",
    "netmaster.db",
    "sqlite://relative/path.db",
    "sqlite:///var/lib/netplugin/",
    "sqlite:///bad%zzescape.db",
    "etcd://",
    "etcd://host",
    "etcd://host:0",
    "etcd://host:65536",
    "etcd://host:2379,",
    "etcd://a:1;b:2",
    "http://host",
    "http://a:1,b:2",
    "https://a:2379",
    "redis://a:6379",
  ];
  for (const url of bad) {
    test(`rejects "${url}"`, () => {
      assert.throws(() => parseStoreUrl(url), (err: Error) => {
        assert.ok(err instanceof ValidationError);
        assert.equal(
          err.message,
          `Invalid store URL "${url}": expected sqlite:///path or etcd://host:port[,host:port]`,
        );
        assert.equal(err.issues.length, 1);
        return true;
      });
    });
  }
});

describe("openStore", () => {
  test("opens a SQLite store at the URL's path", async () => {
    const dir = mkdtempSync(join(tmpdir(), "netplugin-open-test-"));
    try {
      const store = await openStore(`sqlite://${dir}/sub/state.db`);
      try {
        assert.ok(store instanceof SqliteStore);
        assert.equal(store.file, `${dir}/sub/state.db`);
        await store.put("/k", "v");
      } finally {
        await store.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("opens an etcd store on every endpoint, without connecting yet", async () => {
    const store = await openStore("etcd://127.0.0.1:1,127.0.0.1:2");
    try {
      assert.ok(store instanceof EtcdStore);
      assert.deepEqual(store.endpoints, ["127.0.0.1:1", "127.0.0.1:2"]);
    } finally {
      await store.close();
    }
  });

  test("a bad URL is a ValidationError", async () => {
    await assert.rejects(openStore("mysql://x"), ValidationError);
  });
});
