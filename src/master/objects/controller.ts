// What each object type does on create, update and delete beyond storing the
// object: reference checks, allocations, refusals. A controller method throws
// to refuse; since it runs inside a mutation (tx.ts) nothing is then written.

import type { Tx } from "../tx.js";

export interface MasterSettings {
  /** Global defaults used when the global object is first created. */
  fwdMode: "bridge" | "routing";
  infra: "default" | "aci" | "aci-opflex";
}

export interface Controller<T> {
  create(tx: Tx, obj: T, settings: MasterSettings): void;
  /** Called only when the new object differs from the stored one. */
  update(tx: Tx, old: T, obj: T, settings: MasterSettings): void;
  remove(tx: Tx, obj: T, settings: MasterSettings): void;
}
