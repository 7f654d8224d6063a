// Whether a change is in force on every host: "is the policy of this container enforced everywhere yet?",
// which a job that starts talking at once needs to know. Each agent reports, after every datapath sync,
// the state revision that sync applied and what in it is not in force (a tenant, network or endpoint the
// host could not build or apply, and why); netmaster (the leader, in memory, as the rule counters) answers
// from the last reports. A change at revision N to an object is realized on a host once that host applied
// N or later with nothing failing in the object's unit or a unit that holds it.

import { concerns, type RealizationReport, type RealizationScope } from "../contract/api.js";

export { concerns, MAX_REPORTED_FAILURES, RealizationReport, type RealizationScope, UnitFailure } from "../contract/api.js";

export interface Realization {
  /** The revision of the newest change that makes up the object. */
  revision: number;
  /** Registered hosts where it is not in force (yet): empty when it is everywhere. */
  pendingHosts: string[];
  /** Why, on hosts where what holds the object failed; absent when nothing did. */
  errors?: { host: string; message: string }[];
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

/**
 * Pure: the hosts (of `hosts`, sorted) where the change at `revision` to a host-wide object (the global one) is
 * not known to be in force: no report yet, an older revision, or a setting of it their datapath does not apply
 * (RealizationReport.unapplied, each message an error of that host).
 */
export function hostWideRealization(hosts: string[], reports: ReadonlyMap<string, RealizationReport>, revision: number): Realization {
  const errors: { host: string; message: string }[] = [];
  const pendingHosts = hosts
    .filter((host) => {
      const report = reports.get(host);
      if (report === undefined) return true;
      const unapplied = report.unapplied ?? [];
      for (const u of unapplied) errors.push({ host, message: u.message });
      return report.revision < revision || unapplied.length > 0;
    })
    .sort();
  errors.sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0));
  return errors.length === 0 ? { revision, pendingHosts } : { revision, pendingHosts, errors };
}
