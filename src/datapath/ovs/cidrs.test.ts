import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { MAX4, MAX6, parseIp } from "../../lib/ip.js";
import { intervalToCidrs } from "./cidrs.js";

const v4 = (s: string) => parseIp(s)!.value;

describe("intervalToCidrs", () => {
  it("gives one prefix for a prefix, and the fewest otherwise", () => {
    assert.deepEqual(intervalToCidrs(4, v4("10.0.0.5"), v4("10.0.0.5")), ["10.0.0.5/32"]);
    assert.deepEqual(intervalToCidrs(4, v4("10.0.0.0"), v4("10.0.0.255")), ["10.0.0.0/24"]);
    assert.deepEqual(intervalToCidrs(4, v4("10.0.0.1"), v4("10.0.0.6")), ["10.0.0.1/32", "10.0.0.2/31", "10.0.0.4/31", "10.0.0.6/32"]);
    assert.deepEqual(intervalToCidrs(4, v4("198.18.0.3"), v4("198.18.0.20")), [
      "198.18.0.3/32",
      "198.18.0.4/30",
      "198.18.0.8/29",
      "198.18.0.16/30",
      "198.18.0.20/32",
    ]);
    assert.deepEqual(intervalToCidrs(4, 0n, MAX4), ["0.0.0.0/0"]);
    assert.deepEqual(intervalToCidrs(4, 1n, 0n), []);
  });

  it("handles IPv6, the whole space and its ends", () => {
    assert.deepEqual(intervalToCidrs(6, 0n, MAX6), ["::/0"]);
    const fd = parseIp("fd00::")!.value;
    assert.deepEqual(intervalToCidrs(6, fd, fd + 0xffn), ["fd00::/120"]);
    assert.deepEqual(intervalToCidrs(6, fd + 1n, fd + 2n), ["fd00::1/128", "fd00::2/128"]);
    assert.deepEqual(intervalToCidrs(6, MAX6 - 1n, MAX6), ["ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127"]);
    assert.equal(intervalToCidrs(6, 1n, MAX6).length, 128);
  });

  it("covers exactly the interval with aligned, disjoint, ordered prefixes (property)", () => {
    const bounds = (bits: 32 | 128) =>
      fc.tuple(fc.bigInt({ min: 0n, max: (1n << BigInt(bits)) - 1n }), fc.bigInt({ min: 0n, max: (1n << BigInt(bits)) - 1n })).map(([a, b]) => (a <= b ? [a, b] : [b, a]));
    for (const [family, bits] of [
      [4, 32],
      [6, 128],
    ] as const) {
      fc.assert(
        fc.property(bounds(bits), ([lo, hi]) => {
          const cidrs = intervalToCidrs(family, lo!, hi!);
          assert.ok(cidrs.length <= 2 * bits);
          let next = lo!;
          for (const c of cidrs) {
            const [addr, len] = c.split("/");
            const start = parseIp(addr!)!.value;
            const size = 1n << BigInt(bits - Number(len));
            assert.equal(start, next, `${c} does not start where the previous prefix ended`);
            assert.equal(start % size, 0n, `${c} is not aligned`);
            next = start + size;
          }
          assert.equal(next, hi! + 1n);
        }),
        { numRuns: 500 },
      );
    }
  });
});
