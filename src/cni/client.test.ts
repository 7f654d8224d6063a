import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";

import { callAgent, classifyAnswer, parseHttpResponse } from "./client.js";
import { startFakeAgent, type FakeAgent } from "./testing/fakeAgent.js";

describe("classifyAnswer", () => {
  const where = 'netplugin agent on "/s"';
  const cases: { name: string; command: "ADD" | "DEL"; status: number; text: string; want: unknown }[] = [
    { name: "an ADD result", command: "ADD", status: 200, text: '{"result":{"cniVersion":"1.0.0"}}', want: { ok: true, result: { cniVersion: "1.0.0" } } },
    { name: "an empty DEL answer", command: "DEL", status: 200, text: "{}", want: { ok: true, result: null } },
    { name: "a null DEL result", command: "DEL", status: 204, text: '{"result":null}', want: { ok: true, result: null } },
    { name: "an error on 200", command: "ADD", status: 200, text: '{"error":{"code":7,"msg":"bad"}}', want: { ok: false, error: { code: 7, msg: "bad" } } },
    {
      name: "an error on 500 with details",
      command: "DEL",
      status: 500,
      text: '{"error":{"code":100,"msg":"boom","details":"d"}}',
      want: { ok: false, error: { code: 100, msg: "boom", details: "d" } },
    },
  ];
  for (const c of cases) {
    it(`accepts ${c.name}`, () => assert.deepEqual(classifyAnswer(c.command, where, c.status, c.text), c.want));
  }

  const protocol: { name: string; command: "ADD" | "DEL"; status: number; text: string; msg: RegExp }[] = [
    { name: "a non-JSON body", command: "ADD", status: 200, text: "ok", msg: /HTTP 200 without a JSON body/ },
    { name: "a 404 page", command: "DEL", status: 404, text: "404 Not Found", msg: /HTTP 404 without a JSON body/ },
    { name: "a JSON array", command: "ADD", status: 200, text: "[]", msg: /body is not an object/ },
    { name: "an error without code", command: "ADD", status: 500, text: '{"error":{"msg":"x"}}', msg: /"error" is not \{code, msg\}/ },
    { name: "a result on a 500", command: "ADD", status: 500, text: '{"result":{}}', msg: /HTTP 500 without an error/ },
    { name: "ADD without a result", command: "ADD", status: 200, text: "{}", msg: /ADD answered without a result/ },
    { name: "a non-object result", command: "ADD", status: 200, text: '{"result":"x"}', msg: /"result" is not an object/ },
  ];
  for (const c of protocol) {
    it(`reports ${c.name} as code 101`, () => {
      const got = classifyAnswer(c.command, where, c.status, c.text);
      assert.ok(!got.ok);
      assert.equal(got.error.code, 101);
      assert.match(got.error.msg, c.msg);
      assert.match(got.error.details ?? "", new RegExp(`^HTTP ${c.status}: `));
    });
  }
});

describe("callAgent", () => {
  let fake: FakeAgent;
  before(async () => {
    fake = await startFakeAgent();
  });
  after(async () => {
    await fake.close();
  });

  it("posts the body to the command's path", async () => {
    fake.handler = () => ({ body: { result: { cniVersion: "1.0.0", dns: {} } } });
    const got = await callAgent({ socket: fake.socket, command: "ADD", body: '{"command":"ADD"}' });
    assert.deepEqual(got, { ok: true, result: { cniVersion: "1.0.0", dns: {} } });
    const last = fake.requests.at(-1);
    assert.equal(last?.method, "POST");
    assert.equal(last?.url, "/cni/v1/add");
    assert.equal(last?.contentType, "application/json");
    assert.equal(last?.text, '{"command":"ADD"}');
  });

  it("gives up after the timeout: code 11, STATUS 50", async () => {
    fake.handler = () => ({ hang: true });
    const add = await callAgent({ socket: fake.socket, command: "ADD", body: "{}", timeoutMs: 150 });
    assert.deepEqual(add, {
      ok: false,
      error: { code: 11, msg: `Cannot ADD: netplugin agent on "${fake.socket}" did not answer within 150 ms` },
    });
    const status = await callAgent({ socket: fake.socket, command: "STATUS", body: "{}", timeoutMs: 150 });
    assert.ok(!status.ok && status.error.code === 50);
  });

  it("reports a dropped connection as code 11", async () => {
    fake.handler = () => ({ reset: true });
    const got = await callAgent({ socket: fake.socket, command: "DEL", body: "{}" });
    assert.ok(!got.ok);
    assert.equal(got.error.code, 11);
    assert.match(got.error.msg, /closed the connection before answering/);
  });

  it("reports a stale socket file (no listener) as code 11", async () => {
    const socket = `${fake.dir}/stale.sock`;
    writeFileSync(socket, "");
    const got = await callAgent({ socket, command: "ADD", body: "{}" });
    assert.ok(!got.ok);
    assert.equal(got.error.code, 11);
    assert.match(got.error.details ?? "", /ECONNREFUSED/);
  });

  it("reports a missing socket as code 11, STATUS 50", async () => {
    const socket = `${fake.dir}/nothing.sock`;
    for (const [command, code] of [["ADD", 11], ["DEL", 11], ["CHECK", 11], ["GC", 11], ["STATUS", 50]] as const) {
      const got = await callAgent({ socket, command, body: "{}" });
      assert.ok(!got.ok);
      assert.equal(got.error.code, code, command);
      assert.equal(got.error.msg, `Cannot ${command}: netplugin agent on "${socket}" is not reachable (is the agent running?)`);
      assert.match(got.error.details ?? "", /ENOENT/);
    }
  });
});

describe("parseHttpResponse", () => {
  const b = (s: string): Buffer => Buffer.from(s, "latin1");
  const cases: { name: string; raw: string; eof: boolean; want: unknown }[] = [
    { name: "a Content-Length body", raw: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", eof: false, want: { status: 200, body: "{}" } },
    { name: "a Content-Length body with bytes after it", raw: "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}junk", eof: false, want: { status: 200, body: "{}" } },
    { name: "a partial Content-Length body", raw: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n{}", eof: false, want: "incomplete" },
    { name: "a chunked body", raw: "HTTP/1.1 500 Err\r\nTransfer-Encoding: chunked\r\n\r\n3;x=1\r\n{\"a\r\n4\r\n\":1}\r\n0\r\n\r\n", eof: false, want: { status: 500, body: '{"a":1}' } },
    { name: "a chunked body cut in a chunk", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{}", eof: false, want: "incomplete" },
    { name: "a body read to EOF", raw: "HTTP/1.0 200 OK\r\n\r\n{\"result\":null}", eof: true, want: { status: 200, body: '{"result":null}' } },
    { name: "a body without length before EOF", raw: "HTTP/1.0 200 OK\r\n\r\n{", eof: false, want: "incomplete" },
    { name: "an interim 100 Continue", raw: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", eof: false, want: { status: 200, body: "{}" } },
    { name: "a 204", raw: "HTTP/1.1 204 No Content\r\n\r\n", eof: false, want: { status: 204, body: "" } },
    { name: "headers still arriving", raw: "HTTP/1.1 200 OK\r\nContent-", eof: false, want: "incomplete" },
  ];
  for (const c of cases) {
    it(`reads ${c.name}`, () => {
      const got = parseHttpResponse(b(c.raw), c.eof);
      if (c.want === "incomplete") return assert.deepEqual(got, { done: false });
      assert.ok(got.done && "status" in got, JSON.stringify(got));
      assert.deepEqual({ status: got.status, body: got.body.toString() }, c.want);
    });
  }
  const broken: { name: string; raw: string; msg: RegExp; beforeHeaders: boolean }[] = [
    { name: "EOF inside the headers", raw: "HTTP/1.1 200 OK\r\n", msg: /closed inside the headers/, beforeHeaders: true },
    { name: "EOF before anything", raw: "", msg: /closed inside the headers/, beforeHeaders: true },
    { name: "a bad status line", raw: "SSH-2.0-OpenSSH\r\n\r\n", msg: /bad status line/, beforeHeaders: false },
    { name: "a truncated body", raw: "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n{}", msg: /after 2 of 9 body bytes/, beforeHeaders: false },
    { name: "a bad chunk size", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", msg: /bad chunk size/, beforeHeaders: false },
    { name: "a truncated chunked body", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n", msg: /inside a chunked body/, beforeHeaders: false },
  ];
  for (const c of broken) {
    it(`reports ${c.name}`, () => {
      const got = parseHttpResponse(b(c.raw), true);
      assert.ok(got.done && "error" in got, JSON.stringify(got));
      assert.match(got.error, c.msg);
      assert.equal(got.beforeHeaders, c.beforeHeaders);
    });
  }
});

describe("callAgent against a hand-written server", () => {
  // Servers node:http would not produce: byte-by-byte chunked answers, a connection left open.
  async function withServer(answer: (conn: net.Socket) => void, fn: (socket: string) => Promise<void>): Promise<void> {
    const dir = mkdtempSync(path.join(tmpdir(), "np-cni-raw-"));
    const socket = path.join(dir, "a.sock");
    const server = net.createServer((conn) => {
      let seen = "";
      conn.on("data", (c: Buffer) => {
        seen += c.toString();
        const headEnd = seen.indexOf("\r\n\r\n");
        const len = /Content-Length: (\d+)/.exec(seen);
        if (headEnd >= 0 && len && seen.length >= headEnd + 4 + Number(len[1])) answer(conn);
      });
      conn.on("error", () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(socket, resolve));
    try {
      await fn(socket);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it("reads a chunked answer sent in pieces from a server that keeps the connection open", async () => {
    const text = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + "b\r\n{\"result\":{\r\n" + "2\r\n}}\r\n0\r\n\r\n";
    await withServer(
      (conn) => {
        let i = 0;
        const tick = setInterval(() => {
          if (i >= text.length) return clearInterval(tick);
          conn.write(text.slice(i, i + 7));
          i += 7;
        }, 1);
      },
      async (socket) => {
        assert.deepEqual(await callAgent({ socket, command: "ADD", body: "{}", timeoutMs: 5000 }), { ok: true, result: {} });
      },
    );
  });

  it("reports a connection closed mid-body as code 101", async () => {
    await withServer(
      (conn) => conn.end("HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{\"result\""),
      async (socket) => {
        const got = await callAgent({ socket, command: "ADD", body: "{}", timeoutMs: 5000 });
        assert.ok(!got.ok);
        assert.equal(got.error.code, 101);
        assert.match(got.error.msg, /sent a broken HTTP answer: the connection closed after 9 of 50 body bytes/);
      },
    );
  });

  it("reports a connection closed without an answer as code 11", async () => {
    await withServer(
      (conn) => conn.end(),
      async (socket) => {
        const got = await callAgent({ socket, command: "DEL", body: "{}", timeoutMs: 5000 });
        assert.ok(!got.ok);
        assert.equal(got.error.code, 11);
        assert.match(got.error.msg, /closed the connection before answering/);
      },
    );
  });
});
