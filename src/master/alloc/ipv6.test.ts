import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConflictError, ValidationError } from "../../lib/errors.js";
import { CorruptStateError } from "./corrupt.js";
import { formatIpv6, ipv6SubnetBounds, parseIpv6Subnet, tryParseIpv6 } from "../../lib/ipv6.js";
import { Ipv6Allocator } from "./ipv6.js";

describe("IPv6 addresses", () => {
  const canonical: [string, string][] = [
    ["2001:db8::1", "2001:db8::1"],
    ["2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1"],
    ["::", "::"],
    ["::1", "::1"],
    ["1::", "1::"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"],
    ["2001:0:0:1:0:0:0:1", "2001:0:0:1::1"],
    ["fe80::1:2:3:4", "fe80::1:2:3:4"],
    ["::ffff:10.1.2.3", "::ffff:10.1.2.3"],
    ["::10.1.2.3", "::a01:203"],
    ["1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"],
  ];
  for (const [text, want] of canonical) {
    it(`formats ${text} as ${want}`, () => {
      const value = tryParseIpv6(text);
      assert.notEqual(value, undefined);
      assert.equal(formatIpv6(value!), want);
      assert.equal(tryParseIpv6(want), value);
    });
  }

  const bad = ["", ":", ":::", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "1::2::3", "12345::", "g::1", "::1%eth0",
    "1.2.3.4", "1:2:3:4:5:6:7:8::", "::1.2.3", ":1::2", "1.2.3.4::"];
  for (const text of bad) {
    it(`rejects ${JSON.stringify(text)}`, () => assert.equal(tryParseIpv6(text), undefined));
  }
});

describe("parseIpv6Subnet", () => {
  it("clears host bits", () => {
    const s = parseIpv6Subnet("2001:db8::5/64");
    assert.equal(formatIpv6(s.network), "2001:db8::");
    assert.equal(s.prefixLen, 64);
    assert.equal(formatIpv6(parseIpv6Subnet("2001:dfff:ffff::/20").network), "2001:d000::");
    assert.equal(formatIpv6(parseIpv6Subnet("ffff::/1").network), "8000::");
  });

  const bad: [string, string][] = [
    ["2001:db8::/0", "subnet length 0 not supported"],
    ["2001:db8::/129", "subnet length 129 not supported"],
    ["2001:db8::", "invalid ipv6 subnet 2001:db8::"],
    ["2001:db8::/x", "invalid ipv6 subnet 2001:db8::/x"],
    ["10.1.1.0/24", "invalid ipv6 subnet 10.1.1.0/24"],
  ];
  for (const [text, message] of bad) {
    it(`rejects ${text}`, () => assert.throws(() => parseIpv6Subnet(text), { name: "ValidationError", message }));
  }

  it("gives bounds for overlap checks", () => {
    const b = ipv6SubnetBounds("2001:db8::/120");
    assert.equal(formatIpv6(b.first), "2001:db8::");
    assert.equal(formatIpv6(b.last), "2001:db8::ff");
  });
});

describe("Ipv6Allocator", () => {
  it("allocates from host id 1 and skips the gateway", () => {
    const a = Ipv6Allocator.create("2001:db8::/64", "2001:db8::2");
    assert.equal(a.allocate(), "2001:db8::1");
    assert.equal(a.allocate(), "2001:db8::3");
    assert.equal(a.allocatedString(), "2001:db8::1-2001:db8::3");
    assert.equal(a.availableString(), "2001:db8::4-2001:db8::ffff:ffff:ffff:ffff");
    assert.equal(a.allocatedCount, 2);
    assert.equal(a.gateway, "2001:db8::2");
  });

  it("allocates after the last one handed out, wrapping round, never host id 0", () => {
    const a = Ipv6Allocator.create("2001:db8::/126");
    assert.deepEqual([a.allocate(), a.allocate(), a.allocate()], ["2001:db8::1", "2001:db8::2", "2001:db8::3"]);
    assert.throws(() => a.allocate(), {
      name: "ConflictError",
      message: "auto allocation failed - address exhaustion in subnet 2001:db8::/126",
    });
    assert.equal(a.release("2001:db8::1"), true);
    assert.equal(a.release("2001:db8::2"), true);
    // Last handed out was ::3, so the next is ::1 (after wrapping), not ::0.
    assert.equal(a.allocate(), "2001:db8::1");
    assert.equal(a.allocate(), "2001:db8::2");
    assert.equal(a.availableString(), "");
  });

  it("does not reuse a released address straight away", () => {
    const a = Ipv6Allocator.create("2001:db8::/64");
    a.allocate();
    a.allocate();
    a.release("2001:db8::1");
    assert.equal(a.allocate(), "2001:db8::3");
    assert.equal(a.allocatedString(), "2001:db8::2-2001:db8::3");
  });

  it("releases by the IPv6 subnet (Contiv used the IPv4 one)", () => {
    const a = Ipv6Allocator.create("2001:db8:1::/48");
    const ip = a.allocate();
    assert.equal(a.isAllocated(ip), true);
    assert.equal(a.release(ip), true);
    assert.equal(a.isAllocated(ip), false);
    assert.equal(a.release(ip), false);
    assert.equal(a.allocatedCount, 0);
    assert.throws(() => a.release("2001:db9::1"), ValidationError);
  });

  it("checks requested addresses are inside and free", () => {
    const a = Ipv6Allocator.create("2001:db8::/64", "2001:db8::1");
    a.reserve("2001:db8::abcd");
    assert.equal(a.isAllocated("2001:db8::abcd"), true);
    const conflicts = ["2001:db8::abcd", "2001:db8::1", "2001:db8::"];
    for (const ip of conflicts) {
      assert.throws(() => a.reserve(ip), { name: "ConflictError", message: `ip address ${ip} is not available` });
    }
    assert.throws(() => a.reserve("2001:db9::1"), {
      name: "ValidationError",
      message: "hostIP 2001:db9::1 is exceeding beyond subnet 2001:db8::/64",
    });
    assert.throws(() => a.reserve("10.1.1.1"), ValidationError);
    assert.equal(a.release("2001:db8::1"), false, "the gateway is not released");
    assert.equal(a.allocatedString(), "2001:db8::1, 2001:db8::abcd");
  });

  it("refuses a gateway outside the subnet", () => {
    assert.throws(() => Ipv6Allocator.create("2001:db8::/64", "2001:db9::1"), {
      name: "ValidationError",
      message: "hostIP 2001:db9::1 is exceeding beyond subnet 2001:db8::/64",
    });
    assert.throws(() => Ipv6Allocator.create("2001:db8::/64", "zz"), ValidationError);
  });

  it("has nothing to give in a /128", () => {
    const a = Ipv6Allocator.create("2001:db8::1/128");
    assert.throws(() => a.allocate(), ConflictError);
    assert.equal(a.availableString(), "");
  });

  it("round-trips through JSON and continues the same way", () => {
    const a = Ipv6Allocator.create("2001:db8::/120", "2001:db8::ff");
    for (let i = 0; i < 10; i++) a.allocate();
    a.release("2001:db8::5");
    a.reserve("2001:db8::80");
    const json = JSON.parse(JSON.stringify(a.toJSON()));
    assert.deepEqual(json, {
      subnet: "2001:db8::/120",
      gateway: "2001:db8::ff",
      lastHost: "10",
      allocated: ["1-4", "6-10", "128"],
    });
    const b = Ipv6Allocator.fromJSON(json);
    for (let i = 0; i < 300; i++) {
      let x: string;
      let y: string;
      try {
        x = a.allocate();
      } catch (err) {
        x = String(err);
      }
      try {
        y = b.allocate();
      } catch (err) {
        y = String(err);
      }
      assert.equal(y, x);
    }
    assert.equal(b.allocatedCount, 254);
  });

  const base = Ipv6Allocator.create("2001:db8::/120", "2001:db8::1").toJSON();
  const corrupt: [string, unknown][] = [
    ["not an object", []],
    ["missing lastHost", { subnet: base.subnet, gateway: "", allocated: [] }],
    ["bad subnet", { ...base, subnet: "nope" }],
    ["lastHost outside", { ...base, lastHost: "256" }],
    ["lastHost not a number", { ...base, lastHost: "x" }],
    ["host id 0", { ...base, allocated: ["0-3"] }],
    ["host id outside", { ...base, allocated: ["250-256"] }],
    ["runs out of order", { ...base, allocated: ["5", "3"] }],
    ["reversed run", { ...base, allocated: ["5-3"] }],
    ["gateway allocated", { ...base, allocated: ["1"] }],
    ["huge run", { ...base, subnet: "2001:db8::/64", allocated: ["1-99999999999"] }],
  ];
  for (const [name, json] of corrupt) {
    it(`rejects ${name}`, () => assert.throws(() => Ipv6Allocator.fromJSON(json), CorruptStateError));
  }
});
