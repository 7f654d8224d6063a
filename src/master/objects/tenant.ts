import { ConflictError } from "../../lib/errors.js";
import type { Tenant } from "../../model/index.js";
import type { Controller } from "./controller.js";
import { listTenantObjects } from "./common.js";

export const tenantController: Controller<Tenant> = {
  create() {},
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
  },
};
