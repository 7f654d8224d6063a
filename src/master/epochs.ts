// Every netmaster process that opens the store names its state stream (an epoch) and appends itself to a
// list kept in the store itself, with the store's revision when it opened it. A host's report of what it has
// in force (realization) names the epoch its revision came from; one from an epoch the store never listed is
// from another history (a store restored from a backup and written again) and is refused.

import { z } from "zod";
import type { Store } from "../store/types.js";

/** Outside ROOT: not state agents follow, nor part of what a dump or a backup comparison shows. */
export const STREAM_EPOCHS_KEY = "/netplugin-stream-epochs";
/** The newest entries kept: a report from an epoch older than this many netmaster starts is refused. */
const EPOCHS_KEPT = 100;

/** The netmaster processes that opened this store, oldest first, each with the store's revision then. */
export const StreamEpochs = z.array(z.object({ epoch: z.string(), startRevision: z.number().int().nonnegative() }));
export type StreamEpochs = z.infer<typeof StreamEpochs>;

function parseEpochs(value: string | undefined): StreamEpochs {
  if (value === undefined) return [];
  try {
    const parsed = StreamEpochs.safeParse(JSON.parse(value));
    return parsed.success ? parsed.data : [];
  } catch {
    return []; // unreadable: no report is vouched for by it, which is safe
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
