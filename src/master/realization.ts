// Whether a change is in force on every host: "is the policy of this container enforced everywhere yet?",
// which a job that starts talking at once needs to know. Each agent reports, after every datapath sync,
// the state revision that sync applied and the tenants in which something failed; netmaster (the leader,
// in memory, as the rule counters) answers from the last reports. A change at revision N is realized on
// a host once that host applied N or later with nothing failing in the change's tenant.

import { z } from "zod";

export const RealizationReport = z.object({
  /** The revision of netmaster's state the sync compiled (whole: every event of it applied). */
  revision: z.number().int().min(0),
  /** The state stream epoch the revision came from: a report from another history is refused. */
  epoch: z.string().max(64),
  /** Tenants in whose namespace some kernel object could not be read or applied. */
  failingTenants: z.array(z.string().max(256)).max(100_000),
});
export type RealizationReport = z.infer<typeof RealizationReport>;

export interface Realization {
  /** The revision of the newest change that makes up the object. */
  revision: number;
  /** Registered hosts where it is not in force (yet): empty when it is everywhere. */
  pendingHosts: string[];
}

/** Pure: the hosts (of `hosts`, sorted) where the tenant's change at `revision` is not known to be in force. */
export function realization(hosts: string[], reports: ReadonlyMap<string, RealizationReport>, tenant: string, revision: number): Realization {
  const pendingHosts = hosts
    .filter((host) => {
      const report = reports.get(host);
      return report === undefined || report.revision < revision || report.failingTenants.includes(tenant);
    })
    .sort();
  return { revision, pendingHosts };
}
