// DNS client for tests: one query over UDP or TCP, with a timeout. In-process: query().
// As a process inside a test namespace, with an IPC channel: it runs the queries the test
// sends ({id, host, port, transport, packet: base64}) and replies {id, packet?: base64, ms}.

import { createSocket } from "node:dgram";
import { connect, isIPv6 } from "node:net";
import { pathToFileURL } from "node:url";

export interface QueryTarget {
  host: string;
  port: number;
  transport: "udp" | "tcp";
  /** Default 4000 ms. */
  timeoutMs?: number;
}

/** The reply bytes, or undefined on timeout or socket error. */
export function query(target: QueryTarget, packet: Uint8Array): Promise<Uint8Array | undefined> {
  const timeoutMs = target.timeoutMs ?? 4000;
  return new Promise((resolve) => {
    let done = false;
    let cleanup = (): void => undefined;
    const finish = (reply: Uint8Array | undefined): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      cleanup();
      resolve(reply);
    };
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    if (target.transport === "udp") {
      const socket = createSocket(isIPv6(target.host) ? "udp6" : "udp4");
      cleanup = () => socket.close();
      socket.on("error", () => finish(undefined));
      socket.on("message", (msg) => finish(msg));
      socket.connect(target.port, target.host, () => socket.send(packet));
      return;
    }
    const socket = connect({ host: target.host, port: target.port });
    cleanup = () => socket.destroy();
    let buffered: Buffer = Buffer.alloc(0);
    socket.on("error", () => finish(undefined));
    socket.on("connect", () => {
      const length = Buffer.alloc(2);
      length.writeUInt16BE(packet.length);
      socket.write(Buffer.concat([length, packet]));
    });
    socket.on("data", (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
        finish(buffered.subarray(2, 2 + buffered.readUInt16BE(0)));
      }
    });
  });
}

export interface ClientRequest extends QueryTarget {
  id: number;
  packet: string;
}

export interface ClientReply {
  id: number;
  packet?: string;
  ms: number;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.on("disconnect", () => process.exit(0));
  process.on("message", (raw: unknown) => {
    const request = raw as ClientRequest;
    const started = Date.now();
    void query(request, Buffer.from(request.packet, "base64")).then((reply) => {
      const message: ClientReply = { id: request.id, ms: Date.now() - started };
      if (reply) message.packet = Buffer.from(reply).toString("base64");
      process.send?.(message);
    });
  });
  process.send?.({ id: 0, ms: 0 });
}
