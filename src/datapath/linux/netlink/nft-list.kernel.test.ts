// The process starter answers the agent's frequent `nft -j` listings over nf_tables netlink (nft-list.ts): here
// each listing goes to `nft` itself and to the starter, in one namespace holding a tenant's real policy table
// with its flow sets, and both must print the same JSON (nft's metainfo object aside; an element's `expires`
// within a second, the two readings being moments apart). Generated flow elements (both families, mapped and
// compressed IPv6 addresses, counters, own timeouts) are compared the same way. What the starter leaves to nft
// (a missing set, a set listed as a map, an interval map, a comment, a namespace that does not exist) must
// answer as nft does, error or not.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";

import { compilePolicy, FLOW_COUNTERS_ARGV, FLOW_SETS_ARGVS, RULE_COUNTERS_ARGVS, type PolicyInput } from "../../../policy/index.js";
import { ProcessError, type Executor } from "../../../lib/process.js";
import { SPAWNER, SpawnerExecutor } from "../../../lib/spawner.js";
import { exec, removeNamespaces } from "../testing/netns.js";

const P = `npt${randomBytes(2).toString("hex")}nf`;
const NS = `${P}-t`;

const input: PolicyInput = {
  fwdMode: "routing",
  networks: [{ name: "n", bridge: "nb1", subnet: "198.18.1.0/24", ipv6Subnet: "2001:db8:1::/64" }],
  groups: [
    { id: 1, name: "web", ipv4: ["198.18.1.1"], ipv6: ["2001:db8:1::1"], dscp: 0 },
    { id: 2, name: "db", ipv4: ["198.18.1.2", "198.18.1.3"], ipv6: ["2001:db8:1::2"], dscp: 0 },
  ],
  rules: [
    { key: "t:db:deny-all", groupId: 2, direction: "in", priority: 1, action: "deny" },
    { key: "t:db:web-5432", groupId: 2, direction: "in", priority: 10, action: "allow", protocol: 6, port: 5432, peerGroupId: 1 },
    { key: "t:db:icmp", groupId: 2, direction: "in", priority: 10, action: "allow", protocol: 1 },
    { key: "t:web:no-ssh", groupId: 1, direction: "out", priority: 5, action: "deny", protocol: 6, port: 22 },
    { key: "t:web:udp", groupId: 1, direction: "out", priority: 6, action: "allow", protocol: 17 },
  ],
  flowSets: { allowed: true, size: 256, timeoutSeconds: 300 },
};

interface Answered {
  code: number | null;
  stderr: string;
  /** The JSON without nft's metainfo, or the raw text when it is none. */
  doc: unknown;
}

/** The answer, and whether nft printed it (its metainfo object is there; the starter prints none). */
async function answer(executor: Executor, argv: string[], netns = NS): Promise<{ answered: Answered; byNft: boolean }> {
  try {
    const text = await executor.run(argv, { netns });
    const doc = JSON.parse(text) as { nftables: { metainfo?: unknown }[] };
    const items = doc.nftables.filter((item) => item.metainfo === undefined);
    return { answered: { code: 0, stderr: "", doc: { nftables: items } }, byNft: items.length < doc.nftables.length };
  } catch (err) {
    if (!(err instanceof ProcessError)) throw err;
    return { answered: { code: err.exitCode, stderr: err.stderr, doc: err.stdout }, byNft: true };
  }
}

/** `doc` with each element's `expires` replaced by what `like` has there when they are at most a second apart. */
function expiresAligned(doc: unknown, like: unknown): unknown {
  if (Array.isArray(doc)) return doc.map((d, i) => expiresAligned(d, Array.isArray(like) ? like[i] : undefined));
  if (doc === null || typeof doc !== "object") return doc;
  const other = (like ?? {}) as Record<string, unknown>;
  return Object.fromEntries(
    Object.entries(doc).map(([k, v]) => {
      if (k === "expires" && typeof v === "number" && typeof other[k] === "number" && Math.abs(v - (other[k] as number)) <= 1) return [k, other[k]];
      return [k, expiresAligned(v, other[k])];
    }),
  );
}

describe("nft listings over netlink, against nft itself", { skip: existsSync(SPAWNER) ? false : "the process starter is built by make build" }, () => {
  const starter = new SpawnerExecutor(SPAWNER);
  const compiled = compilePolicy(input);

  /** The listing by nft and through the starter: the same answer; `left` whether the starter left it to nft. */
  async function same(argv: string[], netns = NS): Promise<Answered & { left: boolean }> {
    const nft = (await answer(exec, argv, netns)).answered;
    const { answered, byNft } = await answer(starter, argv, netns);
    assert.deepEqual(expiresAligned(answered, nft), nft, `${argv.join(" ")}: the starter prints what nft prints`);
    return { ...nft, left: byNft };
  }

  before(async () => {
    await exec.run(["ip", "netns", "add", NS]);
    await exec.run(["nft", "-f", "-"], { netns: NS, stdin: compiled.script });
    // Tables of other families and names, which `list tables` shows too.
    await exec.run(["nft", "-f", "-"], { netns: NS, stdin: "table ip other {}\ntable ip6 other6 {}\ntable inet zeta { comment \"tag\"; }\n" });
  });

  after(async () => {
    starter.close();
    await removeNamespaces(P);
  });

  it("a policy table: its judge maps with their counters, its flow counters, the tables", async () => {
    // Real packets move the counters: on lo, both hooks see them.
    for (const a of ["198.18.1.1/24", "198.18.1.2/24"]) await exec.run(["ip", "addr", "add", a, "dev", "lo"], { netns: NS });
    await exec.run(["ip", "link", "set", "lo", "up"], { netns: NS });
    await exec.run(["ping", "-c", "2", "-W", "1", "-I", "198.18.1.1", "198.18.1.2"], { netns: NS }).catch(() => "");
    for (const argv of [...RULE_COUNTERS_ARGVS, FLOW_COUNTERS_ARGV, ["nft", "-j", "list", "tables"], ...FLOW_SETS_ARGVS]) {
      const r = await same(argv);
      assert.deepEqual([r.code, r.left], [0, false], `${argv.join(" ")}: listed, by the starter`);
    }
    const maps = await Promise.all(RULE_COUNTERS_ARGVS.map(async (argv) => (await answer(starter, argv)).answered));
    assert.ok(JSON.stringify(maps).includes('"packets":2'), "the pings were counted in a judge map");
  });

  it("generated flow elements: both families, their counters and own timeouts, listed as nft lists them", async () => {
    const v4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((b) => b.join("."));
    const v6 = fc.oneof(
      fc.ipV6(),
      v4.map((a) => `::ffff:${a}`),
      v4.map((a) => `::${a}`),
      fc.array(fc.constantFrom(0, 0, 0, 1, 0xffff, 0xdb8), { minLength: 8, maxLength: 8 }).map((g) => g.map((x) => x.toString(16)).join(":")),
    );
    const extras = fc.record({ counter: fc.option(fc.tuple(fc.nat(1_000_000), fc.nat(100_000_000)), { nil: undefined }), timeout: fc.option(fc.integer({ min: 10, max: 3600 }), { nil: undefined }) });
    const rest = fc.tuple(fc.nat(12), fc.constantFrom(1, 6, 17, 58, 132), fc.nat(65535), extras);
    const element = (addr: fc.Arbitrary<string>) =>
      fc.tuple(addr, addr, rest).map(([src, dst, [id, proto, dport, x]]) => {
        const counter = x.counter === undefined ? "" : ` counter packets ${x.counter[0]} bytes ${x.counter[1]}`;
        const timeout = x.timeout === undefined ? "" : ` timeout ${x.timeout}s`;
        return `${id} . ${src} . ${dst} . ${proto} . ${dport}${counter}${timeout}`;
      });
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(element(v4), { maxLength: 40, selector: (e) => e.split(" counter")[0]!.split(" timeout")[0] }), fc.uniqueArray(element(v6), { maxLength: 40, selector: (e) => e.split(" counter")[0]!.split(" timeout")[0] }), async (four, six) => {
        const add = (set: string, elements: string[]) => (elements.length === 0 ? "" : `add element inet netplugin ${set} { ${elements.join(", ")} }\n`);
        const script = `flush set inet netplugin flows4\nflush set inet netplugin flows6\n${add("flows4", four)}${add("flows6", six)}`;
        // Two generated addresses may be one (::ffff:… twice): nft refuses the batch, and then there is nothing to compare.
        const loaded = await exec.run(["nft", "-f", "-"], { netns: NS, stdin: script }).then(() => true, () => false);
        fc.pre(loaded);
        for (const argv of FLOW_SETS_ARGVS) {
          const r = await same(argv);
          assert.deepEqual([r.code, r.left], [0, false]);
        }
      }),
      { numRuns: 30 },
    );
  });

  it("what it leaves to nft answers as nft does: a missing set, a set listed as a map and back, an interval map, a comment, no namespace", async () => {
    const intervalMap = /\tmap (\w+) {\n\t\ttypeof [^\n]*\n\t\tflags interval/.exec(compiled.script)?.[1];
    assert.ok(intervalMap !== undefined, "the policy table has an interval map");
    await exec.run(["nft", "add", "set", "inet", "netplugin", "noted", "{ typeof meta mark; comment \"why\"; }"], { netns: NS });
    const cases: [string[], string | undefined][] = [
      [["nft", "-j", "-n", "list", "set", "inet", "netplugin", "nope"], undefined],
      [["nft", "-j", "-n", "list", "map", "inet", "netplugin", "flows4"], undefined],
      [["nft", "-j", "-n", "list", "set", "inet", "netplugin", "ported_exact"], undefined],
      [["nft", "-j", "-n", "list", "map", "inet", "netplugin", intervalMap], undefined],
      [["nft", "-j", "-n", "list", "set", "inet", "netplugin", "noted"], undefined],
      [["nft", "-j", "list", "counters", "table", "inet", "nope"], undefined],
      [["nft", "-j", "list", "tables"], `${P}-gone`],
    ];
    const answers = [];
    for (const [argv, netns] of cases) {
      const r = await same(argv, netns ?? NS);
      answers.push([r.code, r.left]);
    }
    assert.deepEqual(answers, [1, 1, 1, 0, 0, 1, 255].map((code) => [code, true]));
  });
});
