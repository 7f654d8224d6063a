// Pure: the steps for the cluster-facing objects of a tenant — VXLAN devices and their FDB and
// proxy-neighbour entries, the uplink, host endpoints, the uplink NAT table — and for what we own in the
// agent's own namespace (ip_forward, the outbound NAT table). Part of diff.ts, split out by kernel object.
// Veths between the agent's namespace and a tenant belong to that tenant's steps: the tenant decides
// whether they are right, and deletes and re-creates them from either side.

import type { DatapathErrorOwner } from "../driver.js";
import { familyOf } from "./addr.js";
import { HOST_GROUP, type StepTarget } from "./plan.js";
import { HOST_TABLE_FAMILY, UPLINK_HOST_LL, UPLINK_TENANT_LL, VXLAN_TTL } from "./renderOverlay.js";
import { coversLoopback } from "./renderPorts.js";
import { StepBuilder } from "./stepBuilder.js";
import type {
  HostState,
  ObservedHostLink,
  ObservedHostNamespace,
  ObservedTenant,
  ObservedVeth,
  OwnedNftTable,
  TenantState,
  VxlanState,
} from "./state.js";

const HOST: StepTarget = { kind: "host" };
const ZERO_MAC = "00:00:00:00:00:00";
/** Bridge port flag "multicast_router": 2 = permanent router port, every multicast frame goes there. */
const MCAST_ROUTER_PERMANENT = 2;

/**
 * The endpoint each host route to a local container is for ("a.b.c.d/32", "x::y/128": BridgeState.hostRoutes,
 * UplinkState.routes), by route.
 */
export function hostRouteOwners(want: TenantState): Map<string, DatapathErrorOwner> {
  const owners = new Map<string, DatapathErrorOwner>();
  for (const e of want.endpoints) {
    for (const cidr of e.container.addresses) {
      const address = cidr.split("/")[0]!;
      const route = `${address}/${familyOf(address) === 4 ? 32 : 128}`;
      if (!owners.has(route)) owners.set(route, { tenant: want.tenant, network: e.network, endpoint: e.id });
    }
  }
  return owners;
}

/** Creates, replaces or deletes a table we render whole, comparing the tag in its comment. */
export function diffOwnedTable(
  b: StepBuilder,
  want: OwnedNftTable | null,
  name: { family: string; name: string },
  haveTag: string | null,
  target?: StepTarget,
): void {
  const object = `nft table ${name.family} ${name.name}`;
  if (want === null) {
    if (haveTag !== null) b.nft("delete", object, ["delete", "table", name.family, name.name], undefined, target);
  } else if (haveTag !== want.tag) {
    b.nft(haveTag === null ? "create" : "update", object, ["-f", "-"], want.script, target);
  }
}

// --- VXLAN ----------------------------------------------------------------------------------------

function vxlanAddArgs(v: VxlanState, namespace: string): string[] {
  // Created from the agent's namespace straight into the tenant's: the UDP socket stays with the
  // underlay, and no half-made device is ever left in the agent's namespace.
  return [
    "link", "add", v.device, "mtu", String(v.mtu), "netns", namespace,
    "type", "vxlan", "id", String(v.vni), "local", v.local, "dstport", String(v.port), "nolearning",
    ...(v.proxy ? ["proxy"] : []), "ttl", String(VXLAN_TTL),
  ];
}

const PORT_FLAGS = ["learning", "off", "mcast_router", String(MCAST_ROUTER_PERMANENT)];

function diffVxlanDevice(b: StepBuilder, want: TenantState, have: ObservedTenant, v: VxlanState): boolean {
  const object = `vxlan ${v.device}`;
  const cur = have.vxlans.find((x) => x.name === v.device);
  const same =
    cur !== undefined &&
    cur.vni === v.vni &&
    cur.local === v.local &&
    cur.port === v.port &&
    cur.proxy === v.proxy &&
    !cur.learning &&
    cur.ttl === VXLAN_TTL;
  if (cur === undefined || !same) {
    // VNI, local address, port and proxy cannot be changed on a live device: re-create it.
    if (cur !== undefined) b.ip("vxlan", "delete", `${object} (re-created)`, ["link", "del", v.device]);
    b.hostIp("vxlan", "create", object, vxlanAddArgs(v, want.namespace));
    b.ip("vxlan", "create", object, ["link", "set", v.device, "master", v.bridge]);
    b.ip("vxlan", "create", object, ["link", "set", v.device, "type", "bridge_slave", ...PORT_FLAGS]);
    b.ip("vxlan", "create", object, ["link", "set", v.device, "up"]);
    return true;
  }
  const set: string[] = [];
  if (cur.mtu !== v.mtu) set.push("mtu", String(v.mtu));
  if (cur.master !== v.bridge) set.push("master", v.bridge);
  if (!cur.up) set.push("up");
  if (set.length > 0) b.ip("vxlan", "update", object, ["link", "set", v.device, ...set]);
  if (cur.master !== v.bridge || cur.portLearning !== false || cur.mcastRouter !== MCAST_ROUTER_PERMANENT) {
    b.ip("vxlan", "update", `${object} bridge port`, ["link", "set", v.device, "type", "bridge_slave", ...PORT_FLAGS]);
  }
  return false;
}

/** FDB and neighbour entries of one device; `fresh` = the device is (re-)created by this plan. */
function diffVxlanEntries(b: StepBuilder, have: ObservedTenant, v: VxlanState, fresh: boolean): void {
  const dev = v.device;
  const entries = fresh ? [] : have.fdb.filter((e) => e.dev === dev);

  // Flood list: one all-zero entry per peer VTEP (head-end replication of broadcast/unknown/multicast).
  const floods = entries.filter((e) => e.self && e.mac === ZERO_MAC && e.dst !== null).map((e) => e.dst!);
  for (const dst of floods.filter((d) => !v.peers.includes(d))) {
    b.bridge("fdb", "delete", `flood entry ${dst} on ${dev}`, ["fdb", "del", ZERO_MAC, "dev", dev, "dst", dst, "self"]);
  }
  for (const peer of v.peers.filter((p) => !floods.includes(p))) {
    b.bridge("fdb", "create", `flood entry ${peer} on ${dev}`, ["fdb", "append", ZERO_MAC, "dev", dev, "dst", peer, "self", "permanent"]);
  }

  // Remote MACs in the device's FDB: MAC → VTEP.
  const remotes = new Map<string, string[]>();
  for (const e of entries.filter((x) => x.self && x.mac !== ZERO_MAC && x.dst !== null)) {
    remotes.set(e.mac, [...(remotes.get(e.mac) ?? []), e.dst!]);
  }
  const wanted = new Map(v.remotes.map((r) => [r.mac, r.vtep]));
  for (const [mac, dsts] of remotes) {
    const vtep = wanted.get(mac);
    if (vtep === undefined || dsts.length > 1) {
      b.bridge("fdb", "delete", `remote ${mac} on ${dev}`, ["fdb", "del", mac, "dev", dev, "self"]);
    }
  }
  const remote = (endpoint: string): StepBuilder => b.unit({ ...b.owner, endpoint });
  for (const { mac, vtep, endpoint } of v.remotes) {
    const dsts = remotes.get(mac) ?? [];
    if (dsts.length === 1 && dsts[0] === vtep) continue;
    const action = dsts.length === 1 ? "update" : "create";
    remote(endpoint).bridge("fdb", action, `remote ${mac} on ${dev}`, ["fdb", "replace", mac, "dev", dev, "dst", vtep, "self", "permanent"]);
  }

  // The same MACs in the bridge's FDB, on the VXLAN port: the bridge never learns on that port.
  const statics = entries.filter((e) => !e.self && e.master !== null && e.state === "static").map((e) => e.mac);
  for (const mac of statics.filter((m) => !wanted.has(m))) {
    b.bridge("fdb", "delete", `bridge entry ${mac} on ${dev}`, ["fdb", "del", mac, "dev", dev, "master"]);
  }
  for (const { mac, endpoint } of v.remotes.filter((r) => !statics.includes(r.mac))) {
    remote(endpoint).bridge("fdb", "create", `bridge entry ${mac} on ${dev}`, ["fdb", "replace", mac, "dev", dev, "master", "static"]);
  }

  // Proxy mode: permanent neighbours the device answers ARP/ND from.
  const neighbours = fresh ? [] : have.neighbours.filter((n) => n.dev === dev);
  for (const n of neighbours.filter((x) => x.permanent && !v.neighbours.some((w) => w.ip === x.ip))) {
    b.ip("fdb", "delete", `neighbour ${n.ip} on ${dev}`, ["neigh", "del", n.ip, "dev", dev]);
  }
  for (const w of v.neighbours) {
    const cur = neighbours.find((n) => n.ip === w.ip);
    if (cur?.permanent === true && cur.mac === w.mac) continue;
    remote(w.endpoint).ip("fdb", cur === undefined ? "create" : "update", `neighbour ${w.ip} on ${dev}`, [
      "neigh", "replace", w.ip, "lladdr", w.mac, "dev", dev, "nud", "permanent",
    ]);
  }
}

export function diffVxlans(b: StepBuilder, want: TenantState, have: ObservedTenant): void {
  const wanted = new Set(want.vxlans.map((v) => v.device));
  for (const stale of have.vxlans.filter((v) => !wanted.has(v.name))) {
    b.ip("vxlan", "delete", `vxlan ${stale.name}`, ["link", "del", stale.name]);
  }
  for (const v of want.vxlans) {
    const network = b.unit({ tenant: want.tenant, network: v.network });
    const fresh = diffVxlanDevice(network, want, have, v);
    diffVxlanEntries(network, have, v, fresh);
  }
}

// --- veths between the agent's namespace and the tenant's ------------------------------------------

function paired(hostEnd: ObservedHostLink | undefined, tenantEnd: ObservedVeth | undefined): boolean {
  return (
    hostEnd !== undefined &&
    tenantEnd !== undefined &&
    hostEnd.kind === "veth" &&
    hostEnd.peerIfindex === tenantEnd.ifindex &&
    tenantEnd.peerIfindex === hostEnd.ifindex
  );
}

/** Deletes the ends of a pair that is not one any more; the caller creates it again. */
function removeBrokenPair(
  b: StepBuilder,
  phase: "uplink" | "hostEndpoint",
  hostEnd: ObservedHostLink | undefined,
  tenantEnd: ObservedVeth | undefined,
): void {
  if (hostEnd !== undefined) b.hostIp(phase, "delete", `${phase} ${hostEnd.name} (peer gone)`, ["link", "del", hostEnd.name]);
  if (tenantEnd !== undefined) b.ip(phase, "delete", `${phase} ${tenantEnd.name} (peer gone)`, ["link", "del", tenantEnd.name]);
}

function diffAddresses(
  add: (action: "create" | "delete", object: string, args: string[]) => void,
  dev: string,
  have: string[],
  want: string[],
): void {
  for (const address of have.filter((a) => !want.includes(a))) {
    add("delete", `address ${address} on ${dev}`, ["addr", "del", address, "dev", dev]);
  }
  for (const address of want.filter((a) => !have.includes(a))) {
    add("create", `address ${address} on ${dev}`, ["addr", "add", address, "dev", dev, ...(address.includes(":") ? ["nodad"] : [])]);
  }
}

/** The uplink's fixed link-local address on one end: added when wanted, removed (only that one) when not. */
function diffLinkLocal(
  add: (action: "create" | "delete", object: string, args: string[]) => void,
  dev: string,
  have: string[],
  address: string,
  wanted: boolean,
): void {
  const cidr = `${address}/64`;
  if (wanted && !have.includes(cidr)) add("create", `address ${cidr} on ${dev}`, ["addr", "add", cidr, "dev", dev, "nodad"]);
  if (!wanted && have.includes(cidr)) add("delete", `address ${cidr} on ${dev}`, ["addr", "del", cidr, "dev", dev]);
}

export function diffUplink(b: StepBuilder, want: TenantState, have: ObservedTenant, host: ObservedHostNamespace): void {
  const up = want.uplink;
  // "default" is IPv4 to ip; IPv6 names its default route ::/0.
  const dst = (r: { family: 4 | 6 }): string => (r.family === 4 ? "default" : "::/0");
  const routeDel = (r: { family: 4 | 6; via: string; dev: string }): void =>
    b.ip("uplink", "delete", `default route via ${r.via}`, ["route", "del", dst(r), "via", r.via, "dev", r.dev]);
  if (up === null) {
    // The tenant end goes with the stale veths (diff.ts), and with it the agent-side end.
    have.routes.forEach(routeDel);
    return;
  }
  const hostEnd = host.links.find((l) => l.name === up.hostLink);
  const tenantEnd = have.veths.find((v) => v.name === up.tenantLink);
  const ok = paired(hostEnd, tenantEnd);
  if (!ok) {
    removeBrokenPair(b, "uplink", hostEnd, tenantEnd);
    b.hostIp("uplink", "create", `uplink ${up.hostLink}`, [
      "link", "add", up.hostLink, "type", "veth", "peer", "name", up.tenantLink, "netns", want.namespace,
    ]);
  }
  const hostAdd = (action: "create" | "delete", object: string, args: string[]): void => b.hostIp("uplink", action, object, args);
  const tenantAdd = (action: "create" | "delete", object: string, args: string[]): void => b.ip("uplink", action, object, args);
  diffAddresses(hostAdd, up.hostLink, ok ? hostEnd!.addresses : [], [up.hostAddr]);
  diffLinkLocal(hostAdd, up.hostLink, ok ? hostEnd!.linkLocal : [], UPLINK_HOST_LL, up.ipv6);
  if (!ok || !hostEnd!.up) b.hostIp("uplink", ok ? "update" : "create", `uplink ${up.hostLink}`, ["link", "set", up.hostLink, "up"]);
  diffAddresses(tenantAdd, up.tenantLink, ok ? tenantEnd!.addresses : [], [up.tenantAddr]);
  diffLinkLocal(tenantAdd, up.tenantLink, ok ? tenantEnd!.linkLocal : [], UPLINK_TENANT_LL, up.ipv6);
  if (!ok || !tenantEnd!.up) b.ip("uplink", ok ? "update" : "create", `uplink ${up.tenantLink}`, ["link", "set", up.tenantLink, "up"]);

  // The host's own connections to a published loopback address leave through the agent-side end with a
  // loopback source (renderPorts.ts); only while some mapping needs it. A new link starts with 0.
  const localnet = `net.ipv4.conf.${up.hostLink}.route_localnet`;
  const wantLocalnet = want.portForwards.some(coversLoopback) ? "1" : "0";
  if ((ok ? host.sysctls[localnet] : "0") !== wantLocalnet) {
    b.unit({ ...b.owner, ports: true }).sysctl(`sysctl ${localnet}`, ["-w", `${localnet}=${wantLocalnet}`], HOST, "uplink");
  }

  // Default routes: IPv4 via the agent's end, IPv6 via its fixed link-local address while the tenant routes
  // IPv6. Routes through a link that is re-created vanish with it.
  const defaults = [
    { family: 4 as const, via: up.gateway },
    ...(up.ipv6 ? [{ family: 6 as const, via: UPLINK_HOST_LL }] : []),
  ];
  const isWanted = (r: { family: 4 | 6; via: string; dev: string }): boolean =>
    r.dev === up.tenantLink && defaults.some((d) => d.family === r.family && d.via === r.via);
  const routes = ok ? have.routes : have.routes.filter((r) => r.dev !== up.tenantLink);
  routes.filter((r) => !isWanted(r)).forEach(routeDel);
  for (const d of defaults.filter((x) => !routes.some((r) => isWanted(r) && r.family === x.family))) {
    b.ip("uplink", "create", `default route via ${d.via}`, ["route", "add", dst(d), "via", d.via, "dev", up.tenantLink]);
  }

  // Routed containers: a /32 (/128) in the agent's namespace via the tenant end. Routes through a re-created
  // link vanish with it. `replace`: a BGP-learned route for an address that has just moved here is taken over.
  const viaFor = (route: string): string => (route.includes(":") ? UPLINK_TENANT_LL : up.tenantGateway);
  const owners = hostRouteOwners(want);
  const hostRoutes = ok ? host.routes.filter((r) => r.dev === up.hostLink) : [];
  for (const r of hostRoutes.filter((x) => !up.routes.includes(x.dst))) {
    b.hostIp("uplink", "delete", `route ${r.dst} via ${r.via}`, ["route", "del", r.dst, "via", r.via, "dev", r.dev]);
  }
  for (const route of up.routes) {
    const via = viaFor(route);
    const current = hostRoutes.filter((r) => r.dst === route);
    if (current.length === 1 && current[0]!.via === via) continue;
    b.unit(owners.get(route) ?? b.owner).hostIp("uplink", current.length === 0 ? "create" : "update", `route ${route} via ${via}`, [
      "route", "replace", route, "via", via, "dev", up.hostLink,
    ]);
  }
}

export function diffHostEndpoints(tenant: StepBuilder, want: TenantState, have: ObservedTenant, host: ObservedHostNamespace): void {
  for (const ep of want.hostEndpoints) {
    const b = tenant.unit({ tenant: want.tenant, network: ep.network });
    const object = `host endpoint ${ep.hostLink}`;
    const hostEnd = host.links.find((l) => l.name === ep.hostLink);
    const tenantEnd = have.veths.find((v) => v.name === ep.tenantLink);
    const ok = paired(hostEnd, tenantEnd);
    if (!ok) {
      removeBrokenPair(b, "hostEndpoint", hostEnd, tenantEnd);
      b.hostIp("hostEndpoint", "create", object, [
        "link", "add", ep.hostLink, "address", ep.mac, "mtu", String(ep.mtu),
        "type", "veth", "peer", "name", ep.tenantLink, "mtu", String(ep.mtu), "netns", want.namespace,
      ]);
    } else {
      const set: string[] = [];
      if (hostEnd!.mac !== ep.mac) set.push("address", ep.mac);
      if (hostEnd!.mtu !== ep.mtu) set.push("mtu", String(ep.mtu));
      if (set.length > 0) b.hostIp("hostEndpoint", "update", object, ["link", "set", ep.hostLink, ...set]);
    }
    diffAddresses((action, o, args) => b.hostIp("hostEndpoint", action, o, args), ep.hostLink, ok ? hostEnd!.addresses : [], [ep.address]);
    if (!ok || !hostEnd!.up) b.hostIp("hostEndpoint", ok ? "update" : "create", object, ["link", "set", ep.hostLink, "up"]);
    const set: string[] = [];
    if (ok && tenantEnd!.mtu !== ep.mtu) set.push("mtu", String(ep.mtu));
    if (!ok || tenantEnd!.master !== ep.bridge) set.push("master", ep.bridge);
    if (!ok || !tenantEnd!.up) set.push("up");
    if (set.length > 0) b.ip("hostEndpoint", ok ? "update" : "create", `host endpoint ${ep.tenantLink}`, ["link", "set", ep.tenantLink, ...set]);
  }
}

// --- the agent's own namespace -----------------------------------------------------------------------

/** ip_forward and the outbound NAT table; the veth ends there are their tenants' business. */
export function diffHostNamespace(want: HostState, have: ObservedHostNamespace): StepBuilder {
  const b = StepBuilder.of(HOST_GROUP, {});
  const changed = want.host.sysctls.filter((s) => have.sysctls[s.key] !== s.value);
  if (changed.length > 0) {
    b.sysctl(`sysctls ${changed.map((s) => s.key).join(", ")}`, ["-w", ...changed.map((s) => `${s.key}=${s.value}`)], HOST);
  }
  // Its table carries every tenant's published ports (and the outbound NAT).
  diffOwnedTable(b.unit({ ports: true }), want.host.nftTable, { family: HOST_TABLE_FAMILY, name: want.host.nftName }, have.nftTag, HOST);
  return b;
}
