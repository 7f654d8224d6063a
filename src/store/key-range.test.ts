import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ValidationError } from "../lib/errors.js";
import { assertTxnKeys, prefixEnd, prefixEndBytes } from "./key-range.js";
import type { Op } from "./types.js";

describe("prefixEnd", () => {
  const cases: Array<[string, string | undefined]> = [
    ["/a/b/", "/a/b0"],
    ["a", "b"],
    ["", undefined],
    ["é", "ê"],
    ["a\u{10ffff}", "b"],
    ["\u{10ffff}\u{10ffff}", undefined],
    ["x\ud7ff", "x\ue000"], // the next code point after U+D7FF skips the surrogates
    ["🚀", "🚁"],
  ];
  for (const [prefix, want] of cases) {
    test(`of ${JSON.stringify(prefix)} is ${JSON.stringify(want)}`, () => assert.equal(prefixEnd(prefix), want));
  }

  test("bounds exactly the strings with the prefix, in UTF-8 byte order", () => {
    const prefix = "/a/é";
    const end = prefixEnd(prefix) as string;
    const utf8 = (s: string) => Buffer.from(s, "utf8");
    for (const key of ["/a/é", "/a/é/x", "/a/é\u{10ffff}", "/a/ê", "/a/f", "/a/e", "/a/"]) {
      const inRange = Buffer.compare(utf8(key), utf8(prefix)) >= 0 && Buffer.compare(utf8(key), utf8(end)) < 0;
      assert.equal(inRange, key.startsWith(prefix), key);
    }
  });
});

describe("prefixEndBytes", () => {
  test("increments the last byte that can be", () => {
    assert.deepEqual(prefixEndBytes("/a/"), Buffer.from("/a0"));
    assert.deepEqual(prefixEndBytes(""), Buffer.from([0]));
    assert.deepEqual(prefixEndBytes("a\u{10ffff}"), Buffer.from([0x61, 0xf4, 0x8f, 0xbf, 0xc0]));
  });
});

describe("assertTxnKeys", () => {
  const bad: Array<[string, Op[]]> = [
    ["a key put twice", [{ type: "put", key: "/k", value: "1" }, { type: "put", key: "/k", value: "2" }]],
    ["a key put and deleted", [{ type: "delete", key: "/k" }, { type: "put", key: "/k", value: "2" }]],
    ["a key put under a deleted prefix", [{ type: "deletePrefix", prefix: "/a/" }, { type: "put", key: "/a/k", value: "" }]],
    ["an empty key", [{ type: "put", key: "", value: "" }]],
    ["an empty prefix", [{ type: "deletePrefix", prefix: "" }]],
  ];
  for (const [what, ops] of bad) {
    test(`refuses ${what}`, () => assert.throws(() => assertTxnKeys([], ops), ValidationError));
  }

  test("accepts distinct keys and deletes of the same key", () => {
    assertTxnKeys([{ key: "/k", target: "value", equals: "" }], [
      { type: "put", key: "/a/k", value: "" },
      { type: "deletePrefix", prefix: "/b/" },
      { type: "delete", key: "/c" },
      { type: "delete", key: "/c" },
    ]);
  });
});
