// What the Store conformance suite needs from a backend, and the per-test store setup.

import type { Store } from "../types.js";

export interface StoreFixture {
  /** A store for one test (the suite closes it). Stores from one fixture may share a server. */
  open(): Promise<Store>;
  /** Makes the history before revision unavailable to watch (etcd's compact). */
  compact(store: Store, revision: number): Promise<void>;
  /** Revokes a lease by id as an operator would, not through its holder. */
  revokeLease(store: Store, leaseId: string): Promise<void>;
}

let prefixCounter = 0;

/** A prefix no other test (or earlier run against the same etcd) uses. */
export function uniquePrefix(): string {
  prefixCounter += 1;
  return `/conformance/${process.pid}-${Date.now().toString(36)}-${prefixCounter}/`;
}

/** Runs body with a fresh store and prefix, closing the store even when body fails. */
export async function withStore(fixture: StoreFixture, body: (store: Store, p: string) => Promise<void>): Promise<void> {
  const store = await fixture.open();
  try {
    await body(store, uniquePrefix());
  } finally {
    await store.close();
  }
}
