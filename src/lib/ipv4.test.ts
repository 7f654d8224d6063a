import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ValidationError } from "./errors.js";
import { formatIpv4, parseIpv4, parseIpv4Subnet, subnetBounds, tryParseIpv4, tryParseIpv4Range } from "./ipv4.js";

describe("IPv4 addresses", () => {
  const good: [string, number][] = [
    ["0.0.0.0", 0],
    ["10.1.1.1", 0x0a010101],
    ["255.255.255.255", 0xffffffff],
    ["192.168.0.10", 0xc0a8000a],
  ];
  for (const [text, value] of good) {
    it(`parses and formats ${text}`, () => {
      assert.equal(parseIpv4(text), value);
      assert.equal(formatIpv4(value), text);
    });
  }

  const bad = ["", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.1.1.1", "1.1.1.-1", "a.b.c.d", "1..1.1", " 1.1.1.1", "::1"];
  for (const text of bad) {
    it(`rejects ${JSON.stringify(text)}`, () => {
      assert.equal(tryParseIpv4(text), undefined);
      assert.throws(() => parseIpv4(text), ValidationError);
    });
  }
});

describe("parseIpv4Subnet", () => {
  const good: [string, string, number, string, string][] = [
    // text, network, prefix, first, last
    ["10.1.1.0/24", "10.1.1.0", 24, "10.1.1.0", "10.1.1.255"],
    ["10.1.1.7/24", "10.1.1.0", 24, "10.1.1.0", "10.1.1.255"],
    ["10.100.100.194-10.100.100.222/27", "10.100.100.192", 27, "10.100.100.194", "10.100.100.222"],
    ["10.0.0.0/8", "10.0.0.0", 8, "10.0.0.0", "10.255.255.255"],
    ["10.1.1.5/32", "10.1.1.5", 32, "10.1.1.5", "10.1.1.5"],
    ["10.1.1.10-10.1.1.10/24", "10.1.1.0", 24, "10.1.1.10", "10.1.1.10"],
  ];
  for (const [text, network, prefixLen, first, last] of good) {
    it(`parses ${text}`, () => {
      const s = parseIpv4Subnet(text);
      assert.deepEqual(
        [formatIpv4(s.network), s.prefixLen, formatIpv4(s.first), formatIpv4(s.last)],
        [network, prefixLen, first, last],
      );
    });
  }

  const bad: [string, string][] = [
    ["10.1.1.0/7", "subnet length 7 not supported"],
    ["10.1.1.0/33", "subnet length 33 not supported"],
    ["10.1.1.0/0", "subnet length 0 not supported"],
    ["10.1.1.20-10.1.1.10/24", "Network subnet format not valid"],
    ["10.1.1.10-10.1.2.10/24", "Network subnet format not valid"],
    ["10.1.1.0", "invalid subnet 10.1.1.0"],
    ["10.1.1/24", "invalid subnet 10.1.1/24"],
    ["10.1.1.0/x", "invalid subnet 10.1.1.0/x"],
    ["10.1.1.1-/24", "invalid subnet 10.1.1.1-/24"],
    ["2001:db8::/64", "invalid subnet 2001:db8::/64"],
  ];
  for (const [text, message] of bad) {
    it(`rejects ${text}`, () => {
      assert.throws(() => parseIpv4Subnet(text), (err: unknown) => {
        assert.ok(err instanceof ValidationError);
        assert.equal(err.message, message);
        return true;
      });
    });
  }

  it("gives the allocatable bounds for overlap checks", () => {
    assert.deepEqual(subnetBounds("10.1.1.0/24"), { first: 0x0a010100, last: 0x0a0101ff });
    assert.deepEqual(subnetBounds("10.1.1.10-10.1.1.20/24"), { first: 0x0a01010a, last: 0x0a010114 });
  });
});

describe("tryParseIpv4Range", () => {
  it("parses a-b and a single address", () => {
    assert.deepEqual(tryParseIpv4Range("10.1.1.1-10.1.1.5"), { start: 0x0a010101, end: 0x0a010105 });
    assert.deepEqual(tryParseIpv4Range("10.1.1.1"), { start: 0x0a010101, end: 0x0a010101 });
  });
  for (const text of ["10.1.1.5-10.1.1.1", "10.1.1.1-", "-10.1.1.1", "1-2-3", "10.1.1.1-10.1.1.2-10.1.1.3", ""]) {
    it(`rejects ${JSON.stringify(text)}`, () => assert.equal(tryParseIpv4Range(text), undefined));
  }
});
