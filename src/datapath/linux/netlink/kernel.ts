// What the netlink runs (ip-batch.ts, nft-list.ts) need of the kernel: sockets in a namespace and namespace
// files. The agent's process starter gives them through libc (src/bin/spawner-netlink.ts); tests, the same.

/** Which netlink family a socket talks. */
export type NetlinkProtocol = "route" | "netfilter";

/** A netlink socket in one namespace. */
export interface NetlinkSocket {
  /** The answer to one request: the first message carrying its sequence number. */
  talk(request: Uint8Array): Uint8Array;
  /** The messages answering a dump request, up to and without NLMSG_DONE; an NLMSG_ERROR is the last one when the dump failed. */
  dump(request: Uint8Array): Uint8Array[];
  close(): void;
}

/** Thrown errors mean "leave it to the tool". */
export interface NetlinkKernel {
  /** A socket in the namespace of the file; undefined: the caller's own. */
  socket(netns: string | undefined, protocol: NetlinkProtocol): NetlinkSocket;
  /** A namespace file opened, for a veth's peer. */
  openNetns(path: string): number;
  closeFd(fd: number): void;
  strerror(errno: number): string;
}

/** Nothing of the run was done here: the caller starts the tool itself, which answers in its own words. */
export class NotStarted extends Error {}

/** Where `ip -n NAME` and `ip netns exec NAME` find a named namespace. */
export const NETNS_RUN_DIR = "/var/run/netns";
