// Netlink sockets (rtnetlink, nf_tables) for the process starter (netplugin-spawner.ts), through libc by bun's FFI: Node has no
// netlink socket, which is why this lives in the starter (compiled by bun) and nowhere in the agent. A socket is
// made in another namespace by entering it (setns) on this thread, opening the socket, and coming back: a socket
// stays in the namespace it was made in. Only the starter's main thread ever enters, and always comes back
// before it does anything else; if it cannot come back the starter exits (the agent starts another), since a
// command it started next would run in the wrong namespace.

import { dlopen, FFIType, read } from "bun:ffi";
import { closeSync, openSync } from "node:fs";
import type { NetlinkKernel, NetlinkProtocol, NetlinkSocket } from "../datapath/linux/netlink/kernel.js";
import { NLMSG_DONE, NLMSG_ERROR, sequenceOf, splitMessages, typeOf } from "../datapath/linux/netlink/message.js";

const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const PROTOCOLS: Record<NetlinkProtocol, number> = { route: 0, netfilter: 12 };
const SOL_SOCKET = 1;
const SO_RCVTIMEO = 20;
const SOL_NETLINK = 270;
const NETLINK_CAP_ACK = 10;
const NETLINK_EXT_ACK = 11;
const CLONE_NEWNET = 0x40000000;
const EINTR = 4;
/** recv: the datagram's whole length, also when the buffer was too short for it. */
const MSG_TRUNC = 0x20;
/** A request the kernel has not answered by then fails its line. */
const ANSWER_TIMEOUT_S = 5;

const libc = dlopen("libc.so.6", {
  socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  setsockopt: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
  send: { args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i64 },
  recv: { args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i64 },
  setns: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  strerror: { args: [FFIType.i32], returns: FFIType.cstring },
  __errno_location: { args: [], returns: FFIType.ptr },
});
const c = libc.symbols;

function errno(): number {
  return read.i32(c.__errno_location() as number);
}

function strerror(n: number): string {
  return String(c.strerror(n));
}

function fail(what: string): never {
  const n = errno();
  throw new Error(`${what}: ${strerror(n)}`);
}

/** This thread's own namespace, to come back to. */
let home: number | undefined;

function netlinkSocket(protocol: NetlinkProtocol): number {
  const fd = c.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, PROTOCOLS[protocol]) as number;
  if (fd < 0) fail("netlink socket");
  const one = new Int32Array([1]);
  // Errors with the kernel's own message; the answer without the request echoed back.
  c.setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, one, 4);
  c.setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, one, 4);
  const timeout = new BigInt64Array([BigInt(ANSWER_TIMEOUT_S), 0n]);
  if ((c.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, timeout, 16) as number) < 0) {
    closeSync(fd);
    fail("netlink socket timeout");
  }
  return fd;
}

function socketIn(netns: string | undefined, protocol: NetlinkProtocol): number {
  if (netns === undefined) return netlinkSocket(protocol);
  home ??= openSync("/proc/thread-self/ns/net", "r");
  const target = openSync(netns, "r");
  try {
    if ((c.setns(target, CLONE_NEWNET) as number) < 0) fail(`cannot enter ${netns}`);
  } finally {
    closeSync(target);
  }
  try {
    return netlinkSocket(protocol);
  } finally {
    if ((c.setns(home, CLONE_NEWNET) as number) < 0) {
      process.stderr.write(`netplugin-spawner: cannot come back to its own network namespace: ${strerror(errno())}\n`);
      process.exit(70);
    }
  }
}

class Socket implements NetlinkSocket {
  /** Larger than any one datagram of a dump (the kernel fills at most 32 KiB, or a page more). */
  private readonly buffer = new Uint8Array(256 * 1024);

  constructor(private readonly fd: number) {}

  talk(request: Uint8Array): Uint8Array {
    this.send(request);
    const seq = sequenceOf(request);
    for (;;) {
      const answer = this.receive().find((m) => sequenceOf(m) === seq);
      if (answer !== undefined) return answer.slice();
    }
  }

  dump(request: Uint8Array): Uint8Array[] {
    this.send(request);
    const seq = sequenceOf(request);
    const out: Uint8Array[] = [];
    for (;;) {
      for (const m of this.receive()) {
        if (sequenceOf(m) !== seq) continue;
        if (typeOf(m) === NLMSG_DONE) return out;
        out.push(m.slice());
        if (typeOf(m) === NLMSG_ERROR) return out;
      }
    }
  }

  private send(request: Uint8Array): void {
    const n = Number(c.send(this.fd, request, request.length, 0));
    if (n < 0) fail("netlink send");
    // A datagram goes whole or not at all; errno says nothing of a short count.
    if (n !== request.length) throw new Error(`netlink send: ${n} of ${request.length} bytes sent`);
  }

  /** The messages of the next datagram. */
  private receive(): Uint8Array[] {
    for (;;) {
      const n = Number(c.recv(this.fd, this.buffer, this.buffer.length, MSG_TRUNC));
      if (n < 0) {
        if (errno() === EINTR) continue;
        fail("netlink answer");
      }
      if (n > this.buffer.length) throw new Error(`netlink answer of ${n} bytes, more than ${this.buffer.length}`);
      return splitMessages(this.buffer.subarray(0, n));
    }
  }

  close(): void {
    closeSync(this.fd);
  }
}

export const kernel: NetlinkKernel = {
  socket: (netns, protocol) => new Socket(socketIn(netns, protocol)),
  openNetns: (path) => openSync(path, "r"),
  closeFd: (fd) => closeSync(fd),
  strerror,
};
