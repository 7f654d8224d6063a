// Pure: rendered HostState + ObservedHost (+ the nft scripts this process applied, the pickup
// windows it keeps open and the conntrack deletions that failed) → Plan. Each step is owned by the
// unit it is for (stepBuilder.ts): a tenant's own objects (namespace, sysctls, policy table, uplink)
// and what no unit wants any more by the tenant, a bridge and what hangs on it as a whole by its
// network, a container's veth, shapers and routes by its endpoint, a remote container's FDB and
// neighbour entries by that endpoint, what carries published ports by `ports`; a service's table and
// conntrack entries by the tenant (diffServices.ts).
// Anything already right produces no step, so a restarted agent that finds the kernel as
// it left it plans nothing that disturbs traffic (the one exception is the nft script, see
// diffNft). Only objects we own are compared: the tenant namespaces of our prefix, every
// bridge, veth and ifb inside them, and in a container only the interface we made.

import type { DatapathErrorOwner } from "../driver.js";
import { NFT_TABLE, tenantNamespace } from "../names.js";
import { containerNotMade, emptyTenant } from "./assumed.js";
import { diffEndpoint } from "./diffEndpoint.js";
import { diffHostEndpoints, diffHostNamespace, diffOwnedTable, diffUplink, diffVxlans, hostRouteOwners } from "./diffOverlay.js";
import { diffServices } from "./diffServices.js";
import { diffOffloads } from "./offloads.js";
import type { Plan, Step } from "./plan.js";
import { diffPickup, PICKUP_WINDOW_SECONDS, startsNetfilter, type PickupState } from "./pickup.js";
import { newBridgeSysctl } from "./render.js";
import { NAT_TABLE, ROUTE6_TABLE } from "./renderOverlay.js";
import { DELETE_GROUP, StepBuilder } from "./stepBuilder.js";
import type { HostState, ObservedHost, ObservedHostNamespace, ObservedTenant, TenantState } from "./state.js";
import type { EndpointChanges } from "./incremental.js";

/** Step.object of the policy table: the only nft step whose script the driver remembers. */
export const POLICY_NFT_OBJECT = `nft table inet ${NFT_TABLE}`;

export interface DiffOptions {
  /** nft script last applied by this process, per tenant namespace. */
  appliedNft?: ReadonlyMap<string, string>;
  /** Mid-stream pickup windows still open (pickup.ts). */
  pickup?: PickupState;
  /** The link group this plan deletes links with (stepBuilder.ts); the driver picks one per run. */
  deleteGroup?: number;
  /** Conntrack deletions that failed, per tenant namespace, to plan again (diffServices.ts). */
  unflushed?: ReadonlyMap<string, readonly Step[]>;
}

function diffBridges(b: StepBuilder, want: TenantState, have: ObservedTenant): void {
  if (!have.loopbackUp) b.ip("bridge", "update", "loopback", ["link", "set", "lo", "up"]);
  const wanted = new Set(want.bridges.map((br) => br.name));
  for (const stale of have.bridges.filter((br) => !wanted.has(br.name))) {
    b.ip("bridge", "delete", `bridge ${stale.name}`, ["link", "del", stale.name]);
  }
  for (const bridge of want.bridges) {
    const nb = b.unit({ tenant: want.tenant, network: bridge.network });
    const current = have.bridges.find((br) => br.name === bridge.name);
    // An existing bridge starts passing netfilter only after its pickup window is open (pickup.ts).
    const netfilter = startsNetfilter(want, have, bridge.name) ? false : bridge.netfilter;
    const flag = (on: boolean): string => (on ? "1" : "0");
    const options = [
      ...["mcast_snooping", flag(bridge.mcastSnooping), "mcast_querier", flag(bridge.mcastQuerier)],
      ...["nf_call_iptables", flag(netfilter), "nf_call_ip6tables", flag(netfilter)],
    ];
    if (current === undefined) {
      nb.ip("bridge", "create", `bridge ${bridge.name}`, [
        "link", "add", bridge.name, "address", bridge.mac, "mtu", String(bridge.mtu), "type", "bridge", ...options,
      ]);
      nb.ip("bridge", "create", `bridge ${bridge.name}`, ["link", "set", bridge.name, "up"]);
    } else {
      const set: string[] = [];
      if (current.mac !== bridge.mac) set.push("address", bridge.mac);
      if (current.mtu !== bridge.mtu) set.push("mtu", String(bridge.mtu));
      if (!current.up) set.push("up");
      if (set.length > 0) nb.ip("bridge", "update", `bridge ${bridge.name}`, ["link", "set", bridge.name, ...set]);
      const changed = current.mcastSnooping !== bridge.mcastSnooping || current.mcastQuerier !== bridge.mcastQuerier;
      if (changed || current.netfilter !== netfilter) {
        nb.ip("bridge", "update", `bridge ${bridge.name}`, ["link", "set", bridge.name, "type", "bridge", ...options]);
      }
    }
    // An address whose noprefixroute flag is wrong is deleted and added again: `ip addr replace` keeps the
    // flags of an existing address.
    const flagged = (list: string[], a: string): boolean => list.includes(a);
    const right = (a: string): boolean =>
      current !== undefined &&
      current.addresses.includes(a) &&
      flagged(current.noPrefixRoute, a) === flagged(bridge.noPrefixRoute, a);
    const have_ = current?.addresses ?? [];
    for (const address of have_.filter((a) => !bridge.addresses.includes(a) || !right(a))) {
      nb.ip("address", "delete", `address ${address} on ${bridge.name}`, ["addr", "del", address, "dev", bridge.name]);
    }
    for (const address of bridge.addresses.filter((a) => !right(a))) {
      const nodad = address.includes(":") ? ["nodad"] : [];
      const noPrefixRoute = flagged(bridge.noPrefixRoute, address) ? ["noprefixroute"] : [];
      nb.ip("address", have_.includes(address) ? "update" : "create", `address ${address} on ${bridge.name}`, [
        "addr", "add", address, "dev", bridge.name, ...nodad, ...noPrefixRoute,
      ]);
    }
    // The bridge's own sysctls exist only once it does: set in the bridge phase, after its creation (where
    // a new bridge already has the value, nothing is run).
    const changed = bridge.sysctls.filter(
      (s) => (current === undefined ? newBridgeSysctl(s.key) : have.sysctls[s.key]) !== s.value,
    );
    if (changed.length > 0) {
      nb.sysctl(
        `sysctls ${changed.map((s) => s.key).join(", ")}`,
        ["-w", ...changed.map((s) => `${s.key}=${s.value}`)],
        undefined,
        "bridge",
      );
    }
  }
}

/**
 * Host routes on the bridges of routed networks ("a.b.c.d/32 dev BRIDGE", "x::y/128 dev BRIDGE", one per
 * local container), and the proxy neighbours the bridge answers solicitations for (one per remote IPv6
 * address). Any other host route or proxy entry on a bridge of ours is stale. `replace`, not `add`: it also
 * fixes a route that points elsewhere. Routes and entries on bridges deleted by this plan go with them.
 */
function diffHostRoutes(b: StepBuilder, want: TenantState, have: ObservedTenant): void {
  const networks = new Map(want.bridges.map((br) => [br.name, b.unit({ tenant: want.tenant, network: br.network })]));
  const wanted = new Map(want.bridges.map((br) => [br.name, new Set(br.hostRoutes)]));
  for (const route of have.hostRoutes) {
    if (!wanted.has(route.dev) || wanted.get(route.dev)!.has(route.dst)) continue;
    networks.get(route.dev)!.ip("route", "delete", `route ${route.dst} on ${route.dev}`, ["route", "del", route.dst, "dev", route.dev]);
  }
  const owners = hostRouteOwners(want);
  for (const bridge of want.bridges) {
    for (const dst of bridge.hostRoutes) {
      const current = have.hostRoutes.filter((r) => r.dst === dst);
      if (current.length === 1 && current[0]!.dev === bridge.name) continue;
      b.unit(owners.get(dst) ?? { tenant: want.tenant, network: bridge.network }).ip("route", current.length === 0 ? "create" : "update", `route ${dst} on ${bridge.name}`, [
        "route", "replace", dst, "dev", bridge.name,
      ]);
    }
  }
  const proxies = new Map(want.bridges.map((br) => [br.name, new Set(br.proxyNeighbours)]));
  for (const entry of have.proxyNeighbours) {
    if (!proxies.has(entry.dev) || proxies.get(entry.dev)!.has(entry.ip)) continue;
    networks.get(entry.dev)!.ip("route", "delete", `proxy neighbour ${entry.ip} on ${entry.dev}`, ["neigh", "del", "proxy", entry.ip, "dev", entry.dev]);
  }
  // Every remote container of a routed IPv6 network is one: a set, not a scan per entry.
  const present = new Set(have.proxyNeighbours.map((e) => `${e.dev} ${e.ip}`));
  for (const bridge of want.bridges) {
    for (const address of bridge.proxyNeighbours) {
      if (present.has(`${bridge.name} ${address}`)) continue;
      networks.get(bridge.name)!.ip("route", "create", `proxy neighbour ${address} on ${bridge.name}`, ["neigh", "replace", "proxy", address, "dev", bridge.name]);
    }
  }
}

/**
 * The script is applied when this process has not applied this exact text, or the table is
 * missing. After a restart the script is therefore sent once more: one atomic transaction that
 * rebuilds the table, with conntrack (and so established connections) untouched.
 * Returns whether the script (re)places the table.
 */
function diffNft(b: StepBuilder, want: TenantState, have: ObservedTenant, applied: ReadonlyMap<string, string>): boolean {
  if (have.nftTable && applied.get(want.namespace) === want.nftScript) return false;
  b.nft(have.nftTable ? "update" : "create", POLICY_NFT_OBJECT, ["-f", "-"], want.nftScript);
  return true;
}

function diffTenant(
  want: TenantState,
  have: ObservedTenant,
  host: ObservedHostNamespace | null,
  options: Required<DiffOptions>,
): StepBuilder {
  const tenant: DatapathErrorOwner = { tenant: want.tenant };
  const b = StepBuilder.of(want.namespace, tenant, options.deleteGroup);
  if (!have.exists) b.netns("create", ["add", want.namespace]);

  const changed = want.sysctls.filter((s) => have.sysctls[s.key] !== s.value);
  if (changed.length > 0) {
    b.sysctl(`sysctls ${changed.map((s) => s.key).join(", ")}`, ["-w", ...changed.map((s) => `${s.key}=${s.value}`)]);
  }

  diffBridges(b, want, have);
  diffHostRoutes(b, want, have);
  diffVxlans(b, want, have);

  // Tenant ends of uplinks and host endpoints are veths too: deleting one removes its agent-side end.
  const wantedLinks = new Set([
    ...want.endpoints.map((e) => e.hostLink),
    ...(want.uplink === null ? [] : [want.uplink.tenantLink]),
    ...want.hostEndpoints.map((e) => e.tenantLink),
  ]);
  for (const stale of have.veths.filter((v) => !wantedLinks.has(v.name))) {
    b.deleteLink("veth", `veth ${stale.name}`, stale.name);
  }
  for (const endpoint of want.endpoints) diffEndpoint(b.unit({ ...tenant, network: endpoint.network, endpoint: endpoint.id }), have, endpoint);
  const wantedIfbs = new Set(want.endpoints.flatMap((e) => (e.egressLimit === null ? [] : [e.egressLimit.ifb])));
  for (const stale of have.ifbs.filter((i) => !wantedIfbs.has(i.name))) {
    b.deleteLink("veth", `ifb ${stale.name}`, stale.name);
  }

  // Without the agent's namespace read (a failure reports it, or nothing of ours there changed since it was
  // applied: incremental.ts) its ends cannot be checked: leave them.
  if (host !== null) {
    diffUplink(b, want, have, host);
    diffHostEndpoints(b, want, have, host);
  }

  // The uplink's NAT table carries the tenant's published ports (and its outbound masquerade).
  diffOwnedTable(b.unit({ ...tenant, ports: true }), want.natTable, { family: "ip", name: NAT_TABLE }, have.natTag);
  diffOwnedTable(b, want.route6Table, { family: "ip6", name: ROUTE6_TABLE }, have.route6Tag);
  // Services have no owner of their own: their table and conntrack entries are the tenant's.
  diffServices(b, want, have, options.unflushed.get(want.namespace) ?? []);
  diffOffloads(b, want, have.offloads);
  diffPickup(b, want, have, diffNft(b, want, have, options.appliedNft), options.pickup);
  return b;
}

function withDefaults(options: DiffOptions): Required<DiffOptions> {
  return {
    appliedNft: options.appliedNft ?? new Map(),
    pickup: options.pickup ?? { windowSeconds: PICKUP_WINDOW_SECONDS, open: new Map(), missing: new Set() },
    deleteGroup: options.deleteGroup ?? DELETE_GROUP,
    unflushed: options.unflushed ?? new Map(),
  };
}

/**
 * The plan for a tenant that holds what was applied there without failure, whose only change is endpoints added
 * and removed besides the policy script (incremental.ts endpointChanges): the new endpoints made from nothing,
 * the veths (and ifbs) of those gone deleted, the script if it is not the one applied. The rest equals what was
 * applied, and so plans nothing: the steps diffTenant would plan after reading the namespace, without reading it.
 */
export function diffEndpointChanges(want: TenantState, changes: EndpointChanges, options: DiffOptions = {}): Plan {
  const full = withDefaults(options);
  const tenant: DatapathErrorOwner = { tenant: want.tenant };
  const b = StepBuilder.of(want.namespace, tenant, full.deleteGroup);
  for (const gone of changes.removed) {
    b.deleteLink("veth", `veth ${gone.hostLink}`, gone.hostLink);
    if (gone.egressLimit !== null) b.deleteLink("veth", `ifb ${gone.egressLimit.ifb}`, gone.egressLimit.ifb);
  }
  // What diffEndpoint, diffNft and diffPickup look at: no link, shaper or container side of the new endpoints,
  // the policy table there, no bridge about to start passing netfilter.
  const have: ObservedTenant = { ...emptyTenant(want.namespace, changes.added.map(containerNotMade)), exists: true, loopbackUp: true, nftTable: true };
  for (const endpoint of changes.added) diffEndpoint(b.unit({ ...tenant, network: endpoint.network, endpoint: endpoint.id }), have, endpoint);
  diffPickup(b, want, have, diffNft(b, want, have, full.appliedNft), full.pickup);
  return { steps: b.steps(), problems: b.problems };
}

/** The plan that makes the kernel match `want`. Tenants that could not be observed get no step. */
export function diffHost(want: HostState, have: ObservedHost, options: DiffOptions = {}): Plan {
  const full = withDefaults(options);
  const plan: Plan = { steps: [], problems: [] };
  if (have.host !== null) plan.steps.push(...diffHostNamespace(want, have.host).steps());
  for (const tenant of want.tenants) {
    const observed = have.tenants.find((t) => t.namespace === tenant.namespace);
    if (observed === undefined) continue;
    const b = diffTenant(tenant, observed, have.host, full);
    plan.steps.push(...b.steps());
    plan.problems.push(...b.problems);
  }
  // Tenant namespaces of our prefix that are no longer wanted (nor frozen) go last, whole. Their veths and
  // VXLAN devices are deleted first: that removes the container sides and the agent-side ends at
  // once, and frees the VNIs, where the kernel would tear the namespace (and so the links) down
  // only some time after `ip netns del`.
  const wanted = new Set([...want.tenants.map((t) => t.namespace), ...want.frozen]);
  const start = tenantNamespace(want.prefix, "");
  for (const namespace of have.namespaces.filter((n) => n.startsWith(start) && !wanted.has(n))) {
    const b = StepBuilder.of(namespace, { tenant: namespace.slice(start.length) }, full.deleteGroup);
    const unwanted = have.unwanted.find((u) => u.namespace === namespace);
    for (const veth of unwanted?.veths ?? []) {
      b.deleteLink("veth", `veth ${veth}`, veth);
    }
    // One phase for all of them: one `ip link del group` before the namespace goes.
    for (const vxlan of unwanted?.vxlans ?? []) {
      b.deleteLink("veth", `vxlan ${vxlan}`, vxlan);
    }
    b.netns("delete", ["del", namespace]);
    plan.steps.push(...b.steps());
  }
  return plan;
}
