// DNS wire format (RFC 1035, EDNS from RFC 6891): just enough to read any query, answer A/AAAA
// from our records and write queries for tests. Pure: no sockets, no clock.
//
// Decoding never throws: a packet we cannot read yields { ok: false } with whatever header was
// readable, so the server can answer FORMERR (or drop) instead of dying on hostile input.

/** Resource record types we name. Others pass through as plain numbers. */
export const RRType = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  OPT: 41,
  TSIG: 250,
  ANY: 255,
} as const;

export const CLASS_IN = 1;

/** Response codes; BADVERS needs EDNS (its upper bits travel in the OPT record). */
export const Rcode = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  BADVERS: 16,
} as const;

export const HEADER_SIZE = 12;
/** Largest UDP answer without EDNS (RFC 1035 §4.2.1). */
export const UDP_MIN_SIZE = 512;
/** Largest UDP answer we send even when EDNS allows more: the DNS flag day 2020 value, avoids fragments. */
export const UDP_MAX_SIZE = 1232;
/** Largest name on the wire, length octets included (RFC 1035 §3.1). */
const MAX_NAME_WIRE = 255;
const MAX_LABEL = 63;
/** Pointer to offset 12, where the (only) question name starts in every message we write. */
const QUESTION_NAME_POINTER = Uint8Array.of(0xc0, HEADER_SIZE);

export interface DnsHeader {
  id: number;
  /** True for a response. */
  qr: boolean;
  opcode: number;
  aa: boolean;
  tc: boolean;
  rd: boolean;
  ra: boolean;
  ad: boolean;
  cd: boolean;
  /** The header's 4 bits only; see DnsMessage.rcode for the full code. */
  rcode: number;
  qdcount: number;
  ancount: number;
  nscount: number;
  arcount: number;
}

export interface DnsQuestion {
  /** Presentation form, case kept, no trailing dot ("." for the root); see decodeName. */
  name: string;
  type: number;
  class: number;
  /** The name as sent, uncompressed, so an answer echoes it byte for byte (0x20 case randomisation). */
  wire: Uint8Array;
}

export interface DnsRecord {
  name: string;
  type: number;
  class: number;
  ttl: number;
  data: Uint8Array;
}

export interface DnsEdns {
  /** Requestor's UDP payload size as sent (values under 512 mean 512). */
  udpSize: number;
  version: number;
  /** Upper 8 bits of the 12-bit rcode. */
  extendedRcode: number;
  dnssecOk: boolean;
}

export interface DnsMessage {
  header: DnsHeader;
  questions: DnsQuestion[];
  answers: DnsRecord[];
  authority: DnsRecord[];
  /** Additional records other than OPT. */
  additional: DnsRecord[];
  edns?: DnsEdns;
  /** Full response code: header bits plus the OPT record's extended bits. */
  rcode: number;
}

export type DecodeResult =
  | { ok: true; message: DnsMessage }
  | {
      ok: false;
      reason: string;
      /** Set when the 12-byte header was readable, so a FORMERR can carry the ID. */
      header?: DnsHeader;
      /** Set when the first question was readable. */
      question?: DnsQuestion;
    };

// ---------------------------------------------------------------- decoding

export function decodeHeader(buf: Uint8Array): DnsHeader | undefined {
  if (buf.length < HEADER_SIZE) return undefined;
  const b2 = buf[2]!;
  const b3 = buf[3]!;
  return {
    id: u16(buf, 0),
    qr: (b2 & 0x80) !== 0,
    opcode: (b2 >> 3) & 0x0f,
    aa: (b2 & 0x04) !== 0,
    tc: (b2 & 0x02) !== 0,
    rd: (b2 & 0x01) !== 0,
    ra: (b3 & 0x80) !== 0,
    ad: (b3 & 0x20) !== 0,
    cd: (b3 & 0x10) !== 0,
    rcode: b3 & 0x0f,
    qdcount: u16(buf, 4),
    ancount: u16(buf, 6),
    nscount: u16(buf, 8),
    arcount: u16(buf, 10),
  };
}

interface NameRead {
  name: string;
  wire: Uint8Array;
  /** Offset just after the name where it started (after the first pointer, if any). */
  next: number;
}

/**
 * Reads a possibly compressed name. Pointers must point strictly backwards, which rules out
 * loops; the expanded name must fit 255 octets. Returns undefined on anything malformed.
 */
export function decodeName(buf: Uint8Array, offset: number): NameRead | undefined {
  const labels: Uint8Array[] = [];
  let wireLength = 1;
  let pos = offset;
  let next: number | undefined;
  let lowest = offset;
  for (;;) {
    if (pos >= buf.length) return undefined;
    const len = buf[pos]!;
    if (len === 0) {
      next ??= pos + 1;
      break;
    }
    const kind = len & 0xc0;
    if (kind === 0xc0) {
      if (pos + 1 >= buf.length) return undefined;
      const target = ((len & 0x3f) << 8) | buf[pos + 1]!;
      if (target >= lowest) return undefined;
      next ??= pos + 2;
      lowest = target;
      pos = target;
      continue;
    }
    if (kind !== 0) return undefined; // 0x40 / 0x80: obsolete or reserved label types
    if (pos + 1 + len > buf.length) return undefined;
    wireLength += 1 + len;
    if (wireLength > MAX_NAME_WIRE) return undefined;
    labels.push(buf.subarray(pos + 1, pos + 1 + len));
    pos += 1 + len;
  }
  const wire = new Uint8Array(wireLength);
  let w = 0;
  for (const label of labels) {
    wire[w++] = label.length;
    wire.set(label, w);
    w += label.length;
  }
  wire[w] = 0;
  return { name: labels.length === 0 ? "." : labels.map(presentLabel).join("."), wire, next };
}

/** Printable ASCII stays; '.', '\' and everything else are escaped as dig does. */
function presentLabel(label: Uint8Array): string {
  let out = "";
  for (const c of label) {
    if (c === 0x2e || c === 0x5c) out += "\\" + String.fromCharCode(c);
    else if (c > 0x20 && c < 0x7f) out += String.fromCharCode(c);
    else out += "\\" + c.toString().padStart(3, "0");
  }
  return out;
}

function decodeRecord(buf: Uint8Array, offset: number): { record: DnsRecord; next: number } | undefined {
  const name = decodeName(buf, offset);
  if (!name) return undefined;
  const p = name.next;
  if (p + 10 > buf.length) return undefined;
  const rdlength = u16(buf, p + 8);
  if (p + 10 + rdlength > buf.length) return undefined;
  return {
    record: {
      name: name.name,
      type: u16(buf, p),
      class: u16(buf, p + 2),
      ttl: u32(buf, p + 4),
      data: buf.subarray(p + 10, p + 10 + rdlength),
    },
    next: p + 10 + rdlength,
  };
}

/** Decodes a whole message. Trailing bytes after the last record are a format error. */
export function decodeMessage(buf: Uint8Array): DecodeResult {
  const header = decodeHeader(buf);
  if (!header) return { ok: false, reason: "shorter than a header" };
  let pos = HEADER_SIZE;
  const questions: DnsQuestion[] = [];
  for (let i = 0; i < header.qdcount; i++) {
    const name = decodeName(buf, pos);
    if (!name || name.next + 4 > buf.length) return fail(header, questions, "bad question");
    questions.push({ name: name.name, wire: name.wire, type: u16(buf, name.next), class: u16(buf, name.next + 2) });
    pos = name.next + 4;
  }
  const sections: DnsRecord[][] = [[], [], []];
  const counts = [header.ancount, header.nscount, header.arcount];
  for (let s = 0; s < 3; s++) {
    for (let i = 0; i < counts[s]!; i++) {
      const read = decodeRecord(buf, pos);
      if (!read) return fail(header, questions, "bad resource record");
      sections[s]!.push(read.record);
      pos = read.next;
    }
  }
  if (pos !== buf.length) return fail(header, questions, "trailing bytes");
  const [answers, authority, allAdditional] = sections as [DnsRecord[], DnsRecord[], DnsRecord[]];
  const opts = allAdditional.filter((r) => r.type === RRType.OPT);
  if (opts.length > 1) return fail(header, questions, "more than one OPT record");
  const opt = opts[0];
  if (opt && opt.name !== ".") return fail(header, questions, "OPT record not at the root");
  const edns: DnsEdns | undefined = opt && {
    udpSize: opt.class,
    extendedRcode: opt.ttl >>> 24,
    version: (opt.ttl >>> 16) & 0xff,
    dnssecOk: (opt.ttl & 0x8000) !== 0,
  };
  const message: DnsMessage = {
    header,
    questions,
    answers,
    authority,
    additional: allAdditional.filter((r) => r.type !== RRType.OPT),
    rcode: ((edns?.extendedRcode ?? 0) << 4) | header.rcode,
  };
  if (edns) message.edns = edns;
  return { ok: true, message };
}

function fail(header: DnsHeader, questions: DnsQuestion[], reason: string): DecodeResult {
  const question = questions[0];
  return question ? { ok: false, reason, header, question } : { ok: false, reason, header };
}

// ---------------------------------------------------------------- encoding

/**
 * Encodes a presentation name ("web.blue", "web.blue.", ".") without escapes, which our own
 * queries never need. Throws RangeError for empty or over-long labels or names.
 */
export function encodeName(name: string): Uint8Array {
  const trimmed = name.endsWith(".") ? name.slice(0, -1) : name;
  const labels = trimmed === "" ? [] : trimmed.split(".").map((l) => Buffer.from(l, "utf8"));
  const size = labels.reduce((n, l) => n + 1 + l.length, 1);
  if (size > MAX_NAME_WIRE) throw new RangeError(`Cannot encode name "${name}": longer than 255 octets`);
  const out = new Uint8Array(size);
  let w = 0;
  for (const label of labels) {
    if (label.length === 0 || label.length > MAX_LABEL) throw new RangeError(`Cannot encode name "${name}": bad label length`);
    out[w++] = label.length;
    out.set(label, w);
    w += label.length;
  }
  return out;
}

export interface QueryOptions {
  id: number;
  name: string;
  type: number;
  /** Default IN. */
  class?: number;
  /** Recursion desired; default true. */
  rd?: boolean;
  /** Adds an OPT record advertising this UDP size. */
  ednsUdpSize?: number;
}

export function encodeQuery(options: QueryOptions): Uint8Array {
  const name = encodeName(options.name);
  const opt = options.ednsUdpSize === undefined ? undefined : optRecord(options.ednsUdpSize, 0);
  const out = new Uint8Array(HEADER_SIZE + name.length + 4 + (opt?.length ?? 0));
  writeU16(out, 0, options.id);
  out[2] = options.rd === false ? 0 : 0x01;
  writeU16(out, 4, 1);
  writeU16(out, 10, opt ? 1 : 0);
  out.set(name, HEADER_SIZE);
  writeU16(out, HEADER_SIZE + name.length, options.type);
  writeU16(out, HEADER_SIZE + name.length + 2, options.class ?? CLASS_IN);
  if (opt) out.set(opt, HEADER_SIZE + name.length + 4);
  return out;
}

/** An answer whose owner is the question name (written as a pointer to it). */
export interface Answer {
  type: number;
  ttl: number;
  data: Uint8Array;
}

export interface ResponseOptions {
  id: number;
  opcode?: number;
  rd: boolean;
  cd?: boolean;
  aa: boolean;
  ra: boolean;
  /** Full code; codes above 15 need `edns`. */
  rcode: number;
  question?: DnsQuestion;
  /** Needs `question`. */
  answers?: Answer[];
  /** Adds our OPT record (RFC 6891: answer EDNS with EDNS) advertising this UDP size. */
  ednsUdpSize?: number;
  /** Size limit: whole answers are left out until the message fits, and TC is set. */
  maxSize: number;
}

export function encodeResponse(options: ResponseOptions): Uint8Array {
  const question = options.question;
  const answers = question ? (options.answers ?? []) : [];
  if (options.rcode > 15 && options.ednsUdpSize === undefined) {
    throw new RangeError(`Cannot encode rcode ${options.rcode} without EDNS`);
  }
  const opt = options.ednsUdpSize === undefined ? undefined : optRecord(options.ednsUdpSize, options.rcode >> 4);
  const fixed = HEADER_SIZE + (opt?.length ?? 0);
  let questionSize = question ? question.wire.length + 4 : 0;
  // Truncation: drop whole answers from the end, then the question if even that does not fit.
  let size = fixed + questionSize;
  let kept = 0;
  for (const a of answers) {
    const s = 2 + 10 + a.data.length;
    if (size + s > options.maxSize) break;
    size += s;
    kept++;
  }
  let tc = kept < answers.length;
  if (size > options.maxSize) {
    size -= questionSize;
    questionSize = 0;
    tc = true;
  }
  const out = new Uint8Array(size);
  writeU16(out, 0, options.id);
  out[2] = 0x80 | ((options.opcode ?? 0) << 3) | (options.aa ? 0x04 : 0) | (tc ? 0x02 : 0) | (options.rd ? 0x01 : 0);
  out[3] = (options.ra ? 0x80 : 0) | (options.cd ? 0x10 : 0) | (options.rcode & 0x0f);
  writeU16(out, 4, questionSize > 0 ? 1 : 0);
  writeU16(out, 6, questionSize > 0 ? kept : 0);
  writeU16(out, 10, opt ? 1 : 0);
  let w = HEADER_SIZE;
  if (question && questionSize > 0) {
    out.set(question.wire, w);
    w += question.wire.length;
    writeU16(out, w, question.type);
    writeU16(out, w + 2, question.class);
    w += 4;
    for (const a of answers.slice(0, kept)) {
      out.set(QUESTION_NAME_POINTER, w);
      writeU16(out, w + 2, a.type);
      writeU16(out, w + 4, CLASS_IN);
      writeU32(out, w + 6, a.ttl);
      writeU16(out, w + 10, a.data.length);
      out.set(a.data, w + 12);
      w += 12 + a.data.length;
    }
  }
  if (opt) out.set(opt, w);
  return out;
}

/** Root name, type OPT, class = UDP size, TTL = extended rcode | version 0 | flags 0, no options. */
function optRecord(udpSize: number, extendedRcode: number): Uint8Array {
  const out = new Uint8Array(11);
  writeU16(out, 1, RRType.OPT);
  writeU16(out, 3, udpSize);
  out[5] = extendedRcode & 0xff;
  return out;
}

// ---------------------------------------------------------------- bytes

export function u16(buf: Uint8Array, offset: number): number {
  return (buf[offset]! << 8) | buf[offset + 1]!;
}

function u32(buf: Uint8Array, offset: number): number {
  return ((buf[offset]! << 24) >>> 0) + (buf[offset + 1]! << 16) + (buf[offset + 2]! << 8) + buf[offset + 3]!;
}

export function writeU16(buf: Uint8Array, offset: number, value: number): void {
  buf[offset] = (value >> 8) & 0xff;
  buf[offset + 1] = value & 0xff;
}

function writeU32(buf: Uint8Array, offset: number, value: number): void {
  writeU16(buf, offset, Math.floor(value / 0x10000) & 0xffff);
  writeU16(buf, offset + 2, value & 0xffff);
}
