// DhcpLeases' bookkeeping with lease clients that the test starts and ends by hand (lease.test.ts runs the
// real udhcpc against dnsmasq): a DEL racing its ADD's first lease, a lease lost and back, an address moved,
// and a client that ended asked for again until the endpoint is released.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import pino from "pino";
import type { Lease, LeaseClient, LeaseClientOptions } from "./lease.js";
import { DhcpLeases, LeaseReleased, type LeaseOwner } from "./leases.js";

interface Started {
  options: LeaseClientOptions;
  client: { lease: Lease | undefined; stopped: boolean; stop(): Promise<void>; abandon(): Promise<void> };
  /** Ends start() with the first lease, or with an error. */
  bind(ip: string): void;
  fail(why: string): void;
}

function lease(ip: string): Lease {
  return { ip, prefixLength: 24, leaseSeconds: 120, serverId: "198.18.9.254" };
}

function harness() {
  const started: Started[] = [];
  const moved: { owner: LeaseOwner; lease: Lease }[] = [];
  let problems = 0;
  const leases = new DhcpLeases({
    scriptDir: "/nonexistent",
    log: pino({ level: "silent" }),
    onAddress: (owner, l) => moved.push({ owner, lease: l }),
    onProblem: () => problems++,
    start: (options) =>
      new Promise<LeaseClient>((resolve, reject) => {
        const client: Started["client"] = {
          lease: undefined,
          stopped: false,
          stop: async () => void (client.stopped = true),
          abandon: async () => void (client.stopped = true),
        };
        started.push({
          options,
          client,
          bind: (ip) => {
            client.lease = lease(ip);
            resolve(client as unknown as LeaseClient);
          },
          fail: (why) => reject(new Error(why)),
        });
      }),
  });
  return { leases, started, moved, problems: () => problems };
}

const owner: LeaseOwner = { endpointId: "ep1", tenant: "t", network: "n", netns: "/run/netns/x", ifname: "eth0" };
const settle = () => new Promise((r) => setImmediate(r));

describe("DhcpLeases", () => {
  it("a release while the first lease is awaited stops the client it brings, and the acquire fails", async () => {
    const h = harness();
    const acquiring = h.leases.acquire(owner);
    await settle();
    await h.leases.release(owner.endpointId);
    h.started[0]!.bind("198.18.9.5");
    await assert.rejects(acquiring, LeaseReleased);
    assert.equal(h.started[0]!.client.stopped, true, "the late client was stopped (its lease released)");
    assert.equal(h.leases.has(owner.endpointId), false);
  });

  it("a release while the client fails to start: the acquire reports the release, nothing is held", async () => {
    const h = harness();
    const acquiring = h.leases.acquire(owner);
    await settle();
    await h.leases.release(owner.endpointId);
    h.started[0]!.fail("no answer");
    await assert.rejects(acquiring, LeaseReleased);
    assert.equal(h.leases.has(owner.endpointId), false);
  });

  it("a lease lost is the endpoint's failure until it is back; another address goes to onAddress", async () => {
    const h = harness();
    const acquiring = h.leases.acquire(owner);
    await settle();
    h.started[0]!.bind("198.18.9.5");
    assert.equal((await acquiring).ip, "198.18.9.5");
    h.leases.recorded(owner.endpointId, "198.18.9.5");
    const { onEvent } = h.started[0]!.options;
    onEvent!({ kind: "nak" });
    assert.match(h.leases.failures()[0]!.message, /DHCP lease of 198\.18\.9\.5 lost \(nak\)/);
    assert.equal(h.problems(), 1);
    onEvent!({ kind: "bound", lease: lease("198.18.9.5") });
    assert.deepEqual(h.leases.failures(), []);
    assert.equal(h.problems(), 2);
    assert.equal(h.moved.length, 0);
    onEvent!({ kind: "renew", lease: lease("198.18.9.7") });
    assert.deepEqual(
      h.moved.map((m) => m.lease.ip),
      ["198.18.9.7"],
    );
    await h.leases.release(owner.endpointId);
    onEvent!({ kind: "nak" });
    assert.deepEqual(h.leases.failures(), [], "events after the release are moot");
  });

  it("a client that ended is started again for the recorded address until the endpoint is released", async (t) => {
    t.mock.timers.enable({ apis: ["setTimeout"] });
    const h = harness();
    const acquiring = h.leases.acquire(owner);
    await settle();
    h.started[0]!.bind("198.18.9.5");
    await acquiring;
    h.leases.recorded(owner.endpointId, "198.18.9.5");
    h.started[0]!.options.onExit!(1);
    assert.match(h.leases.failures()[0]!.message, /lease client ended \(1\)/);
    t.mock.timers.tick(10_000);
    await settle();
    assert.equal(h.started.length, 2);
    assert.equal(h.started[1]!.options.requestIp, "198.18.9.5");
    h.started[1]!.fail("no answer");
    await settle();
    assert.match(h.leases.failures()[0]!.message, /no server answers/);
    assert.equal(h.leases.has(owner.endpointId), true, "still held: a release stops the retries");
    t.mock.timers.tick(10_000);
    await settle();
    assert.equal(h.started.length, 3);
    // The DEL comes while the third client starts: it is stopped and no fourth one comes.
    await h.leases.release(owner.endpointId);
    h.started[2]!.bind("198.18.9.5");
    await settle();
    assert.equal(h.started[2]!.client.stopped, true);
    t.mock.timers.tick(30_000);
    await settle();
    assert.equal(h.started.length, 3);
    assert.deepEqual(h.leases.failures(), []);
  });
});
