// The lease and leader-election part of the Store conformance suite (see conformance.ts).
//
// TTLs are 1 s to keep the suite short; waits allow for the TTL plus the backend's expiry
// check (etcd's lessor and the SQLite sweep both run a few times a second).

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { waitFor } from "../../lib/wait.js";
import { LeaderElection } from "../leader.js";
import type { Store } from "../types.js";
import { recordEvents } from "./events.js";
import { withStore, type StoreFixture } from "./store-fixture.js";

export function describeLeaseConformance(name: string, fixture: StoreFixture): void {
  const run = (body: (store: Store, p: string) => Promise<void>) => () => withStore(fixture, body);

  describe(`${name}: leases`, () => {
    test("an expired lease deletes its keys, with delete events", run(async (store, p) => {
      const lease = await store.grantLease(1);
      const revision = await store.put(`${p}l/a`, "1", { lease: lease.id });
      await store.put(`${p}l/b`, "2", { lease: lease.id });
      await store.put(`${p}l/kept`, "3");
      assert.equal((await store.get(`${p}l/a`))?.lease, lease.id);
      const log = recordEvents(store, `${p}l/`, { fromRevision: revision });
      try {
        await waitFor(async () => (await store.get(`${p}l/a`)) === undefined, { timeoutMs: 4000, what: () => "the lease's keys did not expire" });
        assert.equal(await store.get(`${p}l/b`), undefined);
        assert.equal((await store.get(`${p}l/kept`))?.value, "3");
        const events = await log.waitForEvents(5);
        const deletes = events.filter((e) => e.type === "delete");
        assert.deepEqual(deletes.map((e) => e.key).sort(), [`${p}l/a`, `${p}l/b`]);
        assert.equal(deletes[0]?.revision, deletes[1]?.revision, "one revision for the whole expiry");
      } finally {
        log.watcher.close();
      }
    }));

    test("keepAlive keeps a lease and its keys past the TTL", run(async (store, p) => {
      const lease = await store.grantLease(1);
      let lost = false;
      lease.keepAlive(() => (lost = true));
      await store.put(`${p}k`, "v", { lease: lease.id });
      await sleep(2500);
      assert.equal((await store.get(`${p}k`))?.value, "v");
      assert.equal(lost, false);
      await lease.revoke();
    }));

    test("revoke deletes the keys at once, is idempotent and is not a loss", run(async (store, p) => {
      const lease = await store.grantLease(5);
      let lost = false;
      lease.keepAlive(() => (lost = true));
      await store.put(`${p}k`, "v", { lease: lease.id });
      await lease.revoke();
      assert.equal(await store.get(`${p}k`), undefined);
      await lease.revoke();
      await assert.rejects(store.put(`${p}k2`, "v", { lease: lease.id }));
      await sleep(300);
      assert.equal(lost, false);
    }));

    test("a lease revoked by someone else is reported lost to its keeper", run(async (store, p) => {
      const lease = await store.grantLease(3);
      let lost = 0;
      lease.keepAlive(() => (lost += 1));
      await store.put(`${p}k`, "v", { lease: lease.id });
      await fixture.revokeLease(store, lease.id);
      await waitFor(() => lost > 0, { timeoutMs: 3000, what: () => "onLost was not called" });
      assert.equal(await store.get(`${p}k`), undefined);
      await sleep(200);
      assert.equal(lost, 1, "onLost fires once");
    }));
  });

  describe(`${name}: leader election`, () => {
    const candidates = (store: Store, key: string, ids: string[]) =>
      ids.map((id) => {
        const events: string[] = [];
        const election = new LeaderElection({
          store, key, id, ttlSeconds: 1,
          onElected: () => events.push("elected"),
          onLostLeadership: () => events.push("lost"),
        });
        return { id, election, events };
      });
    const leaders = (all: ReturnType<typeof candidates>) => all.filter((c) => c.election.isLeader());

    test("of two candidates exactly one leads; on resign the other takes over", run(async (store, p) => {
      const all = candidates(store, `${p}leader`, ["http://a:9999", "http://b:9999"]);
      try {
        for (const c of all) c.election.start();
        const [first] = await waitFor(() => leaders(all).length === 1 && leaders(all), { what: () => "no single leader" });
        assert.ok(first);
        await sleep(300);
        assert.equal(leaders(all).length, 1, "still exactly one leader");
        assert.equal(await first.election.leader(), first.id);
        const other = all.find((c) => c !== first);
        assert.ok(other);
        assert.equal(await other.election.leader(), first.id, "followers read the leader's id");
        await first.election.resign();
        assert.deepEqual(first.events, ["elected", "lost"]);
        await waitFor(() => other.election.isLeader(), { timeoutMs: 3000, what: () => "the other candidate does not lead" });
        assert.equal(await other.election.leader(), other.id);
        assert.equal(first.election.isLeader(), false);
      } finally {
        await Promise.all(all.map((c) => c.election.resign()));
      }
    }));

    test("a leader whose lease is lost stops leading and the other takes over", run(async (store, p) => {
      const all = candidates(store, `${p}leader`, ["a", "b"]);
      try {
        for (const c of all) c.election.start();
        const [first] = await waitFor(() => leaders(all).length === 1 && leaders(all), { what: () => "no single leader" });
        assert.ok(first);
        const held = await store.get(`${p}leader`);
        assert.ok(held);
        await fixture.revokeLease(store, held.lease);
        await waitFor(() => first.events.includes("lost"), { timeoutMs: 3000, what: () => "the old leader did not notice" });
        const [next] = await waitFor(() => leaders(all).length === 1 && leaders(all), { timeoutMs: 3000, what: () => "no single new leader" });
        assert.ok(next);
        // The old leader campaigns again: it either won the race or follows; never two leaders.
        await sleep(300);
        assert.equal(leaders(all).length, 1);
      } finally {
        await Promise.all(all.map((c) => c.election.resign()));
      }
    }));

    test("aborting the signal resigns", run(async (store, p) => {
      const abort = new AbortController();
      const election = new LeaderElection({ store, key: `${p}leader`, id: "solo", ttlSeconds: 1, signal: abort.signal });
      election.start();
      await waitFor(() => election.isLeader(), { what: () => "not leading" });
      abort.abort();
      await waitFor(async () => (await election.leader()) === undefined, { timeoutMs: 3000, what: () => "the key was not released" });
      assert.equal(election.isLeader(), false);
      await election.resign();
    }));
  });
}
