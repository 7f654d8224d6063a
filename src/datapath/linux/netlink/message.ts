// Netlink framing shared by the rtnetlink (rtnl.ts) and nf_tables (nftnl.ts) messages: the 16-byte header,
// 4-byte aligned attributes (type, length, payload or nested attributes), a datagram's messages, and the
// kernel's error answers. Pure: the bytes are checked by the tests against linux/netlink.h.

export const NLMSG_HEADER = 16;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;

export const NLM_F_REQUEST = 0x1;
export const NLM_F_ACK = 0x4;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;
/** NLM_F_ROOT | NLM_F_MATCH: every object of the kind, in as many messages as it takes, then NLMSG_DONE. */
export const NLM_F_DUMP = 0x300;
/** In an error answer: attributes (the extended ack) follow the echoed header. */
const NLM_F_ACK_TLVS = 0x200;
/** In an error answer: the request's payload is not echoed, only its header. */
const NLM_F_CAPPED = 0x100;
const NLMSGERR_ATTR_MSG = 1;
/** In an attribute's type: its payload is nested attributes (set by some senders, never needed to read). */
const NLA_TYPE_MASK = 0x3fff;

/** An attribute to send: its type and payload, or nested attributes. */
export type Attr = [type: number, value: Uint8Array | Attr[]];

export function pad4(n: number): number {
  return (n + 3) & ~3;
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function encodeAttrs(attrs: Attr[]): Uint8Array {
  const parts = attrs.map(([type, value]) => {
    const payload = value instanceof Uint8Array ? value : encodeAttrs(value);
    const out = new Uint8Array(pad4(4 + payload.length));
    const view = new DataView(out.buffer);
    view.setUint16(0, 4 + payload.length, true);
    view.setUint16(2, type, true);
    out.set(payload, 4);
    return out;
  });
  return concat(parts);
}

export function cString(s: string): Uint8Array {
  return new TextEncoder().encode(`${s}\0`);
}

/** A request: header (NLM_F_REQUEST added to `flags`) and body. */
export function message(type: number, flags: number, seq: number, body: Uint8Array[]): Uint8Array {
  const payload = concat(body);
  const out = new Uint8Array(NLMSG_HEADER + payload.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, out.length, true);
  view.setUint16(4, type, true);
  view.setUint16(6, flags | NLM_F_REQUEST, true);
  view.setUint32(8, seq, true);
  out.set(payload, NLMSG_HEADER);
  return out;
}

function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The type of a message (NLMSG_ERROR, NLMSG_DONE, or the family's own). */
export function typeOf(message: Uint8Array): number {
  return viewOf(message).getUint16(4, true);
}

/** The sequence number of a message, to match an answer to its request. */
export function sequenceOf(message: Uint8Array): number {
  return viewOf(message).getUint32(8, true);
}

/** The messages of one datagram the kernel sent. */
export function splitMessages(datagram: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  const view = viewOf(datagram);
  for (let at = 0; at + NLMSG_HEADER <= datagram.length; ) {
    const length = view.getUint32(at, true);
    if (length < NLMSG_HEADER || at + length > datagram.length) break;
    out.push(datagram.subarray(at, at + length));
    at += pad4(length);
  }
  return out;
}

/** Calls `each` for every attribute in order, repeated types included. */
function eachAttr(bytes: Uint8Array, each: (type: number, payload: Uint8Array) => void): void {
  for (let at = 0; at + 4 <= bytes.length; ) {
    // Read byte by byte: a DataView per attribute costs more than the rest (thousands of set elements).
    const length = bytes[at]! | (bytes[at + 1]! << 8);
    if (length < 4 || at + length > bytes.length) break;
    each((bytes[at + 2]! | (bytes[at + 3]! << 8)) & NLA_TYPE_MASK, bytes.subarray(at + 4, at + length));
    at += pad4(length);
  }
}

/** Attributes read back: each type's payload (the last one when a type repeats, as the kernel's parser keeps). */
export function parseAttrs(bytes: Uint8Array): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>();
  eachAttr(bytes, (type, payload) => out.set(type, payload));
  return out;
}

/** Attributes read back in order, repeated types included (a nested list: NFTA_LIST_ELEM after NFTA_LIST_ELEM). */
export function attrList(bytes: Uint8Array): [type: number, payload: Uint8Array][] {
  const out: [number, Uint8Array][] = [];
  eachAttr(bytes, (type, payload) => out.push([type, payload]));
  return out;
}

/** The kernel's answer to a request: 0 or a negative errno, with the extended ack's message when it gave one. */
export interface Answer {
  error: number;
  message: string;
}

/** An answer message: an NLMSG_ERROR (an ack is one with error 0), or a reply (error 0). */
export function answerOf(msg: Uint8Array): Answer {
  const view = viewOf(msg);
  if (view.getUint16(4, true) !== NLMSG_ERROR) return { error: 0, message: "" };
  const error = view.getInt32(NLMSG_HEADER, true);
  const flags = view.getUint16(6, true);
  let text = "";
  if (flags & NLM_F_ACK_TLVS) {
    // After the error: the request's header, and its payload unless capped.
    const echoed = NLMSG_HEADER + 4;
    const start = echoed + (flags & NLM_F_CAPPED ? NLMSG_HEADER : view.getUint32(echoed, true));
    const ack = attrList(msg.subarray(Math.min(pad4(start), msg.length)));
    const found = ack.find(([type]) => type === NLMSGERR_ATTR_MSG);
    if (found !== undefined) text = new TextDecoder().decode(found[1]).replace(/\0.*$/s, "");
  }
  return { error, message: text };
}
