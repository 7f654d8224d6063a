import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConflictError, ValidationError } from "../../lib/errors.js";
import { Bitset } from "./bitset.js";
import { CorruptStateError } from "./corrupt.js";
import { parseTagRange, VlanAllocator, VxlanAllocator, type TagKind } from "./tags.js";

describe("parseTagRange", () => {
  const good: [string, TagKind, number, number][] = [
    ["1-4094", "vlan", 1, 4094],
    ["1-4095", "vlan", 1, 4095],
    [" 100 - 200 ", "vlan", 100, 200],
    ["5-5", "vlan", 5, 5],
    ["1-10000", "vxlan", 1, 10000],
    ["50000-65535", "vxlan", 50000, 65535],
    ["1-16001", "vxlan", 1, 16001],
  ];
  for (const [text, kind, min, max] of good) {
    it(`parses ${kind} ${JSON.stringify(text)}`, () => assert.deepEqual(parseTagRange(text, kind), { min, max }));
  }

  const bad: [string, TagKind, string][] = [
    ["10-5", "vlan", "invalid range 10-5, min is greater than max"],
    ["0-100", "vlan", "invalid range 0-100, values less than 1"],
    ["1-4096", "vlan", "invalid range 1-4096, vlan values exceed 4095 max allowed"],
    ["1-65536", "vxlan", "invalid range 1-65536, vxlan values exceed 65535 max allowed"],
    ["1-16002", "vxlan", "does not allow vxlan range to exceed 16000 range 1-16002"],
    ["1-10,20-30", "vlan", "invalid vlan range 1-10,20-30: only one range is allowed"],
    ["1-10,20-30", "vxlan", "invalid vxlan range 1-10,20-30: only one range is allowed"],
    ["", "vlan", 'invalid vlan range : expected "min-max"'],
    ["100", "vlan", 'invalid vlan range 100: expected "min-max"'],
    ["a-b", "vxlan", 'invalid vxlan range a-b: expected "min-max"'],
    ["-1-5", "vlan", 'invalid vlan range -1-5: expected "min-max"'],
    ["1.5-3", "vlan", 'invalid vlan range 1.5-3: expected "min-max"'],
  ];
  for (const [text, kind, message] of bad) {
    it(`rejects ${kind} ${JSON.stringify(text)}`, () => {
      assert.throws(() => parseTagRange(text, kind), (err: unknown) => {
        assert.ok(err instanceof ValidationError);
        assert.equal(err.message, message);
        return true;
      });
    });
  }
});

describe("VlanAllocator", () => {
  it("hands out the lowest free VLAN, or the requested one", () => {
    const v = VlanAllocator.create("1-4094");
    assert.equal(v.allocate(), 1);
    assert.equal(v.allocate(0), 2);
    assert.equal(v.allocate(300), 300);
    assert.equal(v.allocate(undefined), 3);
    assert.equal(v.inUseString(), "1-3, 300");
    assert.equal(v.count, 4);
  });

  it("refuses requested VLANs that are taken or out of range", () => {
    const v = VlanAllocator.create("10-20");
    v.allocate(15);
    for (const tag of [15, 9, 21, 4095]) {
      assert.throws(() => v.allocate(tag), { name: "ConflictError", message: `requested vlan not available - vlan:${tag}` });
    }
    assert.throws(() => v.allocate(-1), ValidationError);
    assert.throws(() => v.allocate(1.5), ValidationError);
  });

  it("never hands out 4095", () => {
    const v = VlanAllocator.create("4094-4095");
    assert.equal(v.allocate(), 4094);
    assert.throws(() => v.allocate(), { name: "ConflictError", message: "no vlans available" });
  });

  it("reports exhaustion and reuses freed VLANs", () => {
    const v = VlanAllocator.create("1-3");
    v.allocate();
    v.allocate();
    v.allocate();
    assert.throws(() => v.allocate(), ConflictError);
    assert.equal(v.free(2), true);
    assert.equal(v.free(2), false);
    assert.equal(v.free(99999), false);
    assert.equal(v.allocate(), 2);
  });

  it("changes range only when it still holds every VLAN in use", () => {
    const v = VlanAllocator.create("1-4094");
    v.allocate();
    v.allocate();
    v.allocate();
    v.setRange("1-100");
    assert.equal(v.range, "1-100");
    v.setRange({ min: 1, max: 3 });
    for (const range of ["2-100", "1-2"]) {
      assert.throws(() => v.setRange(range), {
        name: "ConflictError",
        message: "cannot update the vlan range due to existing vlans 1-3",
      });
    }
    assert.equal(v.range, "1-3");
    assert.throws(() => v.setRange("0-5"), ValidationError);
    assert.equal(v.inUseString(), "1-3");
    const empty = VlanAllocator.create("1-10");
    empty.setRange("500-600");
    assert.equal(empty.allocate(), 500);
  });

  it("accepts a parsed range", () => {
    assert.equal(VlanAllocator.create({ min: 5, max: 6 }).allocate(), 5);
    assert.throws(() => VlanAllocator.create({ min: 0, max: 6 }), ValidationError);
  });

  it("round-trips through JSON", () => {
    const v = VlanAllocator.create("1-4094");
    v.allocate(7);
    v.allocate();
    const w = VlanAllocator.fromJSON(JSON.parse(JSON.stringify(v.toJSON())));
    assert.equal(w.inUseString(), "1, 7");
    assert.equal(w.allocate(), v.allocate());
    assert.equal(w.range, "1-4094");
  });

  const inUse = new Bitset(4096);
  inUse.set(50);
  const corrupt: [string, unknown][] = [
    ["not an object", null],
    ["bad range", { range: "0-5", inUse: new Bitset(4096).encode() }],
    ["bad bitmap", { range: "1-10", inUse: new Bitset(10).encode() }],
    ["VLAN outside the range", { range: "1-10", inUse: inUse.encode() }],
    ["extra field", { range: "1-10", inUse: new Bitset(4096).encode(), x: 1 }],
  ];
  for (const [name, json] of corrupt) {
    it(`rejects ${name}`, () => assert.throws(() => VlanAllocator.fromJSON(json), CorruptStateError));
  }
});

describe("VxlanAllocator", () => {
  it("pairs each VNI with a local VLAN", () => {
    const x = VxlanAllocator.create("1-10000");
    assert.deepEqual(x.allocate(), { vni: 1, localVlan: 1 });
    assert.deepEqual(x.allocate(5000), { vni: 5000, localVlan: 2 });
    assert.deepEqual(x.allocate(0), { vni: 2, localVlan: 3 });
    assert.equal(x.inUseString(), "1-2, 5000");
    assert.equal(x.localVlansInUseString(), "1-3");
    assert.equal(x.count, 3);
    assert.equal(x.freeVxlansStart, 0);
  });

  it("keeps local VLANs apart from the VLAN allocator", () => {
    const v = VlanAllocator.create("1-4094");
    const x = VxlanAllocator.create("1-10000");
    assert.equal(v.allocate(), 1);
    assert.equal(x.allocate().localVlan, 1);
  });

  it("refuses requested VNIs out of range or taken", () => {
    const x = VxlanAllocator.create("1000-2000");
    x.allocate(1500);
    const cases: [number, string][] = [
      [999, "requested vxlan is out of range"],
      [2001, "requested vxlan is out of range"],
      [1500, "requested vxlan not available"],
    ];
    for (const [vni, message] of cases) {
      assert.throws(() => x.allocate(vni), { name: "ConflictError", message });
    }
    assert.equal(x.count, 1);
    assert.equal(x.freeVxlansStart, 999);
  });

  it("reports VNI exhaustion", () => {
    const x = VxlanAllocator.create("7-8");
    x.allocate();
    x.allocate();
    assert.throws(() => x.allocate(), { name: "ConflictError", message: "no vxlans available" });
  });

  it("reports local VLAN exhaustion without taking the VNI", () => {
    const x = VxlanAllocator.create("1-16001");
    for (let i = 0; i < 4094; i++) x.allocate();
    assert.throws(() => x.allocate(), { name: "ConflictError", message: "no local vlans available" });
    assert.throws(() => x.allocate(9000), { name: "ConflictError", message: "no local vlans available" });
    assert.equal(x.count, 4094);
    assert.equal(x.isInUse(9000), false);
    assert.equal(x.free(17, 17), true);
    assert.deepEqual(x.allocate(9000), { vni: 9000, localVlan: 17 });
  });

  it("frees idempotently", () => {
    const x = VxlanAllocator.create("1-100");
    const { vni, localVlan } = x.allocate();
    assert.equal(x.free(vni, localVlan), true);
    assert.equal(x.free(vni, localVlan), false);
    assert.equal(x.count, 0);
    assert.equal(x.localVlansInUseString(), "");
  });

  it("changes range only when it still holds every VNI in use", () => {
    const x = VxlanAllocator.create("1-10000");
    x.allocate();
    x.allocate();
    x.allocate(300);
    assert.throws(() => x.setRange("2-10000"), {
      name: "ConflictError",
      message: "cannot update the vxlan range due to existing vxlans 1-2, 300",
    });
    assert.throws(() => x.setRange("1-299"), ConflictError);
    x.setRange("1-300");
    assert.equal(x.range, "1-300");
    assert.deepEqual(x.allocate(), { vni: 3, localVlan: 4 });
    assert.throws(() => x.setRange("1-20000"), ValidationError);
  });

  it("round-trips through JSON", () => {
    const x = VxlanAllocator.create("100-200");
    x.allocate();
    x.allocate(150);
    x.free(100, 1);
    const y = VxlanAllocator.fromJSON(JSON.parse(JSON.stringify(x.toJSON())));
    assert.equal(y.inUseString(), "150");
    assert.deepEqual(y.allocate(), x.allocate());
    assert.deepEqual(y.toJSON(), x.toJSON());
  });

  const good = VxlanAllocator.create("1-100").toJSON();
  const vni500 = new Bitset(65536);
  vni500.set(500);
  const localZero = new Bitset(4096);
  localZero.set(0);
  const corrupt: [string, unknown][] = [
    ["not an object", "x"],
    ["missing localVlans", { range: good.range, vnis: good.vnis }],
    ["bad range", { ...good, range: "1-70000" }],
    ["VNI outside the range", { ...good, vnis: vni500.encode() }],
    ["local VLAN 0 in use", { ...good, localVlans: localZero.encode() }],
    ["bad bitmap", { ...good, vnis: "z:AAAA" }],
  ];
  for (const [name, json] of corrupt) {
    it(`rejects ${name}`, () => assert.throws(() => VxlanAllocator.fromJSON(json), CorruptStateError));
  }
});
