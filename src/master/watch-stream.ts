// The state streams agents follow (contract/stream.ts), each carrying its host's slice only
// (contract/slices.ts). One hub per netmaster process, driven by the cache's change feed in revision order:
// every change goes to the hosts whose slice holds the record, and when a tenant's first endpoint arrives on
// a host the host gets the tenant's records, when its last leaves they are deleted there. So each change is
// sent to the hosts that need it (a tenant's few), not to the whole cluster.
//
// Each host has a feed that remembers its last lines (a bounded ring, in this process's memory), so an
// agent whose connection broke resumes from the last revision it holds whole, from this process (its
// epoch); anything else (a new netmaster process, a revision older than the ring) starts with a snapshot of
// the slice. Any replica serves streams (followers too): each has its own cache and hub.

import type { StreamingApi } from "hono/utils/stream";
import { projectForAgent, type Audience } from "../contract/slices.js";
import type { WatchEvent } from "../store/types.js";
import type { StateCache } from "./cache.js";
import { SliceIndex } from "./slices.js";

export const PING_INTERVAL_MS = 10_000;
/** Lines a feed keeps for resuming: beyond them a reconnecting agent takes a snapshot of its slice. */
const RING_LINES = 4096;

export interface ResumePoint {
  revision: number;
  epoch: string;
}

/** What the hub sent, for metrics: lines and bytes per connected stream. */
export interface StreamMeter {
  lines(count: number, bytes: number): void;
  snapshot(): void;
}

interface Subscriber {
  send(line: string): void;
}

/** One host's stream (with or without the catalog): its recent lines and who follows it. */
class Feed {
  private readonly ring: { revision: number; line: string }[] = [];
  /** No line after this revision was evicted: a copy at or past it can resume from the ring. */
  private resumableFrom: number;
  readonly subscribers = new Set<Subscriber>();
  /** Lines were sent since the last ping. */
  unpinged = false;

  constructor(
    readonly host: string,
    readonly catalog: boolean,
    createdAt: number,
  ) {
    this.resumableFrom = createdAt;
  }

  push(revision: number, line: string): void {
    this.ring.push({ revision, line });
    if (this.ring.length > RING_LINES) this.resumableFrom = this.ring.shift()!.revision;
    this.unpinged = true;
    for (const s of this.subscribers) s.send(line);
  }

  /** The lines after `revision`, or undefined when some may have been evicted. */
  since(revision: number): string[] | undefined {
    if (revision < this.resumableFrom) return undefined;
    return this.ring.filter((l) => l.revision > revision).map((l) => l.line);
  }

  /** Forgets what it remembered: nothing before `revision` can be resumed (the cache reloaded). */
  restart(revision: number): void {
    this.ring.length = 0;
    this.resumableFrom = revision;
  }
}

function putLine(key: string, value: unknown, revision: number): string {
  return `{"type":"put","revision":${revision},"key":${JSON.stringify(key)},"value":${JSON.stringify(projectForAgent(key, value))}}`;
}

function deleteLine(key: string, revision: number): string {
  return `{"type":"delete","revision":${revision},"key":${JSON.stringify(key)}}`;
}

export class StateStreams {
  private readonly index = new SliceIndex();
  private readonly feeds = new Map<string, Feed>();
  /** What agents last saw of each record they see only part of (projectForAgent), as JSON. */
  private readonly lastProjection = new Map<string, string>();
  private pinging = false;

  constructor(
    private readonly cache: StateCache,
    /** This process's epoch: only its own revisions are resumed. */
    readonly epoch: string,
  ) {
    this.rebuild();
    cache.onChange((event, value) => this.onChange(event, value));
    cache.onReload(() => this.reload());
  }

  /** Where each tenant is present: the hosts that must have its changes in force (realization). */
  hostsOf(tenant: string): string[] {
    return this.index.hostsOf(tenant);
  }

  /** Follows the host's slice until the client goes away (see the file comment for resume and snapshot). */
  async serve(host: string, catalog: boolean, from: ResumePoint, out: StreamingApi, meter: StreamMeter): Promise<void> {
    const feed = this.feed(host, catalog);
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    let closed = false;
    let tail: Promise<unknown> = Promise.resolve();
    const close = () => {
      if (closed) return;
      closed = true;
      feed.subscribers.delete(subscriber);
      finish();
    };
    // Lines are chained so they never interleave; a failed write means the client left.
    const subscriber: Subscriber = {
      send: (line) => {
        meter.lines(1, line.length + 1);
        tail = tail.then(() => (closed ? undefined : out.writeln(line))).catch(close);
      },
    };
    out.onAbort(close);
    const replay = from.epoch === this.epoch && from.revision <= this.cache.currentRevision ? feed.since(from.revision) : undefined;
    if (replay === undefined) {
      meter.snapshot();
      for (const line of this.snapshot(host, catalog)) subscriber.send(line);
    } else {
      for (const line of replay) subscriber.send(line);
      subscriber.send(this.ping());
    }
    feed.subscribers.add(subscriber);
    const ping = setInterval(() => subscriber.send(this.ping()), PING_INTERVAL_MS);
    await finished;
    clearInterval(ping);
  }

  private ping(): string {
    return `{"type":"ping","revision":${this.cache.currentRevision}}`;
  }

  private feed(host: string, catalog: boolean): Feed {
    const id = `${catalog ? "catalog" : "slice"}/${host}`;
    let feed = this.feeds.get(id);
    if (feed === undefined) this.feeds.set(id, (feed = new Feed(host, catalog, this.cache.currentRevision)));
    return feed;
  }

  private snapshot(host: string, catalog: boolean): string[] {
    const revision = this.cache.currentRevision;
    const lines = [`{"type":"reset","revision":${revision}}`];
    for (const key of this.index.sliceOf(host, catalog)) lines.push(putLine(key, this.cache.get(key)?.value, revision));
    lines.push(`{"type":"synced","revision":${revision}}`);
    return lines;
  }

  private rebuild(): void {
    this.lastProjection.clear();
    for (const [key, entry] of this.cache.list("")) {
      this.index.apply(key, entry.value);
      this.projected(key, entry.value);
    }
  }

  /** The cache was loaded afresh (compacted history, broken watch): every stream starts over from a snapshot. */
  private reload(): void {
    Object.assign(this, { index: new SliceIndex() });
    this.rebuild();
    for (const feed of this.feeds.values()) {
      feed.restart(this.cache.currentRevision);
      for (const s of feed.subscribers) for (const line of this.snapshot(feed.host, feed.catalog)) s.send(line);
    }
  }

  /** Feeds that hold a record with this audience. */
  private feedsOf(audience: Audience): Feed[] {
    const all = [...this.feeds.values()];
    switch (audience.kind) {
      case "none":
        return [];
      case "all":
        return all;
      case "host":
        return this.feedsOfHost(audience.host);
      case "tenant":
        return all.filter((f) => (audience.catalog && f.catalog) || this.index.isPresent(audience.tenant, f.host));
    }
  }

  private onChange(event: WatchEvent, value: unknown): void {
    const revision = event.revision;
    const key = event.key;
    const change = this.index.apply(key, event.type === "put" ? value : undefined);
    // Hosts that lose a tenant with this change get deletes for its records as they stood before it (this one
    // included when it is the tenant's), hosts that gain one get its records as they stand after it. A feed
    // that got this record's line so is handled; one that did not (the record is the host's own, as an address
    // block is) gets it below like any other.
    const handled = new Set<Feed>();
    for (const { tenant, host } of change.lost) {
      const keys = this.index.keysOfTenant(tenant);
      if (change.before.kind === "tenant" && change.before.tenant === tenant && !keys.includes(key)) keys.push(key);
      for (const feed of this.feedsOfHost(host)) {
        if (keys.includes(key)) handled.add(feed);
        for (const k of keys) if (!(feed.catalog && this.index.isCatalog(k))) feed.push(revision, deleteLine(k, revision));
      }
    }
    for (const { tenant, host } of change.gained) {
      for (const feed of this.feedsOfHost(host)) {
        const keys = this.index.keysOfTenant(tenant, !feed.catalog);
        if (keys.includes(key)) handled.add(feed);
        for (const k of keys) feed.push(revision, putLine(k, this.cache.get(k)?.value, revision));
      }
    }
    const now = new Set(this.feedsOf(change.after));
    // A record agents see only part of (a network's tags, not its allocators) changes for them only when that part does.
    const seen = this.projected(key, event.type === "put" ? value : undefined);
    if (event.type === "put" && seen.changed) {
      const line = putLine(key, value, revision);
      for (const feed of now) if (!handled.has(feed)) feed.push(revision, line);
    }
    // Feeds that held it and no longer do (deleted, or it left their slice) get a delete.
    const line = deleteLine(key, revision);
    for (const feed of this.feedsOf(change.before)) if (!handled.has(feed) && !(event.type === "put" && now.has(feed))) feed.push(revision, line);
    this.schedulePing();
  }

  /** Whether what agents see of the record changed; remembers it for records they see only part of. */
  private projected(key: string, value: unknown): { changed: boolean } {
    if (value === undefined) {
      this.lastProjection.delete(key);
      return { changed: true };
    }
    const projection = projectForAgent(key, value);
    if (projection === value) return { changed: true };
    const text = JSON.stringify(projection);
    const changed = this.lastProjection.get(key) !== text;
    this.lastProjection.set(key, text);
    return { changed };
  }

  private feedsOfHost(host: string): Feed[] {
    return [...this.feeds.values()].filter((f) => f.host === host);
  }

  /** A store delivers one write's events together: a ping in the next turn says they were all sent. */
  private schedulePing(): void {
    if (this.pinging) return;
    this.pinging = true;
    setImmediate(() => {
      this.pinging = false;
      const line = this.ping();
      for (const feed of this.feeds.values()) {
        if (!feed.unpinged) continue;
        feed.unpinged = false;
        for (const s of feed.subscribers) s.send(line);
      }
    });
  }
}
