import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Bitset } from "./bitset.js";

/** The obvious implementation, to check the fast one against. */
function naiveNext(bits: boolean[], from: number, value: boolean): number {
  for (let i = Math.max(0, from); i < bits.length; i++) if (bits[i] === value) return i;
  return -1;
}

describe("Bitset", () => {
  it("sets, clears and tests bits, reporting changes", () => {
    const b = new Bitset(100);
    assert.equal(b.set(5), true);
    assert.equal(b.set(5), false);
    assert.equal(b.test(5), true);
    assert.equal(b.test(6), false);
    assert.equal(b.count, 1);
    assert.equal(b.clear(5), true);
    assert.equal(b.clear(5), false);
    assert.equal(b.count, 0);
  });

  it("refuses bits outside its size", () => {
    const b = new Bitset(10);
    for (const i of [-1, 10, 1.5, NaN]) assert.throws(() => b.set(i), RangeError);
    assert.throws(() => new Bitset(-1), RangeError);
  });

  it("sets and clears ranges across word boundaries, counting changes", () => {
    const b = new Bitset(200);
    b.set(40);
    assert.equal(b.setRange(30, 70), 40);
    assert.equal(b.count, 41);
    assert.equal(b.nextClear(30), 71);
    assert.equal(b.clearRange(0, 35), 6);
    assert.equal(b.count, 35);
    assert.equal(b.nextSet(0), 36);
    assert.equal(b.setRange(5, 4), 0);
  });

  it("finds next clear and set bits like a linear scan", () => {
    const size = 3000;
    const b = new Bitset(size);
    const ref = new Array<boolean>(size).fill(false);
    // Deterministic pattern: dense blocks, sparse holes, a full tail.
    for (let i = 0; i < size; i++) {
      const v = i < 1100 ? i % 97 !== 13 : i < 2000 ? i % 7 === 0 : i >= 2900;
      if (v) {
        b.set(i);
        ref[i] = true;
      }
    }
    for (let from = 0; from <= size; from += 1) {
      assert.equal(b.nextSet(from), naiveNext(ref, from, true), `nextSet(${from})`);
      assert.equal(b.nextClear(from), naiveNext(ref, from, false), `nextClear(${from})`);
    }
    // Still right after clears below the floor the searches raised.
    b.clear(500);
    ref[500] = false;
    assert.equal(b.nextClear(0), naiveNext(ref, 0, false));
    assert.equal(b.nextClear(0), 13);
    b.setRange(0, size - 1);
    assert.equal(b.nextClear(0), -1);
    b.clear(2999);
    assert.equal(b.nextClear(0), 2999);
  });

  it("handles sizes that are not a multiple of 32", () => {
    for (const size of [1, 31, 33, 1025]) {
      const b = new Bitset(size);
      b.setRange(0, size - 1);
      assert.equal(b.count, size);
      assert.equal(b.nextClear(0), -1);
      b.clear(size - 1);
      assert.equal(b.nextClear(0), size - 1);
    }
    const empty = new Bitset(0);
    assert.equal(empty.nextClear(0), -1);
    assert.equal(empty.nextSet(0), -1);
    assert.deepEqual([...empty.runs(true)], []);
  });

  it("lists runs of set and clear bits within bounds", () => {
    const b = new Bitset(64);
    b.setRange(1, 3);
    b.set(10);
    b.setRange(60, 63);
    assert.deepEqual([...b.runs(true)], [[1, 3], [10, 10], [60, 63]]);
    assert.deepEqual([...b.runs(false)], [[0, 0], [4, 9], [11, 59]]);
    assert.deepEqual([...b.runs(true, 2, 61)], [[2, 3], [10, 10], [60, 61]]);
    assert.deepEqual([...b.runs(false, 5, 5)], [[5, 5]]);
  });

  it("round-trips through base64 and the compressed encoding", () => {
    const b = new Bitset(1000);
    b.setRange(0, 99);
    b.set(999);
    for (const copy of [Bitset.fromBase64(1000, b.toBase64()), Bitset.decode(1000, b.encode()), b.clone()]) {
      assert.equal(copy.count, 101);
      assert.deepEqual([...copy.runs(true)], [[0, 99], [999, 999]]);
      assert.equal(copy.nextClear(0), 100);
    }
    assert.equal(b.toBase64().length, Math.ceil(125 / 3) * 4);
    assert.ok(b.encode().length < 40, b.encode());
  });

  it("uses little-endian bit order in bytes", () => {
    const b = new Bitset(16);
    b.set(0);
    b.set(9);
    assert.deepEqual([...b.toBytes()], [1, 2]);
  });

  it("rejects corrupt serialised forms", () => {
    const cases: [string, number, string][] = [
      ["wrong length", 16, Buffer.from([1]).toString("base64")],
      ["bits past size", 12, Buffer.from([0, 0x10]).toString("base64")],
      ["not base64", 16, "!!!!"],
      ["bad padding", 16, "AAA"],
      ["not deflate", 16, "z:AAAA"],
      ["inflates too big", 8, "z:" + new Bitset(800).encode().slice(2)],
    ];
    for (const [name, size, text] of cases) {
      assert.throws(() => Bitset.decode(size, text), RangeError, name);
    }
  });

  it("finds the lowest clear bit while a /16 fills up", () => {
    const b = new Bitset(65536);
    for (let i = 0; i < 65536; i++) {
      assert.equal(b.nextClear(0), i);
      b.set(i);
    }
    assert.equal(b.nextClear(0), -1);
  });
});
