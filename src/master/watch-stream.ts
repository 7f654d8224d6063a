// The state stream agents follow: newline-delimited JSON over a long-lived
// HTTP response. It starts with a snapshot ("reset", one "put" per key,
// "synced") unless the agent resumes from a revision the store still has, then
// carries every change in revision order, and a "ping" now and then so both
// ends notice a dead connection. Any replica serves it (followers too).

import type { StreamingApi } from "hono/utils/stream";
import { CompactedError, type Store, type WatchEvent } from "../store/types.js";
import type { StateCache } from "./cache.js";
import { ROOT } from "./keys.js";

export const PING_INTERVAL_MS = 10_000;
export const EPOCH_HEADER = "netplugin-stream-epoch";

/** What the serving process knows about the history it streams. */
export interface StreamHistory {
  /** Names this process's stream; agents resume within it. */
  epoch: string;
  /** The store's revision when this process opened it. */
  startRevision: number;
}

/** Where an agent asks to resume: the last revision it applied and the epoch it had it from ("" for none). */
export interface ResumePoint {
  revision: number;
  epoch: string;
}

/** Whether the agent's copy is known to be a prefix of the store's history, so the stream may skip the snapshot. */
export function canResume(from: ResumePoint, history: StreamHistory, currentRevision: number): boolean {
  if (from.revision <= 0 || from.revision > currentRevision) return false;
  return from.epoch === history.epoch || from.revision <= history.startRevision;
}

function putLine(key: string, valueJson: string, revision: number): string {
  return `{"type":"put","revision":${revision},"key":${JSON.stringify(key)},"value":${valueJson}}`;
}

function eventLine(event: WatchEvent): string {
  if (event.type === "put") return putLine(event.key, event.value, event.revision);
  return `{"type":"delete","revision":${event.revision},"key":${JSON.stringify(event.key)}}`;
}

/** Streams state changes after the resume point (or a snapshot first) until the client goes away. */
export async function streamState(store: Store, cache: StateCache, history: StreamHistory, from: ResumePoint, out: StreamingApi): Promise<void> {
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  let closed = false;
  let watcher: { close(): void } | undefined;
  const close = () => {
    if (closed) return;
    closed = true;
    watcher?.close();
    finish();
  };
  // Writes are chained so lines never interleave; a failed write means the client left.
  let tail: Promise<unknown> = Promise.resolve();
  const send = (line: string) => {
    tail = tail.then(() => (closed ? undefined : out.writeln(line))).catch(close);
  };

  const snapshot = (): number => {
    const revision = cache.currentRevision;
    send(`{"type":"reset","revision":${revision}}`);
    for (const [key, entry] of cache.list(ROOT)) send(putLine(key, JSON.stringify(entry.value), entry.modRevision));
    send(`{"type":"synced","revision":${revision}}`);
    return revision;
  };

  const follow = (from: number) => {
    watcher = store.watch(
      ROOT,
      (event) => send(eventLine(event)),
      (err) => {
        if (closed) return;
        // History gone: start over with a snapshot; anything else ends the stream and the agent reconnects.
        if (err instanceof CompactedError) follow(snapshot() + 1);
        else close();
      },
      { fromRevision: from },
    );
  };

  out.onAbort(close);
  // An agent coming from another replica, or that saw revisions a restored store never had, starts over:
  // heavier, never wrong.
  follow(canResume(from, history, cache.currentRevision) ? from.revision + 1 : snapshot() + 1);
  const ping = setInterval(() => send(`{"type":"ping","revision":${cache.currentRevision}}`), PING_INTERVAL_MS);
  await finished;
  clearInterval(ping);
}
