// nf_tables netlink messages for the few listings the agent reads often (nft-list.ts says which): requests as
// bytes, the kernel's answers read back, and what `nft -j` prints for them. Pure. Why: `nft` fetches every
// set's elements of a table for almost any listing (nft 1.0.6), so with the flow sets full (thousands of
// elements) each reading of a few counters cost ~25 ms of CPU; asked over netlink, the kernel sends only what is
// asked. Anything these readers do not know (a key type, an expression, a comment, an interval set) throws
// Unsupported, and `nft` itself answers.

import { formatIp, ipFromBytes } from "../../../lib/ip.js";
import { attrList, cString, encodeAttrs, message, NLM_F_DUMP, NLMSG_HEADER, parseAttrs, type Attr } from "./message.js";

/** What the readers do not render as nft would: the caller leaves the listing to nft. */
export class Unsupported extends Error {}

const NFNL_SUBSYS_NFTABLES = 10;
const NFT_MSG_GETTABLE = 1;
const NFT_MSG_GETSET = 10;
const NFT_MSG_GETSETELEM = 13;
const NFT_MSG_GETGEN = 16;
const NFT_MSG_GETOBJ = 19;

const NFTA_TABLE_NAME = 1;
const NFTA_TABLE_FLAGS = 2;
const NFTA_TABLE_HANDLE = 4;

const NFTA_SET_TABLE = 1;
const NFTA_SET_NAME = 2;
const NFTA_SET_FLAGS = 3;
const NFTA_SET_KEY_TYPE = 4;
const NFTA_SET_KEY_LEN = 5;
const NFTA_SET_DATA_TYPE = 6;
const NFTA_SET_POLICY = 8;
const NFTA_SET_DESC = 9;
const NFTA_SET_DESC_SIZE = 1;
const NFTA_SET_TIMEOUT = 11;
const NFTA_SET_GC_INTERVAL = 12;
const NFTA_SET_USERDATA = 13;
const NFTA_SET_HANDLE = 16;
const NFTA_SET_EXPR = 17;
const NFTA_SET_EXPRESSIONS = 18;

const NFT_SET_ANONYMOUS = 0x1;
const NFT_SET_CONSTANT = 0x2;
const NFT_SET_INTERVAL = 0x4;
const NFT_SET_MAP = 0x8;
const NFT_SET_TIMEOUT = 0x10;
const NFT_SET_OBJECT = 0x40;
const NFT_SET_POL_MEMORY = 1;
/** nft's set userdata (libnftnl udata.h, enum nftnl_udata_set_types): a comment. */
const NFTNL_UDATA_SET_COMMENT = 7;

const NFTA_SET_ELEM_LIST_TABLE = 1;
const NFTA_SET_ELEM_LIST_SET = 2;
const NFTA_SET_ELEM_LIST_ELEMENTS = 3;
const NFTA_LIST_ELEM = 1;
const NFTA_SET_ELEM_KEY = 1;
const NFTA_SET_ELEM_DATA = 2;
const NFTA_SET_ELEM_FLAGS = 3;
const NFTA_SET_ELEM_TIMEOUT = 4;
const NFTA_SET_ELEM_EXPIRATION = 5;
const NFTA_SET_ELEM_USERDATA = 6;
const NFTA_SET_ELEM_EXPR = 7;
const NFTA_SET_ELEM_KEY_END = 10;
const NFTA_SET_ELEM_EXPRESSIONS = 11;
const NFTA_DATA_VALUE = 1;
const NFTA_DATA_VERDICT = 2;
const NFTA_VERDICT_CODE = 1;
const NFTA_VERDICT_CHAIN = 2;
const NFT_DATA_VERDICT = 0xffffff00;

const NFTA_EXPR_NAME = 1;
const NFTA_EXPR_DATA = 2;
const NFTA_COUNTER_BYTES = 1;
const NFTA_COUNTER_PACKETS = 2;

const NFTA_OBJ_TABLE = 1;
const NFTA_OBJ_NAME = 2;
const NFTA_OBJ_TYPE = 3;
const NFTA_OBJ_DATA = 4;
const NFTA_OBJ_HANDLE = 6;
const NFTA_OBJ_USERDATA = 8;
export const NFT_OBJECT_COUNTER = 1;

const NFTA_GEN_ID = 1;

/** nft's family names by NFPROTO number. */
const FAMILIES = new Map<number, string>([
  [1, "inet"],
  [2, "ip"],
  [3, "arp"],
  [5, "netdev"],
  [7, "bridge"],
  [10, "ip6"],
]);
const FAMILY_NUMBERS = new Map([...FAMILIES].map(([n, name]) => [name, n]));

export function familyNumber(name: string): number | undefined {
  return FAMILY_NUMBERS.get(name);
}

/** A JSON value as nft prints it. */
export type Json = null | number | string | Json[] | { [key: string]: Json };

// ---- requests ----

/** An nf_tables request: nfgenmsg (family, version 0, resource id 0) and attributes. */
function request(type: number, flags: number, seq: number, family: number, attrs: Attr[]): Uint8Array {
  return message((NFNL_SUBSYS_NFTABLES << 8) | type, flags, seq, [Uint8Array.of(family, 0, 0, 0), encodeAttrs(attrs)]);
}

function be32(n: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n >>> 0, false);
  return out;
}

/** The ruleset's generation: a listing read between two equal ones saw one ruleset. */
export function getGeneration(seq: number): Uint8Array {
  return request(NFT_MSG_GETGEN, 0, seq, 0, []);
}

/** One table, to learn that it exists. */
export function getTable(seq: number, family: number, name: string): Uint8Array {
  return request(NFT_MSG_GETTABLE, 0, seq, family, [[NFTA_TABLE_NAME, cString(name)]]);
}

/** Every table of every family. */
export function dumpTables(seq: number): Uint8Array {
  return request(NFT_MSG_GETTABLE, NLM_F_DUMP, seq, 0, []);
}

export function getSet(seq: number, family: number, table: string, name: string): Uint8Array {
  return request(NFT_MSG_GETSET, 0, seq, family, [
    [NFTA_SET_TABLE, cString(table)],
    [NFTA_SET_NAME, cString(name)],
  ]);
}

export function dumpSetElements(seq: number, family: number, table: string, set: string): Uint8Array {
  return request(NFT_MSG_GETSETELEM, NLM_F_DUMP, seq, family, [
    [NFTA_SET_ELEM_LIST_TABLE, cString(table)],
    [NFTA_SET_ELEM_LIST_SET, cString(set)],
  ]);
}

/** The table's objects of one type (the kernel filters by both). */
export function dumpObjects(seq: number, family: number, table: string, type: number): Uint8Array {
  return request(NFT_MSG_GETOBJ, NLM_F_DUMP, seq, family, [
    [NFTA_OBJ_TABLE, cString(table)],
    [NFTA_OBJ_TYPE, be32(type)],
  ]);
}

// ---- answers ----

/** A reply's family (nfgenmsg) and attributes. */
function body(msg: Uint8Array): { family: number; attrs: Map<number, Uint8Array> } {
  return { family: msg[NLMSG_HEADER]!, attrs: parseAttrs(msg.subarray(NLMSG_HEADER + 4)) };
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

const decoder = new TextDecoder();

function str(b: Uint8Array | undefined): string {
  if (b === undefined) throw new Unsupported("an attribute nft always has is missing");
  const end = b.indexOf(0);
  return decoder.decode(end < 0 ? b : b.subarray(0, end));
}

function u32(b: Uint8Array | undefined): number | undefined {
  return b === undefined || b.length < 4 ? undefined : view(b).getUint32(0, false);
}

/** A 64-bit count as a number: exact up to 2^53, far past any counter here. */
function u64(b: Uint8Array | undefined): number | undefined {
  if (b === undefined || b.length < 8) return undefined;
  const v = view(b);
  return v.getUint32(0, false) * 2 ** 32 + v.getUint32(4, false);
}

function familyName(n: number): string {
  const name = FAMILIES.get(n);
  if (name === undefined) throw new Unsupported(`family ${n}`);
  return name;
}

export function generationOf(msg: Uint8Array): number | undefined {
  return u32(body(msg).attrs.get(NFTA_GEN_ID));
}

export interface NftTable {
  family: string;
  name: string;
  handle: number;
  flags: number;
}

export function readTable(msg: Uint8Array): NftTable {
  const { family, attrs } = body(msg);
  return { family: familyName(family), name: str(attrs.get(NFTA_TABLE_NAME)), handle: u64(attrs.get(NFTA_TABLE_HANDLE)) ?? 0, flags: u32(attrs.get(NFTA_TABLE_FLAGS)) ?? 0 };
}

export interface NftSet {
  family: string;
  table: string;
  name: string;
  handle: number;
  flags: number;
  keyType: number;
  keyLength: number;
  dataType: number | undefined;
  policy: number;
  size: number;
  timeoutMs: number;
  gcIntervalMs: number;
  comment: boolean;
  /** The names of the expressions each new element gets ("counter"). */
  expressions: string[];
}

function exprName(b: Uint8Array): string {
  return str(parseAttrs(b).get(NFTA_EXPR_NAME));
}

/** One expression, or a list of them (NFTA_LIST_ELEM each). */
function expressionsOf(single: Uint8Array | undefined, list: Uint8Array | undefined): Uint8Array[] {
  const out: Uint8Array[] = [];
  if (single !== undefined) out.push(single);
  if (list !== undefined) for (const [type, e] of attrList(list)) if (type === NFTA_LIST_ELEM) out.push(e);
  return out;
}

/** Whether nft's set userdata (type-length-value, one byte each) holds a comment. */
function hasComment(userdata: Uint8Array | undefined): boolean {
  for (let at = 0; userdata !== undefined && at + 2 <= userdata.length; at += 2 + userdata[at + 1]!) {
    if (userdata[at] === NFTNL_UDATA_SET_COMMENT) return true;
  }
  return false;
}

export function readSet(msg: Uint8Array): NftSet {
  const { family, attrs } = body(msg);
  const desc = attrs.get(NFTA_SET_DESC);
  return {
    family: familyName(family),
    table: str(attrs.get(NFTA_SET_TABLE)),
    name: str(attrs.get(NFTA_SET_NAME)),
    handle: u64(attrs.get(NFTA_SET_HANDLE)) ?? 0,
    flags: u32(attrs.get(NFTA_SET_FLAGS)) ?? 0,
    keyType: u32(attrs.get(NFTA_SET_KEY_TYPE)) ?? 0,
    keyLength: u32(attrs.get(NFTA_SET_KEY_LEN)) ?? 0,
    dataType: u32(attrs.get(NFTA_SET_DATA_TYPE)),
    policy: u32(attrs.get(NFTA_SET_POLICY)) ?? 0,
    size: desc === undefined ? 0 : (u32(parseAttrs(desc).get(NFTA_SET_DESC_SIZE)) ?? 0),
    timeoutMs: u64(attrs.get(NFTA_SET_TIMEOUT)) ?? 0,
    gcIntervalMs: u32(attrs.get(NFTA_SET_GC_INTERVAL)) ?? 0,
    comment: hasComment(attrs.get(NFTA_SET_USERDATA)),
    expressions: expressionsOf(attrs.get(NFTA_SET_EXPR), attrs.get(NFTA_SET_EXPRESSIONS)).map(exprName),
  };
}

export interface Counter {
  packets: number;
  bytes: number;
}

function counterOf(data: Uint8Array | undefined): Counter {
  const a = parseAttrs(data ?? new Uint8Array());
  return { packets: u64(a.get(NFTA_COUNTER_PACKETS)) ?? 0, bytes: u64(a.get(NFTA_COUNTER_BYTES)) ?? 0 };
}

export type Verdict = { code: number; chain: string | undefined };

export interface NftElement {
  key: Uint8Array;
  verdict: Verdict | undefined;
  flags: number;
  timeoutMs: number;
  expirationMs: number;
  counter: Counter | undefined;
}

function readElement(b: Uint8Array): NftElement {
  const a = parseAttrs(b);
  if (a.has(NFTA_SET_ELEM_USERDATA) || a.has(NFTA_SET_ELEM_KEY_END)) throw new Unsupported("an element with a comment or a range");
  const key = parseAttrs(a.get(NFTA_SET_ELEM_KEY) ?? new Uint8Array()).get(NFTA_DATA_VALUE);
  if (key === undefined) throw new Unsupported("an element without a key");
  let verdict: Verdict | undefined;
  const data = a.get(NFTA_SET_ELEM_DATA);
  if (data !== undefined) {
    const v = parseAttrs(data).get(NFTA_DATA_VERDICT);
    if (v === undefined) throw new Unsupported("a map of values, not verdicts");
    const va = parseAttrs(v);
    const code = u32(va.get(NFTA_VERDICT_CODE));
    if (code === undefined) throw new Unsupported("a verdict without its code");
    verdict = { code: code | 0, chain: va.has(NFTA_VERDICT_CHAIN) ? str(va.get(NFTA_VERDICT_CHAIN)) : undefined };
  }
  let counter: Counter | undefined;
  for (const e of expressionsOf(a.get(NFTA_SET_ELEM_EXPR), a.get(NFTA_SET_ELEM_EXPRESSIONS))) {
    const ea = parseAttrs(e);
    if (str(ea.get(NFTA_EXPR_NAME)) !== "counter" || counter !== undefined) throw new Unsupported("an element expression other than one counter");
    counter = counterOf(ea.get(NFTA_EXPR_DATA));
  }
  return {
    key,
    verdict,
    flags: u32(a.get(NFTA_SET_ELEM_FLAGS)) ?? 0,
    timeoutMs: u64(a.get(NFTA_SET_ELEM_TIMEOUT)) ?? 0,
    expirationMs: u64(a.get(NFTA_SET_ELEM_EXPIRATION)) ?? 0,
    counter,
  };
}

/** The elements one message of a set element dump carries. */
export function readSetElements(msg: Uint8Array): NftElement[] {
  const list = body(msg).attrs.get(NFTA_SET_ELEM_LIST_ELEMENTS);
  if (list === undefined) return [];
  return attrList(list)
    .filter(([type]) => type === NFTA_LIST_ELEM)
    .map(([, b]) => readElement(b));
}

export interface NftCounterObject {
  family: string;
  table: string;
  name: string;
  handle: number;
  type: number;
  comment: boolean;
  counter: Counter;
}

export function readObject(msg: Uint8Array): NftCounterObject {
  const { family, attrs } = body(msg);
  return {
    family: familyName(family),
    table: str(attrs.get(NFTA_OBJ_TABLE)),
    name: str(attrs.get(NFTA_OBJ_NAME)),
    handle: u64(attrs.get(NFTA_OBJ_HANDLE)) ?? 0,
    type: u32(attrs.get(NFTA_OBJ_TYPE)) ?? 0,
    comment: attrs.has(NFTA_OBJ_USERDATA),
    counter: counterOf(attrs.get(NFTA_OBJ_DATA)),
  };
}

// ---- what `nft -j` prints ----

function dotted(b: Uint8Array): string {
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}

/** An IPv6 address as nft prints it (glibc's inet_ntop): an IPv4-mapped or IPv4-compatible one ends in dotted quad. */
function ipv6Text(b: Uint8Array): string {
  const zeros = (n: number) => b.subarray(0, n).every((x) => x === 0);
  if (zeros(10) && b[10] === 0xff && b[11] === 0xff) return `::ffff:${dotted(b.subarray(12))}`;
  if (zeros(12) && (b[12] !== 0 || b[13] !== 0)) return `::${dotted(b.subarray(12))}`;
  return formatIp(6, ipFromBytes(b).value);
}

/** A key's datatype (nft's enum datatypes): its name, bytes, and value as `nft -j -n` prints it. */
interface Datatype {
  name: string;
  size: number;
  print(b: Uint8Array): Json;
}

const DATATYPES = new Map<number, Datatype>([
  [2, { name: "nf_proto", size: 1, print: (b) => b[0]! }],
  [7, { name: "ipv4_addr", size: 4, print: dotted }],
  [8, { name: "ipv6_addr", size: 16, print: ipv6Text }],
  [12, { name: "inet_proto", size: 1, print: (b) => b[0]! }],
  [13, { name: "inet_service", size: 2, print: (b) => view(b).getUint16(0, false) }],
  // The packet mark is in host byte order.
  [19, { name: "mark", size: 4, print: (b) => view(b).getUint32(0, true) }],
]);

/** The datatypes of a key, first field first: a concatenation packs 6 bits per field, the first highest. */
function keyFields(set: NftSet): Datatype[] {
  const ids: number[] = [];
  for (let t = set.keyType >>> 0; t > 0; t = Math.floor(t / 64)) ids.unshift(t % 64);
  const fields = ids.map((id) => {
    const d = DATATYPES.get(id);
    if (d === undefined) throw new Unsupported(`key datatype ${id}`);
    return d;
  });
  // Each field of a concatenation takes whole 32-bit registers.
  const length = fields.length === 1 ? fields[0]!.size : fields.reduce((n, f) => n + ((f.size + 3) & ~3), 0);
  if (fields.length === 0 || length !== set.keyLength) throw new Unsupported(`key type ${set.keyType} of ${set.keyLength} bytes`);
  return fields;
}

function keyJson(fields: Datatype[], key: Uint8Array): Json {
  if (fields.length === 1) return fields[0]!.print(key);
  const values: Json[] = [];
  let at = 0;
  for (const f of fields) {
    values.push(f.print(key.subarray(at, at + f.size)));
    at += (f.size + 3) & ~3;
  }
  return { concat: values };
}

/** The verdicts by code (linux/netfilter.h NF_*, nf_tables.h NFT_*). */
function verdictJson(v: Verdict): Json {
  switch (v.code) {
    case 0:
      return { drop: null };
    case 1:
      return { accept: null };
    case -1:
      return { continue: null };
    case -5:
      return { return: null };
    case -3:
    case -4:
      return { [v.code === -3 ? "jump" : "goto"]: { target: v.chain ?? "" } };
    default:
      throw new Unsupported(`verdict ${v.code}`);
  }
}

/** nft's order of elements: by key read as one number in host byte order (little-endian here), last byte highest. */
function byKey(a: NftElement, b: NftElement): number {
  for (let i = Math.max(a.key.length, b.key.length) - 1; i >= 0; i--) {
    const d = (a.key[i] ?? 0) - (b.key[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** Whether the set is a map: nft lists it as a "map", and `list set` of it (or `list map` of a set) is nft's error. */
export function isMap(set: NftSet): boolean {
  return (set.flags & NFT_SET_MAP) !== 0;
}

/**
 * What `nft -j -n list set|map FAMILY TABLE NAME` prints of the set and its elements (without the metainfo
 * object nft puts first: its version is nft's to tell). The keys (and their order) are nft 1.0.6's.
 */
export function setJson(set: NftSet, elements: NftElement[]): Json {
  if (set.flags & (NFT_SET_ANONYMOUS | NFT_SET_INTERVAL | NFT_SET_OBJECT)) throw new Unsupported("an anonymous, interval or object set");
  if (set.comment) throw new Unsupported("a set with a comment");
  const map = isMap(set);
  if (map && set.dataType !== NFT_DATA_VERDICT) throw new Unsupported("a map of values, not verdicts");
  if (set.expressions.some((e) => e !== "counter")) throw new Unsupported("a set expression other than counter");
  const fields = keyFields(set);
  const out: { [key: string]: Json } = {
    family: set.family,
    name: set.name,
    table: set.table,
    type: fields.length === 1 ? fields[0]!.name : fields.map((f) => f.name),
    handle: set.handle,
  };
  if (map) out["map"] = "verdict";
  if (!(set.flags & NFT_SET_CONSTANT)) {
    if (set.policy === NFT_SET_POL_MEMORY) out["policy"] = "memory";
    else if (set.policy !== 0) throw new Unsupported(`set policy ${set.policy}`);
    if (set.size !== 0) out["size"] = set.size;
  }
  const flags: Json[] = [];
  if (set.flags & NFT_SET_CONSTANT) flags.push("constant");
  if (set.flags & NFT_SET_TIMEOUT) flags.push("timeout");
  if (flags.length > 0) out["flags"] = flags;
  if (set.timeoutMs !== 0) out["timeout"] = Math.floor(set.timeoutMs / 1000);
  if (set.gcIntervalMs !== 0) out["gc-interval"] = Math.floor(set.gcIntervalMs / 1000);
  if (elements.length > 0) {
    out["elem"] = [...elements].sort(byKey).map((e) => {
      if (e.flags !== 0) throw new Unsupported(`element flags ${e.flags}`);
      const val = keyJson(fields, e.key);
      const elem: { [key: string]: Json } = { val };
      if (e.timeoutMs !== 0 && e.timeoutMs !== set.timeoutMs) elem["timeout"] = Math.floor(e.timeoutMs / 1000);
      if (e.expirationMs !== 0) elem["expires"] = Math.floor(e.expirationMs / 1000);
      if (e.counter !== undefined) elem["counter"] = { packets: e.counter.packets, bytes: e.counter.bytes };
      const printed: Json = Object.keys(elem).length === 1 ? val : { elem };
      if (!map) return printed;
      if (e.verdict === undefined) throw new Unsupported("a map element without its verdict");
      return [printed, verdictJson(e.verdict)];
    });
  }
  if (set.expressions.length > 0) out["stmt"] = set.expressions.map(() => ({ counter: null }));
  return { [map ? "map" : "set"]: out };
}

/** What `nft -j list counters table …` prints of one counter. */
export function counterJson(o: NftCounterObject): Json {
  if (o.type !== NFT_OBJECT_COUNTER || o.comment) throw new Unsupported("an object other than a counter without comment");
  return { counter: { family: o.family, name: o.name, table: o.table, handle: o.handle, packets: o.counter.packets, bytes: o.counter.bytes } };
}

/** What `nft -j list tables` prints of one table. */
export function tableJson(t: NftTable): Json {
  if (t.flags !== 0) throw new Unsupported(`table flags ${t.flags}`);
  return { table: { family: t.family, name: t.name, handle: t.handle } };
}
