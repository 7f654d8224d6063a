import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { parseUpstream, type Upstream } from "./forward.js";
import { formatAddress } from "./addresses.js";
import { decodeMessage, encodeQuery, Rcode, RRType, type DnsMessage } from "./message.js";
import { Responder } from "./responder.js";
import { FAKE_UPSTREAM_A, startFakeUpstream, type FakeUpstream } from "./testing/fakeUpstream.js";

function decode(bytes: Uint8Array | undefined): DnsMessage {
  assert.ok(bytes, "a reply");
  const r = decodeMessage(bytes);
  assert.ok(r.ok, "the reply decodes");
  return r.message;
}

/** A UDP port on 127.0.0.1 with nobody behind it: sends get ICMP port unreachable. */
async function closedPort(): Promise<number> {
  const s = createSocket("udp4");
  await new Promise<void>((resolve) => s.bind(0, "127.0.0.1", resolve));
  const port = s.address().port;
  await new Promise<void>((resolve) => s.close(resolve));
  return port;
}

/** A UDP socket that swallows everything. */
async function silentUpstream(): Promise<{ upstream: Upstream; close: () => void }> {
  const s = createSocket("udp4");
  await new Promise<void>((resolve) => s.bind(0, "127.0.0.1", resolve));
  return { upstream: { host: "127.0.0.1", port: s.address().port }, close: () => s.close() };
}

describe("Responder", () => {
  let fake: FakeUpstream;
  before(async () => {
    fake = await startFakeUpstream();
  });
  after(async () => {
    await fake.close();
  });

  const records = { services: [{ name: "web", ipv4: ["10.254.0.1"], ipv6: [] }], groups: [], endpoints: [], domain: "blue.example" };

  it("answers known names and forwards the rest over the client's transport", async () => {
    const responder = new Responder();
    responder.setRecords(records);
    responder.setUpstreams([{ host: "127.0.0.1", port: fake.port }]);
    const own = decode(await responder.handle(encodeQuery({ id: 1, name: "web", type: RRType.A }), "udp"));
    assert.deepEqual(own.answers.map((a) => formatAddress(a.data)), ["10.254.0.1"]);
    for (const transport of ["udp", "tcp"] as const) {
      const m = decode(await responder.handle(encodeQuery({ id: 0x4242, name: "Example.ORG", type: RRType.A }), transport));
      assert.equal(m.header.id, 0x4242, "client's ID restored");
      assert.equal(m.header.aa, false);
      assert.deepEqual(m.answers.map((a) => formatAddress(a.data)), [FAKE_UPSTREAM_A]);
    }
    const nx = decode(await responder.handle(encodeQuery({ id: 2, name: "nx.example", type: RRType.A }), "udp"));
    assert.equal(nx.rcode, Rcode.NXDOMAIN);
    const ours = decode(await responder.handle(encodeQuery({ id: 3, name: "gone.blue.example", type: RRType.A }), "udp"));
    assert.equal(ours.rcode, Rcode.NXDOMAIN);
    assert.equal(ours.header.aa, true);
    assert.equal(await responder.handle(new Uint8Array(3), "udp"), undefined);
    assert.deepEqual(responder.stats, { found: 1, notFound: 1, forwarded: 3, forwardFailed: 0, invalid: 1 });
  });

  it("cuts an upstream UDP reply too big for the client, with TC; TCP gets it whole", async () => {
    const responder = new Responder();
    responder.setUpstreams([{ host: "127.0.0.1", port: fake.port }]);
    const udp = await responder.handle(encodeQuery({ id: 7, name: "big.example", type: RRType.A }), "udp");
    assert.ok(udp && udp.length <= 512);
    const m = decode(udp);
    assert.equal(m.header.tc, true);
    assert.equal(m.header.id, 7);
    assert.equal(m.questions[0]!.name, "big.example");
    const tcp = decode(await responder.handle(encodeQuery({ id: 8, name: "big.example", type: RRType.A }), "tcp"));
    assert.equal(tcp.answers.length, 60);
    const edns = decode(await responder.handle(encodeQuery({ id: 9, name: "big.example", type: RRType.A, ednsUdpSize: 4096 }), "udp"));
    assert.equal(edns.answers.length, 60, "EDNS clients get what they asked for from upstream");
  });

  it("skips an upstream that refuses and uses the next", async () => {
    const responder = new Responder();
    responder.setUpstreams([{ host: "127.0.0.1", port: await closedPort() }, { host: "127.0.0.1", port: fake.port }]);
    const started = Date.now();
    const m = decode(await responder.handle(encodeQuery({ id: 1, name: "example.net", type: RRType.A }), "udp"));
    assert.deepEqual(m.answers.map((a) => formatAddress(a.data)), [FAKE_UPSTREAM_A]);
    assert.ok(Date.now() - started < 500, "ICMP port unreachable ends the attempt at once");
  });

  it("answers SERVFAIL at once when the only upstream refuses", async () => {
    const responder = new Responder();
    responder.setUpstreams([{ host: "127.0.0.1", port: await closedPort() }]);
    const started = Date.now();
    const m = decode(await responder.handle(encodeQuery({ id: 1, name: "example.net", type: RRType.A }), "udp"));
    assert.equal(m.rcode, Rcode.SERVFAIL);
    assert.ok(Date.now() - started < 500);
    assert.equal(responder.stats.forwardFailed, 1);
  });

  it("answers SERVFAIL within about 2 s when upstreams stay silent", async () => {
    const silent = await silentUpstream();
    try {
      const responder = new Responder();
      responder.setUpstreams([silent.upstream, silent.upstream]);
      const failures: string[] = [];
      const r2 = new Responder({ onForwardFailure: (q) => failures.push(q) });
      r2.setUpstreams([silent.upstream]);
      const started = Date.now();
      const [a, b] = await Promise.all([
        responder.handle(encodeQuery({ id: 1, name: "example.net", type: RRType.A }), "udp"),
        r2.handle(encodeQuery({ id: 2, name: "silent.example", type: RRType.A }), "tcp"),
      ]);
      const elapsed = Date.now() - started;
      assert.equal(decode(a).rcode, Rcode.SERVFAIL);
      assert.equal(decode(b).rcode, Rcode.SERVFAIL);
      assert.ok(elapsed >= 1500 && elapsed < 2500, `took ${elapsed} ms`);
      assert.deepEqual(failures, ["silent.example"]);
    } finally {
      silent.close();
    }
  });

  it("answers SERVFAIL at once beyond the in-flight limit", async () => {
    const responder = new Responder({ maxInFlight: 0 });
    responder.setUpstreams([{ host: "127.0.0.1", port: fake.port }]);
    const m = decode(await responder.handle(encodeQuery({ id: 1, name: "example.net", type: RRType.A }), "udp"));
    assert.equal(m.rcode, Rcode.SERVFAIL);
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
