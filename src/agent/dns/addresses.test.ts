import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { addressBytes, formatAddress } from "./addresses.js";

describe("addresses", () => {
  const cases: [string, string | undefined][] = [
    ["10.0.0.1", "10.0.0.1"],
    ["2001:db8::1", "2001:db8::1"],
    ["2001:DB8:0:0:0:0:0:1", "2001:db8::1"],
    ["::", "::"],
    ["::1", "::1"],
    ["fe80::", "fe80::"],
    ["2001:db8:0:1:0:0:0:1", "2001:db8:0:1::1"],
    ["2001:0:0:1:0:0:0:1", "2001:0:0:1::1"],
    ["1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"],
    ["::ffff:192.0.2.1", "::ffff:c000:201"],
    ["not-an-ip", undefined],
    ["10.0.0.256", undefined],
  ];
  for (const [input, formatted] of cases) {
    it(`${input} → ${formatted}`, () => {
      const bytes = addressBytes(input);
      assert.equal(bytes === undefined ? undefined : formatAddress(bytes), formatted);
    });
  }
});
