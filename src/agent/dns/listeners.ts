// UDP and TCP sockets on port 53 of each gateway address, kept in line with the wanted set.
//
// Why one socket per address rather than one on 0.0.0.0/:: —
// * Replies must leave from the address the client asked (resolvers drop others). Node's dgram
//   has no IP_PKTINFO, so a wildcard socket would let routing pick the source address, which is
//   wrong whenever a bridge holds more than one address.
// * The tenant namespace may have links other than its bridges (uplinks, veths to the host):
//   a wildcard socket would answer there too, and would hold port 53 on every address.
// The price: an address must exist before it can be bound (EADDRNOTAVAIL; IPv6 also until DAD
// ends — give gateways `nodad`). Addresses that fail are retried every second, and the set of
// addresses actually served is reported, so the order of "add address" and "listen" does not matter.

import { createSocket, type Socket } from "node:dgram";
import { createServer, isIPv6, type Server, type Socket as TcpSocket } from "node:net";
import type { Transport } from "./resolve.js";

export type Handler = (packet: Uint8Array, transport: Transport) => Promise<Uint8Array | undefined>;

export interface ListenersOptions {
  handle: Handler;
  /** Default 53. */
  port?: number;
  /** Delay before binding a failed address again. Default 1000 ms. */
  retryMs?: number;
  /** Idle TCP connections are closed after this. Default 10 000 ms. */
  tcpIdleMs?: number;
  /** The addresses served on both UDP and TCP changed. */
  onChange?: (listening: string[]) => void;
  /** A bind failed; called once per address until it succeeds again. */
  onBindError?: (address: string, transport: Transport, error: Error) => void;
}

interface Entry {
  address: string;
  udp?: Socket;
  tcp?: Server;
  connections: Set<TcpSocket>;
  binding: number;
  timer?: NodeJS.Timeout;
  reported: boolean;
  removed: boolean;
}

const MAX_TCP_CONNECTIONS = 64;

export class Listeners {
  readonly #entries = new Map<string, Entry>();
  readonly #options: ListenersOptions;
  #lastReported = "";

  constructor(options: ListenersOptions) {
    this.#options = options;
  }

  /** Makes the served set equal `addresses` (invalid ones are ignored). Idempotent. */
  setAddresses(addresses: readonly string[]): void {
    const wanted = new Set(addresses);
    for (const [address, entry] of this.#entries) {
      if (!wanted.has(address)) {
        this.#entries.delete(address);
        closeEntry(entry);
      }
    }
    for (const address of wanted) {
      if (this.#entries.has(address)) continue;
      const entry: Entry = { address, connections: new Set(), binding: 0, reported: false, removed: false };
      this.#entries.set(address, entry);
      this.#bind(entry);
    }
    this.#report();
  }

  /** Addresses bound on both UDP and TCP, sorted. */
  listening(): string[] {
    return [...this.#entries.values()]
      .filter((e) => e.udp && e.tcp)
      .map((e) => e.address)
      .sort();
  }

  close(): void {
    for (const entry of this.#entries.values()) closeEntry(entry);
    this.#entries.clear();
    this.#report();
  }

  #bind(entry: Entry): void {
    if (entry.removed) return;
    if (!entry.udp) this.#bindUdp(entry);
    if (!entry.tcp) this.#bindTcp(entry);
  }

  #failed(entry: Entry, transport: Transport, error: Error): void {
    if (entry.removed) return;
    if (!entry.reported) {
      entry.reported = true;
      this.#options.onBindError?.(entry.address, transport, error);
    }
    entry.timer ??= setTimeout(() => {
      entry.timer = undefined;
      this.#bind(entry);
    }, this.#options.retryMs ?? 1000);
  }

  #bound(entry: Entry): void {
    if (entry.udp && entry.tcp) entry.reported = false;
    this.#report();
  }

  #report(): void {
    const listening = this.listening();
    const key = listening.join(",");
    if (key === this.#lastReported) return;
    this.#lastReported = key;
    this.#options.onChange?.(listening);
  }

  #bindUdp(entry: Entry): void {
    const socket = createSocket(isIPv6(entry.address) ? "udp6" : "udp4");
    const onBindError = (error: Error): void => {
      socket.close();
      this.#failed(entry, "udp", error);
    };
    socket.once("error", onBindError);
    socket.on("message", (packet, peer) => {
      void this.#options.handle(packet, "udp").then((reply) => {
        if (!reply) return;
        try {
          socket.send(reply, peer.port, peer.address);
        } catch {
          // Socket closed while the answer was on its way (address removed): nothing to do.
        }
      });
    });
    socket.bind({ address: entry.address, port: this.#options.port ?? 53 }, () => {
      socket.off("error", onBindError);
      socket.on("error", () => undefined); // runtime errors (ICMP from clients) are not ours to act on
      if (entry.removed) return void socket.close();
      entry.udp = socket;
      this.#bound(entry);
    });
  }

  #bindTcp(entry: Entry): void {
    const server = createServer((connection) => this.#serveTcp(entry, connection));
    server.maxConnections = MAX_TCP_CONNECTIONS;
    const onBindError = (error: Error): void => {
      server.close();
      this.#failed(entry, "tcp", error);
    };
    server.once("error", onBindError);
    server.listen({ host: entry.address, port: this.#options.port ?? 53 }, () => {
      server.off("error", onBindError);
      server.on("error", () => undefined);
      if (entry.removed) return void server.close();
      entry.tcp = server;
      this.#bound(entry);
    });
  }

  /** RFC 7766 framing: 2-byte length, then the message; replies may come out of order. */
  #serveTcp(entry: Entry, connection: TcpSocket): void {
    entry.connections.add(connection);
    connection.setTimeout(this.#options.tcpIdleMs ?? 10_000, () => connection.destroy());
    connection.on("close", () => entry.connections.delete(connection));
    connection.on("error", () => connection.destroy());
    let buffered: Buffer = Buffer.alloc(0);
    connection.on("data", (chunk: Buffer) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
        const packet = buffered.subarray(2, 2 + buffered.readUInt16BE(0));
        buffered = buffered.subarray(2 + packet.length);
        void this.#options.handle(packet, "tcp").then((reply) => {
          if (!reply || connection.destroyed) return;
          const length = Buffer.alloc(2);
          length.writeUInt16BE(reply.length);
          connection.write(Buffer.concat([length, reply]));
        });
      }
    });
  }
}

function closeEntry(entry: Entry): void {
  entry.removed = true;
  if (entry.timer) clearTimeout(entry.timer);
  entry.udp?.close();
  entry.tcp?.close();
  for (const c of entry.connections) c.destroy();
  entry.udp = undefined;
  entry.tcp = undefined;
}
