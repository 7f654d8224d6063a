// rtnetlink messages for the few changes an endpoint's ADD and DEL make (ip-batch.ts says which), built and read
// as bytes: pure, so they are checked here against the layout of linux/rtnetlink.h and run against the kernel
// only by the agent's process starter (src/bin/spawner-netlink.ts), which has the socket Node lacks.

import { ipBytes, parseIp } from "../../../lib/ip.js";
import { concat, cString, encodeAttrs, message, NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLMSG_HEADER, type Attr } from "./message.js";

const RTM_NEWLINK = 16;
const RTM_DELLINK = 17;
const RTM_GETLINK = 18;
const RTM_NEWADDR = 20;
const RTM_NEWROUTE = 24;

const IFLA_ADDRESS = 1;
const IFLA_IFNAME = 3;
const IFLA_MTU = 4;
const IFLA_MASTER = 10;
const IFLA_LINKINFO = 18;
const IFLA_GROUP = 27;
const IFLA_NET_NS_FD = 28;
const IFLA_INFO_KIND = 1;
const IFLA_INFO_DATA = 2;
const VETH_INFO_PEER = 1;
const IFF_UP = 0x1;

const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
const IFA_FLAGS = 8;
const IFA_F_NODAD = 0x2;

const RTA_OIF = 4;
const RTA_GATEWAY = 5;
const RT_TABLE_MAIN = 254;
const RTPROT_BOOT = 3;
const RTN_UNICAST = 1;

const AF_UNSPEC = 0;
const AF_INET = 2;
const AF_INET6 = 10;

function u32(n: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n, true);
  return out;
}

/** "02:42:ac:11:00:02" as 6 bytes. */
function macBytes(mac: string): Uint8Array {
  return Uint8Array.from(mac.split(":").map((h) => parseInt(h, 16)));
}

/** An IPv4 or IPv6 address (already checked): its address family and its bytes in network order. */
function addressOf(address: string): { family: number; bytes: Uint8Array } {
  const ip = parseIp(address);
  if (ip === undefined) throw new Error(`not an IP address: "${address}"`);
  return { family: ip.family === 4 ? AF_INET : AF_INET6, bytes: ipBytes(ip) };
}

/** struct ifinfomsg: family, type, index, flags, change. */
function ifinfomsg(index: number, flags: number, change: number): Uint8Array {
  const out = new Uint8Array(16);
  const view = new DataView(out.buffer);
  view.setUint8(0, AF_UNSPEC);
  view.setInt32(4, index, true);
  view.setUint32(8, flags, true);
  view.setUint32(12, change, true);
  return out;
}

export interface VethRequest {
  name: string;
  mtu?: number;
  address?: string;
  peer: { name: string; mtu?: number; address?: string; netnsFd?: number };
}

/** `ip link add NAME … type veth peer name P … netns NS`. */
export function newVeth(seq: number, v: VethRequest): Uint8Array {
  const linkAttrs = (l: { name: string; mtu?: number; address?: string; netnsFd?: number }): Attr[] => [
    [IFLA_IFNAME, cString(l.name)],
    ...(l.mtu === undefined ? [] : [[IFLA_MTU, u32(l.mtu)] as Attr]),
    ...(l.address === undefined ? [] : [[IFLA_ADDRESS, macBytes(l.address)] as Attr]),
    ...(l.netnsFd === undefined ? [] : [[IFLA_NET_NS_FD, u32(l.netnsFd)] as Attr]),
  ];
  const peer = concat([ifinfomsg(0, 0, 0), encodeAttrs(linkAttrs(v.peer))]);
  const info: Attr = [IFLA_LINKINFO, [[IFLA_INFO_KIND, cString("veth")], [IFLA_INFO_DATA, [[VETH_INFO_PEER, peer]]]]];
  return message(RTM_NEWLINK, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, seq, [ifinfomsg(0, 0, 0), encodeAttrs([...linkAttrs(v), info])]);
}

export interface LinkChange {
  /** The link, by name. */
  name: string;
  masterIndex?: number;
  mtu?: number;
  address?: string;
  group?: number;
  up?: boolean;
}

/** `ip link set NAME …`: the link found by its name. */
export function setLink(seq: number, c: LinkChange): Uint8Array {
  const attrs: Attr[] = [[IFLA_IFNAME, cString(c.name)]];
  if (c.masterIndex !== undefined) attrs.push([IFLA_MASTER, u32(c.masterIndex)]);
  if (c.mtu !== undefined) attrs.push([IFLA_MTU, u32(c.mtu)]);
  if (c.address !== undefined) attrs.push([IFLA_ADDRESS, macBytes(c.address)]);
  if (c.group !== undefined) attrs.push([IFLA_GROUP, u32(c.group)]);
  const change = c.up === undefined ? 0 : IFF_UP;
  return message(RTM_NEWLINK, NLM_F_ACK, seq, [ifinfomsg(0, c.up === true ? IFF_UP : 0, change), encodeAttrs(attrs)]);
}

/** `ip link del NAME` or `ip link del group G`. */
export function deleteLink(seq: number, which: { name: string } | { group: number }): Uint8Array {
  const attr: Attr = "name" in which ? [IFLA_IFNAME, cString(which.name)] : [IFLA_GROUP, u32(which.group)];
  return message(RTM_DELLINK, NLM_F_ACK, seq, [ifinfomsg(0, 0, 0), encodeAttrs([attr])]);
}

/** A link's index by its name (the answer: linkIndex). */
export function getLink(seq: number, name: string): Uint8Array {
  return message(RTM_GETLINK, 0, seq, [ifinfomsg(0, 0, 0), encodeAttrs([[IFLA_IFNAME, cString(name)]])]);
}

/** `ip addr add ADDRESS/LEN dev X [nodad]`. */
export function newAddress(seq: number, a: { address: string; prefixLength: number; index: number; nodad: boolean }): Uint8Array {
  const { family, bytes } = addressOf(a.address);
  const head = new Uint8Array(8);
  const view = new DataView(head.buffer);
  view.setUint8(0, family);
  view.setUint8(1, a.prefixLength);
  view.setUint8(2, a.nodad ? IFA_F_NODAD : 0);
  view.setUint32(4, a.index, true);
  const attrs: Attr[] = [[IFA_LOCAL, bytes], [IFA_ADDRESS, bytes]];
  if (a.nodad) attrs.push([IFA_FLAGS, u32(IFA_F_NODAD)]);
  return message(RTM_NEWADDR, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, seq, [head, encodeAttrs(attrs)]);
}

/** `ip route add default via GATEWAY dev X`, in the main table. */
export function newDefaultRoute(seq: number, r: { gateway: string; index: number }): Uint8Array {
  const gateway = addressOf(r.gateway);
  const head = new Uint8Array(12);
  const view = new DataView(head.buffer);
  view.setUint8(0, gateway.family);
  view.setUint8(4, RT_TABLE_MAIN);
  view.setUint8(5, RTPROT_BOOT);
  view.setUint8(7, RTN_UNICAST);
  return message(RTM_NEWROUTE, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, seq, [head, encodeAttrs([[RTA_GATEWAY, gateway.bytes], [RTA_OIF, u32(r.index)]])]);
}

/** The index of the link a getLink reply describes. */
export function linkIndex(reply: Uint8Array): number {
  return new DataView(reply.buffer, reply.byteOffset, reply.byteLength).getInt32(NLMSG_HEADER + 4, true);
}
