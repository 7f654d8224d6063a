import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConflictError, ValidationError } from "../../lib/errors.js";
import { Bitset } from "./bitset.js";
import { CorruptStateError } from "./corrupt.js";
import { Ipv4Allocator } from "./ipv4-allocator.js";

type ErrorClass = typeof ValidationError | typeof ConflictError;

function assertError(fn: () => unknown, cls: ErrorClass, message: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof cls, `expected ${cls.name}, got ${String(err)}`);
    assert.equal(err.message, message);
    return true;
  });
}

function roundTrip(a: Ipv4Allocator): Ipv4Allocator {
  return Ipv4Allocator.fromJSON(JSON.parse(JSON.stringify(a.toJSON())));
}

describe("Ipv4Allocator: Contiv's oper strings", () => {
  it("fresh /24 without gateway: everything but network and broadcast is available", () => {
    const a = Ipv4Allocator.create("10.1.1.0/24");
    assert.equal(a.availableString(), "10.1.1.1-10.1.1.254");
    assert.equal(a.allocatedString(), "");
    assert.equal(a.allocatedCount, 0);
    assert.equal(a.availableCount, 254);
    assert.equal(a.addressRange, "10.1.1.0-10.1.1.255");
  });

  it("first allocation is the lowest address", () => {
    const a = Ipv4Allocator.create("10.1.1.0/24");
    assert.equal(a.allocate(), "10.1.1.1");
    assert.equal(a.allocatedString(), "10.1.1.1");
    assert.equal(a.availableString(), "10.1.1.2-10.1.1.254");
    assert.equal(a.allocatedCount, 1);
  });

  it("lists the gateway as allocated but does not count it", () => {
    const a = Ipv4Allocator.create("10.1.1.0/24", "10.1.1.254");
    assert.equal(a.allocatedString(), "10.1.1.254");
    assert.equal(a.allocatedCount, 0);
    for (let i = 0; i < 3; i++) a.allocate();
    assert.equal(a.allocatedString(), "10.1.1.1-10.1.1.3, 10.1.1.254");
    assert.equal(a.availableString(), "10.1.1.4-10.1.1.253");
    assert.equal(a.allocatedCount, 3);
    assert.equal(a.gateway, "10.1.1.254");
  });

  it("range form: only the range is available, and nothing outside it is listed", () => {
    const a = Ipv4Allocator.create("10.100.100.194-10.100.100.222/27");
    assert.equal(a.subnet, "10.100.100.192/27");
    assert.equal(a.availableString(), "10.100.100.194-10.100.100.222");
    assert.equal(a.allocatedString(), "");
    assert.equal(a.allocate(), "10.100.100.194");
    assert.equal(a.allocatedString(), "10.100.100.194");
    assert.equal(a.allocatedCount, 1);
    assert.equal(a.addressRange, "10.100.100.194-10.100.100.222");
  });

  const small: [string, string][] = [
    ["10.1.1.0/30", "10.1.1.1-10.1.1.2"],
    ["10.1.1.0/29", "10.1.1.1-10.1.1.6"],
    ["10.1.1.0/31", ""],
    ["10.1.1.1/32", ""],
  ];
  for (const [subnet, available] of small) {
    it(`${subnet} has ${JSON.stringify(available)} available`, () => {
      const a = Ipv4Allocator.create(subnet);
      assert.equal(a.availableString(), available);
      assert.equal(a.allocatedString(), "");
    });
  }

  it("/31 and /32 have nothing to allocate, as in Contiv", () => {
    assertError(() => Ipv4Allocator.create("10.1.1.0/31").allocate(), ConflictError,
      "auto allocation failed - address exhaustion in subnet 10.1.1.0/31");
    assertError(() => Ipv4Allocator.create("10.1.1.1/32").allocate(), ConflictError,
      "auto allocation failed - address exhaustion in subnet 10.1.1.1/32");
  });
});

describe("Ipv4Allocator.create errors", () => {
  const cases: [string, string | undefined, string][] = [
    ["10.1.1.0/24", "10.1.2.1", "hostIP 10.1.2.1 is exceeding beyond subnet 10.1.1.0/24"],
    ["10.1.1.0/24", "10.1.1", "invalid gateway 10.1.1"],
    ["10.1.1.0/7", undefined, "subnet length 7 not supported"],
    ["10.1.1.9-10.1.1.2/24", undefined, "Network subnet format not valid"],
  ];
  for (const [subnet, gateway, message] of cases) {
    it(`${subnet} gateway ${gateway}: ${message}`, () => {
      assertError(() => Ipv4Allocator.create(subnet, gateway), ValidationError, message);
    });
  }

  it("accepts a gateway outside the range or on the network address, without counting it", () => {
    const ranged = Ipv4Allocator.create("10.1.1.10-10.1.1.20/24", "10.1.1.1");
    assert.equal(ranged.allocatedString(), "");
    assert.equal(ranged.allocatedCount, 0);
    assert.equal(ranged.availableString(), "10.1.1.10-10.1.1.20");
    const onNetwork = Ipv4Allocator.create("10.1.1.0/24", "10.1.1.0");
    assert.equal(onNetwork.allocatedCount, 0);
    assert.equal(onNetwork.availableCount, 254);
    assert.equal(Ipv4Allocator.fromJSON(ranged.toJSON()).allocatedCount, 0);
  });

  it("treats an empty gateway as none", () => {
    assert.equal(Ipv4Allocator.create("10.1.1.0/24", "").availableString(), "10.1.1.1-10.1.1.254");
  });
});

describe("Ipv4Allocator requested addresses", () => {
  const make = () => {
    const a = Ipv4Allocator.create("10.1.1.10-10.1.1.200/24", "10.1.1.100");
    a.reserveRange("10.1.1.150", "10.1.1.160");
    a.allocate();
    return a;
  };

  it("finds the next address reserve() would take, past the gateway, pools and the range's end", () => {
    const a = make();
    assert.equal(a.nextAvailable("10.1.1.0"), "10.1.1.11", "10.1.1.10 is allocated");
    assert.equal(a.nextAvailable("10.1.1.100"), "10.1.1.101");
    assert.equal(a.nextAvailable("10.1.1.150"), "10.1.1.161");
    assert.equal(a.nextAvailable("10.1.1.201"), undefined);
    assertError(() => a.nextAvailable("10.1.2.1"), ValidationError, "hostIP 10.1.2.1 is exceeding beyond subnet 10.1.1.0/24");
  });

  it("takes a free address, once", () => {
    const a = make();
    a.reserve("10.1.1.50");
    assert.equal(a.isAllocated("10.1.1.50"), true);
    assert.equal(a.allocatedCount, 2);
    assertError(() => a.reserve("10.1.1.50"), ConflictError, "ip address 10.1.1.50 is not available");
  });

  const taken: [string, string][] = [
    ["10.1.1.10", "auto-allocated"],
    ["10.1.1.100", "gateway"],
    ["10.1.1.155", "in an EPG pool"],
    ["10.1.1.0", "network address"],
    ["10.1.1.255", "broadcast"],
    ["10.1.1.5", "outside the range"],
    ["10.1.1.201", "outside the range"],
  ];
  for (const [ip, why] of taken) {
    it(`refuses ${ip} (${why}) as a conflict`, () => {
      assertError(() => make().reserve(ip), ConflictError, `ip address ${ip} is not available`);
    });
  }

  const invalid: [string, string][] = [
    ["10.1.2.1", "hostIP 10.1.2.1 is exceeding beyond subnet 10.1.1.0/24"],
    ["10.1.0.255", "hostIP 10.1.0.255 is exceeding beyond subnet 10.1.1.0/24"],
    ["10.1.1", "invalid IPv4 address 10.1.1"],
  ];
  for (const [ip, message] of invalid) {
    it(`refuses ${ip} as invalid`, () => assertError(() => make().reserve(ip), ValidationError, message));
  }

  it("releases idempotently, and never the gateway, pools or reserved addresses", () => {
    const a = make();
    assert.equal(a.release("10.1.1.10"), true);
    assert.equal(a.release("10.1.1.10"), false);
    assert.equal(a.release("10.1.1.11"), false);
    for (const ip of ["10.1.1.100", "10.1.1.150", "10.1.1.0", "10.1.1.255", "10.1.1.5"]) {
      assert.equal(a.release(ip), false, ip);
      assert.equal(a.isAvailable(ip), false, ip);
    }
    assert.equal(a.allocatedCount, 0);
    assertError(() => a.release("10.2.0.1"), ValidationError, "hostIP 10.2.0.1 is exceeding beyond subnet 10.1.1.0/24");
    assert.equal(a.isAllocated("10.2.0.1"), false);
    assert.equal(a.isAllocated("bogus"), false);
  });
});

describe("Ipv4Allocator EPG pools", () => {
  it("reserves a pool in the network view and returns it on release", () => {
    const a = Ipv4Allocator.create("10.1.1.0/24", "10.1.1.254");
    assert.equal(a.reserveRange("10.1.1.10", "10.1.1.20"), "10.1.1.10-10.1.1.20");
    assert.equal(a.allocatedString(), "10.1.1.10-10.1.1.20, 10.1.1.254");
    assert.equal(a.availableString(), "10.1.1.1-10.1.1.9, 10.1.1.21-10.1.1.253");
    assert.equal(a.allocatedCount, 0);
    assert.deepEqual(a.pools, ["10.1.1.10-10.1.1.20"]);
    for (let i = 1; i <= 9; i++) assert.equal(a.allocate(), `10.1.1.${i}`);
    assert.equal(a.allocate(), "10.1.1.21");
    assert.equal(a.allocatedCount, 10);
    assert.equal(a.releaseRange("10.1.1.10", "10.1.1.20"), true);
    assert.equal(a.releaseRange("10.1.1.10", "10.1.1.20"), false);
    assert.deepEqual(a.pools, []);
    assert.equal(a.allocatedString(), "10.1.1.1-10.1.1.9, 10.1.1.21, 10.1.1.254");
    assert.equal(a.allocatedCount, 10);
    assert.equal(a.allocate(), "10.1.1.10");
  });

  it("allows a pool of exactly one address", () => {
    const a = Ipv4Allocator.create("10.3.1.0/24");
    a.reservePool("10.3.1.11-10.3.1.11");
    assert.equal(a.allocatedString(), "10.3.1.11");
    assert.equal(a.releasePool("10.3.1.11"), true);
  });

  const bad: [string, ErrorClass, string][] = [
    ["10.3.1.0-10.3.1.5", ConflictError, "ip address 10.3.1.0 is not available"],
    ["10.3.1.250-10.3.1.255", ConflictError, "ip address 10.3.1.254 is not available"],
    ["10.3.1.240-10.3.1.250", ConflictError, "ip address 10.3.1.241 is not available"],
    ["10.3.1.28-10.3.1.35", ConflictError, "ip address 10.3.1.30 is not available"],
    ["10.3.1.5-10.3.2.5", ValidationError, "invalid ip-pool 10.3.1.5-10.3.2.5"],
    ["10.3.1.9-10.3.1.2", ValidationError, "invalid ip-pool 10.3.1.9-10.3.1.2"],
    ["10.3.1.9-", ValidationError, "invalid ip-pool 10.3.1.9-"],
    ["pool", ValidationError, "invalid ip-pool pool"],
    ["10.3.2.1-10.3.2.5", ValidationError, "bad ip-pool 10.3.2.1-10.3.2.5, EPG ip-pool must be a subset of network 10.3.1.0/24"],
    ["2001:db8::1-2001:db8::5", ValidationError, "ipv6 address pool is not supported for Endpoint Groups"],
  ];
  for (const [pool, cls, message] of bad) {
    it(`refuses pool ${pool}`, () => {
      const a = Ipv4Allocator.create("10.3.1.0/24", "10.3.1.254");
      a.reserve("10.3.1.241");
      a.reservePool("10.3.1.30-10.3.1.40");
      const before = JSON.stringify(a.toJSON());
      assertError(() => a.reservePool(pool), cls, message);
      assert.equal(JSON.stringify(a.toJSON()), before, "state unchanged");
    });
  }
});

describe("Ipv4Allocator at scale", () => {
  it("fills a /16, reports exhaustion, and reuses a released address", () => {
    const a = Ipv4Allocator.create("10.1.0.0/16");
    let last = "";
    for (let i = 0; i < 65534; i++) last = a.allocate();
    assert.equal(last, "10.1.255.254");
    assert.equal(a.allocatedCount, 65534);
    assert.equal(a.availableString(), "");
    assert.equal(a.allocatedString(), "10.1.0.1-10.1.255.254");
    assertError(() => a.allocate(), ConflictError, "auto allocation failed - address exhaustion in subnet 10.1.0.0/16");
    assert.equal(a.release("10.1.128.77"), true);
    assert.equal(a.allocate(), "10.1.128.77");
  });

  it("keeps a /8 small in JSON", () => {
    const a = Ipv4Allocator.create("10.0.0.0/8", "10.0.0.1");
    for (let i = 0; i < 1000; i++) a.allocate();
    const text = JSON.stringify(a.toJSON());
    assert.ok(text.length < 20000, `${text.length} chars`);
    const b = roundTrip(a);
    assert.equal(b.allocate(), "10.0.3.234");
    assert.equal(b.allocatedCount, 1001);
  });
});

describe("Ipv4Allocator JSON", () => {
  it("round-trips: a copy continues exactly as the original", () => {
    const a = Ipv4Allocator.create("10.1.1.0/24", "10.1.1.1");
    a.reservePool("10.1.1.20-10.1.1.30");
    for (let i = 0; i < 5; i++) a.allocate();
    a.release("10.1.1.4");
    a.reserve("10.1.1.100");
    const b = roundTrip(a);
    assert.deepEqual(b.toJSON(), a.toJSON());
    assert.equal(b.allocatedCount, a.allocatedCount);
    for (let i = 0; i < 30; i++) assert.equal(b.allocate(), a.allocate());
    assert.equal(b.allocatedString(), a.allocatedString());
    assert.deepEqual(b.pools, ["10.1.1.20-10.1.1.30"]);
  });

  it("keeps the range form", () => {
    const a = Ipv4Allocator.create("10.1.1.10-10.1.1.20/24");
    assert.equal(a.toJSON().subnet, "10.1.1.10-10.1.1.20/24");
    assert.equal(roundTrip(a).availableString(), "10.1.1.10-10.1.1.20");
  });

  const good = Ipv4Allocator.create("10.1.1.0/24", "10.1.1.254");
  good.reservePool("10.1.1.10-10.1.1.20");
  const base = good.toJSON();
  const corrupt: [string, unknown][] = [
    ["not an object", "x"],
    ["null", null],
    ["an array", []],
    ["missing bits", { subnet: base.subnet, gateway: base.gateway, pools: base.pools }],
    ["extra field", { ...base, extra: 1 }],
    ["subnet not a string", { ...base, subnet: 24 }],
    ["pools not strings", { ...base, pools: [1] }],
    ["bad subnet", { ...base, subnet: "10.1.1.0/40" }],
    ["gateway outside", { ...base, gateway: "10.9.9.9" }],
    ["bitmap too short", { ...base, bits: new Bitset(128).encode() }],
    ["bitmap garbage", { ...base, bits: "z:####" }],
    ["network bit clear", { ...base, gateway: "", pools: [], bits: new Bitset(256).encode() }],
    ["gateway not marked", { ...Ipv4Allocator.create("10.1.1.0/24").toJSON(), gateway: "10.1.1.254" }],
    ["pool not marked", { ...Ipv4Allocator.create("10.1.1.0/24").toJSON(), pools: ["10.1.1.30-10.1.1.40"] }],
    ["pools overlap", { ...base, pools: ["10.1.1.10-10.1.1.15", "10.1.1.15-10.1.1.20"] }],
    ["pool on the gateway", { ...base, pools: ["10.1.1.10-10.1.1.20", "10.1.1.254"] }],
    ["bad pool", { ...base, pools: ["x"] }],
  ];
  for (const [name, json] of corrupt) {
    it(`rejects ${name}`, () => assert.throws(() => Ipv4Allocator.fromJSON(json), CorruptStateError));
  }
});
