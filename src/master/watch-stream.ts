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

function putLine(key: string, valueJson: string, revision: number): string {
  return `{"type":"put","revision":${revision},"key":${JSON.stringify(key)},"value":${valueJson}}`;
}

function eventLine(event: WatchEvent): string {
  if (event.type === "put") return putLine(event.key, event.value, event.revision);
  return `{"type":"delete","revision":${event.revision},"key":${JSON.stringify(event.key)}}`;
}

/** Streams state changes after fromRevision (0: snapshot first) until the client goes away. */
export async function streamState(store: Store, cache: StateCache, fromRevision: number, out: StreamingApi): Promise<void> {
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
  // A revision beyond the store's comes from another history (the store was restored from a backup, or
  // replaced): resuming would skip everything up to it, so start over. (A replica whose copy lags another's
  // by a moment also starts over: heavier, never wrong.)
  const resumable = fromRevision > 0 && fromRevision <= cache.currentRevision;
  follow(resumable ? fromRevision + 1 : snapshot() + 1);
  const ping = setInterval(() => send(`{"type":"ping","revision":${cache.currentRevision}}`), PING_INTERVAL_MS);
  await finished;
  clearInterval(ping);
}
