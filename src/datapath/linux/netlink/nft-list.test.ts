// Which `nft` listings the process starter answers itself (parseNftList), the nf_tables requests as bytes (the
// layout of linux/netfilter/nfnetlink.h and nf_tables.h), the answers read back and printed as nft does, and when
// a listing is left to nft (runNftList throws NotStarted), against a stand-in for the kernel that answers from a
// script. The real kernel, and nft's own output, are in nft-list.kernel.test.ts.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";

import { NotStarted, type NetlinkKernel } from "./kernel.js";
import { encodeAttrs, NLMSG_HEADER, sequenceOf, type Attr } from "./message.js";
import { parseNftList, runNftList } from "./nft-list.js";
import { dumpSetElements, getSet, readSet, readSetElements, setJson, Unsupported } from "./nftnl.js";

const be32 = (n: number) => Uint8Array.of(n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255);
const be64 = (n: number) => new Uint8Array([0, 0, 0, 0, ...be32(n)]);
const cstr = (s: string) => new TextEncoder().encode(`${s}\0`);

/** A kernel message: header (type, seq), nfgenmsg of `family`, attributes. */
function reply(type: number, seq: number, family: number, attrs: Attr[]): Uint8Array {
  const body = encodeAttrs(attrs);
  const out = new Uint8Array(NLMSG_HEADER + 4 + body.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, out.length, true);
  v.setUint16(4, type, true);
  v.setUint32(8, seq, true);
  out[NLMSG_HEADER] = family;
  out.set(body, NLMSG_HEADER + 4);
  return out;
}

const NEWSET = (10 << 8) | 9;
const NEWSETELEM = (10 << 8) | 12;
const NEWGEN = (10 << 8) | 15;

/** The set `flows4` as the kernel describes it: mark . ipv4 . ipv4 . inet_proto . inet_service, size 8, timeout 300 s, a counter each. */
function flowSet(seq: number, o: { flags?: number; keyType?: number } = {}): Uint8Array {
  const keyType = o.keyType ?? ((((19 * 64 + 7) * 64 + 7) * 64 + 12) * 64 + 13);
  return reply(NEWSET, seq, 1, [
    [1, cstr("netplugin")],
    [2, cstr("flows4")],
    [3, be32(o.flags ?? 0x10 | 0x20)],
    [4, be32(keyType)],
    [5, be32(20)],
    [9, [[1, be32(8)]]],
    [11, be64(300_000)],
    [16, be64(4)],
    [17, [[1, cstr("counter")], [2, []]]],
  ]);
}

/** An element: key bytes, expiring in `ms`, with a counter. */
function element(key: number[], ms: number, packets: number): Attr {
  return [
    1,
    [
      [1, [[1, Uint8Array.from(key)]]],
      [5, be64(ms)],
      [7, [[1, cstr("counter")], [2, [[1, be64(packets * 60)], [2, be64(packets)]]]]],
    ],
  ];
}

const KEY_A = [1, 0, 0, 0, 198, 18, 1, 1, 198, 18, 1, 2, 6, 0, 0, 0, 0, 80, 0, 0];
const KEY_B = [2, 0, 0, 0, 198, 18, 1, 9, 198, 18, 1, 2, 17, 0, 0, 0, 0, 53, 0, 0];

describe("parseNftList", () => {
  it("reads the agent's listings, plain or in a named namespace", () => {
    assert.deepEqual(parseNftList(["ip", "netns", "exec", "np1-t-a", "nft", "-j", "-n", "list", "map", "inet", "netplugin", "ported_exact"], undefined), {
      netns: "/var/run/netns/np1-t-a",
      listing: { what: "map", family: 1, table: "netplugin", name: "ported_exact" },
    });
    assert.deepEqual(parseNftList(["nft", "-j", "list", "counters", "table", "ip6", "x"], ""), { netns: undefined, listing: { what: "counters", family: 10, table: "x" } });
    assert.deepEqual(parseNftList(["nft", "-j", "list", "tables"], undefined), { netns: undefined, listing: { what: "tables" } });
  });

  it("leaves anything else to nft: other words, options, names, families, a script on stdin", () => {
    for (const argv of [
      ["nft", "-j", "list", "set", "inet", "netplugin", "flows4"],
      ["nft", "-j", "-p", "list", "set", "inet", "netplugin", "flows4"],
      ["nft", "list", "tables"],
      ["nft", "-j", "list", "tables", "inet"],
      ["nft", "-j", "-n", "list", "set", "inet", "netplugin", "a b"],
      ["nft", "-j", "-n", "list", "set", "bogus", "netplugin", "flows4"],
      ["ip", "netns", "exec", "../x", "nft", "-j", "list", "tables"],
      ["sudo", "nft", "-j", "list", "tables"],
    ]) {
      assert.equal(parseNftList(argv, undefined), undefined, argv.join(" "));
    }
    assert.equal(parseNftList(["nft", "-j", "list", "tables"], "flush ruleset\n"), undefined);
  });

  it("any argv: read as one of its forms, or left to nft; never a throw", () => {
    const word = fc.constantFrom("nft", "-j", "-n", "list", "set", "map", "counters", "table", "tables", "inet", "ip", "netplugin", "flows4", "ip", "netns", "exec", "x", "");
    fc.assert(
      fc.property(fc.array(word, { maxLength: 10 }), (argv) => {
        const r = parseNftList(argv, undefined);
        if (r !== undefined) assert.ok(argv.includes("nft") && argv.includes("-j") && argv.includes("list"));
      }),
    );
  });
});

describe("nf_tables messages", () => {
  it("requests: the subsystem's message type, a dump's flags, nfgenmsg with the family, attributes", () => {
    const m = dumpSetElements(7, 1, "netplugin", "flows4");
    const v = new DataView(m.buffer);
    assert.deepEqual([v.getUint32(0, true), v.getUint16(4, true), v.getUint16(6, true), sequenceOf(m)], [m.length, (10 << 8) | 13, 0x301, 7]);
    assert.deepEqual([...m.subarray(16, 20)], [1, 0, 0, 0]);
    assert.equal(new TextDecoder().decode(m.subarray(24, 34)), "netplugin\0");
    const g = getSet(3, 10, "t", "s");
    assert.deepEqual([new DataView(g.buffer).getUint16(4, true), new DataView(g.buffer).getUint16(6, true), g[16]], [(10 << 8) | 10, 0x1, 10]);
  });

  it("a set and its elements printed as nft -j -n prints them, in nft's order", () => {
    const set = readSet(flowSet(1));
    const elements = readSetElements(reply(NEWSETELEM, 2, 1, [[1, cstr("netplugin")], [2, cstr("flows4")], [3, [element(KEY_A, 299_500, 3), element(KEY_B, 120_000, 1)]]]));
    assert.deepEqual(setJson(set, elements), {
      set: {
        family: "inet",
        name: "flows4",
        table: "netplugin",
        type: ["mark", "ipv4_addr", "ipv4_addr", "inet_proto", "inet_service"],
        handle: 4,
        size: 8,
        flags: ["timeout"],
        timeout: 300,
        elem: [
          // By key as one little-endian number: port 53 before port 80.
          { elem: { val: { concat: [2, "198.18.1.9", "198.18.1.2", 17, 53] }, expires: 120, counter: { packets: 1, bytes: 60 } } },
          { elem: { val: { concat: [1, "198.18.1.1", "198.18.1.2", 6, 80] }, expires: 299, counter: { packets: 3, bytes: 180 } } },
        ],
        stmt: [{ counter: null }],
      },
    });
  });

  it("what it cannot print as nft does is Unsupported: an interval set, a key type it does not know", () => {
    assert.throws(() => setJson(readSet(flowSet(1, { flags: 0x4 })), []), Unsupported);
    assert.throws(() => setJson(readSet(flowSet(1, { keyType: 5 })), []), Unsupported);
  });
});

describe("runNftList", () => {
  const listing = parseNftList(["nft", "-j", "-n", "list", "set", "inet", "netplugin", "flows4"], undefined)!;

  /** A kernel answering each request by its message type; counts the sockets closed. */
  function scripted(o: { generations?: number[]; failSocket?: boolean; setError?: number }) {
    const seen = { closed: 0, generations: 0, dumps: 0 };
    const generations = o.generations ?? [];
    const kernel: NetlinkKernel = {
      socket() {
        if (o.failSocket) throw new Error("no such namespace");
        return {
          talk(request) {
            const seq = sequenceOf(request);
            const type = new DataView(request.buffer).getUint16(4, true) & 0xff;
            if (type === 16) {
              seen.generations++;
              return reply(NEWGEN, seq, 0, [[1, be32(generations.shift() ?? 1)]]);
            }
            if (o.setError !== undefined) {
              const error = reply(2, seq, 0, []);
              new DataView(error.buffer).setInt32(NLMSG_HEADER, -o.setError, true);
              return error;
            }
            return flowSet(seq);
          },
          dump: (request) => {
            seen.dumps++;
            return [reply(NEWSETELEM, sequenceOf(request), 1, [[3, [element(KEY_A, 1000, 1)]]])];
          },
          close: () => void seen.closed++,
        };
      },
      openNetns: () => 0,
      closeFd: () => undefined,
      strerror: () => "",
    };
    return { kernel, seen };
  }

  it("prints one line of JSON, read between two equal generations", () => {
    const { kernel, seen } = scripted({ generations: [5, 6, 6, 6] });
    const out = runNftList(listing, kernel);
    assert.match(out, /^\{"nftables":\[\{"set":\{"family":"inet","name":"flows4".*\}\]\}\n$/);
    assert.deepEqual(seen, { closed: 1, generations: 4, dumps: 2 }, "read again once the ruleset changed during the first reading");
  });

  it("leaves it to nft (NotStarted), the socket closed: a kernel error, a ruleset changing under every reading, no socket", () => {
    for (const o of [{ setError: 2 }, { generations: [1, 2, 3, 4, 5, 6] }]) {
      const { kernel, seen } = scripted(o);
      assert.throws(() => runNftList(listing, kernel), NotStarted);
      assert.equal(seen.closed, 1);
    }
    assert.throws(() => runNftList(listing, scripted({ failSocket: true }).kernel), NotStarted);
  });

  it("leaves `list map` of a set to nft (its error) without reading the set's elements", () => {
    const { kernel, seen } = scripted({});
    const asMap = parseNftList(["nft", "-j", "-n", "list", "map", "inet", "netplugin", "flows4"], undefined)!;
    assert.throws(() => runNftList(asMap, kernel), NotStarted);
    assert.deepEqual(seen, { closed: 1, generations: 1, dumps: 0 });
  });
});
