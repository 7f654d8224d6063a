import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { ipv6Text, parseFlowPacket, parseNflog, PcapNflogStream, type NflogRecord } from "./nflog.js";

/** A pcap stream as tcpdump writes it: global header, then one record per NFLOG message, in the writer's byte order. */
function pcap(records: NflogRecord[], little = true, linktype = 239): Buffer {
  const u16 = (n: number) => {
    const b = Buffer.alloc(2);
    little ? b.writeUInt16LE(n) : b.writeUInt16BE(n);
    return b;
  };
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    little ? b.writeUInt32LE(n) : b.writeUInt32BE(n);
    return b;
  };
  const tlv = (type: number, value: Uint8Array) => {
    const pad = Buffer.alloc((4 - ((4 + value.length) % 4)) % 4);
    return Buffer.concat([u16(4 + value.length), u16(type), value, pad]);
  };
  const parts = [u32(0xa1b2c3d4), u16(2), u16(4), u32(0), u32(0), u32(262144), u32(linktype)];
  for (const r of records) {
    const body = Buffer.concat([
      Buffer.from([r.family, 0, 0x09, 0x67]),
      tlv(1, Buffer.from([0x08, 0x00, 0x03, 0])),
      tlv(10, Buffer.concat([Buffer.from(r.prefix, "latin1"), Buffer.from([0])])),
      tlv(2, u32(7)),
      tlv(9, r.payload),
    ]);
    parts.push(u32(1_700_000_000), u32(5), u32(body.length), u32(body.length), body);
  }
  return Buffer.concat(parts);
}

function ipv4Tcp(src: number[], dst: number[], dport: number, proto = 6): Uint8Array {
  const p = Buffer.alloc(40);
  p[0] = 0x45;
  p[9] = proto;
  p.set(src, 12);
  p.set(dst, 16);
  p.writeUInt16BE(40000, 20);
  p.writeUInt16BE(dport, 22);
  return p;
}

const record = fc.record({
  family: fc.constant(2),
  prefix: fc.stringMatching(/^[A-Za-z0-9 .:_-]{0,100}$/),
  payload: fc.uint8Array({ minLength: 0, maxLength: 120 }),
});

describe("PcapNflogStream", () => {
  it("reads the records tcpdump wrote (the kernel's bytes, captured from nflog:7)", () => {
    const hex =
      "d4c3b2a102000400000000000000000000000400ef0000005017146ba63d0100740000007400000002000007080001000800" +
      "03000d000a004420706f6c3a723100000000080005000000000108000b000000000008000e0000000000400009004500003c" +
      "b06b400040068c4e7f0000017f0000018022232938c3d85800000000a002ffd7fe3000000204ffd70402080a7a2df4aa0000" +
      "00000103030a";
    const records = new PcapNflogStream().push(Buffer.from(hex, "hex"));
    assert.equal(records.length, 1);
    assert.equal(records[0]!.prefix, "D pol:r1");
    assert.deepEqual(parseFlowPacket(records[0]!.family, records[0]!.payload), { src: "127.0.0.1", dst: "127.0.0.1", proto: 6, dport: 9001 });
  });

  it("gives the same records however the stream is cut into chunks, in either byte order", () => {
    fc.assert(
      fc.property(fc.array(record, { maxLength: 8 }), fc.boolean(), fc.array(fc.nat(), { maxLength: 12 }), (records, little, cuts) => {
        const bytes = pcap(records, little);
        const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        const stream = new PcapNflogStream();
        const got: NflogRecord[] = [];
        let from = 0;
        for (const p of [...points, bytes.length]) {
          got.push(...stream.push(bytes.subarray(from, p)));
          from = p;
        }
        assert.equal(stream.failed, undefined);
        assert.deepEqual(
          got.map((r) => ({ ...r, payload: [...r.payload] })),
          records.map((r) => ({ ...r, payload: [...r.payload] })),
        );
      }),
    );
  });

  it("never throws on arbitrary bytes, and refuses another link type", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (junk) => {
        const s = new PcapNflogStream();
        s.push(junk);
        const t = new PcapNflogStream();
        t.push(Buffer.concat([pcap([]), junk]));
      }),
    );
    const other = new PcapNflogStream();
    assert.deepEqual(other.push(pcap([{ family: 2, prefix: "A", payload: ipv4Tcp([1, 2, 3, 4], [5, 6, 7, 8], 80) }], true, 1)), []);
    assert.match(other.failed ?? "", /link type 1/);
  });

  it("skips a record whose TLV runs past its end and counts it", () => {
    assert.equal(parseNflog(Buffer.from([2, 0, 0, 1, 0x40, 0, 9, 0, 1, 2]), true), undefined);
    assert.equal(parseNflog(Buffer.from([2, 0, 0, 1]), true), undefined); // no payload
  });
});

describe("parseFlowPacket", () => {
  it("reads IPv4 TCP, UDP and ICMP (no port), IPv6, and refuses what is too short", () => {
    assert.deepEqual(parseFlowPacket(2, ipv4Tcp([198, 18, 0, 1], [198, 18, 0, 2], 8080)), { src: "198.18.0.1", dst: "198.18.0.2", proto: 6, dport: 8080 });
    assert.deepEqual(parseFlowPacket(2, ipv4Tcp([198, 18, 0, 1], [198, 18, 0, 2], 53, 17)), { src: "198.18.0.1", dst: "198.18.0.2", proto: 17, dport: 53 });
    assert.deepEqual(parseFlowPacket(2, ipv4Tcp([198, 18, 0, 1], [198, 18, 0, 2], 53, 1)), { src: "198.18.0.1", dst: "198.18.0.2", proto: 1, dport: 0 });
    const v6 = Buffer.alloc(48);
    v6[0] = 0x60;
    v6[6] = 6;
    v6.set([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 8);
    v6.set([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2], 24);
    v6.writeUInt16BE(443, 42);
    assert.deepEqual(parseFlowPacket(10, v6), { src: "fd00::1", dst: "fd00::2", proto: 6, dport: 443 });
    assert.equal(parseFlowPacket(2, Buffer.alloc(10)), undefined);
    assert.equal(parseFlowPacket(7, ipv4Tcp([1, 1, 1, 1], [2, 2, 2, 2], 1)), undefined);
  });

  it("never throws on arbitrary payloads", () => {
    fc.assert(fc.property(fc.constantFrom(2, 10, 0), fc.uint8Array({ maxLength: 80 }), (family, p) => void parseFlowPacket(family, p)));
  });

  it("writes IPv6 addresses as RFC 5952 does (Node's URL parser agrees)", () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(0, 0, 0, 1, 0xabcd, 0xffff), { minLength: 8, maxLength: 8 }), (groups) => {
        const b = Buffer.alloc(16);
        groups.forEach((g, i) => b.writeUInt16BE(g, i * 2));
        const expected = new URL(`http://[${groups.map((g) => g.toString(16)).join(":")}]/`).hostname.slice(1, -1);
        assert.equal(ipv6Text(b), expected);
      }),
    );
  });
});
