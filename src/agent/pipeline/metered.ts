// The datapath driver as the reconciler uses it: every sync timed (incremental or full), its kernel changes
// and the objects it could not apply counted (metrics.ts).

import type { DatapathDriver } from "../../datapath/index.js";
import type { AgentMetrics } from "../metrics.js";

export function meteredDatapath(driver: DatapathDriver, metrics: Pick<AgentMetrics, "syncs" | "syncErrors" | "kernelChanges">): DatapathDriver {
  return {
    check: (desired) => driver.check(desired),
    ...(driver.unapplied === undefined ? {} : { unapplied: driver.unapplied.bind(driver) }),
    reconcile: async (desired, options) => {
      const done = metrics.syncs.startTimer({ kind: options.full ? "full" : "incremental" });
      try {
        const report = await driver.reconcile(desired, options);
        metrics.kernelChanges.inc(report.changes.length);
        metrics.syncErrors.inc(report.errors.length);
        return report;
      } catch (err) {
        metrics.syncErrors.inc();
        throw err;
      } finally {
        done();
      }
    },
  };
}
