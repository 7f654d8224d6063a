import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ForwardRelay, RELAY_TIMEOUT_MS } from "./relay.js";

describe("ForwardRelay", () => {
  it("hands queries over with distinct ids and resolves each with its own reply", async () => {
    const sent: [number, Uint8Array][] = [];
    const relay = new ForwardRelay({ send: (id, packet) => (sent.push([id, packet]), true) });
    const a = relay.forward(Uint8Array.of(1));
    const b = relay.forward(Uint8Array.of(2));
    assert.equal(relay.inFlight, 2);
    assert.equal(sent.length, 2);
    const [[idA, packetA], [idB]] = sent as [[number, Uint8Array], [number, Uint8Array]];
    assert.notEqual(idA, idB);
    assert.deepEqual(packetA, Uint8Array.of(1));
    assert.equal(relay.settle(idB, Uint8Array.of(0xbb)), true);
    assert.equal(relay.settle(idA, undefined), true, "no packet: failed");
    assert.deepEqual(await b, Uint8Array.of(0xbb));
    assert.equal(await a, undefined);
    assert.equal(relay.settle(idA, Uint8Array.of(0xaa)), false, "a late reply is ignored");
    assert.equal(relay.settle(9999, Uint8Array.of(0xaa)), false, "an unknown id is ignored");
    assert.equal(relay.inFlight, 0);
  });

  it("gives up after the timeout (default about 2 s)", async () => {
    assert.ok(RELAY_TIMEOUT_MS >= 1900 && RELAY_TIMEOUT_MS <= 2200);
    const relay = new ForwardRelay({ send: () => true, timeoutMs: 100 });
    const started = Date.now();
    assert.equal(await relay.forward(Uint8Array.of(1)), undefined);
    assert.ok(Date.now() - started >= 90);
    assert.equal(relay.inFlight, 0);
  });

  it("fails at once when the query cannot be sent", async () => {
    const refusing = new ForwardRelay({ send: () => false });
    assert.equal(await refusing.forward(Uint8Array.of(1)), undefined);
    assert.equal(refusing.inFlight, 0);
    const throwing = new ForwardRelay({
      send: () => {
        throw new Error("channel closed");
      },
    });
    assert.equal(await throwing.forward(Uint8Array.of(1)), undefined);
    assert.equal(throwing.inFlight, 0);
  });

  it("is bounded: beyond maxInFlight a query fails at once; close() fails the rest", async () => {
    const sent: number[] = [];
    const relay = new ForwardRelay({ send: (id) => (sent.push(id), true), maxInFlight: 2 });
    const first = [relay.forward(Uint8Array.of(1)), relay.forward(Uint8Array.of(2))];
    assert.equal(await relay.forward(Uint8Array.of(3)), undefined);
    assert.equal(sent.length, 2, "the third was not sent");
    relay.close();
    assert.deepEqual(await Promise.all(first), [undefined, undefined]);
    assert.equal(relay.inFlight, 0);
  });
});
