// Pure: each tenant's way out of the cluster on an OVS host, and the host ports published to its containers.
// The same kernel objects as the Linux driver's (DesiredTenant.uplink): a veth between the agent's namespace and
// the tenant's namespace, which on OVS is its gateway namespace (gateway.ts), a default route through it, and the
// Linux driver's own NAT tables (linux/renderOverlay.ts tenantNatTable and hostNatTable, linux/renderPorts.ts):
// the gateway namespace masquerades what leaves to its uplink address and DNATs published ports arriving through
// it to their containers; the agent's namespace masquerades the uplinks' traffic to the host's own address and
// DNATs the host's published ports to the tenants' uplinks. Containers reach the namespace through their anycast
// gateway (gateway.ts gatewayFlows sends it every IP packet to the gateway's MAC while the tenant has a way out;
// in bridge mode the NAT table drops routing between two of its networks, as the Linux driver's does).
//
// Routed networks (BGP) cross the uplink as they are, as on Linux: their subnets are not NATed (the NAT table lets
// them through both ways), the agent's namespace routes each local container's /32 (/128) via the uplink's tenant
// end, where BGP announces it; with IPv6 the uplink's ends get fixed link-local addresses, the namespace an IPv6
// default route and the Linux driver's IPv6 guard table, and the agent's namespace forwards IPv6.
//
// A tenant has a way out when it has an uplink and a gateway namespace (a network with a gateway here that is
// not handed off to the physical network, whose router is then the containers' way out).
//
// DNS queries on their way out (DesiredNetwork.interceptDns: Docker's embedded resolver forwards the names it does
// not know to the resolvers of the host) are turned to the tenant's DNS at the network's gateway, as the Linux
// driver does: a table of the gateway namespace DNATs port 53 to an address outside it to the gateway address of
// the link it came in by (gatewayFlows sends such queries to the namespace).

import { ownerOf, routedSubnets } from "../linux/render.js";
import { hostNatTable, ownedTable, renderUplink, tenantNatTable, tenantRoute6Table, UPLINK_HOST_LL, UPLINK_TENANT_LL } from "../linux/renderOverlay.js";
import { checkHostPorts, coversLoopback, hostPortForwards, renderPortForwards } from "../linux/renderPorts.js";
import type { OwnedNftTable, PortForward, UplinkState } from "../linux/state.js";
import { IssueList } from "../linux/validate.js";
import { hostNftTable, tenantNamespace, uplinkHostLink } from "../names.js";
import type { DatapathProblem, DesiredHost, DesiredTenant } from "../types.js";
import type { WantedGatewayNamespace } from "./gateway.js";

export interface WantedWayOut {
  tenant: string;
  /** The tenant's gateway namespace: the uplink's tenant end and the NAT table live there. */
  namespace: string;
  uplink: UplinkState;
  /** `table ip netplugin_nat` of the namespace. */
  natTable: OwnedNftTable;
  /** `table ip6 netplugin_route6` when the uplink carries routed IPv6 (uplink.ipv6), else null. */
  route6Table: OwnedNftTable | null;
  /** route_localnet on the uplink's agent-side end: a published port covers a loopback address of the host. */
  localnet: boolean;
}

/** The gateway namespace's DNS interception table. */
export const DNS_TABLE = "netplugin_dns";
const DNS_PORT = 53;

export interface WantedDnsInterception {
  namespace: string;
  /** `table ip netplugin_dns`. */
  table: OwnedNftTable;
}

export interface WantedOutside {
  /** The prefix's agent-side uplink ends start with this; others of the prefix are stale. */
  prefix: string;
  wayOuts: WantedWayOut[];
  /** Per gateway namespace with a network that intercepts DNS, in namespace order. */
  dns: WantedDnsInterception[];
  /** The agent namespace's table (hostNftTable(prefix)); null when no tenant has a way out. */
  hostTable: OwnedNftTable | null;
  hostTableName: string;
}

interface Rendered {
  tenant: DesiredTenant;
  /** Index in DesiredHost.tenants (issue paths). */
  index: number;
  gateway: WantedGatewayNamespace | undefined;
  uplink: UplinkState | null;
  forwards: PortForward[];
}

function renderAll(desired: DesiredHost, gateways: readonly WantedGatewayNamespace[], issues: IssueList): Rendered[] {
  return desired.tenants.map((tenant, index) => {
    const path = `tenants[${index}]`;
    const gateway = gateways.find((g) => g.tenant === tenant.name);
    const uplink = tenant.uplink === undefined || gateway === undefined ? null : renderUplink(tenant.uplink, desired.prefix, `${path}.uplink`, issues);
    const forwards = renderPortForwards(tenant.endpoints, `${path}.endpoints`, issues);
    return { tenant, index, gateway, uplink, forwards };
  });
}

/**
 * What in `desired` cannot have its way out or published ports here (invalid uplinks, ports published twice or
 * to a tenant without a way out, ports on a network whose way out is the physical network's router), each with
 * the unit it concerns. `gateways`: gateway.ts's namespaces (render.ts gatewaysOf).
 */
export function checkOutside(desired: DesiredHost, gateways: readonly WantedGatewayNamespace[]): DatapathProblem[] {
  const issues = new IssueList();
  const rendered = renderAll(desired, gateways, issues);
  const vxlans = desired.tenants.flatMap((t) => t.networks.flatMap((n) => (n.vxlan === undefined ? [] : [{ port: n.vxlan.port }])));
  checkHostPorts(
    desired.tenants,
    rendered.map((r) => ({ tenant: r.tenant.name, uplink: r.uplink, portForwards: r.forwards, vxlans })),
    issues,
  );
  for (const r of rendered) {
    r.tenant.endpoints.forEach((e, k) => {
      const viaNamespace = r.gateway?.links.some((l) => l.network === e.network) ?? false;
      if ((e.portMappings ?? []).length > 0 && r.uplink !== null && !viaNamespace) {
        issues.add(`tenants[${r.index}].endpoints[${k}].portMappings`, `its network "${e.network}" has no gateway on this host for the published ports' replies`);
      }
    });
  }
  return issues.issues.map((issue) => {
    const { owner, field } = ownerOf(desired, issue.path);
    return { owner, message: field === "" ? issue.message : `${field}: ${issue.message}` };
  });
}

/** The ways out and the agent namespace's NAT table, for a DesiredHost that checkOutside() passed. */
export function wantedOutside(desired: DesiredHost, gateways: readonly WantedGatewayNamespace[]): WantedOutside {
  const issues = new IssueList();
  const rendered = renderAll(desired, gateways, issues).filter((r) => r.uplink !== null);
  const wayOuts = rendered
    .map((r) => {
      // The gateway namespace's ends of the networks' gateway veths are what it routes between.
      const links = r.gateway!.links.map((l) => ({ name: l.nsLink }));
      const up = r.uplink!;
      return {
        tenant: r.tenant.name,
        namespace: r.gateway!.name,
        uplink: up,
        natTable: tenantNatTable(up, r.tenant.fwdMode, links, routedSubnets(r.tenant.networks, 4), r.forwards),
        route6Table: up.ipv6 ? tenantRoute6Table(up, r.tenant.fwdMode, links, routedSubnets(r.tenant.networks, 6)) : null,
        localnet: r.forwards.some(coversLoopback),
      };
    })
    .sort((a, b) => (a.namespace < b.namespace ? -1 : a.namespace > b.namespace ? 1 : 0));
  const hostTableName = hostNftTable(desired.prefix);
  const forwards = hostPortForwards(rendered.map((r) => ({ uplink: r.uplink, portForwards: r.forwards })));
  return {
    prefix: desired.prefix,
    wayOuts,
    dns: gateways.flatMap((g) => {
      const tenant = desired.tenants.find((t) => t.name === g.tenant);
      const intercepting = new Set(tenant?.networks.filter((n) => n.interceptDns === true).map((n) => n.name));
      // Only networks with an IPv4 gateway: the table DNATs IPv4 queries.
      const links = g.links.flatMap((l) => {
        const gateway = l.addresses.find((a) => !a.includes(":"))?.split("/")[0];
        return intercepting.has(l.network) && gateway !== undefined ? [{ link: l.nsLink, gateway }] : [];
      });
      return links.length === 0 ? [] : [{ namespace: g.name, table: dnsTable(links) }];
    }),
    hostTable: wayOuts.length === 0 ? null : hostNatTable(desired.prefix, hostTableName, [], forwards, desired.host.uplinkRange),
    hostTableName,
  };
}

/**
 * The DNS interception table of a gateway namespace: a query arriving by a gateway link to port 53 of an address
 * not its own goes to that link's gateway address (where the tenant's DNS server binds). `links` in link order.
 */
export function dnsTable(links: readonly { link: string; gateway: string }[]): OwnedNftTable {
  return ownedTable("ip", DNS_TABLE, [
    "  map dns4 {",
    "    type ifname : ipv4_addr",
    `    elements = { ${links.map((l) => `"${l.link}" : ${l.gateway}`).join(", ")} }`,
    "  }",
    "  chain prerouting {",
    "    type nat hook prerouting priority dstnat; policy accept;",
    `    meta l4proto { tcp, udp } th dport ${DNS_PORT} fib daddr type != local dnat ip to iifname map @dns4`,
    "  }",
  ]);
}

/** What exists of the ways out (outside-ns.ts reads it). */
export interface ObservedOutside {
  /** Links of the agent's namespace whose names start with the prefix's uplink pattern (uplinkHostPattern). */
  hostLinks: ObservedUplinkEnd[];
  /** Routes of the agent's namespace through those links (routed containers), by link. */
  hostRoutes: ReadonlyMap<string, readonly ObservedRoute[]>;
  /** net.ipv6.conf.all.forwarding of the agent's namespace. */
  forwarding6: boolean;
  /** Per gateway namespace (wanted or not): its uplink end, default routes and NAT table. */
  namespaces: ReadonlyMap<string, ObservedWayOutNamespace>;
  /** The agent namespace's table's tag (its comment), null when it has none. */
  hostTag: string | null;
  /** net.ipv4.ip_forward of the agent's namespace. */
  forwarding: boolean;
  /** route_localnet of the wanted agent-side ends that exist. */
  localnet: ReadonlyMap<string, boolean>;
}

export interface ObservedUplinkEnd {
  name: string;
  up: boolean;
  /** IPv4 addresses with their prefix length. */
  addresses: string[];
  /** IPv6 link-local addresses with their prefix length. */
  linkLocal: string[];
}

export interface ObservedRoute {
  /** "a.b.c.d/32", "x::y/128". */
  dst: string;
  via: string;
}

export interface ObservedWayOutNamespace {
  /** The uplink's tenant end (linux/names UPLINK_TENANT_LINK), when there is one. */
  link?: ObservedUplinkEnd;
  /** The next hops of its IPv4 default routes through the uplink's tenant end. */
  defaultVia: string[];
  /** The same of IPv6. */
  default6Via: string[];
  natTag: string | null;
  route6Tag: string | null;
  dnsTag: string | null;
}

export type OutsideStep =
  | { kind: "host-forwarding"; family: 4 | 6 }
  | { kind: "delete-uplink"; hostLink: string }
  | { kind: "add-uplink"; namespace: string; uplink: UplinkState }
  | { kind: "link-local"; namespace: string; uplink: UplinkState }
  | { kind: "default-route"; namespace: string; uplink: UplinkState; family: 4 | 6 }
  | { kind: "host-route"; hostLink: string; dst: string; via: string }
  | { kind: "delete-host-route"; hostLink: string; dst: string; via: string }
  | { kind: "localnet"; hostLink: string; on: boolean }
  | { kind: "put-nat"; namespace: string; table: OwnedNftTable }
  | { kind: "delete-nat"; namespace: string }
  | { kind: "put-route6"; namespace: string; table: OwnedNftTable }
  | { kind: "delete-route6"; namespace: string }
  | { kind: "put-dns"; namespace: string; table: OwnedNftTable }
  | { kind: "delete-dns"; namespace: string }
  | { kind: "put-host-table"; table: OwnedNftTable }
  | { kind: "delete-host-table"; name: string };

/**
 * The steps that make the ways out what `wanted` says, from what exists: only what differs. An uplink whose two
 * ends are not both there, up, with their addresses, is made again whole (its default route and NAT table
 * follow). Stale agent-side ends go first (the tenant end goes with each), except those of `frozen` namespaces
 * (DesiredHost.frozen), and NAT tables of gateway namespaces that no longer have a way out; forwarding in the
 * agent's namespace is switched on, never off (as the Linux driver does); the agent namespace's table goes last,
 * when every uplink it DNATs to is there.
 */
export function planOutside(wanted: WantedOutside, observed: ObservedOutside, frozen: readonly string[] = []): OutsideStep[] {
  const steps: OutsideStep[] = [];
  const keep = new Set([...wanted.wayOuts.map((w) => w.uplink.hostLink), ...frozen.map((ns) => frozenHostLink(wanted.prefix, ns))]);
  for (const end of observed.hostLinks.filter((l) => !keep.has(l.name))) steps.push({ kind: "delete-uplink", hostLink: end.name });
  const withWayOut = new Set(wanted.wayOuts.map((w) => w.namespace));
  for (const [namespace, seen] of [...observed.namespaces].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (!withWayOut.has(namespace) && !frozen.includes(namespace) && seen.natTag !== null) steps.push({ kind: "delete-nat", namespace });
    const dns = wanted.dns.find((d) => d.namespace === namespace);
    if (dns === undefined && !frozen.includes(namespace) && seen.dnsTag !== null) steps.push({ kind: "delete-dns", namespace });
  }
  for (const d of wanted.dns) {
    if (observed.namespaces.get(d.namespace)?.dnsTag !== d.table.tag) steps.push({ kind: "put-dns", namespace: d.namespace, table: d.table });
  }
  if (wanted.wayOuts.length > 0 && !observed.forwarding) steps.push({ kind: "host-forwarding", family: 4 });
  if (wanted.wayOuts.some((w) => w.uplink.ipv6) && !observed.forwarding6) steps.push({ kind: "host-forwarding", family: 6 });
  for (const w of wanted.wayOuts) {
    const up = w.uplink;
    const hostEnd = observed.hostLinks.find((l) => l.name === up.hostLink);
    const inside = observed.namespaces.get(w.namespace);
    const whole = (end: ObservedUplinkEnd | undefined, address: string) => end !== undefined && end.up && end.addresses.length === 1 && end.addresses[0] === address;
    const made = whole(hostEnd, up.hostAddr) && whole(inside?.link, up.tenantAddr);
    if (!made) steps.push({ kind: "add-uplink", namespace: w.namespace, uplink: up });
    const linkLocal = (end: ObservedUplinkEnd | undefined, address: string) => end?.linkLocal.includes(`${address}/64`) === true;
    if (up.ipv6 && (!made || !linkLocal(hostEnd, UPLINK_HOST_LL) || !linkLocal(inside?.link, UPLINK_TENANT_LL))) steps.push({ kind: "link-local", namespace: w.namespace, uplink: up });
    // Routes through a link made again vanish with it.
    const via = (family: 4 | 6) => (made ? (family === 4 ? inside?.defaultVia : inside?.default6Via) : []) ?? [];
    if (!(via(4).length === 1 && via(4)[0] === up.gateway)) steps.push({ kind: "default-route", namespace: w.namespace, uplink: up, family: 4 });
    if (up.ipv6 && !(via(6).length === 1 && via(6)[0] === UPLINK_HOST_LL)) steps.push({ kind: "default-route", namespace: w.namespace, uplink: up, family: 6 });
    // A new link starts with route_localnet off.
    if ((made ? (observed.localnet.get(up.hostLink) ?? false) : false) !== w.localnet) steps.push({ kind: "localnet", hostLink: up.hostLink, on: w.localnet });
    // Routed containers: a /32 (/128) in the agent's namespace via the uplink's tenant end.
    const routes = made ? (observed.hostRoutes.get(up.hostLink) ?? []) : [];
    const nextHop = (dst: string) => (dst.includes(":") ? UPLINK_TENANT_LL : up.tenantGateway);
    for (const r of routes.filter((r) => !up.routes.includes(r.dst) || r.via !== nextHop(r.dst))) steps.push({ kind: "delete-host-route", hostLink: up.hostLink, dst: r.dst, via: r.via });
    for (const dst of up.routes.filter((d) => !routes.some((r) => r.dst === d && r.via === nextHop(d)))) steps.push({ kind: "host-route", hostLink: up.hostLink, dst, via: nextHop(dst) });
    if (inside?.natTag !== w.natTable.tag) steps.push({ kind: "put-nat", namespace: w.namespace, table: w.natTable });
    if (w.route6Table !== null && inside?.route6Tag !== w.route6Table.tag) steps.push({ kind: "put-route6", namespace: w.namespace, table: w.route6Table });
    if (w.route6Table === null && (inside?.route6Tag ?? null) !== null) steps.push({ kind: "delete-route6", namespace: w.namespace });
  }
  if (wanted.hostTable === null) {
    if (observed.hostTag !== null) steps.push({ kind: "delete-host-table", name: wanted.hostTableName });
  } else if (observed.hostTag !== wanted.hostTable.tag) {
    steps.push({ kind: "put-host-table", table: wanted.hostTable });
  }
  return steps;
}

/** The agent-side uplink end of a frozen tenant's namespace (its name carries the tenant's). */
function frozenHostLink(prefix: string, namespace: string): string {
  return uplinkHostLink(prefix, namespace.slice(tenantNamespace(prefix, "").length));
}
