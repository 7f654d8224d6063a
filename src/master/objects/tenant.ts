import { ConflictError } from "../../lib/errors.js";
import type { Tenant } from "../../model/index.js";
import { TENANT_INDEX_KEY, tenantStateKey } from "../../contract/keys.js";
import type { EpgIdCounter, TenantState } from "../records.js";
import type { Tx } from "../tx.js";
import type { Controller } from "./controller.js";
import { listTenantObjects } from "./common.js";
import { forgetTenantAuthorizations } from "../auth/cascade.js";

const MAX_TENANT_INDEX = 16383;

/** Gives the tenant an index from the persisted counter; after wrapping, the lowest one no tenant holds. */
export function allocateTenantIndex(tx: Tx, tenant: string): void {
  const counter = tx.get<EpgIdCounter>(TENANT_INDEX_KEY) ?? { next: 1 };
  let index = counter.next;
  if (index > MAX_TENANT_INDEX) {
    const used = new Set(tx.list<TenantState>(tenantStateKey("")).map(([, s]) => s.index));
    index = 1;
    while (used.has(index) && index <= MAX_TENANT_INDEX) index++;
    if (index > MAX_TENANT_INDEX) throw new ConflictError(`Cannot create tenant ${tenant}: all ${MAX_TENANT_INDEX} tenant indexes are in use`);
  }
  tx.put(TENANT_INDEX_KEY, { next: Math.max(counter.next, index + 1) } satisfies EpgIdCounter);
  tx.put(tenantStateKey(tenant), { index } satisfies TenantState);
}

export const tenantController: Controller<Tenant> = {
  create(tx, tenant) {
    allocateTenantIndex(tx, tenant.tenantName);
  },
  update() {
    throw new ConflictError("Cant change tenant parameters after its created");
  },
  remove(tx, tenant) {
    const name = tenant.tenantName;
    // Same order and texts as Contiv; service LBs are checked too (Contiv forgot them).
    const checks: [string, (n: number) => string][] = [
      ["appProfile", (n) => `cannot delete ${name}, has ${n} app profiles`],
      ["endpointGroup", (n) => `cannot delete ${name} has ${n} endpoint groups`],
      ["policy", (n) => `cannot delete ${name} has ${n} policies`],
      ["netprofile", (n) => `Cannot delete ${name} has ${n} netprofiles`],
      ["network", (n) => `cannot delete ${name} has ${n} networks`],
      ["serviceLB", (n) => `cannot delete ${name} has ${n} service load balancers`],
    ];
    for (const [type, message] of checks) {
      const n = listTenantObjects(tx, type, name).length;
      if (n > 0) throw new ConflictError(message(n));
    }
    tx.delete(tenantStateKey(name));
    forgetTenantAuthorizations(tx, name);
  },
};
