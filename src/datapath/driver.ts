// What the agent asks of a datapath driver, whichever kernel mechanism it uses: check a DesiredHost (pure),
// and make the host match it. Declared here, beside the desired-state types, so a driver implements it
// without knowing the agent, and the agent uses any driver without knowing its internals.

import type { DatapathProblem, DesiredHost } from "./types.js";

/** Something a reconcile run could not read or bring to the wanted state (it is retried). */
export interface DatapathError {
  namespace: string;
  /** Kernel objects that did not reach the wanted state; empty when the namespace could not be read. */
  objects: string[];
  message: string;
}

export interface DatapathDriver {
  /**
   * Pure: what in `desired` this driver cannot make, each with the unit it concerns. Leaving those units out
   * makes the rest reconcilable; reconcile() refuses a DesiredHost with any problem.
   */
  check(desired: DesiredHost): DatapathProblem[];
  /** full: read the whole host, not only what changed since it was applied. */
  reconcile(desired: DesiredHost, options: { full: boolean }): Promise<{ errors: DatapathError[] }>;
}
