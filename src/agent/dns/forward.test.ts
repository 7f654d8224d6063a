// Asking the upstreams (what the supervisor does for its servers), against real sockets on 127.0.0.1.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createSocket, type Socket } from "node:dgram";
import { forwardQuery, parseUpstream, type Upstream } from "./forward.js";
import { formatAddress } from "./addresses.js";
import { decodeMessage, encodeQuery, Rcode, RRType, type DnsMessage } from "./message.js";
import { FAKE_UPSTREAM_A, fakeAnswer, startFakeUpstream, type FakeUpstream } from "./testing/fakeUpstream.js";

function decode(bytes: Uint8Array | undefined): DnsMessage {
  assert.ok(bytes, "a reply");
  const r = decodeMessage(bytes);
  assert.ok(r.ok, "the reply decodes");
  return r.message;
}

/** A UDP port on 127.0.0.1 with nobody behind it (UDP or TCP): sends get ICMP port unreachable. */
async function closedPort(): Promise<number> {
  const s = createSocket("udp4");
  await new Promise<void>((resolve) => s.bind(0, "127.0.0.1", resolve));
  const port = s.address().port;
  await new Promise<void>((resolve) => s.close(resolve));
  return port;
}

/** A UDP socket on 127.0.0.1 that answers with `reply(query)` (nothing when undefined); no TCP. */
async function udpUpstream(reply: (query: Buffer) => Uint8Array | undefined): Promise<{ upstream: Upstream; socket: Socket; received: Buffer[] }> {
  const socket = createSocket("udp4");
  const received: Buffer[] = [];
  socket.on("message", (msg, peer) => {
    received.push(msg);
    const out = reply(msg);
    if (out) socket.send(out, peer.port, peer.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  return { upstream: { host: "127.0.0.1", port: socket.address().port }, socket, received };
}

describe("forwardQuery", () => {
  let fake: FakeUpstream;
  let fakeUp: Upstream;
  const sockets: Socket[] = [];
  before(async () => {
    fake = await startFakeUpstream();
    fakeUp = { host: "127.0.0.1", port: fake.port };
  });
  after(async () => {
    for (const s of sockets) s.close();
    await fake.close();
  });
  const silent = async (): Promise<Upstream> => {
    const u = await udpUpstream(() => undefined);
    sockets.push(u.socket);
    return u.upstream;
  };

  it("sends the packet as is and returns the upstream's reply, with the same ID", async () => {
    const query = encodeQuery({ id: 0x4242, name: "Example.ORG", type: RRType.A, ednsUdpSize: 1232 });
    const echo = await udpUpstream((q) => fakeAnswer(q, false, []));
    sockets.push(echo.socket);
    const m = decode(await forwardQuery(query, [echo.upstream]));
    assert.deepEqual(new Uint8Array(echo.received[0]!), query, "exactly the client's bytes");
    assert.equal(m.header.id, 0x4242);
    assert.deepEqual(m.answers.map((a) => formatAddress(a.data)), [FAKE_UPSTREAM_A]);
    const nx = decode(await forwardQuery(encodeQuery({ id: 2, name: "nx.example", type: RRType.A }), [fakeUp]));
    assert.equal(nx.rcode, Rcode.NXDOMAIN);
  });

  it("asks again over TCP when the UDP reply is truncated", async () => {
    const m = decode(await forwardQuery(encodeQuery({ id: 11, name: "tc.example", type: RRType.A }), [fakeUp]));
    assert.equal(m.header.tc, false);
    assert.equal(m.header.id, 11);
    assert.deepEqual(m.answers.map((a) => formatAddress(a.data)), [FAKE_UPSTREAM_A]);
    assert.ok(fake.queries.filter((q) => q === "tc.example").length >= 2, "asked over UDP, then TCP");
  });

  it("returns the truncated reply when TCP fails too", async () => {
    const udpOnly = await udpUpstream((q) => fakeAnswer(q, false, [])); // no TCP listener: refused
    sockets.push(udpOnly.socket);
    const started = Date.now();
    // A long deadline, so that waiting on the refused TCP (the fault looked for) is seconds away from the answer.
    const m = decode(await forwardQuery(encodeQuery({ id: 12, name: "tc.example", type: RRType.A }), [udpOnly.upstream], { timeoutMs: 20_000 }));
    assert.equal(m.header.tc, true);
    assert.equal(m.header.id, 12);
    assert.ok(Date.now() - started < 5000, "the refusal ends the TCP attempt at once");
  });

  it("skips an upstream that refuses and uses the next, at once", async () => {
    const started = Date.now();
    const upstreams = [{ host: "127.0.0.1", port: await closedPort() }, fakeUp];
    const m = decode(await forwardQuery(encodeQuery({ id: 1, name: "example.net", type: RRType.A }), upstreams, { timeoutMs: 20_000 }));
    assert.deepEqual(m.answers.map((a) => formatAddress(a.data)), [FAKE_UPSTREAM_A]);
    assert.ok(Date.now() - started < 5000, "ICMP port unreachable ends the attempt at once, not after its 10 s share");
  });

  it("gives a silent upstream its share of the deadline, then tries the next", async () => {
    const started = Date.now();
    const m = decode(await forwardQuery(encodeQuery({ id: 1, name: "example.net", type: RRType.A }), [await silent(), fakeUp], { timeoutMs: 4000 }));
    const elapsed = Date.now() - started;
    assert.deepEqual(m.answers.map((a) => formatAddress(a.data)), [FAKE_UPSTREAM_A]);
    // Its share is half the deadline (2 s); the whole deadline would leave nothing for the next. Timers only fire
    // late on a busy machine, so the bounds are far apart.
    assert.ok(elapsed >= 1900 && elapsed < 3500, `took ${elapsed} ms`);
  });

  it("gives up within the deadline (1.8 s) when every upstream is silent", async () => {
    const s = await silent();
    const started = Date.now();
    const reply = await forwardQuery(encodeQuery({ id: 1, name: "example.net", type: RRType.A }), [s, s]);
    const elapsed = Date.now() - started;
    assert.equal(reply, undefined);
    // Not a full deadline for each of the two (3.6 s); timers fire late on a busy machine, never early.
    assert.ok(elapsed >= 1700 && elapsed < 3000, `took ${elapsed} ms`);
  });

  it("ignores replies with another ID or question", async () => {
    const liar = await udpUpstream((q) => {
      const out = fakeAnswer(q, false, []);
      if (out) out[1] = out[1]! ^ 1;
      return out;
    });
    const otherName = await udpUpstream((q) => fakeAnswer(encodeQuery({ id: q.readUInt16BE(0), name: "other.example", type: RRType.A }), false, []));
    sockets.push(liar.socket, otherName.socket);
    const query = encodeQuery({ id: 0x100, name: "example.net", type: RRType.A });
    assert.equal(await forwardQuery(query, [liar.upstream], { timeoutMs: 300 }), undefined);
    assert.equal(await forwardQuery(query, [otherName.upstream], { timeoutMs: 300 }), undefined);
    assert.equal(liar.received.length, 1);
  });

  it("sends nothing for a packet that is not a single-question query", async () => {
    const watcher = await udpUpstream(() => undefined);
    sockets.push(watcher.socket);
    const response = fakeAnswer(encodeQuery({ id: 1, name: "example.net", type: RRType.A }), false, [])!;
    for (const bad of [new Uint8Array(0), new Uint8Array(7), response]) {
      assert.equal(await forwardQuery(bad, [watcher.upstream], { timeoutMs: 300 }), undefined);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(watcher.received.length, 0);
  });

  it("stops at once when aborted", async () => {
    const abort = new AbortController();
    const started = Date.now();
    const pending = forwardQuery(encodeQuery({ id: 1, name: "example.net", type: RRType.A }), [await silent(), await silent()], { signal: abort.signal, timeoutMs: 20_000 });
    setTimeout(() => abort.abort(), 100);
    assert.equal(await pending, undefined);
    assert.ok(Date.now() - started < 5000, "the abort ends it, not the 20 s deadline");
    assert.equal(await forwardQuery(encodeQuery({ id: 1, name: "example.net", type: RRType.A }), [fakeUp], { signal: abort.signal }), undefined);
  });

  it("returns undefined at once without upstreams", async () => {
    assert.equal(await forwardQuery(encodeQuery({ id: 1, name: "example.net", type: RRType.A }), []), undefined);
  });
});

describe("parseUpstream", () => {
  const cases: [string, Upstream | undefined][] = [
    ["192.0.2.1", { host: "192.0.2.1", port: 53 }],
    ["192.0.2.1:5353", { host: "192.0.2.1", port: 5353 }],
    ["2001:db8::1", { host: "2001:db8::1", port: 53 }],
    ["[2001:db8::1]:5353", { host: "2001:db8::1", port: 5353 }],
    ["[2001:db8::1]", { host: "2001:db8::1", port: 53 }],
    ["192.0.2.1:0", undefined],
    ["192.0.2.1:70000", undefined],
    ["dns.example", undefined],
    ["", undefined],
  ];
  for (const [text, expected] of cases) {
    it(JSON.stringify(text), () => assert.deepEqual(parseUpstream(text), expected));
  }
});
