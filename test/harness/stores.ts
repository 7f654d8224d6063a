// The two store backends every API suite runs against: a fresh SQLite file,
// and a fresh single-member etcd (a real /usr/bin/etcd process).

import { startEtcd } from "../../src/store/testing/etcd.js";
import { sqliteUrl, tempDir } from "./netmaster.js";

export interface StoreFixture {
  url: string;
  teardown(): Promise<void>;
}

export const storeKinds = {
  sqlite: async (): Promise<StoreFixture> => {
    const dir = tempDir();
    return { url: sqliteUrl(dir.path), teardown: async () => dir.remove() };
  },
  etcd: async (): Promise<StoreFixture> => {
    const etcd = await startEtcd({ members: 1 });
    return { url: etcd.url, teardown: () => etcd.stop() };
  },
} as const;

export type StoreKind = keyof typeof storeKinds;
export const STORE_KINDS = Object.keys(storeKinds) as StoreKind[];
