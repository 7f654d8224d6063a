import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { formatAddress } from "./addresses.js";
import { decodeMessage, encodeQuery, Rcode, RRType, type DnsMessage } from "./message.js";
import { RecordIndex } from "./records.js";
import { maxResponseSize, resolveQuery, servfail, type Resolution } from "./resolve.js";

const index = new RecordIndex({
  services: [{ name: "web", ipv4: ["10.254.0.1"], ipv6: [] }],
  groups: [{ name: "db", ipv4: Array.from({ length: 12 }, (_, i) => `10.1.2.${i + 1}`), ipv6: Array.from({ length: 12 }, (_, i) => `2001:db8::${i + 1}`) }],
  endpoints: [{ name: "/app1", ipv4: ["10.1.3.1"], ipv6: ["2001:db8::31"] }],
  domain: "blue.example",
});

function reply(resolution: Resolution): DnsMessage {
  assert.equal(resolution.action, "reply");
  if (resolution.action !== "reply") throw new Error("unreachable");
  const decoded = decodeMessage(resolution.response);
  assert.ok(decoded.ok, "our response decodes");
  return decoded.message;
}

const udp = { transport: "udp", canForward: true } as const;

describe("resolveQuery", () => {
  it("answers a known name authoritatively with TTL 120", () => {
    const r = resolveQuery(index, encodeQuery({ id: 42, name: "WEB", type: RRType.A }), udp);
    assert.equal(r.action === "reply" && r.outcome, "found");
    const m = reply(r);
    assert.equal(m.header.id, 42);
    assert.equal(m.header.aa, true);
    assert.equal(m.header.rd, true);
    assert.equal(m.header.ra, true);
    assert.equal(m.rcode, Rcode.NOERROR);
    assert.equal(m.questions[0]!.name, "WEB");
    assert.deepEqual(m.answers.map((a) => [a.name, a.type, a.ttl, formatAddress(a.data)]), [["WEB", RRType.A, 120, "10.254.0.1"]]);
  });

  it("answers ANY with A then AAAA, 10 records at most", () => {
    const m = reply(resolveQuery(index, encodeQuery({ id: 1, name: "app1.blue.example", type: RRType.ANY }), udp));
    assert.deepEqual(m.answers.map((a) => formatAddress(a.data)), ["10.1.3.1", "2001:db8::31"]);
    const db = reply(resolveQuery(index, encodeQuery({ id: 1, name: "db", type: RRType.AAAA }), udp));
    assert.equal(db.answers.length, 10);
  });

  it("distinguishes NOERROR-empty, NXDOMAIN, forward and REFUSED", () => {
    const empty = reply(resolveQuery(index, encodeQuery({ id: 1, name: "web", type: RRType.AAAA }), udp));
    assert.equal(empty.rcode, Rcode.NOERROR);
    assert.equal(empty.answers.length, 0);
    assert.equal(empty.header.aa, true);

    const nx = resolveQuery(index, encodeQuery({ id: 1, name: "nope.blue.example", type: RRType.A }), udp);
    assert.equal(nx.action === "reply" && nx.outcome, "notFound");
    assert.equal(reply(nx).rcode, Rcode.NXDOMAIN);
    assert.equal(reply(nx).header.aa, true);

    const fwd = resolveQuery(index, encodeQuery({ id: 9, name: "example.org", type: RRType.A }), udp);
    assert.equal(fwd.action, "forward");
    assert.equal(fwd.action === "forward" && fwd.query.header.id, 9);

    const refused = resolveQuery(index, encodeQuery({ id: 1, name: "example.org", type: RRType.A }), { transport: "udp", canForward: false });
    assert.equal(refused.action === "reply" && refused.outcome, "notFound");
    assert.equal(reply(refused).rcode, Rcode.REFUSED);
    assert.equal(reply(refused).header.ra, false);

    const chaos = resolveQuery(index, encodeQuery({ id: 1, name: "web", type: RRType.TXT, class: 3 }), udp);
    assert.equal(chaos.action, "forward", "only class IN is looked up");
  });

  it("answers EDNS with EDNS", () => {
    const m = reply(resolveQuery(index, encodeQuery({ id: 1, name: "db", type: RRType.A, ednsUdpSize: 4096 }), udp));
    assert.equal(m.edns?.udpSize, 1232);
    const plain = reply(resolveQuery(index, encodeQuery({ id: 1, name: "db", type: RRType.A }), udp));
    assert.equal(plain.edns, undefined);
  });

  it("truncates UDP answers to 512 bytes without EDNS, not on TCP", () => {
    const long = `${Array.from({ length: 4 }, () => "x".repeat(60)).join(".")}.db`;
    const big = new RecordIndex({ services: [], groups: [{ name: long, ipv4: [], ipv6: Array.from({ length: 10 }, (_, i) => `2001:db8::${i + 1}`) }], endpoints: [] });
    const query = encodeQuery({ id: 1, name: long, type: RRType.AAAA });
    const r = resolveQuery(big, query, udp);
    assert.ok(r.action === "reply" && r.response.length <= 512);
    const m = reply(r);
    assert.equal(m.header.tc, true);
    assert.ok(m.answers.length < 10);
    const t = reply(resolveQuery(big, query, { transport: "tcp", canForward: true }));
    assert.equal(t.header.tc, false);
    assert.equal(t.answers.length, 10);
  });

  const rejected: [string, Uint8Array, number][] = [
    ["trailing garbage → FORMERR", Uint8Array.from([...encodeQuery({ id: 5, name: "web", type: 1 }), 0xff]), Rcode.FORMERR],
    ["two questions → FORMERR", twoQuestions(), Rcode.FORMERR],
    ["no question → FORMERR", Uint8Array.from([0, 5, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]), Rcode.FORMERR],
    ["opcode STATUS → NOTIMP", withByte2(encodeQuery({ id: 5, name: "web", type: 1 }), 0x10), Rcode.NOTIMP],
    ["EDNS version 1 → BADVERS", ednsVersion1(), Rcode.BADVERS],
    ["TSIG → REFUSED", withTsig(), Rcode.REFUSED],
    ["OPT as question type → FORMERR", encodeQuery({ id: 5, name: "web", type: RRType.OPT }), Rcode.FORMERR],
  ];
  for (const [name, bytes, rcode] of rejected) {
    it(`rejects ${name}`, () => {
      const r = resolveQuery(index, bytes, udp);
      assert.equal(r.action === "reply" && r.outcome, "invalid");
      const m = reply(r);
      assert.equal(m.rcode, rcode);
      assert.equal(m.header.id, 5);
      assert.equal(m.answers.length, 0);
    });
  }

  const dropped: [string, Uint8Array][] = [
    ["empty packet", new Uint8Array(0)],
    ["short packet", new Uint8Array(7)],
    ["a response", withByte2(encodeQuery({ id: 5, name: "web", type: 1 }), 0x80)],
    ["a malformed response", Uint8Array.from([0, 5, 0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 9])],
  ];
  for (const [name, bytes] of dropped) {
    it(`drops ${name} without a reply`, () => {
      const r = resolveQuery(index, bytes, udp);
      assert.equal(r.action, "drop");
    });
  }

  it("builds SERVFAIL for a failed forward", () => {
    const q = decodeMessage(encodeQuery({ id: 77, name: "example.org", type: RRType.A, ednsUdpSize: 1232 }));
    assert.ok(q.ok);
    const m = decodeMessage(servfail(q.message, "udp"));
    assert.ok(m.ok);
    assert.equal(m.message.rcode, Rcode.SERVFAIL);
    assert.equal(m.message.header.id, 77);
    assert.equal(m.message.questions[0]!.name, "example.org");
  });

  it("limits response size by transport and EDNS", () => {
    assert.equal(maxResponseSize(undefined, "udp"), 512);
    assert.equal(maxResponseSize({ edns: { udpSize: 100, version: 0, extendedRcode: 0, dnssecOk: false } }, "udp"), 512);
    assert.equal(maxResponseSize({ edns: { udpSize: 4096, version: 0, extendedRcode: 0, dnssecOk: false } }, "udp"), 1232);
    assert.equal(maxResponseSize(undefined, "tcp"), 65535);
  });
});

function withByte2(bytes: Uint8Array, value: number): Uint8Array {
  const out = Uint8Array.from(bytes);
  out[2] = out[2]! | value;
  return out;
}

function twoQuestions(): Uint8Array {
  const q = encodeQuery({ id: 5, name: "web", type: 1 });
  const out = Uint8Array.from([...q, ...q.subarray(12)]);
  out[5] = 2;
  return out;
}

function ednsVersion1(): Uint8Array {
  const out = encodeQuery({ id: 5, name: "web", type: 1, ednsUdpSize: 1232 });
  out[out.length - 5] = 1; // OPT TTL: extended rcode, version, flags
  return out;
}

function withTsig(): Uint8Array {
  const q = encodeQuery({ id: 5, name: "web", type: 1 });
  // key name "k", type TSIG, class ANY, TTL 0, 2 bytes of (bogus) rdata
  const tsig = [1, 0x6b, 0, 0, 250, 0, 255, 0, 0, 0, 0, 0, 2, 0, 0];
  const out = Uint8Array.from([...q, ...tsig]);
  out[11] = 1;
  return out;
}
