// Forwarding of names we do not own to the upstream resolvers (the host's, given by the agent).
//
// This runs in the supervisor, i.e. in the agent's own namespace: a tenant namespace has no
// route to the host's resolvers, so its server relays such queries over IPC (see ipc.ts and
// relay.ts) and the supervisor asks the upstreams with forwardQuery().
//
// The client's packet is sent exactly as received, so the reply carries the client's ID and
// answers its EDNS size. Upstreams are tried in order, each on a fresh connected UDP socket
// (random source port, ICMP errors reported at once), with a share of one overall deadline
// (default 1.8 s, under the server's 2 s relay timeout, so the client gets SERVFAIL well before
// its own ~5 s timeout). Only a reply with the query's ID and question is accepted. A truncated
// UDP reply (TC) is asked again over TCP from the same upstream; if that fails, the truncated
// reply is returned (the client may retry over TCP itself). Fitting the reply to the client's
// transport is the server's job (fitResponse in resolve.ts).

import { createSocket } from "node:dgram";
import { connect, isIP, isIPv6 } from "node:net";
import { decodeHeader, decodeMessage, decodeName, HEADER_SIZE, type DnsQuestion } from "./message.js";

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
  /** Default FORWARD_TIMEOUT_MS. */
  timeoutMs?: number;
  /** Ends all attempts at once (the asking server went away); the result is then undefined. */
  signal?: AbortSignal;
}

/**
 * Sends the query to each upstream in turn until one answers. Returns the reply (the query's ID,
 * as sent), or undefined when the packet is not a single-question query, or no upstream answered
 * within the deadline. Never throws.
 */
export async function forwardQuery(packet: Uint8Array, upstreams: readonly Upstream[], options: ForwardOptions = {}): Promise<Uint8Array | undefined> {
  const decoded = decodeMessage(packet);
  if (!decoded.ok || decoded.message.header.qr || decoded.message.questions.length !== 1) return undefined;
  const id = decoded.message.header.id;
  const question = decoded.message.questions[0]!;
  const accept = (reply: Uint8Array): boolean => matches(reply, id, question);
  const signal = options.signal;
  const deadline = Date.now() + (options.timeoutMs ?? FORWARD_TIMEOUT_MS);
  for (let i = 0; i < upstreams.length; i++) {
    const remaining = deadline - Date.now();
    if (remaining <= 0 || signal?.aborted) break;
    const budget = Math.min(remaining, Math.max(MIN_ATTEMPT_MS, Math.floor(remaining / (upstreams.length - i))));
    const upstream = upstreams[i]!;
    const reply = await attemptUdp(upstream, packet, accept, budget, signal);
    if (!reply) continue;
    if (!decodeHeader(reply)?.tc) return reply;
    const left = deadline - Date.now();
    const whole = left > 0 ? await attemptTcp(upstream, packet, accept, left, signal) : undefined;
    return whole ?? reply;
  }
  return undefined;
}

/** Runs `start` until it calls finish, the time is up or the signal fires; then `cleanup`. */
function attempt(
  ms: number,
  signal: AbortSignal | undefined,
  start: (finish: (reply: Uint8Array | undefined) => void) => () => void,
): Promise<Uint8Array | undefined> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(undefined);
    let done = false;
    let cleanup = (): void => undefined;
    const onAbort = (): void => finish(undefined);
    const finish = (reply: Uint8Array | undefined): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      cleanup();
      resolve(reply);
    };
    const timer = setTimeout(() => finish(undefined), ms);
    signal?.addEventListener("abort", onAbort, { once: true });
    const close = start(finish);
    if (done) close();
    else cleanup = close;
  });
}

function attemptUdp(
  upstream: Upstream,
  packet: Uint8Array,
  accept: (reply: Uint8Array) => boolean,
  ms: number,
  signal: AbortSignal | undefined,
): Promise<Uint8Array | undefined> {
  return attempt(ms, signal, (finish) => {
    const socket = createSocket(isIPv6(upstream.host) ? "udp6" : "udp4");
    socket.on("error", () => finish(undefined)); // ECONNREFUSED (ICMP), ENETUNREACH, ...
    socket.on("message", (msg) => {
      if (accept(msg)) finish(msg);
    });
    socket.connect(upstream.port, upstream.host, () => {
      // connect() calls back even when it failed (no route): send() then throws instead of erroring.
      try {
        socket.send(packet, (err) => {
          if (err) finish(undefined);
        });
      } catch {
        finish(undefined);
      }
    });
    return () => {
      try {
        socket.close();
      } catch {
        // already closed
      }
    };
  });
}

function attemptTcp(
  upstream: Upstream,
  packet: Uint8Array,
  accept: (reply: Uint8Array) => boolean,
  ms: number,
  signal: AbortSignal | undefined,
): Promise<Uint8Array | undefined> {
  return attempt(ms, signal, (finish) => {
    const socket = connect({ host: upstream.host, port: upstream.port });
    let buffered: Buffer = Buffer.alloc(0);
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
    return () => socket.destroy();
  });
}

/** A reply to our query: its ID, QR set, and the same question (or none, as some FORMERR replies). */
function matches(reply: Uint8Array, id: number, question: DnsQuestion): boolean {
  const header = decodeHeader(reply);
  if (!header || header.id !== id || !header.qr) return false;
  if (header.qdcount === 0) return header.rcode !== 0;
  const name = decodeName(reply, HEADER_SIZE);
  if (!name || name.next + 4 > reply.length) return false;
  const type = (reply[name.next]! << 8) | reply[name.next + 1]!;
  const klass = (reply[name.next + 2]! << 8) | reply[name.next + 3]!;
  return type === question.type && klass === question.class && name.name.toLowerCase() === question.name.toLowerCase();
}
