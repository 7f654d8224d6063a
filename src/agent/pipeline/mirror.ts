// The agent's copy of its host's slice of netmaster's state, followed through the NDJSON stream
// (contract/stream.ts). It reconnects by itself, resuming from the last revision it holds whole and the
// stream epoch it had it from (netmaster decides whether that is safe); after a "reset" it replaces
// everything. Every record is checked as it arrives (contract/validate.ts): one that is not what its key
// says is kept apart, invisible to get and list, with the reason. Listeners hear about every applied batch;
// `synced` says the copy is complete at least once.

import type { MasterClient } from "../master-client.js";
import { sleep } from "../master-client.js";
import { EPOCH_HEADER, StreamEvent } from "../../contract/stream.js";
import { recordProblem } from "../../contract/validate.js";

export interface MirrorOptions {
  /** Whose slice to follow. */
  host: string;
  /** Every tenant, network and group object too (the Docker driver makes networks for them). */
  catalog: boolean;
}


export class StateMirror {
  private entries = new Map<string, unknown>();
  /** Entries being collected after a reset, swapped in at "synced". */
  private pending: Map<string, unknown> | undefined;
  /** Records that are not what their key says, with why (kept apart from `entries`). */
  private malformed = new Map<string, string>();
  private pendingMalformed: Map<string, string> | undefined;
  private revision = 0;
  /**
   * The newest revision whose events have all been applied: a write's events may arrive over several reads,
   * and only a later event, a ping or the end of a snapshot shows that the last one is whole.
   */
  private complete = 0;
  /** The epoch of the stream the revision came from ("" before the first stream). */
  private epoch = "";
  /** The epoch of the stream being read: it becomes `epoch` only with a revision applied from it. */
  private streamEpoch = "";
  private everSynced = false;
  private readonly listeners = new Set<() => void>();
  private readonly abort = new AbortController();
  private syncedWaiters: (() => void)[] = [];
  private revisionWaiters: { revision: number; resolve: () => void }[] = [];

  constructor(
    private readonly master: MasterClient,
    private readonly options: MirrorOptions,
    private readonly onError: (err: Error) => void = () => {},
    /** Called when a snapshot replaced the copy. */
    private readonly onSnapshot: () => void = () => {},
  ) {}

  get synced(): boolean {
    return this.everSynced;
  }

  get currentRevision(): number {
    return this.revision;
  }

  /** The last revision applied whole, and the stream epoch it came from (master/watch-stream.ts). */
  get completeRevision(): { revision: number; epoch: string } {
    return { revision: this.complete, epoch: this.epoch };
  }

  get<T>(key: string): T | undefined {
    return this.entries.get(key) as T | undefined;
  }

  /** Every key the copy holds, sorted. */
  keys(): string[] {
    return [...this.entries.keys()].sort();
  }

  /** Keys whose record is not what the key says, and why. */
  malformedRecords(): ReadonlyMap<string, string> {
    return this.malformed;
  }

  /** Values under prefix (unsorted). */
  list<T>(prefix: string): [string, T][] {
    const out: [string, T][] = [];
    for (const [k, v] of this.entries) if (k.startsWith(prefix)) out.push([k, v as T]);
    return out;
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Resolves once the copy holds its slice of `revision` whole (a write netmaster answered at that revision is
   * in it), or rejects after `timeoutMs`.
   */
  waitForRevision(revision: number, timeoutMs: number): Promise<void> {
    if (this.complete >= revision) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter = { revision, resolve: () => (clearTimeout(timer), resolve()) };
      const timer = setTimeout(() => {
        this.revisionWaiters = this.revisionWaiters.filter((w) => w !== waiter);
        reject(new Error(`netmaster's state stream did not reach revision ${revision} within ${timeoutMs / 1000} s (at ${this.complete})`));
      }, timeoutMs);
      this.revisionWaiters.push(waiter);
    });
  }

  private setComplete(revision: number): void {
    this.complete = revision;
    if (this.revisionWaiters.length === 0) return;
    const still: typeof this.revisionWaiters = [];
    for (const w of this.revisionWaiters) (w.revision <= revision ? w.resolve() : still.push(w));
    this.revisionWaiters = still;
  }

  waitSynced(): Promise<void> {
    if (this.everSynced) return Promise.resolve();
    return new Promise((resolve) => this.syncedWaiters.push(resolve));
  }

  start(): void {
    void this.run();
  }

  stop(): void {
    this.abort.abort();
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    let failures = 0;
    while (!signal.aborted) {
      try {
        await this.follow(signal);
        failures = 0;
      } catch (err) {
        if (signal.aborted) return;
        this.onError(err as Error);
        this.master.rotate();
        failures++;
      }
      await sleep(Math.min(5000, 200 * 2 ** Math.min(failures, 5)), signal);
    }
  }

  private async follow(signal: AbortSignal): Promise<void> {
    this.pending = undefined; // a snapshot cut short by a broken stream is discarded
    this.pendingMalformed = undefined;
    // From the last whole revision: a connection that broke among one write's events sends them all again.
    const query = new URLSearchParams({
      host: this.options.host,
      revision: String(this.complete),
      epoch: this.epoch,
      catalog: this.options.catalog ? "1" : "0",
    });
    const res = await this.master.open(`/api/v1/agent/watch?${query}`, signal);
    if (!res.ok || !res.body) throw new Error(`state stream refused: ${res.status} ${await res.text()}`);
    this.streamEpoch = res.headers.get(EPOCH_HEADER) ?? "";
    const decoder = new TextDecoder();
    let buffer = "";
    // A silent stream (no ping for three intervals) is a dead one.
    let lastData = Date.now();
    const watchdog = setInterval(() => {
      if (Date.now() - lastData > 30_000) void reader.cancel();
    }, 5000);
    const reader = res.body.getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        lastData = Date.now();
        buffer += decoder.decode(value, { stream: true });
        let nl: number;
        let changed = false;
        while ((nl = buffer.indexOf("\n")) >= 0) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 1);
          if (line.trim()) changed = this.apply(StreamEvent.parse(JSON.parse(line))) || changed;
        }
        if (changed) for (const l of this.listeners) l();
      }
    } finally {
      clearInterval(watchdog);
    }
  }

  /** An event of `revision`: a newer one shows that the revision before it is whole. */
  private advance(revision: number): void {
    if (revision > this.revision) this.setComplete(this.revision);
    this.setRevision(Math.max(this.revision, revision));
  }

  private setRevision(revision: number): void {
    this.revision = revision;
    this.epoch = this.streamEpoch;
  }

  /** Returns true when the visible state changed. */
  private apply(event: StreamEvent): boolean {
    switch (event.type) {
      case "reset":
        this.pending = new Map();
        this.pendingMalformed = new Map();
        return false;
      case "synced":
        if (this.pending) {
          this.entries = this.pending;
          this.malformed = this.pendingMalformed ?? new Map();
          this.pending = undefined;
          this.pendingMalformed = undefined;
          // The snapshot's revision, even a lower one (a restored store): resuming from a higher one would skip events.
          this.setRevision(event.revision);
          this.onSnapshot();
        } else {
          this.setRevision(Math.max(this.revision, event.revision));
        }
        this.setComplete(this.revision);
        if (!this.everSynced) {
          this.everSynced = true;
          for (const w of this.syncedWaiters) w();
          this.syncedWaiters = [];
        }
        return true;
      case "ping": {
        // Everything of this host's slice up to its revision has been sent: that revision is whole (the slice
        // may have had nothing newer). Listeners hear of it so that a sync that ran on half of a write is
        // followed by one that can say the whole write is applied.
        if (this.pending) return false;
        const revision = Math.max(this.revision, event.revision);
        if (this.complete === revision) return false;
        this.setRevision(revision);
        this.setComplete(revision);
        return true;
      }
      case "put": {
        const problem = recordProblem(event.key, event.value);
        const entries = this.pending ?? this.entries;
        const malformed = this.pendingMalformed ?? this.malformed;
        if (problem === undefined) {
          entries.set(event.key, event.value);
          malformed.delete(event.key);
        } else {
          entries.delete(event.key);
          malformed.set(event.key, problem);
        }
        if (!this.pending) this.advance(event.revision);
        return !this.pending;
      }
      case "delete":
        (this.pending ?? this.entries).delete(event.key);
        (this.pendingMalformed ?? this.malformed).delete(event.key);
        if (!this.pending) this.advance(event.revision);
        return !this.pending;
    }
  }
}
