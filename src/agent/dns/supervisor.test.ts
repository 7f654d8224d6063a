// End to end: DnsSupervisor runs a server in a network namespace this test makes; a client
// process inside that namespace asks it questions. The fake upstream runs here, in the test's
// own (root) namespace on 127.0.0.1, which the tenant namespace cannot reach: names it answers
// prove the relay through the supervisor.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createSocket, type Socket } from "node:dgram";
import { fileURLToPath } from "node:url";
import { ValidationError } from "../../lib/errors.js";
import { waitFor } from "../../lib/wait.js";
import { formatAddress } from "./addresses.js";
import { decodeMessage, encodeQuery, Rcode, RRType, type DnsMessage } from "./message.js";
import type { TenantRecords } from "./records.js";
import { DnsSupervisor, type DnsConfig } from "./supervisor.js";
import { FAKE_UPSTREAM_A, startFakeUpstream, type FakeUpstream } from "./testing/fakeUpstream.js";
import type { ClientReply, ClientRequest } from "./testing/dnsClient.js";

const CLIENT = fileURLToPath(new URL("./testing/dnsClient.js", import.meta.url));

function skipReason(): string | false {
  if (process.getuid?.() !== 0) return "needs root to create a network namespace";
  if (spawnSync("ip", ["-V"]).status !== 0) return "needs iproute2 (ip)";
  return false;
}

const GATEWAY = "198.18.53.1";
const GATEWAY6 = "2001:db8:53::1";
const LATE = "198.18.53.3";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("DnsSupervisor in a network namespace", { skip: skipReason() }, () => {
  const ns = `npd${randomBytes(2).toString("hex")}`;
  const supervisor = new DnsSupervisor({ logLevel: "warn", backoff: { initialMs: 100, maxMs: 400 } });
  const helpers: ChildProcess[] = [];
  let client: ChildProcess;
  /** In this (root) namespace, on 127.0.0.1. */
  let fake: FakeUpstream | undefined;
  /** A UDP socket here that swallows every query: the upstream never answers. */
  let blackHole: Socket | undefined;
  let blackHolePort = 0;
  let nextId = 1;
  const pending = new Map<number, (reply: ClientReply) => void>();

  const ip = (...args: string[]): void => void execFileSync("ip", args, { stdio: ["ignore", "ignore", "pipe"] });

  const records: TenantRecords = {
    services: [{ name: "web", ipv4: ["10.254.0.1"], ipv6: [] }],
    groups: [{ name: "db", ipv4: Array.from({ length: 12 }, (_, i) => `10.1.2.${i + 1}`), ipv6: ["2001:db8::2"] }],
    endpoints: [{ name: "/app1", ipv4: ["10.1.3.1"], ipv6: ["2001:db8::31"] }],
    domain: "blue.example",
  };
  let config: DnsConfig = { addresses: [GATEWAY, GATEWAY6], records, upstream: [] };

  /** Asks from inside the namespace; undefined when no reply came. */
  async function ask(
    name: string,
    type: number,
    options: { host?: string; port?: number; transport?: "udp" | "tcp"; timeoutMs?: number } = {},
  ): Promise<{ message?: DnsMessage; ms: number }> {
    const id = nextId++;
    const request: ClientRequest = {
      id,
      host: options.host ?? GATEWAY,
      port: options.port ?? 53,
      transport: options.transport ?? "udp",
      timeoutMs: options.timeoutMs ?? 4000,
      packet: Buffer.from(encodeQuery({ id: id & 0xffff, name, type })).toString("base64"),
    };
    const reply = await new Promise<ClientReply>((resolve) => {
      pending.set(id, resolve);
      client.send(request);
    });
    if (!reply.packet) return { ms: reply.ms };
    const decoded = decodeMessage(Buffer.from(reply.packet, "base64"));
    assert.ok(decoded.ok, "the server's reply decodes");
    assert.equal(decoded.message.header.id, id & 0xffff);
    return { message: decoded.message, ms: reply.ms };
  }

  async function addresses(name: string, type: number, options?: { host?: string; transport?: "udp" | "tcp" }): Promise<string[]> {
    const { message } = await ask(name, type, options);
    assert.ok(message, `a reply for ${name}`);
    assert.equal(message.rcode, Rcode.NOERROR, name);
    return message.answers.map((a) => formatAddress(a.data));
  }

  function spawnInNamespace(script: string, args: string[], ipc: boolean): ChildProcess {
    const child = spawn("ip", ["netns", "exec", ns, process.execPath, script, ...args], {
      stdio: ipc ? ["ignore", "inherit", "inherit", "ipc"] : ["ignore", "pipe", "inherit"],
    });
    helpers.push(child);
    return child;
  }

  before(async () => {
    fake = await startFakeUpstream("127.0.0.1", 0);
    config = { ...config, upstream: [`127.0.0.1:${fake.port}`] };
    const hole = createSocket("udp4");
    blackHole = hole;
    await new Promise<void>((resolve) => hole.bind(0, "127.0.0.1", resolve));
    blackHolePort = hole.address().port;

    ip("netns", "add", ns);
    ip("-n", ns, "link", "set", "lo", "up");
    // A bridge with the gateway addresses, as the agent makes, with a veth port for carrier.
    ip("-n", ns, "link", "add", "dns0", "type", "bridge");
    ip("-n", ns, "link", "add", "dnsport0", "type", "veth", "peer", "name", "dnsport1");
    ip("-n", ns, "link", "set", "dnsport0", "master", "dns0", "up");
    ip("-n", ns, "link", "set", "dnsport1", "up");
    ip("-n", ns, "addr", "add", `${GATEWAY}/24`, "dev", "dns0");
    ip("-n", ns, "-6", "addr", "add", `${GATEWAY6}/64`, "dev", "dns0", "nodad");
    ip("-n", ns, "link", "set", "dns0", "up");

    client = spawnInNamespace(CLIENT, [], true);
    await new Promise<void>((resolve, reject) => {
      client.once("exit", (code) => reject(new Error(`DNS client exited ${code}`)));
      client.on("message", (raw: unknown) => {
        const reply = raw as ClientReply;
        if (reply.id === 0) return resolve();
        pending.get(reply.id)?.(reply);
        pending.delete(reply.id);
      });
    });
  });

  after(async () => {
    // Each step on its own: one failing must not leave the others' leftovers behind.
    const steps: (() => unknown)[] = [
      () => supervisor.stopAll(),
      () => {
        for (const child of helpers) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      },
      () => fake?.close(),
      () => blackHole?.close(),
      () => spawnSync("ip", ["netns", "del", ns]),
    ];
    for (const step of steps) {
      try {
        await step();
      } catch {
        // keep cleaning up
      }
    }
  });

  it("rejects a bad config before starting anything", () => {
    assert.throws(() => supervisor.ensure(ns, { ...config, addresses: ["198.18.53.300"] }), ValidationError);
    assert.throws(() => supervisor.ensure(ns, { ...config, upstream: ["dns.example"] }), ValidationError);
    assert.throws(() => supervisor.ensure("bad/ns", config), ValidationError);
    assert.equal(supervisor.status(ns), undefined);
  });

  it("starts a server that answers the tenant's names on UDP and TCP, IPv4 and IPv6", async () => {
    supervisor.ensure(ns, config);
    await waitFor(() => supervisor.status(ns)?.listening.length === 2, { what: () => "not listening on both gateways" });
    assert.deepEqual(await addresses("web", RRType.A), ["10.254.0.1"]);
    assert.deepEqual(await addresses("DB.blue.example.", RRType.A), Array.from({ length: 10 }, (_, i) => `10.1.2.${i + 1}`));
    assert.deepEqual(await addresses("app1", RRType.AAAA, { transport: "tcp" }), ["2001:db8::31"]);
    assert.deepEqual(await addresses("app1", RRType.ANY, { host: GATEWAY6 }), ["10.1.3.1", "2001:db8::31"]);
    assert.deepEqual(await addresses("web", RRType.AAAA), [], "known name without AAAA: NOERROR, no answers");
    const { message } = await ask("web", RRType.A);
    assert.equal(message?.header.aa, true);
    assert.equal(message?.answers[0]?.ttl, 120);
  });

  it("answers NXDOMAIN for unknown names in the tenant domain", async () => {
    const { message } = await ask("nobody.blue.example", RRType.A);
    assert.equal(message?.rcode, Rcode.NXDOMAIN);
  });

  it("cannot reach the upstream from inside the namespace directly", async () => {
    assert.ok(fake);
    const { message } = await ask("direct.example", RRType.A, { host: "127.0.0.1", port: fake.port, timeoutMs: 1000 });
    assert.equal(message, undefined, "the namespace's 127.0.0.1 is its own");
    assert.equal(fake.queries.includes("direct.example"), false);
  });

  it("forwards other names to the upstream resolver, relayed through the supervisor", async () => {
    assert.ok(fake);
    assert.deepEqual(await addresses("www.example.org", RRType.A), [FAKE_UPSTREAM_A]);
    assert.ok(fake.queries.includes("www.example.org"), "the upstream in the root namespace was asked");
    assert.deepEqual(await addresses("relayed.example", RRType.A, { transport: "tcp" }), [FAKE_UPSTREAM_A]);
    assert.deepEqual(await addresses("relayed.example", RRType.AAAA, { host: GATEWAY6 }), ["2001:db8::7"]);
    const { message } = await ask("nx.example", RRType.A);
    assert.equal(message?.rcode, Rcode.NXDOMAIN);
    const big = await ask("big.example", RRType.A, { transport: "tcp" });
    assert.equal(big.message?.answers.length, 60, "a large reply reaches a TCP client whole");
    const cut = await ask("big.example", RRType.A);
    assert.equal(cut.message?.header.tc, true, "and a UDP client gets TC");
    assert.deepEqual(await addresses("tc.example", RRType.A), [FAKE_UPSTREAM_A], "a truncated upstream reply is asked again over TCP");
  });

  it("serves updated records", async () => {
    const updated = { ...records, services: [{ name: "web", ipv4: ["10.254.0.9"], ipv6: [] }] };
    supervisor.ensure(ns, { ...config, records: updated });
    let answer: string[] = [];
    await waitFor(async () => (answer = await addresses("web", RRType.A))[0] === "10.254.0.9", { timeoutMs: 3000, what: () => `web is ${answer.join(", ")}` });
    assert.deepEqual(answer, ["10.254.0.9"]);
  });

  it("binds an address that appears after it was asked for", async () => {
    const current = supervisor.status(ns);
    assert.ok(current);
    supervisor.ensure(ns, { ...config, records: { ...records, services: [{ name: "web", ipv4: ["10.254.0.9"], ipv6: [] }] }, addresses: [GATEWAY, GATEWAY6, LATE] });
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(supervisor.status(ns)?.listening.includes(LATE), false);
    ip("-n", ns, "addr", "add", `${LATE}/24`, "dev", "dns0");
    await waitFor(() => supervisor.status(ns)?.listening.includes(LATE) === true, { timeoutMs: 3000, what: () => "the late address is not bound" });
    assert.deepEqual(await addresses("app1", RRType.A, { host: LATE }), ["10.1.3.1"]);
  });

  it("restarts a killed server and sends it the current config", async () => {
    const before = supervisor.status(ns);
    assert.ok(before?.pid);
    process.kill(before.pid, "SIGKILL");
    await waitFor(() => {
      const s = supervisor.status(ns);
      return s?.pid !== undefined && s.pid !== before.pid && s.ready && s.listening.length === 3;
    }, { what: () => "no new server listening" });
    assert.equal(supervisor.status(ns)?.restarts, before.restarts + 1);
    assert.deepEqual(await addresses("web", RRType.A), ["10.254.0.9"], "records re-sent after the restart");
    assert.deepEqual(await addresses("www.example.org", RRType.A), [FAKE_UPSTREAM_A], "upstream re-sent");
  });

  it("answers SERVFAIL within about 2 s when the upstream is unreachable", async () => {
    supervisor.ensure(ns, { ...config, upstream: [`127.0.0.1:${blackHolePort}`] });
    await new Promise((resolve) => setTimeout(resolve, 200));
    // The SERVFAIL arriving at all proves it came before the client's own 4 s wait ended.
    const { message } = await ask("www.example.org", RRType.A, { timeoutMs: 4000 });
    assert.equal(message?.rcode, Rcode.SERVFAIL);
  });

  it("reports stats (counted since the last restart)", async () => {
    const stats = await supervisor.stats(ns);
    assert.ok(stats);
    assert.ok(stats.found >= 1, JSON.stringify(stats));
    assert.ok(stats.forwarded >= 2);
    assert.equal(stats.forwardFailed, 1);
    assert.equal(stats.invalid, 0);
  });

  it("stops the server on remove", async () => {
    const pid = supervisor.status(ns)?.pid;
    assert.ok(pid);
    supervisor.remove(ns);
    assert.equal(supervisor.status(ns), undefined);
    assert.equal(await supervisor.stats(ns), undefined);
    await waitFor(() => !alive(pid), { timeoutMs: 3000, what: () => "the server is still there" });
  });

  it("keeps retrying, with backoff, a namespace that does not exist", async () => {
    const missing = `${ns}-missing`;
    supervisor.ensure(missing, config);
    await waitFor(() => (supervisor.status(missing)?.restarts ?? 0) >= 2, { timeoutMs: 3000, what: () => "fewer than two restarts" });
    assert.equal(supervisor.status(missing)?.ready, false);
    supervisor.remove(missing);
    assert.deepEqual(supervisor.namespaces(), []);
  });
});
