// Whether a change is in force on every host: "is the policy of this container enforced everywhere yet?",
// which a job that starts talking at once needs to know. Each agent reports, after every datapath sync,
// the state revision that sync applied and what in it is not in force (a tenant, network or endpoint the
// host could not build or apply, and why); netmaster (the leader, in memory, as the rule counters) answers
// from the last reports. A change at revision N to an object is realized on a host once that host applied
// N or later with nothing failing in the object's unit or a unit that holds it.

import { z } from "zod";

const Name = z.string().max(256);

/** A unit of a host's datapath that is not in force: a tenant, a network of it, or an endpoint of that network. */
export const UnitFailure = z.object({
  tenant: Name,
  network: Name.optional(),
  endpoint: Name.optional(),
  message: z.string().max(2048),
});
export type UnitFailure = z.infer<typeof UnitFailure>;

/** Most failures one report carries; the agent keeps the first ones. */
export const MAX_REPORTED_FAILURES = 1000;

export const RealizationReport = z.object({
  /** The revision of netmaster's state the sync compiled (whole: every event of it applied). */
  revision: z.number().int().min(0),
  /** The state stream epoch the revision came from: a report from another history is refused. */
  epoch: z.string().max(64),
  failures: z.array(UnitFailure).max(MAX_REPORTED_FAILURES),
});
export type RealizationReport = z.infer<typeof RealizationReport>;

/** What an object belongs to: its tenant, and for a network's or endpoint's own objects the network and endpoint. */
export interface RealizationScope {
  tenant: string;
  network?: string;
  endpoint?: string;
}

export interface Realization {
  /** The revision of the newest change that makes up the object. */
  revision: number;
  /** Registered hosts where it is not in force (yet): empty when it is everywhere. */
  pendingHosts: string[];
  /** Why, on hosts where what holds the object failed; absent when nothing did. */
  errors?: { host: string; message: string }[];
}

/** Whether a failing unit holds the object (its tenant, its network) or is the object's own. */
export function concerns(f: { tenant?: string; network?: string; endpoint?: string }, scope: RealizationScope): boolean {
  return f.tenant === scope.tenant && (f.network === undefined || f.network === scope.network) && (f.endpoint === undefined || f.endpoint === scope.endpoint);
}

/** Pure: the hosts (of `hosts`, sorted) where the change at `revision` to an object of `scope` is not known to be in force. */
export function realization(hosts: string[], reports: ReadonlyMap<string, RealizationReport>, scope: RealizationScope, revision: number): Realization {
  const errors: { host: string; message: string }[] = [];
  const pendingHosts = hosts
    .filter((host) => {
      const report = reports.get(host);
      if (report === undefined) return true;
      const failed = report.failures.filter((f) => concerns(f, scope));
      for (const f of failed) errors.push({ host, message: f.message });
      return report.revision < revision || failed.length > 0;
    })
    .sort();
  errors.sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0));
  return errors.length === 0 ? { revision, pendingHosts } : { revision, pendingHosts, errors };
}
