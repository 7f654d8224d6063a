// The state stream agents follow: newline-delimited JSON over a long-lived
// HTTP response. It starts with a snapshot ("reset", one "put" per key,
// "synced") unless the agent resumes from a revision the store still has, then
// carries every change in revision order, with a "ping" right after each
// write's events (so the agent knows that revision is whole) and every ten
// seconds (so both ends notice a dead connection). Any replica serves it
// (followers too).
//
// Revisions alone cannot tell two histories apart: a store restored from an
// older backup and written again reaches the revision an agent holds with
// different contents. So each netmaster process names its stream (an epoch,
// sent as a response header; the agent hands it back when it resumes) and adds
// it to a list kept in the store itself, with the store's revision when the
// process opened it (STREAM_EPOCHS_KEY). An agent resumes from a revision of
// the serving process's own stream, or of an epoch on that list up to where
// the next epoch began; anything else starts over with a snapshot. A restored
// store carries the list as it was at the backup, and the process that opens
// it appends itself at the backup's revision: an agent that saw more of the
// old history is past that point, or holds an epoch the list never had.

import type { StreamingApi } from "hono/utils/stream";
import { z } from "zod";
import { CompactedError, type Store, type WatchEvent } from "../store/types.js";
import type { StateCache } from "./cache.js";
import { ROOT } from "./keys.js";

export const PING_INTERVAL_MS = 10_000;
export const EPOCH_HEADER = "netplugin-stream-epoch";

/** Outside ROOT: not state agents follow, nor part of what a dump or a backup comparison shows. */
export const STREAM_EPOCHS_KEY = "/netplugin-stream-epochs";
/** The newest entries kept: an agent away for more netmaster starts than this takes a snapshot. */
const EPOCHS_KEPT = 100;

/** The netmaster processes that opened this store, oldest first, each with the store's revision then. */
export const StreamEpochs = z.array(z.object({ epoch: z.string(), startRevision: z.number().int().nonnegative() }));
export type StreamEpochs = z.infer<typeof StreamEpochs>;

/** Where an agent asks to resume: the last revision it applied and the epoch it had it from ("" for none). */
export interface ResumePoint {
  revision: number;
  epoch: string;
}

/**
 * Whether the agent's copy is known to be a prefix of the store's history, so the stream may skip the
 * snapshot: its revision came from this process (`epoch`), or from an epoch on the store's list and no
 * later than where the next one began (a replica that started in between makes it a snapshot: heavier,
 * never wrong).
 */
export function canResume(from: ResumePoint, epoch: string, epochs: StreamEpochs, currentRevision: number): boolean {
  if (from.revision <= 0 || from.revision > currentRevision) return false;
  if (from.epoch === epoch) return true;
  const i = epochs.findIndex((e) => e.epoch === from.epoch);
  if (i < 0) return false;
  const next = epochs[i + 1];
  return next === undefined || from.revision <= next.startRevision;
}

function parseEpochs(value: string | undefined): StreamEpochs {
  if (value === undefined) return [];
  try {
    const parsed = StreamEpochs.safeParse(JSON.parse(value));
    return parsed.success ? parsed.data : [];
  } catch {
    return []; // unreadable: no agent can resume by it, which is safe
  }
}

/** The store's list of epochs. */
export async function readEpochs(store: Store): Promise<StreamEpochs> {
  return parseEpochs((await store.get(STREAM_EPOCHS_KEY))?.value);
}

/** Adds this process's epoch to the store's list, at the revision the store has now; throws when it keeps conflicting. */
export async function recordEpoch(store: Store, epoch: string): Promise<void> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const { items, revision } = await store.list(STREAM_EPOCHS_KEY);
    const current = items.find((kv) => kv.key === STREAM_EPOCHS_KEY);
    const epochs = [...parseEpochs(current?.value), { epoch, startRevision: revision }].slice(-EPOCHS_KEPT);
    const { succeeded } = await store.txn(
      [{ key: STREAM_EPOCHS_KEY, target: "modRevision", equals: current?.modRevision ?? 0 }],
      [{ type: "put", key: STREAM_EPOCHS_KEY, value: JSON.stringify(epochs) }],
    );
    if (succeeded) return;
  }
  throw new Error("Cannot record the state stream's epoch: the store kept changing underneath");
}

function putLine(key: string, valueJson: string, revision: number): string {
  return `{"type":"put","revision":${revision},"key":${JSON.stringify(key)},"value":${valueJson}}`;
}

function eventLine(event: WatchEvent): string {
  if (event.type === "put") return putLine(event.key, event.value, event.revision);
  return `{"type":"delete","revision":${event.revision},"key":${JSON.stringify(event.key)}}`;
}

/** Streams state changes after the resume point (or a snapshot first) until the client goes away. */
export async function streamState(
  store: Store,
  cache: StateCache,
  epoch: string,
  from: ResumePoint,
  out: StreamingApi,
  onSnapshot: () => void = () => {},
): Promise<void> {
  const epochs = from.epoch === epoch || from.revision === 0 ? [] : await readEpochs(store);
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
    onSnapshot();
    const revision = cache.currentRevision;
    send(`{"type":"reset","revision":${revision}}`);
    for (const [key, entry] of cache.list(ROOT)) send(putLine(key, JSON.stringify(entry.value), entry.modRevision));
    send(`{"type":"synced","revision":${revision}}`);
    return revision;
  };

  // A store delivers the events of one write together: a ping in the next turn of the event loop tells the
  // agent that every event up to its last revision has been sent, so what it holds is a whole revision.
  let marking = false;
  const markComplete = () => {
    if (marking) return;
    marking = true;
    setImmediate(() => {
      marking = false;
      send(`{"type":"ping","revision":${cache.currentRevision}}`);
    });
  };
  const follow = (from: number) => {
    watcher = store.watch(
      ROOT,
      (event) => {
        send(eventLine(event));
        markComplete();
      },
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
  follow(canResume(from, epoch, epochs, cache.currentRevision) ? from.revision + 1 : snapshot() + 1);
  const ping = setInterval(() => send(`{"type":"ping","revision":${cache.currentRevision}}`), PING_INTERVAL_MS);
  await finished;
  clearInterval(ping);
}
