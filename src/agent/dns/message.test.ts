import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { addressBytes, formatAddress } from "./addresses.js";
import {
  decodeHeader,
  decodeMessage,
  encodeName,
  encodeQuery,
  encodeResponse,
  Rcode,
  RRType,
  type DnsQuestion,
} from "./message.js";

/** A 12-byte header with these counts, then the given bytes. */
function packet(counts: [number, number, number, number], ...rest: number[]): Uint8Array {
  const [qd, an, ns, ar] = counts;
  return Uint8Array.from([0x12, 0x34, 0x01, 0x00, 0, qd, 0, an, 0, ns, 0, ar, ...rest]);
}

function question(name: string, type: number = RRType.A): DnsQuestion {
  return { name, type, class: 1, wire: encodeName(name) };
}

describe("decodeMessage", () => {
  it("reads back what encodeQuery wrote", () => {
    const cases = [
      { name: "web", type: RRType.A, rd: true, edns: undefined },
      { name: "Web.Blue.Example.", type: RRType.AAAA, rd: false, edns: 1232 },
      { name: ".", type: RRType.ANY, rd: true, edns: 4096 },
    ];
    for (const c of cases) {
      const result = decodeMessage(encodeQuery({ id: 0xbeef, name: c.name, type: c.type, rd: c.rd, ednsUdpSize: c.edns }));
      assert.ok(result.ok, c.name);
      const m = result.message;
      assert.equal(m.header.id, 0xbeef);
      assert.equal(m.header.qr, false);
      assert.equal(m.header.rd, c.rd);
      assert.equal(m.questions.length, 1);
      assert.equal(m.questions[0]!.name, c.name === "." ? "." : c.name.replace(/\.$/, ""), "case kept, no trailing dot");
      assert.equal(m.questions[0]!.type, c.type);
      assert.deepEqual(m.edns?.udpSize, c.edns);
      assert.equal(m.additional.length, 0, "OPT is not an additional record");
    }
  });

  it("presents odd label bytes escaped", () => {
    const r = decodeMessage(packet([1, 0, 0, 0], 3, 0x61, 0x2e, 0x07, 1, 0x5c, 0, 0, 1, 0, 1));
    assert.ok(r.ok);
    assert.equal(r.message.questions[0]!.name, "a\\.\\007.\\\\");
  });

  it("follows a backward compression pointer", () => {
    // question "ab", answer owner = pointer to 12, type A, 4 bytes
    const r = decodeMessage(packet([1, 1, 0, 0], 2, 0x61, 0x62, 0, 0, 1, 0, 1, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0, 0, 1));
    assert.ok(r.ok);
    assert.equal(r.message.answers[0]!.name, "ab");
    assert.equal(r.message.answers[0]!.ttl, 60);
    assert.deepEqual([...r.message.answers[0]!.data], [10, 0, 0, 1]);
  });

  const malformed: [string, Uint8Array, boolean][] = [
    // [case, bytes, header readable]
    ["empty", new Uint8Array(0), false],
    ["11 bytes", new Uint8Array(11), false],
    ["question missing", packet([1, 0, 0, 0]), true],
    ["label runs past the end", packet([1, 0, 0, 0], 5, 0x61), true],
    ["type and class missing", packet([1, 0, 0, 0], 1, 0x61, 0), true],
    ["pointer to itself", packet([1, 0, 0, 0], 0xc0, 12, 0, 1, 0, 1), true],
    ["pointer forward", packet([1, 0, 0, 0], 0xc0, 14, 0, 1, 0, 1), true],
    ["pointer cut short", packet([1, 0, 0, 0], 0xc0), true],
    ["reserved label type 0x40", packet([1, 0, 0, 0], 0x41, 0x61, 0, 0, 1, 0, 1), true],
    ["name over 255 octets", packet([1, 0, 0, 0], ...Array.from({ length: 5 }, () => [63, ...new Array<number>(63).fill(0x61)]).flat(), 0, 0, 1, 0, 1), true],
    ["trailing bytes", Uint8Array.from([...encodeQuery({ id: 1, name: "a", type: 1 }), 0]), true],
    ["record data past the end", packet([1, 1, 0, 0], 1, 0x61, 0, 0, 1, 0, 1, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 9, 1), true],
    ["answer count without answers", packet([1, 2, 0, 0], 1, 0x61, 0, 0, 1, 0, 1), true],
    ["two OPT records", packet([1, 0, 0, 2], 1, 0x61, 0, 0, 1, 0, 1, 0, 0, 41, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 41, 2, 0, 0, 0, 0, 0, 0, 0), true],
    ["OPT not at the root", packet([1, 0, 0, 1], 1, 0x61, 0, 0, 1, 0, 1, 0xc0, 12, 0, 41, 2, 0, 0, 0, 0, 0, 0, 0), true],
  ];
  for (const [name, bytes, headerReadable] of malformed) {
    it(`rejects without throwing: ${name}`, () => {
      const r = decodeMessage(bytes);
      assert.equal(r.ok, false);
      if (!r.ok) assert.equal(r.header !== undefined, headerReadable);
    });
  }

  it("keeps the question of a packet that fails later, for the FORMERR", () => {
    const r = decodeMessage(Uint8Array.from([...encodeQuery({ id: 7, name: "web", type: 1 }), 9]));
    assert.ok(!r.ok);
    assert.equal(r.question?.name, "web");
    assert.equal(r.header?.id, 7);
  });

  it("reads EDNS version, DO bit and extended rcode", () => {
    const r = decodeMessage(packet([1, 0, 0, 1], 1, 0x61, 0, 0, 1, 0, 1, 0, 0, 41, 0x10, 0, 0x01, 0x02, 0x80, 0, 0, 0));
    assert.ok(r.ok);
    assert.deepEqual(r.message.edns, { udpSize: 4096, extendedRcode: 1, version: 2, dnssecOk: true });
    assert.equal(r.message.rcode, 16);
  });
});

describe("decodeHeader", () => {
  it("reads every flag", () => {
    const h = decodeHeader(Uint8Array.from([0, 9, 0b1_0010_1_1_1, 0b1_0_1_1_0011, 0, 1, 0, 2, 0, 3, 0, 4]));
    assert.deepEqual(h, { id: 9, qr: true, opcode: 2, aa: true, tc: true, rd: true, ra: true, ad: true, cd: true, rcode: 3, qdcount: 1, ancount: 2, nscount: 3, arcount: 4 });
    assert.equal(decodeHeader(new Uint8Array(5)), undefined);
  });
});

describe("encodeResponse", () => {
  it("writes answers with a pointer to the question name", () => {
    const q = question("Web.Blue");
    const bytes = encodeResponse({ id: 5, rd: true, aa: true, ra: false, rcode: Rcode.NOERROR, question: q, answers: [{ type: RRType.A, ttl: 120, data: Uint8Array.of(10, 1, 1, 2) }], maxSize: 512 });
    const start = 12 + q.wire.length + 4;
    assert.deepEqual([...bytes.subarray(start, start + 2)], [0xc0, 12]);
    const r = decodeMessage(bytes);
    assert.ok(r.ok);
    assert.equal(r.message.header.qr, true);
    assert.equal(r.message.header.aa, true);
    assert.equal(r.message.header.tc, false);
    assert.equal(r.message.questions[0]!.name, "Web.Blue", "question echoed byte for byte");
    assert.equal(r.message.answers[0]!.name, "Web.Blue");
    assert.equal(r.message.answers[0]!.ttl, 120);
    assert.equal(formatAddress(r.message.answers[0]!.data), "10.1.1.2");
  });

  it("leaves out whole answers and sets TC when over the size limit", () => {
    const long = Array.from({ length: 4 }, () => "x".repeat(60)).join("."); // 245 octets on the wire
    const aaaa = { type: RRType.AAAA, ttl: 120, data: addressBytes("2001:db8::1")! };
    const answers = new Array(10).fill(aaaa);
    const cases = [
      { maxSize: 512, edns: undefined, kept: 8, tc: true },
      { maxSize: 300, edns: 1232, kept: 1, tc: true },
      { maxSize: 1232, edns: 1232, kept: 10, tc: false },
    ];
    for (const c of cases) {
      const bytes = encodeResponse({ id: 1, rd: true, aa: true, ra: true, rcode: 0, question: question(long, RRType.AAAA), answers, ednsUdpSize: c.edns, maxSize: c.maxSize });
      assert.ok(bytes.length <= c.maxSize);
      const r = decodeMessage(bytes);
      assert.ok(r.ok);
      assert.equal(r.message.answers.length, c.kept, `max ${c.maxSize}`);
      assert.equal(r.message.header.tc, c.tc);
      assert.equal(r.message.edns?.udpSize, c.edns, "OPT kept when truncated");
    }
  });

  it("puts the upper rcode bits in the OPT record", () => {
    const r = decodeMessage(encodeResponse({ id: 1, rd: false, aa: false, ra: false, rcode: Rcode.BADVERS, question: question("a"), ednsUdpSize: 1232, maxSize: 512 }));
    assert.ok(r.ok);
    assert.equal(r.message.rcode, Rcode.BADVERS);
    assert.throws(() => encodeResponse({ id: 1, rd: false, aa: false, ra: false, rcode: Rcode.BADVERS, maxSize: 512 }), RangeError);
  });

  it("writes a bare header without a question", () => {
    const r = decodeMessage(encodeResponse({ id: 3, rd: true, aa: false, ra: false, rcode: Rcode.FORMERR, maxSize: 512 }));
    assert.ok(r.ok);
    assert.equal(r.message.header.qdcount, 0);
    assert.equal(r.message.rcode, Rcode.FORMERR);
  });
});

describe("encodeName", () => {
  it("rejects empty and long labels", () => {
    assert.throws(() => encodeName("a..b"), RangeError);
    assert.throws(() => encodeName("x".repeat(64)), RangeError);
    assert.throws(() => encodeName(Array.from({ length: 5 }, () => "x".repeat(60)).join(".")), RangeError);
    assert.deepEqual([...encodeName(".")], [0]);
  });
});
