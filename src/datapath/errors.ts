// Which errors of a reconcile run concern which part of the desired state, read from their owners
// (driver.ts DatapathErrorOwner) whatever driver made them. Pure.

import type { DatapathError, DatapathErrorOwner } from "./driver.js";

/** A unit of the desired state: a tenant, a network of it, an endpoint of that network. */
export interface DatapathUnit {
  tenant: string;
  network?: string;
  endpoint?: string;
}

/**
 * Whether an error of `owner` keeps `unit` from being in force: it is the unit's own, or that of a unit
 * holding it (its network, its tenant). Errors about published ports concern the ports alone (errorsOfPorts),
 * and errors of the host as a whole no unit of a tenant.
 */
export function concernsUnit(owner: DatapathErrorOwner, unit: DatapathUnit): boolean {
  return (
    owner.ports !== true &&
    owner.tenant === unit.tenant &&
    (owner.network === undefined || owner.network === unit.network) &&
    (owner.endpoint === undefined || owner.endpoint === unit.endpoint)
  );
}

/** The errors that keep `unit` from being in force (concernsUnit). */
export function errorsOfUnit(errors: DatapathError[], unit: DatapathUnit): DatapathError[] {
  return errors.filter((e) => concernsUnit(e.owner, unit));
}

/**
 * The errors that keep a tenant's published ports from working: those about its ports, and those of the host
 * as a whole, where every tenant's ports come in.
 */
export function errorsOfPorts(errors: DatapathError[], tenant: string): DatapathError[] {
  return errors.filter((e) => e.owner.tenant === undefined || (e.owner.tenant === tenant && e.owner.ports === true));
}
