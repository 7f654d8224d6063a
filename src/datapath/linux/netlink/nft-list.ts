// The `nft` listings the agent runs every few seconds, answered over nf_tables netlink instead of by starting
// `nft` (nftnl.ts says why): a set or verdict map by name (`nft -j -n list set|map FAMILY TABLE NAME`: the flow
// sets, the policy's judge maps), a table's named counters (`nft -j list counters table FAMILY TABLE`: the flow
// totals), and the tables (`nft -j list tables`: a tenant's resync). Plain, or in a named namespace by
// `ip netns exec NAME`. The answer is the JSON nft prints, without its metainfo object. Whatever is not exactly
// understood (another form, a namespace that cannot be opened, a kernel error, a set nftnl.ts cannot render, a
// ruleset that kept changing while read) throws NotStarted: `nft` is started and answers in its own words.

import { NETNS_RUN_DIR, NotStarted, type NetlinkKernel, type NetlinkSocket } from "./kernel.js";
import { answerOf, NLMSG_ERROR, typeOf } from "./message.js";
import {
  counterJson,
  dumpObjects,
  dumpSetElements,
  dumpTables,
  familyNumber,
  generationOf,
  getGeneration,
  getSet,
  getTable,
  isMap,
  NFT_OBJECT_COUNTER,
  readObject,
  readSet,
  readSetElements,
  readTable,
  setJson,
  tableJson,
  type Json,
} from "./nftnl.js";

export type NftListing =
  | { what: "set" | "map"; family: number; table: string; name: string }
  | { what: "counters"; family: number; table: string }
  | { what: "tables" };

export interface NftList {
  /** The namespace's file; undefined: the starter's own namespace. */
  netns: string | undefined;
  listing: NftListing;
}

/** A table, set or namespace name as our tables use them (nft's own identifiers allow more: those go to nft). */
const NAME = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;

function name(text: string | undefined): string | undefined {
  return text !== undefined && NAME.test(text) ? text : undefined;
}

/** The listing `argv` asks for, when it is one of the forms above exactly; else undefined. */
export function parseNftList(argv: string[], stdin: string | undefined): NftList | undefined {
  if (stdin !== undefined && stdin !== "") return undefined;
  let netns: string | undefined;
  let rest = argv;
  if (argv[0] === "ip" && argv[1] === "netns" && argv[2] === "exec") {
    const ns = name(argv[3]);
    if (ns === undefined) return undefined;
    netns = `${NETNS_RUN_DIR}/${ns}`;
    rest = argv.slice(4);
  }
  const [tool, json, ...words] = rest;
  if (tool !== "nft" || json !== "-j") return undefined;
  if (words.length === 2 && words[0] === "list" && words[1] === "tables") return { netns, listing: { what: "tables" } };
  const [a, b, c, d, e, f] = words;
  if (words.length === 5 && a === "list" && b === "counters" && c === "table") {
    const family = familyNumber(d ?? "");
    const table = name(e);
    return family === undefined || table === undefined ? undefined : { netns, listing: { what: "counters", family, table } };
  }
  if (words.length === 6 && a === "-n" && b === "list" && (c === "set" || c === "map")) {
    const family = familyNumber(d ?? "");
    const table = name(e);
    const set = name(f);
    return family === undefined || table === undefined || set === undefined ? undefined : { netns, listing: { what: c, family, table, name: set } };
  }
  return undefined;
}

/** A reply, or NotStarted for the kernel's error (nft says it better: "No such file or directory" and where). */
function replied(msg: Uint8Array): Uint8Array {
  if (typeOf(msg) === NLMSG_ERROR) throw new NotStarted(`nf_tables answered errno ${-answerOf(msg).error}`);
  return msg;
}

function dumped(socket: NetlinkSocket, request: Uint8Array): Uint8Array[] {
  return socket.dump(request).map(replied);
}

function list(socket: NetlinkSocket, listing: NftListing, seq: () => number): Json[] {
  switch (listing.what) {
    case "tables":
      return dumped(socket, dumpTables(seq())).map((m) => tableJson(readTable(m)));
    case "counters":
      // A dump of a table that does not exist is empty; nft says it does not exist.
      replied(socket.talk(getTable(seq(), listing.family, listing.table)));
      return dumped(socket, dumpObjects(seq(), listing.family, listing.table, NFT_OBJECT_COUNTER)).map((m) => counterJson(readObject(m)));
    case "set":
    case "map": {
      const set = readSet(replied(socket.talk(getSet(seq(), listing.family, listing.table, listing.name))));
      if (isMap(set) !== (listing.what === "map")) throw new NotStarted(`not a ${listing.what}`);
      const elements = dumped(socket, dumpSetElements(seq(), listing.family, listing.table, listing.name)).flatMap(readSetElements);
      return [setJson(set, elements)];
    }
  }
}

/** Tries before leaving a ruleset that changes under every reading to nft. */
const ATTEMPTS = 3;

/** The listing's output, as `nft` prints it (JSON, one line). Throws NotStarted for all the cases above. */
export function runNftList(request: NftList, kernel: NetlinkKernel): string {
  let socket: NetlinkSocket;
  try {
    socket = kernel.socket(request.netns, "netfilter");
  } catch (err) {
    throw new NotStarted((err as Error).message);
  }
  try {
    let n = 0;
    const seq = () => ++n;
    const generation = () => generationOf(replied(socket.talk(getGeneration(seq()))));
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const before = generation();
      const items = list(socket, request.listing, seq);
      if (generation() === before) return `${JSON.stringify({ nftables: items })}\n`;
    }
    throw new NotStarted("the ruleset changed during every reading");
  } catch (err) {
    if (err instanceof NotStarted) throw err;
    throw new NotStarted((err as Error).message);
  } finally {
    socket.close();
  }
}
