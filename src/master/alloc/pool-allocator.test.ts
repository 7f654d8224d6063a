import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConflictError, ValidationError } from "../../lib/errors.js";
import { Bitset } from "./bitset.js";
import { CorruptStateError } from "./corrupt.js";
import { PoolAllocator } from "./pool-allocator.js";

describe("PoolAllocator", () => {
  it("hands out the pool lowest first and reports Contiv's EPG strings", () => {
    const p = PoolAllocator.create("10.1.1.10", "10.1.1.20");
    assert.equal(p.pool, "10.1.1.10-10.1.1.20");
    assert.equal(p.availableString(), "10.1.1.10-10.1.1.20");
    assert.equal(p.allocatedString(), "");
    assert.equal(p.allocate(), "10.1.1.10");
    assert.equal(p.allocate(), "10.1.1.11");
    p.reserve("10.1.1.15");
    assert.equal(p.allocatedString(), "10.1.1.10-10.1.1.11, 10.1.1.15");
    assert.equal(p.availableString(), "10.1.1.12-10.1.1.14, 10.1.1.16-10.1.1.20");
    assert.equal(p.allocatedCount, 3);
    assert.equal(p.availableCount, 8);
  });

  it("allows exactly one address in a one-address pool", () => {
    const p = PoolAllocator.create("10.3.1.11", "10.3.1.11");
    assert.equal(p.allocate(), "10.3.1.11");
    assert.throws(() => p.allocate(), (err: unknown) => {
      assert.ok(err instanceof ConflictError);
      assert.equal(err.message, "auto allocation failed - address exhaustion in pool 10.3.1.11-10.3.1.11");
      return true;
    });
    assert.equal(p.release("10.3.1.11"), true);
    assert.equal(p.release("10.3.1.11"), false);
    assert.equal(p.allocate(), "10.3.1.11");
  });

  it("checks requested addresses are in the pool and free", () => {
    const p = PoolAllocator.create("10.1.1.10", "10.1.1.20");
    p.reserve("10.1.1.20");
    assert.throws(() => p.reserve("10.1.1.20"), { name: "ConflictError", message: "ip address 10.1.1.20 is not available" });
    assert.throws(() => p.reserve("10.1.1.21"), {
      name: "ValidationError",
      message: "ip address 10.1.1.21 is not in ip-pool 10.1.1.10-10.1.1.20",
    });
    assert.throws(() => p.release("10.1.1.9"), ValidationError);
    assert.throws(() => p.reserve("nope"), ValidationError);
    assert.equal(p.isAllocated("10.1.1.20"), true);
    assert.equal(p.isAllocated("10.1.1.21"), false);
    assert.equal(p.contains("10.1.1.10"), true);
  });

  for (const [start, end] of [["10.1.1.9", "10.1.1.2"], ["x", "10.1.1.2"], ["10.0.0.0", "11.0.0.0"]] as const) {
    it(`refuses pool ${start}-${end}`, () => {
      assert.throws(() => PoolAllocator.create(start, end), { name: "ValidationError", message: `invalid ip-pool ${start}-${end}` });
    });
  }

  it("round-trips through JSON", () => {
    const p = PoolAllocator.create("10.1.1.10", "10.1.1.200");
    for (let i = 0; i < 50; i++) p.allocate();
    p.release("10.1.1.30");
    const q = PoolAllocator.fromJSON(JSON.parse(JSON.stringify(p.toJSON())));
    assert.deepEqual(q.toJSON(), p.toJSON());
    for (let i = 0; i < 10; i++) assert.equal(q.allocate(), p.allocate());
  });

  const corrupt: [string, unknown][] = [
    ["not an object", 7],
    ["missing pool", { bits: "" }],
    ["bad pool", { pool: "10.1.1.9-10.1.1.2", bits: "" }],
    ["bitmap size mismatch", { pool: "10.1.1.1-10.1.1.100", bits: new Bitset(10).encode() }],
  ];
  for (const [name, json] of corrupt) {
    it(`rejects ${name}`, () => assert.throws(() => PoolAllocator.fromJSON(json), CorruptStateError));
  }
});
