// Pure: each tenant's gateway namespace on an OVS host, as OpenStack Neutron's router namespaces: the namespace
// the Linux driver and the DNS supervisor use (DesiredTenant.namespace, tenantNamespace()), with one veth per
// network that has a gateway: its namespace end holds the gateway's MAC (the one our flows answer ARP with) and
// addresses (IPv4 and IPv6, the latter without duplicate address detection), its other end is a port of the bridge
// (external_ids:netplugin-role=gateway). The tenant's DNS servers bind there (src/agent/dns), and in fwdMode routing
// the namespace routes between the tenant's networks (IPv4 and IPv6 forwarding on; off in bridge mode, where our
// flows send it only packets to its own addresses).
//
// What is decided here: the wanted namespaces and links (wantedGateways), the steps that turn what exists into
// them (planGateways), and the flows of a gateway port (gatewayFlows). gateway-ns.ts carries out the steps.
// ARP and ND for the gateway and pings to it stay answered by flows (render.ts), so nothing changes for containers
// when the namespace is late or gone; only what the flows do not answer (DNS, routed packets) goes there.

import { canonicalIp, gatewayMac } from "../linux/addr.js";
import { ownedTable } from "../linux/renderOverlay.js";
import type { OwnedNftTable } from "../linux/state.js";
import { gatewayHostLink, gatewayTenantLink, tenantNamespace } from "../names.js";
import type { DesiredEndpoint, DesiredHost, DesiredNetwork, DesiredTenant } from "../types.js";
import { arpResponder, classifyRegs, flow, ndResponder, UNTAGGED } from "./flow-text.js";
import { FLAG_FROM_GATEWAY, FLAG_FROM_TUNNEL, FLAGS_REG, NETWORK_REG, TABLE } from "./layout.js";

/** external_ids:netplugin-role of a gateway veth's bridge side. */
export const GATEWAY_ROLE = "gateway";
/** external_ids key of a gateway port: the namespace of its veth's other end. */
export const GATEWAY_NAMESPACE_KEY = "netplugin-namespace";

export interface WantedGatewayLink {
  tenant: string;
  network: string;
  /** The bridge side (a port), in the agent's namespace. */
  hostLink: string;
  /** The namespace side. */
  nsLink: string;
  mac: string;
  /**
   * The gateways' addresses with their subnets' prefix lengths, IPv4 first ("10.1.0.254/24", "fd00:1::fe/64"); on a
   * routed network without them (/32, /128): its containers elsewhere are reached through the uplink. Then the
   * VIPs of the network's services ("10.1.0.100/32", "fd00:1::100/128", sorted), in a family where the network has
   * a gateway: what our flows cannot balance to a provider comes here and is refused (refuseTable).
   */
  addresses: string[];
  /** A routed network's local containers, routed through the link ("10.1.0.1/32", "fd00:1::1/128"), sorted. */
  routes: string[];
  mtu: number;
}

export interface WantedGatewayNamespace {
  name: string;
  tenant: string;
  /** IPv4 forwarding: fwdMode routing, or a way out (outside.ts: its NAT table keeps bridge-mode networks apart). */
  forwarding: boolean;
  /** IPv6 forwarding: fwdMode routing, or routed IPv6 through the way out (its IPv6 guard table keeps them apart). */
  forwarding6: boolean;
  links: WantedGatewayLink[];
  /**
   * Only when the tenant has VIPs on its links: `table inet netplugin_refuse`, whose input chain refuses TCP (reset)
   * and UDP (ICMP port unreachable) to them, as the Linux driver's services table does (renderServices.ts).
   */
  refuseTable?: OwnedNftTable;
}

/** The gateway namespace's table that refuses connections to VIPs (WantedGatewayNamespace.refuseTable). */
export const REFUSE_TABLE = "netplugin_refuse";

/** The VIPs of a tenant's services on network `n` in the families where it has a gateway, "addr/32" and "addr/128", sorted. */
function vipsOn(t: DesiredTenant, n: DesiredNetwork): string[] {
  const out = new Set<string>();
  for (const s of t.services ?? []) {
    if (s.network !== n.name) continue;
    const v4 = canonicalIp(s.vip);
    const v6 = s.vip6 === "" ? null : canonicalIp(s.vip6);
    if (v4 !== null && n.gateway !== "" && !v4.includes(":")) out.add(`${v4}/32`);
    if (v6 !== null && n.ipv6Gateway !== "" && v6.includes(":")) out.add(`${v6}/128`);
  }
  return [...out].sort(cmp);
}

/** The refuse table for a namespace's VIPs ("addr/len"); the same text for the same VIPs. */
export function refuseTable(vips: readonly string[]): OwnedNftTable {
  const of = (v6: boolean) => vips.filter((v) => v.includes(":") === v6).map((v) => v.split("/")[0]!);
  const body: string[] = [];
  for (const [family, list] of [["ip", of(false)], ["ip6", of(true)]] as const) {
    body.push(`  set vips${family === "ip" ? 4 : 6} {`, `    type ${family === "ip" ? "ipv4_addr" : "ipv6_addr"}`, ...(list.length === 0 ? [] : [`    elements = { ${list.join(", ")} }`]), "  }");
  }
  body.push(
    "  chain input {",
    // Before anything that listens in the namespace (the tenant's DNS binds every address).
    "    type filter hook input priority filter; policy accept;",
    "    ip daddr @vips4 meta l4proto tcp reject with tcp reset",
    "    ip daddr @vips4 meta l4proto udp reject",
    "    ip6 daddr @vips6 meta l4proto tcp reject with tcp reset",
    "    ip6 daddr @vips6 meta l4proto udp reject",
    "  }",
  );
  return ownedTable("inet", REFUSE_TABLE, body);
}

/**
 * The gateway namespace of every tenant with a network that has a gateway here; `skip` leaves a network out (one
 * handed off to the physical network, whose router is its gateway). In name order, links too.
 */
export function wantedGateways(desired: DesiredHost, skip: (n: DesiredNetwork) => boolean = () => false): WantedGatewayNamespace[] {
  const out: WantedGatewayNamespace[] = [];
  for (const t of [...desired.tenants].sort((a, b) => cmp(a.name, b.name))) {
    const links = t.networks
      .filter((n) => (n.gateway !== "" || n.ipv6Gateway !== "") && !skip(n))
      .map((n): WantedGatewayLink => ({
        tenant: t.name,
        network: n.name,
        hostLink: gatewayHostLink(desired.prefix, t.name, n.name),
        nsLink: gatewayTenantLink(n.name),
        mac: gatewayMac(n.bridge),
        addresses: [
          ...(n.gateway === "" ? [] : [`${n.gateway}/${n.routed ? 32 : n.subnet.split("/")[1]}`]),
          ...(n.ipv6Gateway === "" ? [] : [`${canonicalIp(n.ipv6Gateway) ?? n.ipv6Gateway}/${n.routed ? 128 : n.ipv6Subnet.split("/")[1]}`]),
          ...vipsOn(t, n),
        ],
        routes: n.routed ? routedContainers(n, t.endpoints) : [],
        mtu: n.mtu,
      }))
      .sort((a, b) => cmp(a.network, b.network));
    if (links.length === 0) continue;
    const vips = t.networks.filter((n) => links.some((l) => l.network === n.name)).flatMap((n) => vipsOn(t, n));
    out.push({
      name: t.namespace || tenantNamespace(desired.prefix, t.name),
      tenant: t.name,
      ...forwardingOf(t),
      links,
      ...(vips.length === 0 ? {} : { refuseTable: refuseTable([...new Set(vips)].sort(cmp)) }),
    });
  }
  return out;
}

/** A link inside a gateway namespace, as `ip -json addr` shows it. */
export interface ObservedNsLink {
  name: string;
  mac: string;
  mtu: number;
  up: boolean;
  /** IPv4 and global IPv6 addresses with their prefix length (not the link-local one the kernel gives every link). */
  addresses: string[];
  /** Routes through the link that the kernel did not make itself ("dst/len"). */
  routes: string[];
}

export interface ObservedGatewayNamespace {
  /** IPv4 forwarding. */
  forwarding: boolean;
  /** IPv6 forwarding (net.ipv6.conf.all.forwarding). */
  forwarding6: boolean;
  loUp: boolean;
  links: ObservedNsLink[];
  /** The tag of its refuse table (REFUSE_TABLE), null when it has none. */
  refuseTag?: string | null;
}

export interface ObservedGateways {
  /** Every network namespace on the machine, by name. */
  namespaces: string[];
  /** What is inside those of them that are wanted. */
  inside: ReadonlyMap<string, ObservedGatewayNamespace>;
  /** The bridge's ports marked GATEWAY_ROLE, with the namespace of their other end (external_ids, GATEWAY_NAMESPACE_KEY). */
  ports: { name: string; namespace: string }[];
}

export type GatewayStep =
  | { kind: "add-namespace"; namespace: string }
  | { kind: "lo-up"; namespace: string }
  | { kind: "add-link"; namespace: string; link: WantedGatewayLink }
  | { kind: "add-address"; namespace: string; link: string; address: string }
  | { kind: "delete-address"; namespace: string; link: string; address: string }
  | { kind: "add-route"; namespace: string; link: string; route: string }
  | { kind: "delete-route"; namespace: string; link: string; route: string }
  | { kind: "set-forwarding"; namespace: string; v4: boolean; v6: boolean }
  | { kind: "put-refuse-table"; namespace: string; table: OwnedNftTable }
  | { kind: "delete-refuse-table"; namespace: string }
  | { kind: "delete-port"; name: string }
  | { kind: "delete-namespace"; namespace: string };

/**
 * The steps that make the gateway namespaces of `prefix` what `wanted` says, from what exists: only what differs.
 * A link whose pair is incomplete (no port on the bridge, or no namespace end) or whose MAC, MTU or state differs
 * is made again whole (add-link deletes what is left of it first, and makes its addresses and routes); addresses
 * and a routed network's container routes are added and removed one by one.
 * Ports of networks gone, and namespaces of tenants gone (named tenantNamespace(prefix, …)), are deleted last,
 * except those of `frozen` namespaces (DesiredHost.frozen: left exactly as they are).
 */
export function planGateways(prefix: string, wanted: readonly WantedGatewayNamespace[], observed: ObservedGateways, frozen: readonly string[] = []): GatewayStep[] {
  const steps: GatewayStep[] = [];
  const existing = new Set(observed.namespaces);
  const ports = new Set(observed.ports.map((p) => p.name));
  const keep = new Set(frozen);
  for (const ns of wanted) {
    const inside = existing.has(ns.name) ? observed.inside.get(ns.name) : undefined;
    if (!existing.has(ns.name)) steps.push({ kind: "add-namespace", namespace: ns.name });
    if (inside?.loUp !== true) steps.push({ kind: "lo-up", namespace: ns.name });
    // Connections to VIPs refused before the VIPs are addresses here (nothing that listens gets them).
    const tag = inside?.refuseTag ?? null;
    if (ns.refuseTable !== undefined && tag !== ns.refuseTable.tag) steps.push({ kind: "put-refuse-table", namespace: ns.name, table: ns.refuseTable });
    if (ns.refuseTable === undefined && tag !== null) steps.push({ kind: "delete-refuse-table", namespace: ns.name });
    for (const link of ns.links) {
      const seen = inside?.links.find((l) => l.name === link.nsLink);
      if (seen === undefined || !ports.has(link.hostLink) || seen.mac !== link.mac || seen.mtu !== link.mtu || !seen.up) {
        steps.push({ kind: "add-link", namespace: ns.name, link });
        continue;
      }
      for (const address of seen.addresses.filter((a) => !link.addresses.includes(a))) steps.push({ kind: "delete-address", namespace: ns.name, link: link.nsLink, address });
      for (const address of link.addresses.filter((a) => !seen.addresses.includes(a))) steps.push({ kind: "add-address", namespace: ns.name, link: link.nsLink, address });
      for (const route of seen.routes.filter((r) => !link.routes.includes(r))) steps.push({ kind: "delete-route", namespace: ns.name, link: link.nsLink, route });
      for (const route of link.routes.filter((r) => !seen.routes.includes(r))) steps.push({ kind: "add-route", namespace: ns.name, link: link.nsLink, route });
    }
    // Forwarding last: a namespace routes only once all its links are there.
    if ((inside?.forwarding ?? false) !== ns.forwarding || (inside?.forwarding6 ?? false) !== ns.forwarding6) {
      steps.push({ kind: "set-forwarding", namespace: ns.name, v4: ns.forwarding, v6: ns.forwarding6 });
    }
  }
  const wantedPorts = new Set(wanted.flatMap((ns) => ns.links.map((l) => l.hostLink)));
  const stale = observed.ports.filter((p) => !wantedPorts.has(p.name) && !keep.has(p.namespace));
  for (const name of stale.map((p) => p.name).sort()) steps.push({ kind: "delete-port", name });
  const ours = tenantNamespace(prefix, "");
  const wantedNames = new Set(wanted.map((ns) => ns.name));
  for (const name of [...existing].filter((n) => n.startsWith(ours) && !wantedNames.has(n) && !keep.has(n)).sort()) steps.push({ kind: "delete-namespace", namespace: name });
  return steps;
}

export interface GatewayFlowsInput {
  network: DesiredNetwork;
  /** The tenant's and network's numbers (render.ts). */
  tenant: number;
  networkNumber: number;
  /** The OpenFlow port of the network's gateway veth. */
  port: number;
  /**
   * The namespace forwards IPv4 (WantedGatewayNamespace.forwarding, forwardingOf): every IPv4 packet to the gateway's MAC goes
   * to it; otherwise only those to its address.
   */
  forwarding: boolean;
  /** The same for IPv6 (WantedGatewayNamespace.forwarding6). */
  forwarding6: boolean;
  /** Addresses and MACs of the network's endpoints, local and remote: the namespace's ARP is answered for them. */
  known: { ip: string; mac: string }[];
  /** Their IPv6 addresses (as OVS prints them): the namespace's neighbour solicitations are answered for them. */
  known6: { ip: string; mac: string }[];
  /** The network's local ports (OpenFlow numbers): where the namespace's broadcasts go. */
  localPorts: number[];
}

const MULTICAST = "dl_dst=01:00:00:00:00:00/01:00:00:00:00:00";

/** The flows of one network's gateway port. */
export function gatewayFlows(g: GatewayFlowsInput): string[] {
  const out: string[] = [];
  const n = g.network;
  const mac = gatewayMac(n.bridge);
  const net = `${NETWORK_REG}=${g.networkNumber}`;
  const fromGateway = `${FLAGS_REG}=${FLAG_FROM_GATEWAY}/${FLAG_FROM_GATEWAY}`;
  const classified = `${classifyRegs(g.tenant, g.networkNumber, FLAG_FROM_GATEWAY)},goto_table:${TABLE.LOCAL}`;
  // From the namespace: its MAC, any address (it routes other networks' packets here).
  const gw6 = n.ipv6Gateway === "" ? "" : (canonicalIp(n.ipv6Gateway) ?? n.ipv6Gateway);
  // IPv6 only on a network with an IPv6 gateway (elsewhere the namespace's link-local chatter stays in it).
  for (const proto of ["arp", "ip", ...(gw6 === "" ? [] : ["ipv6"])]) out.push(flow(TABLE.CLASSIFY, 110, `in_port=${g.port},dl_src=${mac},${UNTAGGED},${proto}`, classified));
  // Its ARP answered for every endpoint of the network, whatever the overlay's ARP mode: a reply to the gateway's
  // MAC from another host would go to that host's namespace (every host has the same gateway MAC).
  for (const k of g.known) out.push(flow(TABLE.LOCAL, 95, `${net},${fromGateway},arp,arp_op=1,arp_tpa=${k.ip}`, arpResponder(k.mac, k.ip)));
  for (const k of g.known6) out.push(flow(TABLE.LOCAL, 95, `${net},${fromGateway},icmp6,icmp_type=135,nd_target=${k.ip}`, ndResponder(k.mac, k.ip, false)));
  // To the namespace: IP to the gateway's MAC from this host's senders (not from the tunnel: each host has its own);
  // where it does not forward only to the gateway's addresses (IPv6: its link-local one too, where its own ND may be answered).
  const to = [
    ...(g.forwarding ? ["ip"] : n.gateway === "" ? [] : [`ip,nw_dst=${n.gateway}`]),
    ...(gw6 === "" ? [] : g.forwarding6 ? ["ipv6"] : [`ipv6,ipv6_dst=${gw6}`, "ipv6,ipv6_dst=fe80::/10"]),
  ];
  for (const t of to) out.push(flow(TABLE.L2_FORWARD, 100, `${net},${FLAGS_REG}=0/${FLAG_FROM_TUNNEL},${t},dl_dst=${mac}`, `output:${g.port}`));
  // DNS queries to resolvers elsewhere, which the namespace turns to the tenant's DNS (outside.ts dnsTable).
  if (!g.forwarding && n.gateway !== "" && n.interceptDns === true) {
    for (const proto of ["tcp", "udp"]) {
      out.push(flow(TABLE.L2_FORWARD, 100, `${net},${FLAGS_REG}=0/${FLAG_FROM_TUNNEL},${proto},tp_dst=53,dl_dst=${mac}`, `output:${g.port}`));
    }
  }
  // Its broadcasts reach this host's ports of the network only, never the peers.
  const locals = g.localPorts.map((p) => `output:${p}`);
  out.push(flow(TABLE.L2_FORWARD, 60, `${net},${fromGateway},${MULTICAST}`, locals.length > 0 ? locals.join(",") : "drop"));
  return out;
}

/** The host routes of a routed network's local containers: IPv4 always, IPv6 where the network has an IPv6 gateway. */
function routedContainers(n: DesiredNetwork, endpoints: readonly DesiredEndpoint[]): string[] {
  const routes = endpoints
    .filter((e) => e.network === n.name)
    .flatMap((e) => [
      ...(e.ipv4 === "" ? [] : [`${e.ipv4.split("/")[0]}/32`]),
      ...(e.ipv6 === "" || n.ipv6Gateway === "" ? [] : [`${canonicalIp(e.ipv6.split("/")[0]!) ?? e.ipv6.split("/")[0]}/128`]),
    ]);
  return [...new Set(routes)].sort(cmp);
}

/** Which families a tenant's gateway namespace forwards (WantedGatewayNamespace). */
export function forwardingOf(t: DesiredTenant): { forwarding: boolean; forwarding6: boolean } {
  const routing = t.fwdMode === "routing";
  return { forwarding: routing || t.uplink !== undefined, forwarding6: routing || (t.uplink?.routes ?? []).some((r) => r.includes(":")) };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
