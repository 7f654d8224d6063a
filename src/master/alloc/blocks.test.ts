import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { formatIpv4, parseIpv4, parseIpv4Subnet } from "../../lib/ipv4.js";
import { blockCidrOf, blockPrefixLength, chooseBlock } from "./blocks.js";
import { Ipv4Allocator } from "./ipv4-allocator.js";

const always = () => true;

describe("blockPrefixLength", () => {
  it("gives /26 from /20 up, four bits more below, /30 at most, nothing for /31 and /32", () => {
    const cases: [number, number | undefined][] = [
      [8, 26], [16, 26], [20, 26], [21, 26], [22, 26], [23, 27], [24, 28], [25, 29], [26, 30], [27, 30], [30, 30], [31, undefined], [32, undefined],
    ];
    for (const [subnet, block] of cases) assert.equal(blockPrefixLength(subnet), block, `/${subnet}`);
  });
});

describe("blockCidrOf", () => {
  it("gives the aligned block holding the address", () => {
    assert.equal(blockCidrOf("10.1.0.77", 26), "10.1.0.64/26");
    assert.equal(blockCidrOf("10.1.0.64", 26), "10.1.0.64/26");
    assert.equal(blockCidrOf("255.255.255.255", 30), "255.255.255.252/30");
    assert.equal(blockCidrOf("192.168.7.3", 28), "192.168.7.0/28");
  });

  it("holds the address, is aligned, and is the same for every address of it", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 26, max: 30 }), (value, len) => {
        const cidr = blockCidrOf(formatIpv4(value), len);
        const block = parseIpv4Subnet(cidr);
        assert.equal(formatIpv4(block.network), cidr.split("/")[0], "aligned");
        assert.ok(value >= block.network && value <= block.broadcast);
        assert.equal(blockCidrOf(formatIpv4(block.broadcast), len), cidr);
      }),
    );
  });
});

describe("chooseBlock", () => {
  it("takes the lowest range, without the network address and the gateway", () => {
    const ipv4 = Ipv4Allocator.create("10.1.0.0/24", "10.1.0.1");
    const choice = chooseBlock(ipv4, new Set(), always);
    assert.equal(choice?.cidr, "10.1.0.0/28");
    assert.deepEqual(choice?.addresses, Array.from({ length: 14 }, (_, i) => `10.1.0.${i + 2}`));
  });

  it("skips ranges held by blocks and ranges less than half free, and leaves out unusable addresses", () => {
    const ipv4 = Ipv4Allocator.create("10.2.0.0/24", "10.2.0.254");
    for (let i = 16; i < 25; i++) ipv4.reserve(`10.2.0.${i}`);
    const choice = chooseBlock(ipv4, new Set(["10.2.0.0/28"]), (a) => a !== "10.2.0.40");
    assert.equal(choice?.cidr, "10.2.0.32/28");
    assert.equal(choice?.addresses.length, 15);
    assert.ok(!choice?.addresses.includes("10.2.0.40"));
  });

  it("stays inside a range-form subnet and outside group pools", () => {
    const ipv4 = Ipv4Allocator.create("10.3.0.10-10.3.0.100/24");
    ipv4.reservePool("10.3.0.16-10.3.0.31");
    const choice = chooseBlock(ipv4, new Set(), always);
    assert.equal(choice?.cidr, "10.3.0.32/28");
    assert.equal(chooseBlock(Ipv4Allocator.create("10.3.0.10-10.3.0.100/24"), new Set(), always)?.cidr, "10.3.0.16/28", "10..15: 6 of 16 are too few");
  });

  it("finds nothing in a /31, a full subnet or one whose ranges are all held", () => {
    assert.equal(chooseBlock(Ipv4Allocator.create("10.4.0.0/31"), new Set(), always), undefined);
    const full = Ipv4Allocator.create("10.4.1.0/28");
    for (let i = 1; i < 15; i++) full.reserve(`10.4.1.${i}`);
    assert.equal(chooseBlock(full, new Set(), always), undefined);
    assert.equal(chooseBlock(Ipv4Allocator.create("10.4.2.0/28"), new Set(["10.4.2.0/30", "10.4.2.4/30", "10.4.2.8/30", "10.4.2.12/30"]), always), undefined);
  });

  it("crosses a nearly full /12 quickly", () => {
    const ipv4 = Ipv4Allocator.create("10.16.0.0/12");
    const started = Date.now();
    while (ipv4.availableCount > 100) ipv4.allocate();
    // 10.31.255.155-254 are left: 37 of them in .128/26.
    assert.equal(chooseBlock(ipv4, new Set(), always)?.cidr, "10.31.255.128/26");
    assert.ok(Date.now() - started < 20_000);
  });

  it("gives free, usable addresses of an unheld range at least half free, and no lower range would do", () => {
    const arb = fc.record({
      prefixLen: fc.integer({ min: 20, max: 30 }),
      gateway: fc.boolean(),
      taken: fc.array(fc.nat(), { maxLength: 200 }),
      held: fc.array(fc.nat(), { maxLength: 8 }),
      unusable: fc.array(fc.nat(), { maxLength: 20 }),
    });
    fc.assert(
      fc.property(arb, ({ prefixLen, gateway, taken, held, unusable }) => {
        const size = 2 ** (32 - prefixLen);
        const base = parseIpv4("10.0.0.0");
        const at = (n: number) => formatIpv4(base + (n % size));
        const ipv4 = Ipv4Allocator.create(`10.0.0.0/${prefixLen}`, gateway ? at(1) : "");
        for (const n of taken) if (ipv4.isAvailable(at(n))) ipv4.reserve(at(n));
        const len = blockPrefixLength(prefixLen)!;
        const heldSet = new Set(held.map((n) => blockCidrOf(at(n), len)));
        const bad = new Set(unusable.map(at));
        const usable = (a: string) => !bad.has(a);
        const qualifies = (start: number): string[] | undefined => {
          const cidr = `${formatIpv4(start)}/${len}`;
          if (heldSet.has(cidr)) return undefined;
          const free = Array.from({ length: 2 ** (32 - len) }, (_, i) => formatIpv4(start + i)).filter((a) => ipv4.isAvailable(a) && usable(a));
          return free.length * 2 >= 2 ** (32 - len) ? free : undefined;
        };
        const choice = chooseBlock(ipv4, heldSet, usable);
        const choiceStart = choice ? parseIpv4(choice.cidr.split("/")[0]!) : base + size;
        for (let start = base; start < choiceStart; start += 2 ** (32 - len)) {
          assert.equal(qualifies(start), undefined, `${formatIpv4(start)} qualifies before ${choice?.cidr}`);
        }
        if (choice) assert.deepEqual(choice.addresses, qualifies(choiceStart));
      }),
      { numRuns: 300 },
    );
  });
});
