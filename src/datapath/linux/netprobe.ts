// Test helper, not part of the driver: a tiny traffic tool the kernel tests run inside
// network namespaces (`ip netns exec NS node netprobe.js …`). Each command prints one JSON
// line on stdout (servers and receivers print {ready: true} first).
//
//   serve TAG PORT                    UDP + TCP echo on every address; replies "TAG:payload"
//   serve-peer PORT                   TCP echo on 0.0.0.0 replying "PEER:payload": the tag is the
//                                     client's address as this side sees it (after any NAT)
//   mrecv GROUP PORT DURATION_MS      joins the IPv4 multicast group, counts datagrams; {received}
//   msend GROUP PORT COUNT INTERVAL_MS  datagrams to the group (TTL 1); {sent}
//   udp ADDR PORT COUNT INTERVAL_MS   numbered datagrams; {sent, received, lost, tags}
//   tcp ADDR PORT TIMEOUT_MS          {result: "reply"|"refused"|"timeout"|"error", tag?}
//                                     ("refused" proves a round trip: the peer answered with a RST)
//   hold ADDR PORT COUNT INTERVAL_MS  one TCP connection, COUNT request/replies; {ready} after the first
//                                     reply, then {sent, received, error}

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

function servePeer(port: number): void {
  const tcp = createServer((socket) => {
    socket.on("data", (data) => socket.write(`${socket.remoteAddress ?? "?"}:${data.toString()}`));
    socket.on("error", () => undefined);
  });
  tcp.listen({ port, host: "0.0.0.0" }, () => print({ ready: true }));
}

function multicastReceive(group: string, port: number, durationMs: number): void {
  const socket = createSocket({ type: "udp4", reuseAddr: true });
  let received = 0;
  socket.on("message", () => (received += 1));
  socket.bind(port, () => {
    socket.addMembership(group);
    print({ ready: true });
    setTimeout(() => {
      print({ received });
      socket.close();
    }, durationMs);
  });
}

function multicastSend(group: string, port: number, count: number, intervalMs: number): void {
  const socket = createSocket("udp4");
  let sent = 0;
  socket.bind(() => {
    socket.setMulticastTTL(1);
    const tick = (): void => {
      if (sent >= count) {
        print({ sent });
        socket.close();
        return;
      }
      socket.send(String(sent), port, group);
      sent += 1;
      setTimeout(tick, intervalMs);
    };
    tick();
  });
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
    // The first reply: the connection is established (startProbe waits for this line).
    if (received === 0 && replies.length > 0) print({ ready: true });
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
  case "serve-peer":
    servePeer(n(0));
    break;
  case "mrecv":
    multicastReceive(args[0]!, n(1), n(2));
    break;
  case "msend":
    multicastSend(args[0]!, n(1), n(2), n(3));
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
    process.stderr.write("usage: netprobe serve|serve-peer|mrecv|msend|udp|tcp|hold …\n");
    process.exit(2);
}
