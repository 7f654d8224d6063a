// What to do with one incoming packet: drop it, answer it from the tenant's records, or forward
// it upstream (relayed through the supervisor). Pure; the server carries the decision out and
// counts the outcome.
//
// Rejections follow Contiv (responses and TSIG-signed queries are refused) and RFC 1035/6891:
// unreadable packets with a readable header get FORMERR, other opcodes NOTIMP, EDNS versions
// above 0 BADVERS. Packets that are themselves responses are dropped without a word, so two
// servers can never answer each other in a loop.

import { addressBytes } from "./addresses.js";
import {
  CLASS_IN,
  decodeMessage,
  encodeResponse,
  HEADER_SIZE,
  Rcode,
  RRType,
  UDP_MAX_SIZE,
  UDP_MIN_SIZE,
  writeU16,
  type Answer,
  type DnsHeader,
  type DnsMessage,
  type DnsQuestion,
} from "./message.js";
import { DNS_TTL, lookup, type RecordIndex } from "./records.js";

export type Transport = "udp" | "tcp";

/** What the stats count; "forwarded" is counted by whoever forwards. */
export type Outcome = "found" | "notFound" | "invalid";

export type Resolution =
  | { action: "drop"; outcome: "invalid"; reason: string }
  | { action: "reply"; outcome: Outcome; response: Uint8Array; reason?: string }
  /** Unknown name and upstream servers exist: send the client's packet on. */
  | { action: "forward"; query: DnsMessage };

export interface ResolveOptions {
  transport: Transport;
  /** Upstream servers are configured: unknown names are forwarded, else REFUSED. */
  canForward: boolean;
}

export function resolveQuery(index: RecordIndex, packet: Uint8Array, options: ResolveOptions): Resolution {
  const decoded = decodeMessage(packet);
  if (!decoded.ok) {
    if (!decoded.header) return { action: "drop", outcome: "invalid", reason: decoded.reason };
    if (decoded.header.qr) return { action: "drop", outcome: "invalid", reason: "not a query" };
    return reject(decoded.header, decoded.question, undefined, Rcode.FORMERR, options, decoded.reason);
  }
  const query = decoded.message;
  const { header } = query;
  const question = query.questions[0];
  if (header.qr) return { action: "drop", outcome: "invalid", reason: "not a query" };
  if (header.opcode !== 0) return reject(header, question, query, Rcode.NOTIMP, options, `opcode ${header.opcode}`);
  if (!question || query.questions.length !== 1) {
    return reject(header, question, query, Rcode.FORMERR, options, `${query.questions.length} questions`);
  }
  if (query.edns && query.edns.version > 0) return reject(header, question, query, Rcode.BADVERS, options, "EDNS version");
  if (query.additional.some((r) => r.type === RRType.TSIG)) return reject(header, question, query, Rcode.REFUSED, options, "TSIG");
  if (question.type === RRType.OPT) return reject(header, question, query, Rcode.FORMERR, options, "OPT question");

  const result =
    question.class === CLASS_IN || question.class === RRType.ANY
      ? lookup(index, question.name, question.type)
      : ({ status: "unknown", inDomain: false } as const);
  switch (result.status) {
    case "found": {
      const answers: Answer[] = [];
      for (const a of result.answers) {
        const data = addressBytes(a.address);
        if (data) answers.push({ type: a.type === "A" ? RRType.A : RRType.AAAA, ttl: DNS_TTL, data });
      }
      return { action: "reply", outcome: "found", response: respond(query, question, Rcode.NOERROR, true, answers, options) };
    }
    case "empty":
      return { action: "reply", outcome: "found", response: respond(query, question, Rcode.NOERROR, true, [], options) };
    case "unknown":
      if (result.inDomain) {
        return { action: "reply", outcome: "notFound", response: respond(query, question, Rcode.NXDOMAIN, true, [], options) };
      }
      if (options.canForward) return { action: "forward", query };
      return {
        action: "reply",
        outcome: "notFound",
        response: respond(query, question, Rcode.REFUSED, false, [], options),
        reason: "no upstream",
      };
  }
}

/** SERVFAIL for a query that could not be forwarded (no upstream answered in time). */
export function servfail(query: DnsMessage, transport: Transport): Uint8Array {
  return respond(query, query.questions[0], Rcode.SERVFAIL, false, [], { transport, canForward: true });
}

/**
 * An upstream's reply (relayed by the supervisor) as the client gets it: the client's ID, and on
 * UDP, when larger than the client can take, cut to header + question with TC set so the client
 * asks again over TCP. Undefined when it is not even a DNS header.
 */
export function fitResponse(reply: Uint8Array, query: DnsMessage, transport: Transport): Uint8Array | undefined {
  if (reply.length < HEADER_SIZE) return undefined;
  if (transport === "udp" && reply.length > maxResponseSize(query, "udp")) {
    const question = query.questions[0];
    const questionSize = question ? question.wire.length + 4 : 0;
    const out = new Uint8Array(HEADER_SIZE + questionSize);
    out.set(reply.subarray(0, 4));
    out[2] = out[2]! | 0x02;
    out[5] = question ? 1 : 0;
    if (question) {
      out.set(question.wire, HEADER_SIZE);
      const p = HEADER_SIZE + question.wire.length;
      writeU16(out, p, question.type);
      writeU16(out, p + 2, question.class);
    }
    writeU16(out, 0, query.header.id);
    return out;
  }
  const out = Uint8Array.from(reply);
  writeU16(out, 0, query.header.id);
  return out;
}

/** Size limit for an answer: 64 KiB on TCP; on UDP 512, or the client's EDNS size up to 1232. */
export function maxResponseSize(query: Pick<DnsMessage, "edns"> | undefined, transport: Transport): number {
  if (transport === "tcp") return 0xffff;
  const advertised = query?.edns?.udpSize;
  if (advertised === undefined) return UDP_MIN_SIZE;
  return Math.min(Math.max(advertised, UDP_MIN_SIZE), UDP_MAX_SIZE);
}

function respond(
  query: DnsMessage | undefined,
  question: DnsQuestion | undefined,
  rcode: number,
  aa: boolean,
  answers: Answer[],
  options: ResolveOptions,
): Uint8Array {
  const header = query?.header;
  return encodeResponse({
    id: header?.id ?? 0,
    opcode: header?.opcode ?? 0,
    rd: header?.rd ?? false,
    cd: header?.cd ?? false,
    aa,
    ra: options.canForward,
    rcode,
    question,
    answers,
    ednsUdpSize: query?.edns || rcode > 15 ? UDP_MAX_SIZE : undefined,
    maxSize: maxResponseSize(query, options.transport),
  });
}

function reject(
  header: DnsHeader,
  question: DnsQuestion | undefined,
  query: DnsMessage | undefined,
  rcode: number,
  options: ResolveOptions,
  reason: string,
): Resolution {
  const stub: DnsMessage = query ?? { header, questions: [], answers: [], authority: [], additional: [], rcode: 0 };
  return { action: "reply", outcome: "invalid", reason, response: respond(stub, question, rcode, false, [], options) };
}
