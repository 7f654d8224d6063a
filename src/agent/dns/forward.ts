// Forwarding of names we do not own to the upstream resolvers (the host's, given by the agent).
//
// The server runs inside a tenant namespace, which often has no route to those resolvers: then
// the send fails at once (ENETUNREACH) or nothing ever comes back. Either way the whole attempt
// is bounded by one deadline (default 1.8 s) so the client gets SERVFAIL before its own ~5 s
// timeout, and tries its next server. Each attempt uses a fresh connected socket (random source
// port, ICMP errors reported) and a fresh random ID, and only a reply with that ID and the same
// question is accepted. TCP clients are forwarded over TCP, UDP clients over UDP; a UDP reply
// too large for the client is cut to header + question with TC set, so the client retries on TCP.

import { createSocket } from "node:dgram";
import { randomInt } from "node:crypto";
import { connect, isIP, isIPv6 } from "node:net";
import { decodeHeader, decodeName, HEADER_SIZE, type DnsMessage } from "./message.js";
import { maxResponseSize, type Transport } from "./resolve.js";

export interface Upstream {
  host: string;
  port: number;
}

/** Total time for all upstream attempts of one query. */
export const FORWARD_TIMEOUT_MS = 1800;
const MIN_ATTEMPT_MS = 250;

/** "192.0.2.1", "192.0.2.1:5353", "2001:db8::1" or "[2001:db8::1]:5353"; undefined when none of these. */
export function parseUpstream(text: string): Upstream | undefined {
  const bracketed = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(text);
  const v4port = /^([0-9.]+):(\d{1,5})$/.exec(text);
  const [host, port] = bracketed ? [bracketed[1]!, bracketed[2]] : v4port ? [v4port[1]!, v4port[2]] : [text, undefined];
  const portNumber = port === undefined ? 53 : Number(port);
  if (isIP(host) === 0 || portNumber < 1 || portNumber > 65535) return undefined;
  return { host, port: portNumber };
}

export interface ForwardOptions {
  transport: Transport;
  /** Default FORWARD_TIMEOUT_MS. */
  timeoutMs?: number;
}

/**
 * Sends the client's packet to each upstream in turn until one answers. Returns the reply with
 * the client's ID, or undefined when none answered within the deadline. Never throws.
 */
export async function forwardQuery(
  packet: Uint8Array,
  query: DnsMessage,
  upstreams: readonly Upstream[],
  options: ForwardOptions,
): Promise<Uint8Array | undefined> {
  const deadline = Date.now() + (options.timeoutMs ?? FORWARD_TIMEOUT_MS);
  for (let i = 0; i < upstreams.length; i++) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) break;
    const budget = Math.min(remaining, Math.max(MIN_ATTEMPT_MS, Math.floor(remaining / (upstreams.length - i))));
    const id = randomInt(0, 0x10000);
    const outgoing = Uint8Array.from(packet);
    outgoing[0] = id >> 8;
    outgoing[1] = id & 0xff;
    const accept = (reply: Uint8Array): boolean => matches(reply, id, query);
    const upstream = upstreams[i]!;
    const reply =
      options.transport === "tcp" ? await attemptTcp(upstream, outgoing, accept, budget) : await attemptUdp(upstream, outgoing, accept, budget);
    if (!reply) continue;
    const out = Uint8Array.from(reply);
    out[0] = query.header.id >> 8;
    out[1] = query.header.id & 0xff;
    return options.transport === "udp" ? fitUdp(out, query) : out;
  }
  return undefined;
}

function attemptUdp(upstream: Upstream, packet: Uint8Array, accept: (reply: Uint8Array) => boolean, ms: number): Promise<Uint8Array | undefined> {
  return new Promise((resolve) => {
    const socket = createSocket(isIPv6(upstream.host) ? "udp6" : "udp4");
    let done = false;
    const finish = (reply: Uint8Array | undefined): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.close();
      resolve(reply);
    };
    const timer = setTimeout(() => finish(undefined), ms);
    socket.on("error", () => finish(undefined)); // ECONNREFUSED (ICMP), ENETUNREACH, ...
    socket.on("message", (msg) => {
      if (accept(msg)) finish(msg);
    });
    socket.connect(upstream.port, upstream.host, () => {
      socket.send(packet, (err) => {
        if (err) finish(undefined);
      });
    });
  });
}

function attemptTcp(upstream: Upstream, packet: Uint8Array, accept: (reply: Uint8Array) => boolean, ms: number): Promise<Uint8Array | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host: upstream.host, port: upstream.port });
    let buffered: Buffer = Buffer.alloc(0);
    let done = false;
    const finish = (reply: Uint8Array | undefined): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(reply);
    };
    const timer = setTimeout(() => finish(undefined), ms);
    socket.on("error", () => finish(undefined));
    socket.on("close", () => finish(undefined));
    socket.on("connect", () => {
      const length = Buffer.alloc(2);
      length.writeUInt16BE(packet.length);
      socket.write(Buffer.concat([length, packet]));
    });
    socket.on("data", (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
        const size = buffered.readUInt16BE(0);
        const reply = buffered.subarray(2, 2 + size);
        buffered = buffered.subarray(2 + size);
        if (accept(reply)) return finish(reply);
      }
    });
  });
}

/** A reply to our query: our ID, QR set, and the same question (or none, as some FORMERR replies). */
function matches(reply: Uint8Array, id: number, query: DnsMessage): boolean {
  const header = decodeHeader(reply);
  if (!header || header.id !== id || !header.qr) return false;
  if (header.qdcount === 0) return header.rcode !== 0;
  const question = query.questions[0];
  const name = decodeName(reply, HEADER_SIZE);
  if (!question || !name || name.next + 4 > reply.length) return false;
  const type = (reply[name.next]! << 8) | reply[name.next + 1]!;
  const klass = (reply[name.next + 2]! << 8) | reply[name.next + 3]!;
  return type === question.type && klass === question.class && name.name.toLowerCase() === question.name.toLowerCase();
}

/** Cuts a UDP reply the client cannot take to header + question, with TC set. */
function fitUdp(reply: Uint8Array, query: DnsMessage): Uint8Array {
  if (reply.length <= maxResponseSize(query, "udp")) return reply;
  const question = query.questions[0];
  const questionSize = question ? question.wire.length + 4 : 0;
  const out = new Uint8Array(HEADER_SIZE + questionSize);
  out.set(reply.subarray(0, 4));
  out[2] = out[2]! | 0x02;
  out[5] = question ? 1 : 0;
  if (question) {
    out.set(question.wire, HEADER_SIZE);
    const p = HEADER_SIZE + question.wire.length;
    out[p] = question.type >> 8;
    out[p + 1] = question.type & 0xff;
    out[p + 2] = question.class >> 8;
    out[p + 3] = question.class & 0xff;
  }
  return out;
}
