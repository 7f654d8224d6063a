// Keeps what cannot be built in one part of the host from holding up the rest. A unit (an endpoint, then a
// network, then a tenant) whose desired state could not be compiled or rendered keeps the last version of it
// that could be (it stays as it runs); a unit that never had one is left out, and a tenant that never had one
// is frozen: its namespace is neither changed nor removed. Everything else converges as usual. Pure.

import { tenantNamespace } from "../../datapath/names.js";
import type { DatapathOwner, DatapathProblem, DesiredEndpoint, DesiredHost, DesiredNetwork, DesiredTenant } from "../../datapath/types.js";

/** A unit of the host's desired state that is not in force, and why. */
export interface UnitFailure {
  owner: DatapathOwner;
  message: string;
}

/** "network bad6 of tenant sec", for messages. */
export function unitName(owner: DatapathOwner): string {
  const parts = [
    ...(owner.endpoint === undefined ? [] : [`endpoint ${owner.endpoint}`]),
    ...(owner.network === undefined ? [] : [`network ${owner.network}`]),
    ...(owner.tenant === undefined ? [] : [`tenant ${owner.tenant}`]),
  ];
  return parts.length === 0 ? "this host" : parts.join(" of ");
}

/** Each tenant as the last run that could render it had it, failing units at their older versions. */
export type LastGood = ReadonlyMap<string, DesiredTenant>;

export interface Contained {
  desired: DesiredHost;
  failures: UnitFailure[];
  /** What to remember as last good after this run. */
  lastGood: Map<string, DesiredTenant>;
}

/** Rounds of check → leave out: a unit put back at its last good version may clash with something new. */
const MAX_ROUNDS = 4;

function sameFailure(a: UnitFailure, b: UnitFailure): boolean {
  return a.message === b.message && a.owner.tenant === b.owner.tenant && a.owner.network === b.owner.network && a.owner.endpoint === b.owner.endpoint;
}

function withEndpoint<T extends { id: string }>(list: T[], id: string, replacement: T | undefined): T[] {
  const out = list.filter((e) => e.id !== id);
  if (replacement !== undefined) out.push(replacement);
  return out;
}

/** The network at its last good version (its remotes too), or left out; its local endpoints go with it. */
function containNetwork(tenant: DesiredTenant, name: string, lastGood: DesiredTenant | undefined, attached: ReadonlySet<string>): DesiredTenant {
  const good = lastGood?.networks.find((n) => n.name === name);
  const networks = tenant.networks.filter((n) => n.name !== name);
  let endpoints = tenant.endpoints.filter((e) => e.network !== name);
  if (good !== undefined) {
    networks.push(good);
    endpoints = [...endpoints, ...(lastGood?.endpoints ?? []).filter((e) => e.network === name && attached.has(e.id))];
  }
  const hostEndpoints = good !== undefined ? tenant.hostEndpoints : tenant.hostEndpoints.filter((h) => h.network !== name);
  return { ...tenant, networks, endpoints, hostEndpoints };
}

/** An endpoint of this host at its last good version, or left out; one on another host likewise in its network's remotes. */
function containEndpoint(tenant: DesiredTenant, network: string | undefined, id: string, lastGood: DesiredTenant | undefined): DesiredTenant {
  if (tenant.endpoints.some((e) => e.id === id) || lastGood?.endpoints.some((e) => e.id === id)) {
    return { ...tenant, endpoints: withEndpoint<DesiredEndpoint>(tenant.endpoints, id, lastGood?.endpoints.find((e) => e.id === id)) };
  }
  const networks = tenant.networks.map((n): DesiredNetwork => {
    if (n.vxlan === undefined || (network !== undefined && n.name !== network)) return n;
    const before = lastGood?.networks.find((g) => g.name === n.name)?.vxlan?.remotes.find((r) => r.id === id);
    return { ...n, vxlan: { ...n.vxlan, remotes: withEndpoint(n.vxlan.remotes, id, before) } };
  });
  return { ...tenant, networks };
}

/** The tenant with its failing units contained; undefined when the tenant itself fails and has no last good version. */
function containTenant(
  tenant: DesiredTenant | undefined,
  failures: UnitFailure[],
  lastGood: DesiredTenant | undefined,
  attached: ReadonlySet<string>,
): DesiredTenant | undefined {
  if (tenant === undefined || failures.some((f) => f.owner.network === undefined && f.owner.endpoint === undefined)) {
    if (lastGood === undefined) return undefined;
    return { ...lastGood, endpoints: lastGood.endpoints.filter((e) => attached.has(e.id)) };
  }
  let out = tenant;
  const networks = new Set(failures.filter((f) => f.owner.endpoint === undefined).map((f) => f.owner.network!));
  for (const name of networks) out = containNetwork(out, name, lastGood, attached);
  for (const f of failures) {
    if (f.owner.endpoint === undefined || (f.owner.network !== undefined && networks.has(f.owner.network))) continue;
    out = containEndpoint(out, f.owner.network, f.owner.endpoint, lastGood);
  }
  return out;
}

function applyFailures(desired: DesiredHost, failures: UnitFailure[], lastGood: LastGood, attached: ReadonlySet<string>): DesiredHost {
  const names = [...new Set([...desired.tenants.map((t) => t.name), ...failures.flatMap((f) => (f.owner.tenant === undefined ? [] : [f.owner.tenant]))])];
  const tenants: DesiredTenant[] = [];
  const frozen = new Set(desired.frozen ?? []);
  for (const name of names) {
    const tenant = desired.tenants.find((t) => t.name === name);
    const mine = failures.filter((f) => f.owner.tenant === name);
    const contained = mine.length === 0 ? tenant : containTenant(tenant, mine, lastGood.get(name), attached);
    if (contained !== undefined) tenants.push(contained);
    else frozen.add(tenant?.namespace ?? tenantNamespace(desired.prefix, name));
  }
  tenants.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { ...desired, tenants, frozen: [...frozen].sort() };
}

/**
 * Leaves out of `desired` (or puts back at their last good versions) the units of `failures` (what compiling
 * found) and of every problem `check` finds, until what is left renders. `attached`: endpoint ids this host
 * still holds; a last good version never brings back one that left. Throws only for a problem of the host as
 * a whole (check's owner {}), which no unit can contain.
 */
export function contain(
  desired: DesiredHost,
  compileFailures: UnitFailure[],
  lastGood: LastGood,
  attached: ReadonlySet<string>,
  check: (desired: DesiredHost) => DatapathProblem[],
): Contained {
  const failures = [...compileFailures];
  let current = failures.length === 0 ? desired : applyFailures(desired, failures, lastGood, attached);
  for (let round = 0; ; round++) {
    const problems = check(current);
    if (problems.length === 0) break;
    const host = problems.find((p) => p.owner.tenant === undefined);
    if (host !== undefined) throw new Error(`Cannot build this host's datapath: ${host.message}`);
    if (round >= MAX_ROUNDS) {
      // Last good versions that keep clashing: leave those tenants as they run.
      const failing = new Set(problems.map((p) => p.owner.tenant!));
      failures.push(...problems.filter((p) => !failures.some((f) => sameFailure(f, p))));
      current = applyFailures(current, [...failing].map((tenant) => ({ owner: { tenant }, message: "" })), new Map(), attached);
      break;
    }
    failures.push(...problems.filter((p) => !failures.some((f) => sameFailure(f, p))));
    current = applyFailures(desired, failures, lastGood, attached);
  }
  const next = new Map(lastGood);
  for (const name of [...next.keys()]) if (!desired.tenants.some((t) => t.name === name) && !failures.some((f) => f.owner.tenant === name)) next.delete(name);
  for (const tenant of current.tenants) next.set(tenant.name, tenant);
  return { desired: current, failures, lastGood: next };
}
