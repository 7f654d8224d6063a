// Test helper, not part of the driver: the traffic tool of services.kernel.test.ts, run inside network
// namespaces (`ip netns exec NS node lbprobe.js …`). Many connections from one process (a process per
// connection would cost the test seconds), and every answer says who answered and whom it saw, so a test
// can tell which provider a VIP chose and what source address that provider was shown. Prints JSON lines;
// long-running commands print {ready: true, …} first.
//
//   serve TAG PORT [ADDR]             TCP and UDP on ADDR (default: every address, both families); answers
//                                     each line (TCP) or datagram (UDP) with "TAG PEER" (PEER: the client's
//                                     address as this side sees it)
//   tcp ADDR PORT COUNT TIMEOUT_MS [FROM]
//                                     COUNT connections one after another, one request each; a tally
//   udp ADDR PORT COUNT TIMEOUT_MS [FROM]
//                                     COUNT requests, each from a new connected socket (a new flow, and only
//                                     an answer from ADDR:PORT counts); a tally
//                                     FROM: the local port of every connection or flow (with COUNT 1: a test
//                                     that needs to meet the conntrack entry an earlier one left)
//   hold ADDR PORT COUNT INTERVAL_MS  one TCP connection, COUNT requests; {ready, tag} after the first answer,
//                                     then {sent, received, tags, error}
//
// A tally: {answers: {TAG: n}, peers: {PEER: n}, refused, timeout, error}; "refused" is a
// TCP reset or an ICMP port unreachable, either of which proves a round trip.

import { createSocket } from "node:dgram";
import { createConnection, createServer, isIPv6 } from "node:net";

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

/** "::ffff:198.18.1.1" → "198.18.1.1": a dual-stack socket shows IPv4 peers mapped. */
function plain(address: string | undefined): string {
  return (address ?? "?").replace(/^::ffff:/, "");
}

function serve(tag: string, port: number, address: string | undefined): void {
  const host = address ?? "::";
  const udp = createSocket({ type: isIPv6(host) ? "udp6" : "udp4", ipv6Only: false });
  udp.on("message", (_msg, from) => udp.send(`${tag} ${plain(from.address)}`, from.port, from.address));
  const tcp = createServer((socket) => {
    let buffered = "";
    socket.on("data", (data) => {
      buffered += data.toString();
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const _ of lines) socket.write(`${tag} ${plain(socket.remoteAddress)}\n`);
    });
    socket.on("error", () => undefined);
  });
  let ready = 0;
  const done = (): void => {
    if (++ready === 2) print({ ready: true });
  };
  udp.bind(port, host, done);
  tcp.listen({ port, host, ipv6Only: false }, done);
}

type Outcome = { answer: string } | { failure: "refused" | "timeout" | "error" };

interface Tally {
  answers: Record<string, number>;
  peers: Record<string, number>;
  refused: number;
  timeout: number;
  error: number;
}

function count(into: Record<string, number>, key: string): void {
  into[key] = (into[key] ?? 0) + 1;
}

async function tally(total: number, once: () => Promise<Outcome>): Promise<void> {
  const t: Tally = { answers: {}, peers: {}, refused: 0, timeout: 0, error: 0 };
  for (let i = 0; i < total; i++) {
    const outcome = await once();
    if ("answer" in outcome) {
      const [tag = "", peer = ""] = outcome.answer.trim().split(" ");
      count(t.answers, tag);
      count(t.peers, peer);
    } else {
      t[outcome.failure] += 1;
    }
  }
  print(t);
}

function tcpOnce(address: string, port: number, timeoutMs: number, from: number | undefined): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: address, port, ...(from === undefined ? {} : { localPort: from }) });
    const end = (outcome: Outcome): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => end({ failure: "timeout" }), timeoutMs);
    let buffered = "";
    socket.on("connect", () => socket.write("hello\n"));
    socket.on("data", (data) => {
      buffered += data.toString();
      if (buffered.includes("\n")) end({ answer: buffered.split("\n")[0]! });
    });
    socket.on("error", (error: NodeJS.ErrnoException) =>
      end({ failure: error.code === "ECONNREFUSED" || error.code === "ECONNRESET" ? "refused" : "error" }),
    );
  });
}

function udpOnce(address: string, port: number, timeoutMs: number, from: number | undefined): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = createSocket(isIPv6(address) ? "udp6" : "udp4");
    const end = (outcome: Outcome): void => {
      clearTimeout(timer);
      socket.close();
      resolve(outcome);
    };
    const timer = setTimeout(() => end({ failure: "timeout" }), timeoutMs);
    // Connected: the kernel passes on only datagrams from address:port, and reports an ICMP port unreachable.
    const connect = (): void => socket.connect(port, address, () => socket.send("hello"));
    if (from === undefined) connect();
    else socket.bind(from, connect);
    socket.on("message", (msg) => end({ answer: msg.toString() }));
    socket.on("error", (error: NodeJS.ErrnoException) => end({ failure: error.code === "ECONNREFUSED" ? "refused" : "error" }));
  });
}

function hold(address: string, port: number, total: number, intervalMs: number): void {
  const socket = createConnection({ host: address, port });
  const tags = new Set<string>();
  let sent = 0;
  let received = 0;
  let error: string | null = null;
  let buffered = "";
  const finish = (): void => {
    print({ sent, received, tags: [...tags].sort(), error });
    socket.destroy();
  };
  socket.on("data", (data) => {
    buffered += data.toString();
    const lines = buffered.split("\n");
    buffered = lines.pop() ?? "";
    for (const line of lines) {
      const tag = line.split(" ")[0] ?? "";
      if (received === 0) print({ ready: true, tag });
      tags.add(tag);
      received += 1;
    }
    if (received >= total) finish();
  });
  socket.on("error", (e: NodeJS.ErrnoException) => {
    error = e.code ?? e.message;
    finish();
  });
  socket.on("connect", () => {
    const tick = (): void => {
      if (sent >= total) {
        setTimeout(finish, 2000).unref();
        return;
      }
      socket.write(`${sent}\n`);
      sent += 1;
      setTimeout(tick, intervalMs);
    };
    tick();
  });
}

const [command, ...args] = process.argv.slice(2);
const n = (i: number): number => Number(args[i]);
const from = args[4] === undefined ? undefined : n(4);
switch (command) {
  case "serve":
    serve(args[0]!, n(1), args[2]);
    break;
  case "tcp":
    void tally(n(2), () => tcpOnce(args[0]!, n(1), n(3), from));
    break;
  case "udp":
    void tally(n(2), () => udpOnce(args[0]!, n(1), n(3), from));
    break;
  case "hold":
    hold(args[0]!, n(1), n(2), n(3));
    break;
  default:
    process.stderr.write("usage: lbprobe serve|tcp|udp|hold …\n");
    process.exit(2);
}
