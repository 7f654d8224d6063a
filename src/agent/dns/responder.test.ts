import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { formatAddress } from "./addresses.js";
import { decodeMessage, encodeQuery, Rcode, RRType, type DnsMessage } from "./message.js";
import { Responder, type Forwarder } from "./responder.js";
import { FAKE_UPSTREAM_A, fakeAnswer } from "./testing/fakeUpstream.js";

function decode(bytes: Uint8Array | undefined): DnsMessage {
  assert.ok(bytes, "a reply");
  const r = decodeMessage(bytes);
  assert.ok(r.ok, "the reply decodes");
  return r.message;
}

/** Answers like the fake upstream (over UDP, whole), and keeps what it was given. */
function fakeForwarder(): { forward: Forwarder; sent: Uint8Array[] } {
  const sent: Uint8Array[] = [];
  return {
    sent,
    forward: (packet) => {
      sent.push(Uint8Array.from(packet));
      return Promise.resolve(fakeAnswer(packet, false, []));
    },
  };
}

const records = { services: [{ name: "web", ipv4: ["10.254.0.1"], ipv6: [] }], groups: [], endpoints: [], domain: "blue.example" };

describe("Responder", () => {
  it("answers known names and hands the rest, bytes as received, to the forwarder", async () => {
    const fake = fakeForwarder();
    const responder = new Responder({ forward: fake.forward });
    responder.setRecords(records);
    responder.setForwarding(true);
    const own = decode(await responder.handle(encodeQuery({ id: 1, name: "web", type: RRType.A }), "udp"));
    assert.deepEqual(own.answers.map((a) => formatAddress(a.data)), ["10.254.0.1"]);
    assert.equal(fake.sent.length, 0, "own names are not forwarded");
    for (const transport of ["udp", "tcp"] as const) {
      const query = encodeQuery({ id: 0x4242, name: "Example.ORG", type: RRType.A });
      const m = decode(await responder.handle(query, transport));
      assert.deepEqual(fake.sent.at(-1), query, "the client's packet as is");
      assert.equal(m.header.id, 0x4242, "client's ID");
      assert.equal(m.header.aa, false);
      assert.deepEqual(m.answers.map((a) => formatAddress(a.data)), [FAKE_UPSTREAM_A]);
    }
    const nx = decode(await responder.handle(encodeQuery({ id: 2, name: "nx.example", type: RRType.A }), "udp"));
    assert.equal(nx.rcode, Rcode.NXDOMAIN);
    const ours = decode(await responder.handle(encodeQuery({ id: 3, name: "gone.blue.example", type: RRType.A }), "udp"));
    assert.equal(ours.rcode, Rcode.NXDOMAIN);
    assert.equal(ours.header.aa, true);
    assert.equal(fake.sent.length, 3);
    assert.equal(await responder.handle(new Uint8Array(3), "udp"), undefined);
    assert.deepEqual(responder.stats, { found: 1, notFound: 1, forwarded: 3, forwardFailed: 0, invalid: 1 });
  });

  it("answers REFUSED without upstreams, and forwards nothing", async () => {
    const fake = fakeForwarder();
    const responder = new Responder({ forward: fake.forward });
    const m = decode(await responder.handle(encodeQuery({ id: 5, name: "example.org", type: RRType.A }), "udp"));
    assert.equal(m.rcode, Rcode.REFUSED);
    assert.equal(fake.sent.length, 0);
    responder.setForwarding(true);
    responder.setForwarding(false);
    assert.equal(decode(await responder.handle(encodeQuery({ id: 6, name: "example.org", type: RRType.A }), "udp")).rcode, Rcode.REFUSED);
    assert.deepEqual(responder.stats, { found: 0, notFound: 2, forwarded: 0, forwardFailed: 0, invalid: 0 });
  });

  it("cuts an upstream reply too big for a UDP client, with TC; TCP gets it whole", async () => {
    const responder = new Responder({ forward: fakeForwarder().forward });
    responder.setForwarding(true);
    const udp = await responder.handle(encodeQuery({ id: 7, name: "big.example", type: RRType.A }), "udp");
    assert.ok(udp && udp.length <= 512);
    const m = decode(udp);
    assert.equal(m.header.tc, true);
    assert.equal(m.header.id, 7);
    assert.equal(m.questions[0]!.name, "big.example");
    assert.equal(m.answers.length, 0);
    const tcp = decode(await responder.handle(encodeQuery({ id: 8, name: "big.example", type: RRType.A }), "tcp"));
    assert.equal(tcp.answers.length, 60);
    const edns = decode(await responder.handle(encodeQuery({ id: 9, name: "big.example", type: RRType.A, ednsUdpSize: 4096 }), "udp"));
    assert.equal(edns.answers.length, 60, "EDNS clients get what they asked for from upstream");
  });

  it("answers SERVFAIL with the client's ID when the forward fails, throws or gives garbage", async () => {
    const failures: string[] = [];
    const outcomes: (() => Promise<Uint8Array | undefined>)[] = [
      () => Promise.resolve(undefined),
      () => Promise.reject(new Error("boom")),
      () => Promise.resolve(new Uint8Array(5)),
    ];
    let next = 0;
    const responder = new Responder({ forward: () => outcomes[next++]!(), onForwardFailure: (q) => failures.push(q) });
    responder.setForwarding(true);
    for (const [i, transport] of (["udp", "tcp", "udp"] as const).entries()) {
      const m = decode(await responder.handle(encodeQuery({ id: 100 + i, name: `f${i}.example`, type: RRType.A }), transport));
      assert.equal(m.rcode, Rcode.SERVFAIL);
      assert.equal(m.header.id, 100 + i);
      assert.equal(m.questions[0]!.name, `f${i}.example`);
    }
    assert.deepEqual(failures, ["f0.example", "f1.example", "f2.example"]);
    assert.deepEqual(responder.stats, { found: 0, notFound: 0, forwarded: 3, forwardFailed: 3, invalid: 0 });
  });

  it("answers SERVFAIL when forwarding is on but there is no forwarder", async () => {
    const responder = new Responder();
    responder.setForwarding(true);
    const m = decode(await responder.handle(encodeQuery({ id: 1, name: "example.net", type: RRType.A }), "udp"));
    assert.equal(m.rcode, Rcode.SERVFAIL);
    assert.equal(responder.stats.forwardFailed, 1);
  });
});
