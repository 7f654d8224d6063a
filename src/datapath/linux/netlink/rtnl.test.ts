// The rtnetlink messages as bytes, read back with the layout of linux/netlink.h and rtnetlink.h: headers,
// 4-byte aligned attributes, the veth's peer nested with its own ifinfomsg, and the kernel's error answers
// with and without an extended ack message.

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { answerOf, sequenceOf, splitMessages } from "./message.js";
import { deleteLink, linkIndex, newAddress, newDefaultRoute, newVeth, setLink } from "./rtnl.js";

interface Attr {
  type: number;
  data: Uint8Array;
}

function attrs(bytes: Uint8Array): Attr[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Attr[] = [];
  for (let at = 0; at < bytes.length; ) {
    const length = view.getUint16(at, true);
    assert.ok(length >= 4 && at + length <= bytes.length, `attribute at ${at} fits`);
    out.push({ type: view.getUint16(at + 2, true), data: bytes.subarray(at + 4, at + length) });
    at += (length + 3) & ~3;
  }
  return out;
}

const text = (a: Attr | undefined) => new TextDecoder().decode(a?.data).replace(/\0$/, "");
const u32 = (a: Attr | undefined) => new DataView(a!.data.buffer, a!.data.byteOffset).getUint32(0, true);
const header = (m: Uint8Array) => {
  const v = new DataView(m.buffer, m.byteOffset);
  return { length: v.getUint32(0, true), type: v.getUint16(4, true), flags: v.getUint16(6, true), seq: v.getUint32(8, true) };
};

describe("rtnl messages", () => {
  it("a veth pair: RTM_NEWLINK create|excl|ack, the name and mtu, linkinfo veth with the peer in another namespace", () => {
    const m = newVeth(7, { name: "ne1", mtu: 1450, peer: { name: "eth0", address: "02:02:c6:12:40:02", mtu: 1400, netnsFd: 9 } });
    assert.deepEqual(header(m), { length: m.length, type: 16, flags: 0x1 | 0x4 | 0x400 | 0x200, seq: 7 });
    assert.equal(sequenceOf(m), 7);
    const top = attrs(m.subarray(32));
    assert.equal(text(top.find((a) => a.type === 3)), "ne1");
    assert.equal(u32(top.find((a) => a.type === 4)), 1450);
    const info = attrs(top.find((a) => a.type === 18)!.data);
    assert.equal(text(info.find((a) => a.type === 1)), "veth");
    const peer = attrs(info.find((a) => a.type === 2)!.data)[0]!;
    assert.equal(peer.type, 1);
    const peerAttrs = attrs(peer.data.subarray(16));
    assert.equal(text(peerAttrs.find((a) => a.type === 3)), "eth0");
    assert.deepEqual([...peerAttrs.find((a) => a.type === 1)!.data], [2, 2, 0xc6, 0x12, 0x40, 2]);
    assert.equal(u32(peerAttrs.find((a) => a.type === 4)), 1400);
    assert.equal(u32(peerAttrs.find((a) => a.type === 28)), 9);
  });

  it("link set: the link by name, master by index, IFF_UP in flags and change only when asked", () => {
    const up = setLink(1, { name: "ne1", masterIndex: 5, up: true });
    const v = new DataView(up.buffer);
    assert.equal(header(up).flags, 0x1 | 0x4, "no create: a missing link is an error");
    assert.deepEqual([v.getInt32(20, true), v.getUint32(24, true), v.getUint32(28, true)], [0, 1, 1]);
    assert.equal(u32(attrs(up.subarray(32)).find((a) => a.type === 10)), 5);
    const group = setLink(2, { name: "ne1", group: 77 });
    assert.deepEqual([new DataView(group.buffer).getUint32(24, true), new DataView(group.buffer).getUint32(28, true)], [0, 0]);
    assert.equal(u32(attrs(group.subarray(32)).find((a) => a.type === 27)), 77);
    const del = deleteLink(3, { group: 77 });
    assert.equal(header(del).type, 17);
    assert.equal(u32(attrs(del.subarray(32)).find((a) => a.type === 27)), 77);
  });

  it("an address and a default route, IPv4 and IPv6", () => {
    const a = newAddress(4, { address: "fd00::2", prefixLength: 64, index: 3, nodad: true });
    const v = new DataView(a.buffer);
    assert.deepEqual([v.getUint8(16), v.getUint8(17), v.getUint8(18), v.getUint32(20, true)], [10, 64, 2, 3]);
    const local = attrs(a.subarray(24)).find((x) => x.type === 2)!;
    assert.deepEqual([...local.data], [0xfd, 0, ...new Array(13).fill(0), 2]);
    assert.equal(u32(attrs(a.subarray(24)).find((x) => x.type === 8)), 2);
    const r = newDefaultRoute(5, { gateway: "198.18.79.254", index: 3 });
    const rv = new DataView(r.buffer);
    assert.deepEqual([rv.getUint8(16), rv.getUint8(17), rv.getUint8(20), rv.getUint8(21), rv.getUint8(22), rv.getUint8(23)], [2, 0, 254, 3, 0, 1]);
    const ra = attrs(r.subarray(28));
    assert.deepEqual([...ra.find((x) => x.type === 5)!.data], [198, 18, 79, 254]);
    assert.equal(u32(ra.find((x) => x.type === 4)), 3);
  });

  it("reads the kernel's answers: an ack, an error with its extended ack message, a link's index", () => {
    const error = (errno: number, message?: string): Uint8Array => {
      const tlv = message === undefined ? new Uint8Array(0) : new Uint8Array((4 + message.length + 1 + 3) & ~3);
      if (message !== undefined) {
        new DataView(tlv.buffer).setUint16(0, 4 + message.length + 1, true);
        new DataView(tlv.buffer).setUint16(2, 1, true);
        tlv.set(new TextEncoder().encode(message), 4);
      }
      const m = new Uint8Array(36 + tlv.length);
      const v = new DataView(m.buffer);
      v.setUint32(0, m.length, true);
      v.setUint16(4, 2, true);
      v.setUint16(6, message === undefined ? 0x100 : 0x300, true);
      v.setUint32(8, 9, true);
      v.setInt32(16, -errno, true);
      m.set(tlv, 36);
      return m;
    };
    assert.deepEqual(answerOf(error(0)), { error: 0, message: "" });
    assert.deepEqual(answerOf(error(17)), { error: -17, message: "" });
    assert.deepEqual(answerOf(error(22, "ipv4: Address already assigned")), { error: -22, message: "ipv4: Address already assigned" });
    const reply = new Uint8Array(32);
    new DataView(reply.buffer).setUint16(4, 16, true);
    new DataView(reply.buffer).setInt32(20, 42, true);
    assert.deepEqual(answerOf(reply), { error: 0, message: "" });
    assert.equal(linkIndex(reply), 42);
    const two = new Uint8Array(72);
    two.set(error(17), 0);
    two.set(error(0), 36);
    assert.deepEqual(splitMessages(two).map(answerOf), [{ error: -17, message: "" }, { error: 0, message: "" }]);
  });
});
