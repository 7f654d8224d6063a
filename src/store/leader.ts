// Leader election over the generic Store, so it works on SQLite and etcd alike.
//
// A candidate holds a lease (kept alive) and tries "put key=id with my lease if the key is
// absent" (modRevision == 0). Whoever's lease the key carries leads. The others watch the
// key and try again when it is deleted, which etcd (and the SQLite store) do when the
// leader's lease expires or is revoked: a killed leader is replaced within its TTL.
//
// The loop is level-triggered: after every attempt and every change of the key it reads the
// key and derives "am I leader" from it, rather than tracking transitions. Leadership ends
// when the key stops carrying our lease, or when our lease is lost (keep-alive failed for a
// TTL, e.g. a partition from etcd); the candidate then campaigns again with a new lease.

import { errorMessage } from "../lib/errors.js";
import { CompactedError, type Lease, type Store, type WatchEvent } from "./types.js";

export interface LeaderElectionOptions {
  store: Store;
  /** The key the leader holds, e.g. "/netmaster/leader". */
  key: string;
  /** This candidate's identity, stored as the key's value (e.g. its URL "http://10.0.0.1:9999"). */
  id: string;
  /** Lease TTL: how long a dead leader keeps the key. Default 5 s. */
  ttlSeconds?: number;
  /** Aborting stops campaigning and resigns. */
  signal?: AbortSignal;
  onElected?: () => void;
  onLostLeadership?: () => void;
  /** Store failures while campaigning; the campaign retries after retryDelayMs. */
  onError?: (err: Error) => void;
  /** Pause after a store failure. Default 500 ms. */
  retryDelayMs?: number;
}

export class LeaderElection {
  readonly #opts: LeaderElectionOptions;
  readonly #ttlSeconds: number;
  #leader = false;
  #campaign: { stop: AbortController; done: Promise<void> } | undefined;

  constructor(options: LeaderElectionOptions) {
    this.#opts = options;
    this.#ttlSeconds = options.ttlSeconds ?? 5;
    options.signal?.addEventListener("abort", () => void this.resign().catch(() => undefined), { once: true });
  }

  /** Starts campaigning in the background. Idempotent; no-op once the signal is aborted. */
  start(): void {
    if (this.#campaign !== undefined || this.#opts.signal?.aborted) return;
    const stop = new AbortController();
    const done = this.#campaignLoop(stop.signal);
    this.#campaign = { stop, done };
  }

  isLeader(): boolean {
    return this.#leader;
  }

  /** The current leader's id, read from the store; undefined when nobody leads. */
  async leader(): Promise<string | undefined> {
    return (await this.#opts.store.get(this.#opts.key))?.value;
  }

  /** Stops campaigning and revokes the lease, so another candidate can lead at once. start() campaigns again. */
  async resign(): Promise<void> {
    const campaign = this.#campaign;
    if (campaign === undefined) return;
    campaign.stop.abort();
    await campaign.done;
    if (this.#campaign === campaign) this.#campaign = undefined;
  }

  async #campaignLoop(stop: AbortSignal): Promise<void> {
    while (!stop.aborted) {
      let lease: Lease | undefined;
      const leaseLost = new AbortController();
      try {
        lease = await this.#opts.store.grantLease(this.#ttlSeconds);
        lease.keepAlive(() => leaseLost.abort());
        await this.#campaignWith(lease, AbortSignal.any([stop, leaseLost.signal]));
      } catch (err) {
        if (!stop.aborted) {
          this.#opts.onError?.(err instanceof Error ? err : new Error(errorMessage(err)));
          await sleep(this.#opts.retryDelayMs ?? 500, stop);
        }
      } finally {
        this.#setLeader(false);
        // Resigning, lease lost or store failure: either way this lease is done. Revoking frees
        // the key now rather than after the TTL (and is harmless for a lease already gone).
        await lease?.revoke().catch(() => undefined);
      }
    }
  }

  /** Campaigns with one lease until done is aborted (resign or lease lost) or the store fails. */
  async #campaignWith(lease: Lease, done: AbortSignal): Promise<void> {
    const { store, key, id } = this.#opts;
    while (!done.aborted) {
      await store.txn(
        [{ key, target: "modRevision", equals: 0 }],
        [{ type: "put", key, value: id, lease: lease.id }],
      );
      if (done.aborted) return;
      const { items, revision } = await store.list(key);
      const holder = items.find((kv) => kv.key === key);
      this.#setLeader(holder !== undefined && holder.lease === lease.id);
      if (holder === undefined) continue;
      try {
        await this.#nextChange(revision + 1, done);
      } catch (err) {
        // History compacted under us: nothing is lost, the next round re-reads the key.
        if (!(err instanceof CompactedError)) throw err;
      }
    }
  }

  /** Resolves on the next change of the key after fromRevision, on abort, or rejects when the watch fails. */
  #nextChange(fromRevision: number, done: AbortSignal): Promise<void> {
    const { store, key } = this.#opts;
    return new Promise<void>((resolve, reject) => {
      if (done.aborted) return resolve();
      const finish = (err?: Error) => {
        watcher.close();
        done.removeEventListener("abort", onAbort);
        if (err === undefined) resolve();
        else reject(err);
      };
      const onAbort = () => finish();
      // The watch is on a prefix: ignore children such as "<key>/x".
      const onEvent = (event: WatchEvent) => {
        if (event.key === key) finish();
      };
      const watcher = store.watch(key, onEvent, (err) => finish(err), { fromRevision });
      done.addEventListener("abort", onAbort, { once: true });
    });
  }

  #setLeader(leader: boolean): void {
    if (leader === this.#leader) return;
    this.#leader = leader;
    if (leader) this.#opts.onElected?.();
    else this.#opts.onLostLeadership?.();
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}
