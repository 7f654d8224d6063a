import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { quoted } from "./wire.js";

describe("quoted", () => {
  it("shows short values as JSON", () => {
    assert.equal(quoted("eth0"), '"eth0"');
    assert.equal(quoted("a\nb"), '"a\\nb"');
    assert.equal(quoted(42), "42");
    assert.equal(quoted(null), "null");
    assert.equal(quoted(undefined), "undefined");
    assert.equal(quoted({ a: [1] }), '{"a":[1]}');
  });

  it("cuts long strings after 64 characters and says how long they were", () => {
    assert.equal(quoted("x".repeat(1 << 20)), `"${"x".repeat(64)}"… (1048576 characters)`);
  });

  it("cuts long objects", () => {
    const shown = quoted({ list: Array.from({ length: 1000 }, (_, n) => n) });
    assert.equal(shown.length, 65);
    assert.ok(shown.startsWith('{"list":[0,1,2,'));
  });

  it("survives values nested too deep for JSON.stringify", () => {
    let deep: unknown = [];
    for (let n = 0; n < 200_000; n++) deep = [deep];
    assert.equal(quoted(deep), "[…]");
    assert.equal(quoted({ a: deep }), "{…}");
  });
});
