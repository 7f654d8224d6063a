import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatRuns, runsOf } from "./ranges.js";

describe("formatRuns", () => {
  const cases: [string, [number, number][], string][] = [
    ["empty", [], ""],
    ["one value", [[300, 300]], "300"],
    ["one range", [[1, 3]], "1-3"],
    ["mixed", [[1, 3], [300, 300]], "1-3, 300"],
  ];
  for (const [name, runs, want] of cases) {
    it(name, () => assert.equal(formatRuns(runs), want));
  }

  it("formats values with the given function", () => {
    assert.equal(formatRuns([[1, 3], [254, 254]], (i) => `10.1.1.${i}`), "10.1.1.1-10.1.1.3, 10.1.1.254");
  });
});

describe("runsOf", () => {
  it("groups consecutive bigints", () => {
    assert.deepEqual([...runsOf([1n, 2n, 3n, 5n, 7n, 8n])], [[1n, 3n], [5n, 5n], [7n, 8n]]);
    assert.deepEqual([...runsOf([])], []);
  });
});
