// The reader's input: `tcpdump -i nflog:G -w - -U` writes the kernel's NFLOG messages as a pcap stream
// (link type 239, DLT_NFLOG). Node cannot open a netlink socket, and tcpdump is in Debian and streams each
// record as it comes (-U). A record is a 4-byte NFLOG header (address family, version, group) and TLVs whose
// length and type are in the host's byte order (the writer's, which the pcap magic tells), each padded to 4
// bytes; we keep the prefix (the rule, policy/flowlog.ts) and the payload (the packet from its IP header).
// Anything malformed is skipped and counted, never thrown: the stream is the kernel's, but a parser of bytes
// must not be what stops the agent.

import { formatIp } from "../../lib/ip.js";

export const LINKTYPE_NFLOG = 239;
const NFULA_PAYLOAD = 9;
const NFULA_PREFIX = 10;
const AF_INET = 2;
const AF_INET6 = 10;

export interface NflogRecord {
  /** AF_INET (2) or AF_INET6 (10). */
  family: number;
  prefix: string;
  /** The logged packet from its network header on (cut to the log's snaplen). */
  payload: Uint8Array;
}

/** What a flow record is made of: the attempt's ends, protocol and destination port (0 where it has none). */
export interface FlowPacket {
  src: string;
  dst: string;
  proto: number;
  dport: number;
}

/** Splits a pcap byte stream, in chunks as they come, into NFLOG records. */
export class PcapNflogStream {
  private buf: Buffer = Buffer.alloc(0);
  private little: boolean | undefined;
  /** Records (or a header) that could not be read. */
  malformed = 0;
  /** A stream with another link type or magic: nothing more is read from it. */
  failed: string | undefined;

  push(chunk: Uint8Array): NflogRecord[] {
    if (this.failed !== undefined) return [];
    // A chunk read whole is not copied: records are parsed out of it before the next one comes.
    this.buf = this.buf.length === 0 ? Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength) : Buffer.concat([this.buf, chunk]);
    const out: NflogRecord[] = [];
    let at = 0;
    if (this.little === undefined) {
      if (this.buf.length < 24) return out;
      const magic = this.buf.readUInt32LE(0);
      if (magic === 0xa1b2c3d4) this.little = true;
      else if (magic === 0xd4c3b2a1) this.little = false;
      else return this.fail(`not a pcap stream (magic ${magic.toString(16)})`);
      const linktype = this.little ? this.buf.readUInt32LE(20) : this.buf.readUInt32BE(20);
      if ((linktype & 0x03ffffff) !== LINKTYPE_NFLOG) return this.fail(`link type ${linktype}, not NFLOG`);
      at = 24;
    }
    const u32 = (o: number) => (this.little ? this.buf.readUInt32LE(o) : this.buf.readUInt32BE(o));
    while (this.buf.length - at >= 16) {
      const incl = u32(at + 8);
      // tcpdump's snapshot length is 262144; more is a corrupt stream, not a big packet.
      if (incl > 262144) return this.fail(`record of ${incl} bytes`);
      if (this.buf.length - at - 16 < incl) break;
      const record = parseNflog(this.buf.subarray(at + 16, at + 16 + incl), this.little);
      if (record === undefined) this.malformed++;
      else out.push(record);
      at += 16 + incl;
    }
    this.buf = this.buf.subarray(at);
    return out;
  }

  private fail(reason: string): NflogRecord[] {
    this.failed = reason;
    this.buf = Buffer.alloc(0);
    return [];
  }
}

/** One NFLOG message (pcap record body): its family, prefix and payload; undefined when malformed. */
export function parseNflog(b: Uint8Array, little: boolean): NflogRecord | undefined {
  if (b.length < 4) return undefined;
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const family = b[0]!;
  let prefix: string | undefined;
  let payload: Uint8Array | undefined;
  let at = 4;
  while (at + 4 <= b.length) {
    const len = view.getUint16(at, little);
    const type = view.getUint16(at + 2, little) & 0x7fff;
    if (len < 4 || at + len > b.length) return undefined;
    const value = b.subarray(at + 4, at + len);
    if (type === NFULA_PREFIX) {
      const nul = value.indexOf(0);
      prefix = Buffer.from(nul < 0 ? value : value.subarray(0, nul)).toString("latin1");
    } else if (type === NFULA_PAYLOAD) payload = value;
    at += (len + 3) & ~3;
  }
  if (payload === undefined) return undefined;
  return { family, prefix: prefix ?? "", payload };
}

/** The attempt in a logged packet: addresses, protocol, destination port; undefined when it is too short or not IP. */
export function parseFlowPacket(family: number, p: Uint8Array): FlowPacket | undefined {
  const view = new DataView(p.buffer, p.byteOffset, p.byteLength);
  let proto: number;
  let l4: number;
  let src: string;
  let dst: string;
  if (family === AF_INET) {
    if (p.length < 20 || p[0]! >> 4 !== 4) return undefined;
    const ihl = (p[0]! & 0x0f) * 4;
    if (ihl < 20) return undefined;
    proto = p[9]!;
    src = p.subarray(12, 16).join(".");
    dst = p.subarray(16, 20).join(".");
    // A fragment past the first has no ports.
    l4 = (view.getUint16(6) & 0x1fff) === 0 ? ihl : -1;
  } else if (family === AF_INET6) {
    if (p.length < 40 || p[0]! >> 4 !== 6) return undefined;
    proto = p[6]!;
    src = ipv6Text(p.subarray(8, 24));
    dst = ipv6Text(p.subarray(24, 40));
    l4 = 40;
  } else return undefined;
  const ported = proto === 6 || proto === 17 || proto === 132;
  const dport = ported && l4 >= 0 && p.length >= l4 + 4 ? view.getUint16(l4 + 2) : 0;
  return { src, dst, proto, dport };
}

/** RFC 5952 text (lib/ip.ts formatIp) of 16 bytes. */
export function ipv6Text(b: Uint8Array): string {
  return formatIp(6, BigInt(`0x${Buffer.from(b).toString("hex")}`));
}
