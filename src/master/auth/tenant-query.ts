// Who may read what concerns one tenant named in the query (GET /api/v1/trace?tenant=…): whoever may read
// that tenant's objects (access.ts tenantObject for a GET): admins, and ops users authorized for it.

import { ForbiddenError, UnauthenticatedError } from "../../lib/errors.js";
import type { AccessRule } from "./access.js";

export function tenantInQuery(param: string): AccessRule {
  return (who, req) => {
    if (who === undefined) throw new UnauthenticatedError("Authentication required: log in (netctl login) and send the token as X-Auth-Token");
    if (who.kind === "user" && who.admin) return;
    if (who.kind !== "user") throw new ForbiddenError(`Host ${who.host} may not ${req.method} this path`);
    // A missing tenant is the handler's 400; an ops user gets it only for its own tenants' names.
    const tenant = req.query(param) ?? "";
    if (!who.tenants.has(tenant)) throw new ForbiddenError(`User ${who.name} may not read objects of tenant ${tenant === "" ? "(none given)" : tenant}`);
  };
}
