// Generated hostile CNI calls, thousands of them: what a runtime, a typo or an attacker could put in
// CNI_* and on stdin. Most go straight to the agent's handler (testing/fakeCniAgent.ts: the real handler, a
// stand-in netmaster that checks requests with its own schema, no datapath); a few hundred go through
// the real executable to that handler served on a unix socket, since spawning node costs ~30 ms.
//
// Whatever comes in: an answer (no crash, no hang), one JSON document on stdout with the spec's or our
// codes, exit status 1 exactly on error, a message naming the variable for code 4, nothing recorded
// (state file, netmaster) for a refused call, and only bounded strings recorded for an accepted one.

import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";

import { run as runCommand, type RunResult } from "../lib/process.js";
import { MAX_CONTAINER_ID, MAX_IFNAME_BYTES, MAX_NETNS_BYTES, MAX_NETWORK_NAME } from "../cni/ids.js";
import { MAX_CONFIG_BYTES, SUPPORTED_VERSIONS, type CniResponse } from "../cni/wire.js";
import { startFakeCniAgent, type FakeCniAgent } from "./testing/fakeCniAgent.js";

/** The executable `make build` compiles (dist/cni/netplugin-cni). */
const EXECUTABLE = fileURLToPath(new URL("../../cni/netplugin-cni", import.meta.url));
const IN_PROCESS_RUNS = 10_000;
const EXECUTABLE_RUNS = 300;

/** Refusals a hostile call may get here. Never 100 (the agent failed), 104 (netmaster refused what we let through) or 105. */
const EXPECTED_CODES = new Set([1, 2, 3, 4, 6, 7, 103]);

const NETNS = `/proc/${process.pid}/ns/net`;
const ABSENT = Symbol("absent");
/** Stands for a value nested `depth` levels deep, which JSON.stringify cannot write. */
class Deep {
  constructor(readonly depth: number) {}
}
type Gen = unknown;

/** JSON text of a generated value: absent keys dropped, Deep values written out. */
function encode(value: Gen): string {
  const deep: Deep[] = [];
  const text = JSON.stringify(value, (_key, v: unknown) => {
    if (v instanceof Deep) {
      deep.push(v);
      return `\u0000deep${deep.length - 1}\u0000`;
    }
    if (v !== null && typeof v === "object" && !Array.isArray(v)) {
      return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== ABSENT));
    }
    return v;
  });
  return text.replace(/"\\u0000deep(\d+)\\u0000"/g, (_m, n: string) => {
    const d = deep[Number(n)]!.depth;
    return `${"[".repeat(d)}{"a":1}${"]".repeat(d)}`;
  });
}

// ---- generators -------------------------------------------------------------------------------
//
// Each input has what a well-behaved runtime sends (good) and anything at all (hostile). A clean call
// takes only good values, so that ADD, DEL and CHECK get as far as succeeding; a hostile call mixes
// good, hostile and missing values field by field. The environment and the config are clean or not
// apart, so that each gets past the other's checks.

interface Input {
  good: fc.Arbitrary<Gen>;
  hostile: fc.Arbitrary<Gen>;
}

const text = fc.oneof(fc.string({ unit: "grapheme", maxLength: 24 }), fc.string({ unit: "binary", maxLength: 24 }));
/** Big, but within what one environment variable can hold (128 KiB). */
const hugeText = fc.integer({ min: 300, max: 120_000 }).map((n) => "x".repeat(n));
/** Shallow, or deeper than JSON.stringify can go (about 5000 levels). */
const deep = fc.oneof(fc.integer({ min: 2, max: 100 }), fc.integer({ min: 5000, max: 30_000 })).map((d) => new Deep(d));
const junk: fc.Arbitrary<Gen> = fc.oneof(
  { weight: 12, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 6, arbitrary: text },
  { weight: 1, arbitrary: hugeText },
  { weight: 1, arbitrary: deep },
);
const absent = fc.constant<Gen>(ABSENT);

function pick(input: Input, clean: boolean): fc.Arbitrary<Gen> {
  if (clean) return input.good;
  return fc.oneof({ weight: 6, arbitrary: input.good }, { weight: 3, arbitrary: input.hostile }, { weight: 1, arbitrary: absent });
}

/** A field a runtime may leave out. */
function optional(input: Input, clean: boolean): fc.Arbitrary<Gen> {
  return fc.oneof({ weight: 1, arbitrary: absent }, { weight: 2, arbitrary: pick(input, clean) });
}

const containerId: Input = {
  good: fc.oneof(
    { weight: 6, arbitrary: fc.constant("c1") },
    { weight: 1, arbitrary: fc.constant("3f6940ab5ab43bc522569d15b23f8c1bbde1d7678b080398506924fc01d72755") },
    { weight: 2, arbitrary: fc.stringMatching(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,30}$/) },
    { weight: 1, arbitrary: fc.integer({ min: MAX_CONTAINER_ID - 3, max: MAX_CONTAINER_ID }).map((n) => "c".repeat(n)) },
  ),
  hostile: fc.oneof(
    fc.integer({ min: MAX_CONTAINER_ID + 1, max: 300 }).map((n) => "c".repeat(n)),
    fc.constantFrom("-x", "a/b", "a b", "é"),
    text,
    hugeText,
  ),
};
const ifname: Input = {
  good: fc.oneof(
    { weight: 6, arbitrary: fc.constant("eth0") },
    { weight: 1, arbitrary: fc.constantFrom("net1", "e".repeat(MAX_IFNAME_BYTES)) },
    { weight: 2, arbitrary: fc.stringMatching(/^[a-z0-9]{1,15}$/) },
  ),
  hostile: fc.oneof(fc.constantFrom(".", "..", "e".repeat(16), "eth0:1", "a#b", "é".repeat(8), "'x", "a b", "a\u00a0"), text, hugeText),
};
const command: Input = {
  good: fc.constantFrom("ADD", "DEL", "CHECK", "STATUS", "GC"),
  hostile: fc.oneof(fc.constantFrom("VERSION", "add", "INIT", ""), text),
};
const cniPath: Input = { good: fc.constant("/opt/cni/bin:/usr/lib/cni"), hostile: fc.oneof(text, hugeText) };

/** Paths that are not network namespaces, made by the test. */
interface Files {
  file: string;
  dir: string;
  gone: string;
}

function netns(files: Files): Input {
  return {
    good: fc.constant(NETNS),
    hostile: fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(files.file, files.dir, files.gone, `/proc/${process.pid}/ns/mnt`, "", "netns-1", "/run/netns/a b", "/dev/null") },
      { weight: 1, arbitrary: text },
      { weight: 1, arbitrary: hugeText.map((s) => `/${s}`) },
    ),
  };
}

const goodPair = fc.oneof(
  fc.constantFrom(["IgnoreUnknown", "1"], ["K8S_POD_NAMESPACE", "ns1"], ["K8S_POD_UID", "u-1"], ["io.contiv.tenant", "t1"], ["io.contiv.net-group", "web"]),
  fc.constantFrom(["IP", "198.18.0.9"], ["MAC", "02:00:00:00:00:09"]),
  fc.integer({ min: 1, max: 253 }).map((n) => ["K8S_POD_NAME", "p".repeat(n)]),
);
const anyPair = fc.tuple(
  fc.oneof(fc.constantFrom("IgnoreUnknown", "IP", "MAC", "K8S_POD_NAME", "io.contiv.tenant", "io.contiv.network", "FOO"), text),
  fc.oneof(fc.constantFrom("1", "true", "yes", "198.18.0.300", "01:00:5e:00:00:01", "a_b", ""), fc.integer({ min: 250, max: 256 }).map((n) => "p".repeat(n)), text),
);
const joinPairs = (pairs: readonly (readonly string[])[]) => pairs.map(([k, v]) => `${k}=${v}`).join(";");
const cniArgs: Input = {
  good: fc.array(goodPair, { maxLength: 3 }).map(joinPairs),
  hostile: fc.oneof(fc.array(anyPair, { minLength: 1, maxLength: 4 }).map(joinPairs), text, hugeText),
};

const address: Input = { good: fc.constantFrom("198.18.0.9", "198.18.0.9/24", "fd00::9/64"), hostile: fc.oneof(fc.constantFrom("198.18.0.300", "fd00::/129"), junk) };
const mac: Input = { good: fc.constantFrom("02:00:00:00:00:09", "02-AA-BB-00-00-01"), hostile: fc.oneof(fc.constantFrom("01:00:5e:00:00:01", "00:00:00:00:00:00", "02:00"), junk) };

function listOf(item: Input, clean: boolean, maxLength: number): Input {
  return { good: fc.array(item.good, { maxLength }), hostile: fc.oneof(fc.array(pick(item, clean), { maxLength: maxLength + 2 }), junk) };
}

function record(fields: Record<string, fc.Arbitrary<Gen>>): Input {
  return { good: fc.record(fields), hostile: fc.oneof(fc.record(fields), junk) };
}

function runtimeConfig(clean: boolean): Input {
  const portMapping = record({
    hostPort: pick({ good: fc.integer({ min: 1024, max: 65535 }), hostile: fc.oneof(fc.constantFrom(0, 65536, 4789, 1.5), junk) }, clean),
    containerPort: pick({ good: fc.integer({ min: 1, max: 65535 }), hostile: junk }, clean),
    protocol: optional({ good: fc.constantFrom("tcp", "udp", "sctp", "TCP"), hostile: fc.oneof(fc.constant("icmp"), junk) }, clean),
    hostIP: optional({ good: fc.constantFrom("", "127.0.0.1"), hostile: fc.oneof(fc.constantFrom("::1", "x"), junk) }, clean),
  });
  return record({
    ips: optional({ good: fc.array(address.good, { maxLength: 1 }), hostile: listOf(address, clean, 2).hostile }, clean),
    mac: optional(mac, clean),
    portMappings: optional({ good: fc.array(portMapping.good, { maxLength: 1 }), hostile: listOf(portMapping, clean, 2).hostile }, clean),
    aliases: optional({ good: fc.constant({ blue: ["web"] }), hostile: junk }, clean),
  });
}

function prevResult(clean: boolean): Input {
  return record({
    cniVersion: pick({ good: fc.constantFrom(...SUPPORTED_VERSIONS), hostile: junk }, clean),
    interfaces: pick(listOf(record({ name: pick(ifname, clean), mac: optional(mac, clean), sandbox: optional({ good: fc.constant(NETNS), hostile: junk }, clean) }), clean, 1), clean),
    ips: pick(listOf(record({ address: pick({ good: fc.constant("198.18.0.1/24"), hostile: address.hostile }, clean), interface: optional({ good: fc.constant(0), hostile: fc.constantFrom(-1, 5, "0") }, clean) }), clean, 1), clean),
  });
}

/** A network config; `socket` decides that field, which must never send the executable elsewhere. */
function config(clean: boolean, socket: fc.Arbitrary<Gen>): fc.Arbitrary<Gen> {
  return fc.record({
    cniVersion: pick({ good: fc.constantFrom(...SUPPORTED_VERSIONS), hostile: fc.oneof(fc.constantFrom("0.2.0", "1.2.0", ""), junk) }, clean),
    name: pick({
      good: fc.oneof(fc.constantFrom("blue", "podman", "k8s-pod-network", "n".repeat(MAX_NETWORK_NAME)), fc.stringMatching(/^[a-z0-9][a-z0-9_.-]{0,20}$/)),
      hostile: fc.oneof(fc.constantFrom("n".repeat(MAX_NETWORK_NAME + 1), "-blue", "blue net"), junk),
    }, clean),
    type: pick({ good: fc.constant("netplugin"), hostile: fc.oneof(fc.constant("bridge"), junk) }, clean),
    tenant: optional({ good: fc.constantFrom("default", "t1"), hostile: fc.oneof(fc.constantFrom("a_b", "t".repeat(65)), junk) }, clean),
    network: pick({ good: fc.constantFrom("net", "web-net"), hostile: fc.oneof(fc.constant("-bad"), junk) }, clean),
    group: optional({ good: fc.constantFrom("web", ""), hostile: junk }, clean),
    socket,
    runtimeConfig: optional(runtimeConfig(clean), clean),
    args: optional(record({ cni: pick(record({ ips: optional(listOf(address, clean, 1), clean), mac: optional(mac, clean) }), clean) }), clean),
    dns: optional(record({ nameservers: optional(listOf(address, clean, 2), clean), domain: optional({ good: fc.constant("blue.t1"), hostile: junk }, clean) }), clean),
    prevResult: optional(prevResult(clean), clean),
    "cni.dev/valid-attachments": optional(listOf(record({ containerID: pick(containerId, clean), ifname: pick(ifname, clean) }), clean, 3), clean),
    ipam: clean ? absent : fc.oneof({ weight: 4, arbitrary: absent }, { weight: 1, arbitrary: junk }),
    tenat: fc.oneof({ weight: 4, arbitrary: absent }, { weight: 1, arbitrary: junk }),
  });
}

/** The CNI_* values of one call, as strings (absent: unset) and as the agent's request fields. */
function envFields(clean: boolean, files: Files) {
  return fc.record({
    command: pick(command, clean),
    containerId: pick(containerId, clean),
    netns: pick(netns(files), clean),
    ifname: pick(ifname, clean),
    args: pick(cniArgs, clean),
    path: pick(cniPath, clean),
  });
}

// ---- checks -----------------------------------------------------------------------------------

/** What a successful call may leave in the state file: bounded strings only. */
function checkKept(agent: FakeCniAgent): void {
  for (const a of agent.attachments.all()) {
    assert.ok(a.containerId.length <= MAX_CONTAINER_ID, "container id kept unbounded");
    assert.ok(Buffer.byteLength(a.ifname) <= MAX_IFNAME_BYTES, "ifname kept unbounded");
    assert.ok(Buffer.byteLength(a.netns) <= MAX_NETNS_BYTES, "netns kept unbounded");
    assert.ok(a.cniNetwork.length <= MAX_NETWORK_NAME, "network name kept unbounded");
  }
}

/** A CNI error as the agent or the executable gives it. */
function checkError(error: { code?: unknown; msg?: unknown }, why: string): number {
  assert.ok(typeof error.code === "number" && EXPECTED_CODES.has(error.code), `code ${String(error.code)}: ${String(error.msg)} (${why})`);
  assert.ok(typeof error.msg === "string" && error.msg !== "" && error.msg.length <= 1024, `msg ${String(error.msg).slice(0, 300)}`);
  if (error.code === 4) assert.match(error.msg, /CNI_[A-Z]+/, "code 4 names no variable");
  return error.code;
}

interface Tally {
  runs: number;
  ok: Map<string, number>;
  codes: Map<number, number>;
}

function newTally(): Tally {
  return { runs: 0, ok: new Map(), codes: new Map() };
}

function count<K>(m: Map<K, number>, k: K): void {
  m.set(k, (m.get(k) ?? 0) + 1);
}

function describeTally(t: Tally): string {
  const ok = [...t.ok].sort().map(([k, n]) => `${k} ${n}`).join(", ");
  const codes = [...t.codes].sort((a, b) => a[0] - b[0]).map(([k, n]) => `${k}: ${n}`).join(", ");
  return `${t.runs} calls; succeeded: ${ok || "none"}; refused by code: ${codes}`;
}

/** A known-good ADD of ("c1", "eth0"), so that DEL, CHECK and a second ADD meet an attachment. */
async function addC1(agent: FakeCniAgent): Promise<void> {
  const answer = await agent.handler.handle({
    command: "ADD", containerId: "c1", netns: NETNS, ifname: "eth0", args: "", path: "",
    config: { cniVersion: "1.0.0", name: "blue", type: "netplugin", network: "net" },
  });
  assert.ok("result" in answer, JSON.stringify(answer));
}

function withinSeconds<T>(seconds: number, what: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer in ${seconds} s`)), seconds * 1000);
  });
  return Promise.race([what, timeout]).finally(() => clearTimeout(timer));
}

// ---- the properties -----------------------------------------------------------------------------

describe("hostile CNI input", () => {
  let agent: FakeCniAgent;
  let files: Files;
  let socket: string;

  before(async () => {
    agent = startFakeCniAgent();
    const dir = join(agent.stateFile, "..", "files");
    mkdirSync(join(dir, "dir"), { recursive: true });
    files = { file: join(dir, "file"), dir: join(dir, "dir"), gone: join(dir, "gone") };
    writeFileSync(files.file, "");
    socket = await agent.serve();
  });
  after(() => agent?.close());

  it("the agent's handler answers every generated call as the spec says", async (t) => {
    const tally = newTally();
    const socketField = (clean: boolean) => optional({ good: absent, hostile: junk }, clean);
    const call = fc.tuple(
      fc.oneof(envFields(true, files), envFields(false, files)),
      fc.oneof(config(true, socketField(true)), config(false, socketField(false))),
    );
    const body = fc.oneof(
      { weight: 30, arbitrary: call.map(([env, conf]) => ({ ...env, config: conf })) },
      { weight: 1, arbitrary: junk },
    );
    await fc.assert(
      fc.asyncProperty(fc.boolean(), body, async (withC1, generated) => {
        agent.reset();
        if (withC1) await addC1(agent);
        const stateBefore = agent.stateText();
        const endpointsBefore = [...agent.master.endpoints.keys()];
        const request: unknown = JSON.parse(encode(generated));
        const answer: CniResponse = await withinSeconds(5, agent.handler.handle(request));
        tally.runs++;
        if ("error" in answer) {
          count(tally.codes, checkError(answer.error, "in-process"));
          assert.equal(agent.stateText(), stateBefore, "a refused call changed the state file");
          assert.deepEqual([...agent.master.endpoints.keys()], endpointsBefore, "a refused call left an endpoint at netmaster");
          return;
        }
        const cmd = (request as { command: string }).command;
        count(tally.ok, cmd);
        assert.ok(cmd !== "ADD" || (typeof answer.result === "object" && answer.result !== null), "ADD without a result");
        checkKept(agent);
      }),
      { numRuns: IN_PROCESS_RUNS, includeErrorInReport: true },
    );
    t.diagnostic(`in-process: ${describeTally(tally)}`);
    // Generated calls that all fail the same way would prove little.
    for (const cmd of ["ADD", "DEL", "CHECK", "STATUS", "GC"]) assert.ok(tally.ok.has(cmd), `no ${cmd} succeeded: ${describeTally(tally)}`);
    for (const code of [1, 2, 3, 4, 6, 7, 103]) assert.ok(tally.codes.has(code), `no call got code ${code}: ${describeTally(tally)}`);
  });

  it("the executable prints one answer for every generated call and exits by it", async (t) => {
    const tally = newTally();
    // Only ever our stand-in: a missing or empty socket would reach the machine's agent.
    const socketField = (clean: boolean) =>
      pick({ good: fc.constant(socket), hostile: junk.filter((v) => !(typeof v === "string" && (v === "" || v.startsWith("/")))) }, clean).map((v) =>
        v === ABSENT ? socket : v,
      );
    // Clean calls weigh more here: with few runs, the successful paths must still be taken.
    const env = fc.oneof({ weight: 2, arbitrary: envFields(true, files) }, { weight: 1, arbitrary: envFields(false, files) }).map((e) => ({
      CNI_COMMAND: asEnv(e.command),
      CNI_CONTAINERID: asEnv(e.containerId),
      CNI_NETNS: asEnv(e.netns),
      CNI_IFNAME: asEnv(e.ifname),
      CNI_ARGS: asEnv(e.args),
      CNI_PATH: asEnv(e.path),
    }));
    const stdin = fc
      .oneof(
        { weight: 12, arbitrary: config(true, socketField(true)).map((c) => Buffer.from(encode(c))) },
        { weight: 6, arbitrary: config(false, socketField(false)).map((c) => Buffer.from(encode(c))) },
        { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)) },
        { weight: 1, arbitrary: fc.constantFrom("", "null", "[]", "{", '"x"', "1e999", "\ufeff{}").map((s) => Buffer.from(s)) },
        { weight: 1, arbitrary: fc.integer({ min: -2, max: 2 }).map((d) => paddedConfig(socket, MAX_CONFIG_BYTES + d)) },
      )
      .filter((s) => !reachesDefaultSocket(s));
    const call = fc.tuple(env, stdin);
    await fc.assert(
      fc.asyncProperty(fc.boolean(), call, async (withC1, [vars, input]) => {
        agent.reset();
        if (withC1) await addC1(agent);
        const stateBefore = agent.stateText();
        const endpointsBefore = [...agent.master.endpoints.keys()];
        const run = await runCni(vars, input);
        tally.runs++;
        assert.ok(run.code === 0 || run.code === 1, `status ${run.code}, signal ${run.signal}: ${run.stderr.slice(0, 500)}`);
        const cmd = vars.CNI_COMMAND ?? "";
        if (run.stdout === "") {
          assert.equal(run.code, 0, "an error without a word");
          assert.ok(["DEL", "CHECK", "STATUS", "GC"].includes(cmd), `${cmd} printed nothing`);
          count(tally.ok, cmd);
          checkKept(agent);
          return;
        }
        assert.ok(run.stdout.endsWith("\n") && run.stdout.indexOf("\n") === run.stdout.length - 1, "more than one line on stdout");
        const doc = JSON.parse(run.stdout) as Record<string, unknown>;
        assert.ok(typeof doc === "object" && doc !== null && !Array.isArray(doc), "not one JSON object");
        assert.ok((SUPPORTED_VERSIONS as readonly string[]).includes(String(doc["cniVersion"])), `cniVersion ${String(doc["cniVersion"])}`);
        if (run.code === 1) {
          assert.deepEqual(Object.keys(doc).filter((k) => !["cniVersion", "code", "msg", "details"].includes(k)), [], "extra keys in an error");
          count(tally.codes, checkError(doc, "executable"));
          assert.equal(agent.stateText(), stateBefore, "a refused call changed the state file");
          assert.deepEqual([...agent.master.endpoints.keys()], endpointsBefore, "a refused call left an endpoint at netmaster");
          return;
        }
        count(tally.ok, cmd);
        if (cmd === "VERSION") assert.deepEqual(doc["supportedVersions"], [...SUPPORTED_VERSIONS]);
        else {
          assert.equal(cmd, "ADD", `${cmd} printed a result`);
          assert.ok(Array.isArray(doc["interfaces"]) && Array.isArray(doc["ips"]), "ADD result without interfaces and ips");
        }
        checkKept(agent);
      }),
      { numRuns: EXECUTABLE_RUNS, includeErrorInReport: true },
    );
    t.diagnostic(`executable: ${describeTally(tally)}`);
    for (const cmd of ["ADD", "DEL"]) assert.ok(tally.ok.has(cmd), `no ${cmd} succeeded: ${describeTally(tally)}`);
    for (const code of [4, 6, 7]) assert.ok(tally.codes.has(code), `no call got code ${code}: ${describeTally(tally)}`);
  });
});

/** True for a stdin the executable would send to the default socket, where this machine's agent may listen. */
function reachesDefaultSocket(stdin: Buffer): boolean {
  let config: unknown;
  try {
    config = JSON.parse(stdin.toString("utf8"));
  } catch {
    return false;
  }
  if (typeof config !== "object" || config === null || Array.isArray(config)) return false;
  const socket = (config as { socket?: unknown }).socket;
  return socket === undefined || socket === "";
}

/** A generated CNI_* value as the environment can hold it: a string without NUL, at most 100 000 characters. */
function asEnv(value: Gen): string | undefined {
  if (value === ABSENT) return undefined;
  const s = typeof value === "string" ? value : encode(value);
  return s.replace(/\0/g, "").slice(0, 100_000);
}

/** A good config padded to exactly `bytes`. */
function paddedConfig(socket: string, bytes: number): Buffer {
  const text = encode({ cniVersion: "1.0.0", name: "blue", type: "netplugin", network: "net", socket, pad: "" });
  return Buffer.from(text.replace('"pad":""', `"pad":"${"p".repeat(bytes - Buffer.byteLength(text))}"`));
}

/** The executable with exactly these CNI_* variables; killed (code null) when it has not ended in 15 s. */
function runCni(vars: Record<string, string | undefined>, stdin: Buffer): Promise<RunResult> {
  const env: Record<string, string> = { PATH: process.env["PATH"] ?? "/usr/bin:/bin" };
  for (const [k, v] of Object.entries(vars)) if (v !== undefined) env[k] = v;
  return runCommand([EXECUTABLE], { env, stdin, timeoutMs: 15_000 });
}
