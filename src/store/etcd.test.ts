import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Etcd3 } from "etcd3";
import { UpstreamError } from "../lib/errors.js";
import { waitFor } from "../lib/wait.js";
import { runStoreConformance } from "./testing/conformance.js";
import { EtcdStore } from "./etcd.js";
import { LeaderElection } from "./leader.js";
import { startEtcd, type EtcdCluster } from "./testing/etcd.js";
import { uniquePrefix } from "./testing/store-fixture.js";
import { recordEvents } from "./testing/events.js";

let etcd: EtcdCluster;
before(async () => {
  etcd = await startEtcd({ members: 1 });
});
after(() => etcd?.stop());

runStoreConformance("etcd", {
  open: async () => new EtcdStore({ endpoints: etcd.endpoints }),
  compact: (store, revision) => (store as EtcdStore).compact(revision),
  // Through a second client, as another process would.
  revokeLease: async (_store, leaseId) => {
    const other = new EtcdStore({ endpoints: etcd.endpoints });
    try {
      await other.revokeLease(leaseId);
    } finally {
      await other.close();
    }
  },
});

describe("etcd: leader election between processes", () => {
  test("when the leader's process dies, the other candidate leads within about the TTL", async () => {
    const key = `${uniquePrefix()}leader`;
    const stores = [new EtcdStore({ endpoints: etcd.endpoints }), new EtcdStore({ endpoints: etcd.endpoints })];
    const elections = stores.map((store, i) => new LeaderElection({ store, key, id: `candidate-${i}`, ttlSeconds: 1 }));
    try {
      for (const election of elections) election.start();
      const leaderIndex = await waitFor(() => {
        const leading = elections.flatMap((e, i) => (e.isLeader() ? [i] : []));
        return leading.length === 1 ? leading[0] : undefined;
      }, { what: () => "no leader" });
      const survivor = elections[1 - leaderIndex] as LeaderElection;
      // Closing the store stops its keep-alives without revoking: to etcd, the process is gone.
      await stores[leaderIndex]?.close();
      // Well past the 1 s TTL, for a busy machine; a survivor that waits on anything but the lease never leads.
      await waitFor(() => survivor.isLeader(), { timeoutMs: 10_000, what: () => "the survivor does not lead" });
      assert.equal(await survivor.leader(), `candidate-${1 - leaderIndex}`);
    } finally {
      await elections[0]?.resign().catch(() => undefined);
      await elections[1]?.resign().catch(() => undefined);
      for (const store of stores) await store.close();
    }
  });
});

describe("etcd: unreachable", () => {
  test("calls fail fast with an UpstreamError naming the endpoint", async () => {
    // A port from a stopped single-member cluster: nothing listens there any more.
    const gone = await startEtcd({ members: 1 });
    await gone.stop();
    const store = new EtcdStore({ endpoints: gone.endpoints, callTimeoutMs: 1000, watchReconnectTimeoutMs: 500 });
    try {
      const started = Date.now();
      await assert.rejects(store.put("/k", "v"), (err: Error) => {
        assert.ok(err instanceof UpstreamError);
        assert.ok(err.message.startsWith(`Cannot reach etcd at ${gone.endpoints[0]}: put "/k" failed: `), err.message);
        assert.ok(err.cause instanceof Error);
        return true;
      });
      assert.ok(Date.now() - started < 5000);
      const log = recordEvents(store, "/");
      const err = await log.waitForError(5000);
      assert.ok(err instanceof UpstreamError, err.message);
      assert.match(err.message, /^Cannot reach etcd at /);
    } finally {
      await store.close();
    }
  });
});

describe("etcd: three-member cluster", () => {
  let cluster: EtcdCluster;
  before(async () => {
    cluster = await startEtcd({ members: 3 });
  });
  after(() => cluster?.stop());

  test("keeps serving reads, writes and watches when its raft leader is killed", async () => {
    const store = new EtcdStore({ endpoints: cluster.endpoints });
    const p = uniquePrefix();
    try {
      const first = await store.put(`${p}before`, "1");
      const log = recordEvents(store, p, { fromRevision: first });
      await log.waitForEvents(1);

      cluster.kill(await raftLeaderIndex(cluster.endpoints));

      // A new raft leader is elected within about a second (500 ms election timeout).
      await waitFor(() => store.put(`${p}after`, "2").then(() => true, () => false), { timeoutMs: 30_000, what: () => "no write succeeded" });
      assert.deepEqual((await store.list(p)).items.map((kv) => kv.key), [`${p}after`, `${p}before`]);
      const txn = await store.txn([{ key: `${p}before`, target: "value", equals: "1" }], [{ type: "delete", key: `${p}before` }]);
      assert.equal(txn.succeeded, true);
      const events = await log.waitForEvents(3, 10_000);
      assert.deepEqual(events.map((e) => `${e.type} ${e.key.slice(p.length)}`), ["put before", "put after", "delete before"]);
      assert.deepEqual(log.errors, []);
      log.watcher.close();
    } finally {
      await store.close();
    }
  });
});

async function raftLeaderIndex(endpoints: string[]): Promise<number> {
  const client = new Etcd3({ hosts: endpoints.map((e) => `http://${e}`) });
  try {
    for (let i = 0; i < endpoints.length; i++) {
      const one = new Etcd3({ hosts: `http://${endpoints[i]}` });
      try {
        const status = await one.maintenance.status();
        if (status.leader === status.header.member_id) return i;
      } finally {
        one.close();
      }
    }
  } finally {
    client.close();
  }
  throw new Error("No etcd member reports itself as raft leader");
}
