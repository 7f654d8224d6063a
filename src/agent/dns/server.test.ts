// The server process on its own (no namespace; the test plays the supervisor): IPC protocol,
// the forwarding relay, and lifetime.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { createSocket } from "node:dgram";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { run } from "../../lib/process.js";
import { formatAddress } from "./addresses.js";
import { ServerReport, type ServerRequest } from "./ipc.js";
import { decodeMessage, encodeQuery, Rcode, RRType, type DnsMessage } from "./message.js";
import { query } from "./testing/dnsClient.js";
import { FAKE_UPSTREAM_A, fakeAnswer } from "./testing/fakeUpstream.js";

const SERVER = fileURLToPath(new URL("./server.js", import.meta.url));

function start(port?: number): ChildProcess {
  const args = [SERVER, "--namespace", "test", "--log-level", "warn"];
  if (port !== undefined) args.push("--port", String(port));
  return spawn(process.execPath, args, { stdio: ["ignore", "ignore", "pipe", "ipc"] });
}

/** A port free on 127.0.0.1 a moment ago. */
async function freePort(): Promise<number> {
  const s = createSocket("udp4");
  await new Promise<void>((resolve) => s.bind(0, "127.0.0.1", resolve));
  const port = s.address().port;
  await new Promise<void>((resolve) => s.close(resolve));
  return port;
}

function decode(bytes: Uint8Array | undefined): DnsMessage {
  assert.ok(bytes, "a reply");
  const r = decodeMessage(bytes);
  assert.ok(r.ok, "the reply decodes");
  return r.message;
}

function nextReport(child: ChildProcess, type: ServerReport["type"]): Promise<ServerReport> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${type}" report`)), 5000);
    const onMessage = (raw: unknown): void => {
      const report = ServerReport.parse(raw);
      if (report.type !== type) return;
      clearTimeout(timer);
      child.off("message", onMessage);
      resolve(report);
    };
    child.on("message", onMessage);
  });
}

describe("DNS server process", () => {
  it("says ready, ignores malformed messages, answers stats", async () => {
    const child = start();
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    try {
      const ready = await nextReport(child, "ready");
      assert.equal(ready.type === "ready" && ready.pid, child.pid);
      child.send({ type: "listen", addresses: ["not-an-ip"] });
      child.send({ type: "bogus" });
      child.send({ type: "stats", id: 41 });
      const stats = await nextReport(child, "stats");
      assert.deepEqual(stats, { type: "stats", id: 41, stats: { found: 0, notFound: 0, forwarded: 0, forwardFailed: 0, invalid: 0 } });
      assert.match(stderr, /Ignoring malformed IPC message/);
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("relays names it does not own to its parent and answers with the parent's reply", async () => {
    const port = await freePort();
    const child = start(port);
    const forwards: { id: number; packet: Buffer }[] = [];
    let onForward = (_: { id: number; packet: Buffer }): void => undefined;
    child.on("message", (raw: unknown) => {
      const report = ServerReport.parse(raw);
      if (report.type !== "forward") return;
      const f = { id: report.id, packet: Buffer.from(report.packet, "base64") };
      forwards.push(f);
      onForward(f);
    });
    const send = (message: ServerRequest): void => void child.send(message);
    const ask = (id: number, name: string, transport: "udp" | "tcp" = "udp"): Promise<Uint8Array | undefined> =>
      query({ host: "127.0.0.1", port, transport, timeoutMs: 4000 }, encodeQuery({ id, name, type: RRType.A }));
    try {
      await nextReport(child, "ready");
      send({ type: "records", records: { services: [{ name: "web", ipv4: ["10.254.0.1"], ipv6: [] }], groups: [], endpoints: [] } });
      send({ type: "upstream", servers: ["192.0.2.53"] });
      const listening = nextReport(child, "listening");
      send({ type: "listen", addresses: ["127.0.0.1"] });
      assert.deepEqual(await listening, { type: "listening", addresses: ["127.0.0.1"] });

      // Answered by the parent, as the supervisor does: the upstream's reply to the very bytes.
      onForward = (f) => {
        const name = decode(f.packet).questions[0]?.name;
        if (name === "fail.example") return send({ type: "forwarded", id: f.id });
        if (name === "slow.example") return;
        const reply = fakeAnswer(f.packet, true, []);
        send({ type: "forwarded", id: f.id, packet: Buffer.from(reply!).toString("base64") });
      };
      const own = decode(await ask(1, "web"));
      assert.deepEqual(own.answers.map((a) => formatAddress(a.data)), ["10.254.0.1"]);
      assert.equal(forwards.length, 0, "own names are answered in place");

      const ok = decode(await ask(0x1234, "www.example.org"));
      assert.equal(ok.header.id, 0x1234);
      assert.deepEqual(ok.answers.map((a) => formatAddress(a.data)), [FAKE_UPSTREAM_A]);
      assert.deepEqual(new Uint8Array(forwards[0]!.packet), encodeQuery({ id: 0x1234, name: "www.example.org", type: RRType.A }), "the client's bytes as is");

      const big = decode(await ask(0x2345, "big.example", "tcp"));
      assert.equal(big.header.id, 0x2345);
      assert.equal(big.answers.length, 60, "TCP clients get the whole reply");
      const cut = decode(await ask(0x2346, "big.example"));
      assert.equal(cut.header.tc, true, "UDP clients get TC");

      const failed = decode(await ask(0x3456, "fail.example"));
      assert.equal(failed.rcode, Rcode.SERVFAIL);
      assert.equal(failed.header.id, 0x3456);

      const started = Date.now();
      const slow = decode(await ask(0x4567, "slow.example", "tcp"));
      const ms = Date.now() - started;
      assert.equal(slow.rcode, Rcode.SERVFAIL);
      assert.equal(slow.header.id, 0x4567);
      // Answered at all proves it came before the client's own 4 s; not before the server's 1.8 s deadline.
      assert.ok(ms >= 1800, `SERVFAIL after ${ms} ms without a reply from the parent`);
      const late = forwards.at(-1)!;
      send({ type: "forwarded", id: late.id, packet: Buffer.from(fakeAnswer(late.packet, false, [])!).toString("base64") }); // ignored

      send({ type: "upstream", servers: [] });
      await new Promise((resolve) => setTimeout(resolve, 100));
      const refused = decode(await ask(0x5678, "www.example.org"));
      assert.equal(refused.rcode, Rcode.REFUSED);
      assert.equal(forwards.length, 5, "nothing relayed without upstreams");

      send({ type: "stats", id: 7 });
      const stats = await nextReport(child, "stats");
      assert.deepEqual(stats, { type: "stats", id: 7, stats: { found: 1, notFound: 1, forwarded: 5, forwardFailed: 2, invalid: 0 } });
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("exits when its IPC channel closes (the agent died)", async () => {
    const child = start();
    await nextReport(child, "ready");
    const exited = once(child, "exit");
    const started = Date.now();
    child.disconnect();
    const [code] = (await exited) as [number | null];
    assert.equal(code, 0);
    assert.ok(Date.now() - started < 10_000, "exits by itself, not at the test's end");
  });

  it("refuses to run without an IPC channel", async () => {
    const r = await run([process.execPath, SERVER], { timeoutMs: 10_000 });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /IPC channel/);
  });
});
