// A tiny upstream resolver for tests (UDP and TCP). Every name answers A 203.0.113.7 and
// AAAA 2001:db8::7, except: "nx.example" → NXDOMAIN, "silent.example" → no reply at all,
// "big.example" → 60 A records (more than fits 512 bytes), "tc.example" → over UDP truncated (TC,
// no answers), over TCP the A record.
// In-process: startFakeUpstream() (the end-to-end test runs it in the root namespace, where the
// supervisor forwards from). As a process: node fakeUpstream.js <host> <port> → prints "ready <port>" once bound.

import { createSocket } from "node:dgram";
import { createServer, isIPv6 } from "node:net";
import { pathToFileURL } from "node:url";
import { addressBytes } from "../addresses.js";
import { decodeMessage, encodeResponse, Rcode, RRType, type Answer } from "../message.js";

export const FAKE_UPSTREAM_A = "203.0.113.7";
export const FAKE_UPSTREAM_AAAA = "2001:db8::7";

export interface FakeUpstream {
  port: number;
  /** Names asked, lower case, in order. */
  queries: string[];
  close(): Promise<void>;
}

export function fakeAnswer(packet: Uint8Array, tcp: boolean, queries: string[]): Uint8Array | undefined {
  const decoded = decodeMessage(packet);
  if (!decoded.ok || decoded.message.header.qr) return undefined;
  const query = decoded.message;
  const question = query.questions[0];
  if (!question) return undefined;
  const name = question.name.toLowerCase();
  queries.push(name);
  if (name === "silent.example") return undefined;
  const answers: Answer[] = [];
  let rcode: number = Rcode.NOERROR;
  if (name === "nx.example") rcode = Rcode.NXDOMAIN;
  else if (name === "big.example") {
    for (let i = 0; i < 60; i++) answers.push({ type: RRType.A, ttl: 60, data: Uint8Array.of(198, 51, 100, i) });
  } else if (question.type === RRType.A) answers.push({ type: RRType.A, ttl: 60, data: addressBytes(FAKE_UPSTREAM_A)! });
  else if (question.type === RRType.AAAA) answers.push({ type: RRType.AAAA, ttl: 60, data: addressBytes(FAKE_UPSTREAM_AAAA)! });
  if (name === "tc.example" && !tcp) {
    return encodeResponse({ id: query.header.id, rd: query.header.rd, aa: false, ra: true, rcode, question, answers, maxSize: 12 + question.wire.length + 4 });
  }
  // Like a careless server: no truncation of its own, so the server's limit is what we test.
  return encodeResponse({
    id: query.header.id,
    rd: query.header.rd,
    aa: false,
    ra: true,
    rcode,
    question,
    answers,
    maxSize: tcp ? 0xffff : 4096,
  });
}

export function startFakeUpstream(host = "127.0.0.1", port = 0): Promise<FakeUpstream> {
  const queries: string[] = [];
  const udp = createSocket(isIPv6(host) ? "udp6" : "udp4");
  udp.on("message", (msg, peer) => {
    const reply = fakeAnswer(msg, false, queries);
    if (reply) udp.send(reply, peer.port, peer.address);
  });
  const tcp = createServer((conn) => {
    let buffered: Buffer = Buffer.alloc(0);
    conn.on("error", () => conn.destroy());
    conn.on("data", (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
        const packet = buffered.subarray(2, 2 + buffered.readUInt16BE(0));
        buffered = buffered.subarray(2 + packet.length);
        const reply = fakeAnswer(packet, true, queries);
        if (!reply) continue;
        const length = Buffer.alloc(2);
        length.writeUInt16BE(reply.length);
        conn.write(Buffer.concat([length, reply]));
      }
    });
  });
  return new Promise((resolve, reject) => {
    udp.once("error", reject);
    udp.bind({ address: host, port }, () => {
      const bound = udp.address().port;
      tcp.once("error", reject);
      tcp.listen({ host, port: bound }, () => {
        resolve({
          port: bound,
          queries,
          close: () =>
            new Promise<void>((done) => {
              udp.close();
              tcp.close(() => done());
            }),
        });
      });
    });
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [host = "127.0.0.1", port = "53"] = process.argv.slice(2);
  startFakeUpstream(host, Number(port)).then(
    (fake) => process.stdout.write(`ready ${fake.port}\n`),
    (err: unknown) => {
      process.stderr.write(`fakeUpstream: ${String(err)}\n`);
      process.exit(1);
    },
  );
  process.on("SIGTERM", () => process.exit(0));
}
