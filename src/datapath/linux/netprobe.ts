// Test helper, not part of the driver: a tiny traffic tool the kernel tests run inside
// network namespaces (`ip netns exec NS node netprobe.js …`), because the machines have no
// ping. Each command prints one JSON line on stdout.
//
//   serve TAG PORT                    UDP + TCP echo on every address; replies "TAG:payload"
//   udp ADDR PORT COUNT INTERVAL_MS   numbered datagrams; {sent, received, lost, tags}
//   tcp ADDR PORT TIMEOUT_MS          {result: "reply"|"refused"|"timeout"|"error", tag?}
//                                     ("refused" proves a round trip: the peer answered with a RST)
//   hold ADDR PORT COUNT INTERVAL_MS  one TCP connection, COUNT request/replies; {sent, received, error}

import { createSocket } from "node:dgram";
import { createConnection, createServer, isIPv6 } from "node:net";

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

function serve(tag: string, port: number): void {
  const udp = createSocket({ type: "udp6", ipv6Only: false });
  udp.on("message", (msg, rinfo) => udp.send(`${tag}:${msg.toString()}`, rinfo.port, rinfo.address));
  const tcp = createServer((socket) => {
    socket.on("data", (data) => socket.write(`${tag}:${data.toString()}`));
    socket.on("error", () => undefined);
  });
  let ready = 0;
  const done = (): void => {
    if (++ready === 2) print({ ready: true });
  };
  udp.bind(port, "::", done);
  tcp.listen({ port, host: "::", ipv6Only: false }, done);
}

function udpProbe(address: string, port: number, count: number, intervalMs: number): void {
  const socket = createSocket(isIPv6(address) ? "udp6" : "udp4");
  const seen = new Set<number>();
  const tags = new Set<string>();
  let sent = 0;
  socket.on("message", (msg) => {
    const [tag, seq] = msg.toString().split(":");
    tags.add(tag ?? "");
    seen.add(Number(seq));
  });
  socket.on("error", () => undefined);
  const finish = (): void => {
    print({ sent, received: seen.size, lost: sent - seen.size, tags: [...tags].sort() });
    socket.close();
  };
  const tick = (): void => {
    if (sent >= count) {
      setTimeout(finish, 300);
      return;
    }
    socket.send(String(sent), port, address);
    sent += 1;
    setTimeout(tick, intervalMs);
  };
  tick();
}

function tcpProbe(address: string, port: number, timeoutMs: number): void {
  const socket = createConnection({ host: address, port });
  const end = (result: Record<string, unknown>): void => {
    clearTimeout(timer);
    print(result);
    socket.destroy();
  };
  const timer = setTimeout(() => end({ result: "timeout" }), timeoutMs);
  socket.on("connect", () => socket.write("hello"));
  socket.on("data", (data) => end({ result: "reply", tag: data.toString().split(":")[0] }));
  socket.on("error", (error: NodeJS.ErrnoException) =>
    end({ result: error.code === "ECONNREFUSED" ? "refused" : "error", code: error.code }),
  );
}

function hold(address: string, port: number, count: number, intervalMs: number): void {
  const socket = createConnection({ host: address, port });
  let sent = 0;
  let received = 0;
  let error: string | null = null;
  let buffered = "";
  const finish = (): void => {
    print({ sent, received, error });
    socket.destroy();
  };
  socket.on("data", (data) => {
    buffered += data.toString();
    const replies = buffered.split(";");
    buffered = replies.pop() ?? "";
    received += replies.length;
    if (received >= count) finish();
  });
  socket.on("error", (e: NodeJS.ErrnoException) => {
    error = e.code ?? e.message;
    finish();
  });
  socket.on("connect", () => {
    const tick = (): void => {
      if (sent >= count) {
        setTimeout(finish, 2000).unref();
        return;
      }
      // The server answers "TAG:n;" per chunk; each message ends with ';' so replies can be counted.
      socket.write(`${sent};`);
      sent += 1;
      setTimeout(tick, intervalMs);
    };
    tick();
  });
}

const [command, ...args] = process.argv.slice(2);
const n = (i: number): number => Number(args[i]);
switch (command) {
  case "serve":
    serve(args[0] ?? "server", n(1));
    break;
  case "udp":
    udpProbe(args[0]!, n(1), n(2), n(3));
    break;
  case "tcp":
    tcpProbe(args[0]!, n(1), n(2));
    break;
  case "hold":
    hold(args[0]!, n(1), n(2), n(3));
    break;
  default:
    process.stderr.write("usage: netprobe serve|udp|tcp|hold …\n");
    process.exit(2);
}
