// What other objects' removals take along of trust records, in the same transaction.

import { AUTHZ_PREFIX, hostCredentialKey } from "../../contract/keys.js";
import type { Tx } from "../tx.js";
import type { AuthzRecord } from "./records.js";

/** Removing a host for good revokes its agent's credential (master/hosts.ts calls it in the same transaction). */
export function revokeHost(tx: Tx, host: string): boolean {
  if (!tx.get(hostCredentialKey(host))) return false;
  tx.delete(hostCredentialKey(host));
  return true;
}

/** A removed tenant takes its ops authorizations along: a new tenant of the same name starts with none. */
export function forgetTenantAuthorizations(tx: Tx, tenant: string): void {
  for (const [key, a] of tx.list<AuthzRecord>(AUTHZ_PREFIX)) if (a.role === "ops" && a.tenantName === tenant) tx.delete(key);
}
