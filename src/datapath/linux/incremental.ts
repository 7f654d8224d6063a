// Pure: which parts of the host a reconcile reads, and what it takes as applied without reading.
//
// The driver remembers what it last applied without any failure: per tenant namespace the rendered
// TenantState, and the agent-namespace part (HostNamespaceState). What it remembers is trusted to be what
// the kernel holds, because nothing but this process changes our objects, so a run reads and diffs only
// what may differ: tenants whose rendered state is not the one remembered, and within such a tenant the
// container sides only of endpoints whose container side changed (a container costs one process each, and
// there are many; the container side of an endpoint new in a tenant applied without failure is taken as not
// made yet: its veth, the one way in, is not there; the driver reads it after all when making it fails),
// and of such a tenant only the parts that changed (settled.ts: its links, addresses
// and routes are always read, in one ip call; sysctl, nft, bridge fdb and tc only when what is wanted of them
// changed). A tenant whose only change is endpoints added or removed (and its policy script changing with them: a
// container's ADD or DEL) is not read at all: its new endpoints are made from nothing and the veths of those
// gone deleted (diff.ts diffEndpointChanges), and a failure there (a veth already gone with its container
// namespace) has the driver read it whole at once. What breaks the trust, and what then happens:
//  - any failure in a tenant (unreadable, a problem, a failed step): nothing is remembered for it, so
//    the next run reads it whole, all its containers too (never trust a cache after a failed step);
//  - a failure in the agent's namespace (or reading it): nothing is remembered for it, nor for any tenant
//    of that run that needed it (their uplink and host-endpoint steps were skipped without it);
//  - a tenant namespace that no longer exists (the namespace list, read on every run: netnsDir.ts): read whole;
//  - changes made behind our back (a link deleted by hand, a container namespace gone without a CNI
//    DEL): seen only by a full run (`selectScope` with nothing applied), which the agent makes on its
//    periodic resync, at start (nothing is remembered yet) and whenever the driver threw;
//  - cleanup changes the kernel outside reconcile: it forgets everything.

import { isDeepStrictEqual } from "node:util";

import type { EndpointState, HostNamespaceState, HostState, TenantState } from "./state.js";
import { HOST_GROUP } from "./plan.js";
import { settledParts, type SettledPart } from "./settled.js";

/** What the driver applied without a failure, by tenant namespace; host: the agent-namespace part, or null. */
export interface AppliedState {
  tenants: ReadonlyMap<string, TenantState>;
  host: HostNamespaceState | null;
}

export const NOTHING_APPLIED: AppliedState = { tenants: new Map(), host: null };

/** What one run reads. */
export interface ObserveScope {
  /** Tenant namespaces of our prefix that exist (listed on every run, without a process: netnsDir.ts). */
  namespaces: string[];
  /**
   * Wanted tenants to read, by namespace, each with the host links of endpoints whose container side is
   * taken as applied (not read; observe.ts reads it still when the host-side veth is not there). Container
   * sides a runtime owns are never read, so never listed. Wanted tenants missing here are not read and get
   * no step.
   */
  tenants: ReadonlyMap<string, ReadonlySet<string>>;
  /**
   * Per tenant to read, the host links of endpoints new there since it was applied without failure: their
   * container sides are taken as not made yet (observe.ts reads them still when their namespace or host-side
   * veth is there). Absent for a tenant: none.
   */
  fresh?: ReadonlyMap<string, ReadonlySet<string>>;
  /**
   * Tenants not read because their only change is endpoints added or removed (endpointChanges), with those
   * endpoints: the driver plans them without a look. Absent: none.
   */
  endpointsOnly?: ReadonlyMap<string, EndpointChanges>;
  /**
   * Tenants read whole (nothing of them applied, or a full run): only there are offload features read, the one
   * thing only a change behind our back alters (offloads.ts). Absent: every tenant read.
   */
  whole?: ReadonlySet<string>;
  /**
   * Parts of the tenants to read that equal what was applied there (settled.ts): taken as applied, not read.
   * Absent for a tenant: every part read.
   */
  settled?: ReadonlyMap<string, ReadonlySet<SettledPart>>;
  /** Read the agent's namespace. */
  host: boolean;
}

/**
 * What a tenant's diff compares with the agent's namespace (diffUplink, diffHostEndpoints): its uplink and
 * host endpoints (their agent-side ends, the routes through the uplink) and its port forwards (route_localnet
 * on the uplink's agent-side end).
 */
function agentSide(tenant: TenantState | undefined): unknown {
  return tenant === undefined
    ? undefined
    : { uplink: tenant.uplink, hostEndpoints: tenant.hostEndpoints, portForwards: tenant.portForwards };
}

/** Endpoints a tenant gained and lost since it was applied. */
export interface EndpointChanges {
  added: EndpointState[];
  removed: EndpointState[];
}

/**
 * The endpoints `tenant` adds to `last` and removes from it, when nothing else changed but the policy script
 * (which the driver compares with what it applied, without reading): undefined when anything else changed,
 * an endpoint that stays among it.
 */
export function endpointChanges(last: TenantState, tenant: TenantState): EndpointChanges | undefined {
  const wanted = new Map(tenant.endpoints.map((e) => [e.hostLink, e]));
  const before = new Map(last.endpoints.map((e) => [e.hostLink, e]));
  for (const [link, e] of before) if (wanted.has(link) && !isDeepStrictEqual(wanted.get(link), e)) return undefined;
  const rest = (t: TenantState): TenantState => ({ ...t, endpoints: [], nftScript: "" });
  if (!isDeepStrictEqual(rest(last), rest(tenant))) return undefined;
  return {
    added: tenant.endpoints.filter((e) => !before.has(e.hostLink)),
    removed: last.endpoints.filter((e) => !wanted.has(e.hostLink)),
  };
}

/** What a run must read to bring the kernel from `applied` to `wanted`; NOTHING_APPLIED gives a full run. */
export function selectScope(wanted: HostState, applied: AppliedState, namespaces: string[]): ObserveScope {
  const existing = new Set(namespaces);
  const tenants = new Map<string, ReadonlySet<string>>();
  const whole = new Set<string>();
  const settled = new Map<string, ReadonlySet<SettledPart>>();
  const fresh = new Map<string, ReadonlySet<string>>();
  const endpointsOnly = new Map<string, EndpointChanges>();
  let host = !isDeepStrictEqual(applied.host, wanted.host);
  for (const tenant of wanted.tenants) {
    // A namespace that is gone took everything in it along: what was applied there counts for nothing.
    const last = existing.has(tenant.namespace) ? applied.tenants.get(tenant.namespace) : undefined;
    if (last !== undefined && isDeepStrictEqual(last, tenant)) continue;
    const changes = last === undefined ? undefined : endpointChanges(last, tenant);
    if (changes !== undefined) {
      endpointsOnly.set(tenant.namespace, changes);
      continue;
    }
    const trusted = new Set<string>();
    const newLinks = new Set<string>();
    for (const endpoint of tenant.endpoints.filter((e) => e.containerSide === "ours")) {
      const before = last?.endpoints.find((e) => e.hostLink === endpoint.hostLink);
      if (before !== undefined && isDeepStrictEqual(before.container, endpoint.container)) trusted.add(endpoint.hostLink);
      else if (before === undefined && last !== undefined) newLinks.add(endpoint.hostLink);
    }
    tenants.set(tenant.namespace, trusted);
    if (newLinks.size > 0) fresh.set(tenant.namespace, newLinks);
    if (last === undefined) whole.add(tenant.namespace);
    else settled.set(tenant.namespace, settledParts(last, tenant));
    // A tenant read whole (nothing applied) is diffed whole: the agent's side of it too.
    if (last === undefined || !isDeepStrictEqual(agentSide(last), agentSide(tenant))) host = true;
  }
  return { namespaces, tenants, fresh, endpointsOnly, whole, settled, host };
}

/**
 * What is applied after a run that read `scope`: tenants it read or planned unread are remembered as wanted unless their
 * namespace (or, when it read the agent's namespace, that one: HOST_GROUP) is in `failed`; tenants it did
 * not read stay as they were (they equal what is wanted); tenants no longer wanted are forgotten.
 * `failed`: namespaces with an observe failure, a problem or a failed step.
 */
export function nextApplied(previous: AppliedState, wanted: HostState, scope: ObserveScope, failed: ReadonlySet<string>): AppliedState {
  const hostFailed = scope.host && failed.has(HOST_GROUP);
  const tenants = new Map<string, TenantState>();
  for (const tenant of wanted.tenants) {
    if (!scope.tenants.has(tenant.namespace) && !scope.endpointsOnly?.has(tenant.namespace)) {
      const last = previous.tenants.get(tenant.namespace);
      if (last !== undefined) tenants.set(tenant.namespace, last);
    } else if (!hostFailed && !failed.has(tenant.namespace)) {
      tenants.set(tenant.namespace, tenant);
    }
  }
  return { tenants, host: !scope.host ? previous.host : hostFailed ? null : wanted.host };
}
