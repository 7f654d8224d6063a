// Helper process of bench/cluster.ts, run inside a container namespace
// (`ip netns exec NS node cluster-probe.js PORT`): a TCP connect loop driven
// from stdin, idle between measurements, and a TCP server on PORT (0: none;
// bench/cluster.ts probes closed ports, answered by the peer's kernel).
//
//   stdin "probe ADDR PORT INTERVAL_MS TIMEOUT_MS"  starts one TCP connect every INTERVAL_MS (each a new
//                                                   flow, judged by policy); one line per attempt, in start order:
//                                                   {"s": start (epoch ms), "r": "ok"|"refused"|"timeout"|"error"}
//                                                   ("refused" = the peer's kernel answered: it is reachable)
//   stdin "stop"                                    stops starting attempts; {"stopped": true} once none is in flight
//
// The server accepts and closes: a completed handshake is the answer. Prints {"ready": true} once listening.

import { createConnection, createServer } from "node:net";
import { createInterface } from "node:readline";

type Outcome = "ok" | "refused" | "timeout" | "error";

const now = (): number => performance.timeOrigin + performance.now();
const print = (value: unknown): void => void process.stdout.write(`${JSON.stringify(value)}\n`);

const port = Number(process.argv[2]);
const server = createServer((socket) => {
  socket.on("error", () => undefined);
  socket.destroy();
});
if (port > 0) server.listen({ port, host: "0.0.0.0" }, () => print({ ready: true }));
else print({ ready: true });

/** Attempts in start order; results are printed only in that order, so the reader sees a complete prefix. */
const queue: { s: number; r: Outcome | undefined }[] = [];
let loop: NodeJS.Timeout | undefined;
let stopping = false;

function flush(): void {
  while (queue.length > 0 && queue[0]!.r !== undefined) {
    const a = queue.shift()!;
    print({ s: Math.round(a.s * 1000) / 1000, r: a.r });
  }
  if (stopping && queue.length === 0) {
    stopping = false;
    print({ stopped: true });
  }
}

function attempt(address: string, peerPort: number, timeoutMs: number): void {
  const entry: { s: number; r: Outcome | undefined } = { s: now(), r: undefined };
  queue.push(entry);
  const socket = createConnection({ host: address, port: peerPort });
  const end = (r: Outcome): void => {
    if (entry.r !== undefined) return;
    entry.r = r;
    clearTimeout(timer);
    socket.destroy();
    flush();
  };
  const timer = setTimeout(() => end("timeout"), timeoutMs);
  socket.on("connect", () => end("ok"));
  socket.on("error", (err: NodeJS.ErrnoException) => end(err.code === "ECONNREFUSED" ? "refused" : "error"));
}

createInterface({ input: process.stdin }).on("line", (line) => {
  const [command, ...args] = line.trim().split(/\s+/);
  if (command === "probe") {
    const [address, peerPort, interval, timeout] = [args[0]!, Number(args[1]), Number(args[2]), Number(args[3])];
    clearInterval(loop);
    attempt(address, peerPort, timeout);
    loop = setInterval(() => attempt(address, peerPort, timeout), interval);
  } else if (command === "stop") {
    clearInterval(loop);
    loop = undefined;
    stopping = true;
    flush();
  }
});
process.stdin.on("end", () => process.exit(0));
