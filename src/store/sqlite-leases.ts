// Lease timing for the embedded store. The SQLite file only records when each lease
// expires; this process is both the "server" that expires leases (a sweep timer deletes
// their keys, producing delete events, as etcd's lessor does) and the "client" that keeps
// its own leases alive (a refresh every ttl/3, as etcd clients do).
//
// Timers are unref'd: the store must not keep an otherwise finished process alive.

export interface LeaseTable {
  /** Pushes the lease's expiry ttl seconds ahead; false when the lease no longer exists. */
  refresh(leaseId: number, ttlSeconds: number): boolean;
  /** Revokes every lease whose expiry has passed; returns their ids. */
  expireDue(): number[];
}

interface KeptLease {
  timer: NodeJS.Timeout;
  onLost: () => void;
}

export class LeaseKeeper {
  readonly #table: LeaseTable;
  readonly #onError: (err: Error) => void;
  readonly #kept = new Map<number, KeptLease>();
  readonly #sweeper: NodeJS.Timeout;

  constructor(table: LeaseTable, options: { sweepIntervalMs: number; onError: (err: Error) => void }) {
    this.#table = table;
    this.#onError = options.onError;
    this.#sweeper = setInterval(() => this.sweep(), options.sweepIntervalMs);
    this.#sweeper.unref();
  }

  keepAlive(leaseId: number, ttlSeconds: number, onLost: () => void): void {
    if (this.#kept.has(leaseId)) return;
    const timer = setInterval(() => this.#refresh(leaseId, ttlSeconds), (ttlSeconds * 1000) / 3);
    timer.unref();
    this.#kept.set(leaseId, { timer, onLost });
    this.#refresh(leaseId, ttlSeconds);
  }

  /** Stops keeping a lease alive without reporting it lost (it was revoked on purpose). */
  forget(leaseId: number): void {
    const kept = this.#kept.get(leaseId);
    if (kept === undefined) return;
    clearInterval(kept.timer);
    this.#kept.delete(leaseId);
  }

  /** A lease kept alive here was revoked by someone else: report it lost (asynchronously, like an expiry). */
  revoked(leaseId: number): void {
    if (this.#kept.has(leaseId)) queueMicrotask(() => this.#lost(leaseId));
  }

  /** Expires due leases now; also run by the sweep timer. */
  sweep(): void {
    try {
      for (const leaseId of this.#table.expireDue()) this.#lost(leaseId);
    } catch (err) {
      this.#onError(err as Error);
    }
  }

  stop(): void {
    clearInterval(this.#sweeper);
    for (const leaseId of [...this.#kept.keys()]) this.forget(leaseId);
  }

  #refresh(leaseId: number, ttlSeconds: number): void {
    try {
      if (!this.#table.refresh(leaseId, ttlSeconds)) {
        // Delete its keys before reporting the loss, so whoever reacts sees them gone.
        this.sweep();
        this.#lost(leaseId);
      }
    } catch (err) {
      // The next refresh may succeed; if none does before the expiry, the sweep reports the loss.
      this.#onError(err as Error);
    }
  }

  #lost(leaseId: number): void {
    const kept = this.#kept.get(leaseId);
    if (kept === undefined) return;
    this.forget(leaseId);
    kept.onLost();
  }
}
