import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatAddress, formatInterval, parseAddress, parseAddressRange } from "./addr.js";
import { intersectSpans, lookupInterval, mergeSpans, sweepAtoms } from "./intervals.js";

const v4 = (s: string) => parseAddress(s)!.value;
const v6 = (s: string) => parseAddress(s)!.value;

describe("parseAddressRange", () => {
  const cases: [string, { family: 4 | 6; lo: string; hi: string } | undefined][] = [
    ["198.18.0.7", { family: 4, lo: "198.18.0.7", hi: "198.18.0.7" }],
    ["198.18.0.7/24", { family: 4, lo: "198.18.0.0", hi: "198.18.0.255" }],
    ["198.18.0.0/32", { family: 4, lo: "198.18.0.0", hi: "198.18.0.0" }],
    ["0.0.0.0/0", { family: 4, lo: "0.0.0.0", hi: "255.255.255.255" }],
    ["198.18.0.10-20", { family: 4, lo: "198.18.0.10", hi: "198.18.0.20" }],
    ["198.18.0.10-20/24", { family: 4, lo: "198.18.0.10", hi: "198.18.0.20" }],
    ["198.18.0.250-198.18.1.3", { family: 4, lo: "198.18.0.250", hi: "198.18.1.3" }],
    ["fd00::1", { family: 6, lo: "fd00::1", hi: "fd00::1" }],
    ["fd00::1:2/112", { family: 6, lo: "fd00::1:0", hi: "fd00::1:ffff" }],
    ["fd00::5-fd00::9", { family: 6, lo: "fd00::5", hi: "fd00::9" }],
    ["::ffff:198.18.0.1", { family: 6, lo: "::ffff:c612:1", hi: "::ffff:c612:1" }],
    ["198.18.0.20-10", undefined],
    ["198.18.0.1-256", undefined],
    ["198.18.0.1/33", undefined],
    ["fd00::/129", undefined],
    ["198.18.0.1-fd00::1", undefined],
    ["not-an-ip", undefined],
    ["", undefined],
    ["198.18.0.1/24-5", undefined],
  ];
  for (const [text, want] of cases) {
    it(`"${text}"`, () => {
      const got = parseAddressRange(text);
      if (!want) return assert.equal(got, undefined);
      const parse = want.family === 4 ? v4 : v6;
      assert.deepEqual(got, { family: want.family, lo: parse(want.lo), hi: parse(want.hi) });
    });
  }
});

describe("addresses", () => {
  it("parses and prints IPv6 in RFC 5952 form", () => {
    for (const [input, printed] of [
      ["fd00:0:0:0:0:0:0:1", "fd00::1"],
      ["FD00::", "fd00::"],
      ["::", "::"],
      ["1:0:0:2:0:0:0:3", "1:0:0:2::3"],
      ["1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"],
      ["1:0:2:3:4:5:6:7", "1:0:2:3:4:5:6:7"],
      ["::ffff:1.2.3.4", "::ffff:102:304"],
    ] as const) {
      assert.equal(formatAddress(6, v6(input)), printed, input);
    }
  });

  it("ignores a prefix length on member addresses and rejects garbage", () => {
    assert.equal(parseAddress("198.18.0.9/24")!.value, v4("198.18.0.9"));
    assert.equal(parseAddress("fd00::9/64")!.family, 6);
    assert.equal(parseAddress("198.18.0.256"), undefined);
    assert.equal(parseAddress("x"), undefined);
  });

  it("prints intervals as address, prefix or range", () => {
    assert.equal(formatInterval(4, v4("198.18.0.1"), v4("198.18.0.1")), "198.18.0.1");
    assert.equal(formatInterval(4, v4("198.18.0.0"), v4("198.18.0.255")), "198.18.0.0/24");
    assert.equal(formatInterval(4, v4("198.18.0.1"), v4("198.18.0.2")), "198.18.0.1-198.18.0.2");
    assert.equal(formatInterval(4, 0n, (1n << 32n) - 1n), "0.0.0.0/0");
    assert.equal(formatInterval(6, v6("fd00::"), v6("fd00::ffff")), "fd00::/112");
    assert.equal(formatInterval(6, v6("fd00::1"), v6("fd00::4")), "fd00::1-fd00::4");
  });
});

describe("intervals", () => {
  it("merges touching and overlapping spans", () => {
    assert.deepEqual(
      mergeSpans([
        [5n, 6n],
        [1n, 2n],
        [3n, 3n],
        [6n, 9n],
        [11n, 12n],
      ]),
      [
        [1n, 3n],
        [5n, 9n],
        [11n, 12n],
      ],
    );
  });

  it("intersects span lists", () => {
    assert.deepEqual(
      intersectSpans(
        [
          [1n, 5n],
          [8n, 10n],
        ],
        [
          [4n, 9n],
          [10n, 20n],
        ],
      ),
      [
        [4n, 5n],
        [8n, 9n],
        [10n, 10n],
      ],
    );
  });

  it("cuts the line into atoms of equal membership", () => {
    const atoms = sweepAtoms([
      { id: 0, spans: [[0n, 9n]] },
      { id: 1, spans: [[5n, 14n]] },
      { id: 2, spans: [[20n, 20n]] },
    ]);
    assert.deepEqual(atoms, [
      { lo: 0n, hi: 4n, ids: [0] },
      { lo: 5n, hi: 9n, ids: [0, 1] },
      { lo: 10n, hi: 14n, ids: [1] },
      { lo: 20n, hi: 20n, ids: [2] },
    ]);
  });

  it("looks values up by binary search", () => {
    const list = [
      { lo: 1n, hi: 3n, value: "a" },
      { lo: 7n, hi: 7n, value: "b" },
    ];
    assert.equal(lookupInterval(list, 0n), undefined);
    assert.equal(lookupInterval(list, 2n), "a");
    assert.equal(lookupInterval(list, 7n), "b");
    assert.equal(lookupInterval(list, 8n), undefined);
  });
});
