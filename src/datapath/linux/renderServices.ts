// Pure: a tenant's service load balancers (DesiredTenant.services) and DNS interception
// (DesiredNetwork.interceptDns) as kernel state: the VIPs on their network's bridge, the hairpin flag on
// the bridge ports of local providers, and `table inet netplugin_lb`, rendered whole and tagged like the
// NAT table. Part of render.ts, split out by concern.
//
// Why it looks like this:
//  - DNAT happens on the client's host, in prerouting at dstnat priority, so the policy table (filter
//    priority) sees the provider's address and judges the connection as a direct one. One verdict-map
//    lookup on daddr . l4proto . dport picks the service port's chain, whose rule picks a provider with
//    `numgen random mod N` from a map of addr . port: the cost does not grow with services or providers.
//  - Replies come back from the VIP by conntrack. A provider on the client's segment (on this host or
//    behind the VXLAN device) answers at L2, so the bridge must pass netfilter for the reply to be un-NATed:
//    the agent sets DesiredNetwork.netfilter on every bridge of a tenant with services.
//  - br_netfilter sends a DNATed frame whose new destination is on the same bridge straight back out of the
//    bridge (no routing), but it looks that destination up as a route first, and for IPv4 that lookup fails
//    while ip_forward is off (kernel 6.18). So a tenant with services forwards even in bridge mode; there
//    this table, the uplink tables and the policy's cross_bridge set drop routing between bridges except
//    for DNATed flows (`ct status dnat`).
//  - Hairpin: a provider that gets itself. The bridge must send the frame back out of the port it came in
//    by (the port's hairpin flag: only on local providers, as it reflects their broadcasts too), and the
//    source is translated to the gateway, or the provider would see a packet from itself.
//  - No provider: nat chains cannot reject. A packet to a VIP that was not DNATed reaches input, where TCP
//    gets a reset and UDP an ICMP port unreachable; ICMP echo is left to the kernel (the VIP answers ping).
//  - A changed service replaces the table in one transaction: running connections keep their NAT in
//    conntrack, new ones see only the new providers. The UDP and not yet established TCP entries of a provider
//    that left go (diffServices.ts): UDP flows would go on to it, and new connections that reuse a tuple too.

import type { DesiredNetwork, DesiredService, DesiredTenant } from "../types.js";
import { canonicalIp, familyOf, networkOf, parseCidr } from "./addr.js";
import { confineBridges, ownedTable } from "./renderOverlay.js";
import type { BridgeState, EndpointState, Family, OwnedNftTable, ServiceBackend, UplinkState } from "./state.js";
import { compareText, type IssueList } from "./validate.js";

/** The tenant's service and DNS interception table (family inet), beside the policy and NAT tables. */
export const LB_TABLE = "netplugin_lb";
const DNS_PORT = 53;

const PROTOCOLS = new Set(["tcp", "udp"]);

/** What a tenant's services and DNS interception add to its kernel state. */
export interface ServicesState {
  /** VIPs to add to each bridge ("a.b.c.d/32", "x::y/128"), by bridge name, sorted. */
  vips: Map<string, string[]>;
  /** Ids of the local endpoints that provide a service: their bridge port gets the hairpin flag. */
  hairpin: Set<string>;
  /** Forwarding the tenant needs in bridge mode too, by family. */
  forward: { ipv4: boolean; ipv6: boolean };
  table: OwnedNftTable | null;
  /** What the table DNATs to, sorted by backendKey. */
  backends: ServiceBackend[];
}

/** "vip port/protocol address targetPort": one text per backend, for sorting and comparing. */
export function backendKey(b: ServiceBackend): string {
  return `${b.vip} ${b.port}/${b.protocol} ${b.address} ${b.targetPort}`;
}

/** Where one VIP of a service port sends connections: the providers' addresses in the VIP's family, sorted. */
interface Target {
  vip: string;
  providers: string[];
}

/** One port of a service: a chain that picks a provider, per family where the service has a VIP and providers. */
interface ServicePort {
  service: string;
  chain: string;
  protocol: "tcp" | "udp";
  port: number;
  targetPort: number;
  targets: Record<Family, Target | null>;
}

function isPort(value: number): boolean {
  return Number.isInteger(value) && value >= 1 && value <= 65_535;
}

/** An address of one family without prefix, canonical; null (and an issue) when it is not one. */
function address(value: string, family: Family, at: string, what: string, issues: IssueList): string | null {
  const canonical = canonicalIp(value);
  if (canonical === null || familyOf(canonical) !== family) {
    issues.add(at, `${what}: invalid IPv${family} address "${value}"`);
    return null;
  }
  return canonical;
}

function inSubnet(ip: string, subnet: string): boolean {
  const cidr = parseCidr(subnet);
  return cidr !== null && familyOf(cidr[0]) === familyOf(ip) && networkOf(ip, cidr[1]) === networkOf(cidr[0], cidr[1]);
}

/** A service's VIP in one family, checked against its network; null when it has none or it is bad (an issue). */
function vipOf(service: DesiredService, network: DesiredNetwork, family: Family, at: string, issues: IssueList): string | null {
  const field = family === 4 ? "vip" : "vip6";
  if (family === 6 && service.vip6 === "") return null;
  const what = `service "${service.name}"`;
  const vip = address(service[field], family, `${at}.${field}`, what, issues);
  if (vip === null) return null;
  const [subnet, gateway] = family === 4 ? [network.subnet, network.gateway] : [network.ipv6Subnet, network.ipv6Gateway];
  if (!inSubnet(vip, subnet)) {
    issues.add(`${at}.${field}`, `${what}: VIP ${vip} is outside the subnet "${subnet}" of network "${network.name}"`);
    return null;
  }
  if (canonicalIp(gateway) === vip) {
    issues.add(`${at}.${field}`, `${what}: VIP ${vip} is the gateway of network "${network.name}"`);
    return null;
  }
  return vip;
}

/** The providers' addresses by family, canonical and unique; `owners` learns which endpoint holds each. */
function providersOf(service: DesiredService, at: string, owners: Map<string, string>, issues: IssueList): Record<Family, string[]> {
  const what = `service "${service.name}"`;
  const addresses: Record<Family, Set<string>> = { 4: new Set(), 6: new Set() };
  service.providers.forEach((p, k) => {
    const v4 = address(p.ipv4, 4, `${at}.providers[${k}].ipv4`, what, issues);
    const v6 = p.ipv6 === "" ? null : address(p.ipv6, 6, `${at}.providers[${k}].ipv6`, what, issues);
    for (const [family, ip] of [[4, v4], [6, v6]] as const) {
      if (ip === null) continue;
      addresses[family].add(ip);
      owners.set(ip, p.endpoint);
    }
  });
  return { 4: [...addresses[4]].sort(compareText), 6: [...addresses[6]].sort(compareText) };
}

/**
 * Renders the tenant's services and DNS interception; bad input is an issue under `path` (the tenant's). `bridges`
 * and `uplink` as rendered: in bridge mode routing between the bridges is confined (the uplink is the tables'
 * concern). `endpoints` as rendered: the local ones that provide a service get hairpin, masqueraded to their
 * network's gateway.
 */
export function renderServices(
  tenant: DesiredTenant,
  path: string,
  networks: Map<string, DesiredNetwork>,
  bridges: BridgeState[],
  endpoints: EndpointState[],
  uplink: UplinkState | null,
  issues: IssueList,
): ServicesState {
  const vips = new Map<string, Set<string>>();
  const ports: ServicePort[] = [];
  const owners = new Map<string, string>();
  const taken = new Map<string, string>();
  const services = (tenant.services ?? []).map((service, j) => ({ service, at: `${path}.services[${j}]` }));
  // Sorted, so chain names do not follow the order the agent lists services in.
  services.sort((a, b) => compareText(a.service.name, b.service.name) || compareText(a.service.vip, b.service.vip));
  services.forEach(({ service, at }, index) => {
    const what = `service "${service.name}"`;
    const network = networks.get(service.network);
    if (network === undefined) {
      issues.add(`${at}.network`, `${what}: unknown network "${service.network}"`);
      return;
    }
    const vip: Record<Family, string | null> = { 4: vipOf(service, network, 4, at, issues), 6: vipOf(service, network, 6, at, issues) };
    const onBridge = vips.get(network.bridge) ?? new Set<string>();
    vips.set(network.bridge, onBridge);
    if (vip[4] !== null) onBridge.add(`${vip[4]}/32`);
    if (vip[6] !== null) onBridge.add(`${vip[6]}/128`);
    const providers = providersOf(service, at, owners, issues);
    service.ports.forEach((p, k) => {
      const pat = `${at}.ports[${k}]`;
      let ok = true;
      if (!PROTOCOLS.has(p.protocol)) (issues.add(`${pat}.protocol`, `${what}: invalid protocol "${String(p.protocol)}"`), (ok = false));
      if (!isPort(p.port)) (issues.add(`${pat}.port`, `${what}: invalid port ${p.port}`), (ok = false));
      if (!isPort(p.targetPort)) (issues.add(`${pat}.targetPort`, `${what}: invalid target port ${p.targetPort}`), (ok = false));
      for (const address of [vip[4], vip[6]]) {
        if (address === null || !ok) continue;
        const key = `${address} ${p.port}/${p.protocol}`;
        const other = taken.get(key);
        if (other !== undefined) (issues.add(pat, `${what}: ${key} is also a port of service "${other}"`), (ok = false));
        else taken.set(key, service.name);
      }
      if (!ok) return;
      const target = (family: Family): Target | null => {
        const address = vip[family];
        return address === null || providers[family].length === 0 ? null : { vip: address, providers: providers[family] };
      };
      ports.push({
        service: service.name,
        chain: `svc${index}_${p.protocol}_${p.port}`,
        protocol: p.protocol,
        port: p.port,
        targetPort: p.targetPort,
        targets: { 4: target(4), 6: target(6) },
      });
    });
  });

  // Only a provider on this host can get itself: its port reflects, and its source becomes its gateway.
  const hairpin = new Set<string>();
  const selfPairs: Record<Family, string[]> = { 4: [], 6: [] };
  for (const e of endpoints) {
    const network = networks.get(e.network);
    for (const cidr of e.container.addresses) {
      const ip = cidr.split("/")[0]!;
      if (network === undefined || owners.get(ip) !== e.id) continue;
      hairpin.add(e.id);
      const family = familyOf(ip);
      const gateway = canonicalIp(family === 4 ? network.gateway : network.ipv6Gateway);
      if (gateway !== null) selfPairs[family].push(`${ip} . ${ip} : ${gateway}`);
    }
  }

  const dns = tenant.networks
    .filter((n) => n.interceptDns === true && canonicalIp(n.gateway) !== null)
    .map((n) => `"${n.bridge}" : ${canonicalIp(n.gateway)!}`)
    .sort(compareText);
  const all = [...vips.values()].flatMap((set) => [...set]).sort(compareText);
  const table =
    services.length === 0 && dns.length === 0
      ? null
      : lbTable({
          services: services.length > 0,
          confine: confineBridges(tenant.fwdMode, bridges, uplink?.tenantLink ?? null),
          vips: all,
          ports,
          selfPairs,
          dns,
        });
  const backends = ports.flatMap((p) =>
    ([4, 6] as const).flatMap((f) => {
      const target = p.targets[f];
      if (target === null) return [];
      return target.providers.map((address) => ({ vip: target.vip, protocol: p.protocol, port: p.port, address, targetPort: p.targetPort }));
    }),
  );
  return {
    vips: new Map([...vips].map(([bridge, set]) => [bridge, [...set].sort(compareText)])),
    hairpin,
    forward: { ipv4: services.length > 0, ipv6: all.some((v) => familyOf(v.split("/")[0]!) === 6) },
    table,
    backends: backends.sort((a, b) => compareText(backendKey(a), backendKey(b))),
  };
}

/** A bridge's VIPs ("addr/32", "addr/128") join its addresses, each family after the gateway, with the local route only. */
export function addVips(bridge: BridgeState, vips: string[]): void {
  const v4 = (a: string): boolean => familyOf(a.split("/")[0]!) === 4;
  bridge.addresses = [...bridge.addresses.filter(v4), ...vips.filter(v4), ...bridge.addresses.filter((a) => !v4(a)), ...vips.filter((a) => !v4(a))];
  bridge.noPrefixRoute.push(...vips);
}

interface LbTableInput {
  services: boolean;
  /** Rules of a forward chain that keep bridge-mode networks apart but for DNATed flows; empty in routing mode. */
  confine: string[];
  /** Every VIP, "addr/len". */
  vips: string[];
  ports: ServicePort[];
  /** Hairpin map elements by family: "P . P : gateway". */
  selfPairs: Record<Family, string[]>;
  /** DNS map elements: '"bridge" : gateway'. */
  dns: string[];
}

function elements(items: string[]): string[] {
  return items.length === 0 ? [] : [`    elements = { ${items.join(", ")} }`];
}

/** Sets or maps whose name ends in the family (vips4, services6): one per family, same shape. */
function perFamily(kind: "set" | "map", name: string, type: (family: Family) => string, items: (family: Family) => string[]): string[] {
  return ([4, 6] as const).flatMap((f) => [`  ${kind} ${name}${f} {`, `    type ${type(f)}`, ...elements(items(f)), "  }"]);
}

function lbTable(t: LbTableInput): OwnedNftTable {
  const addr = (f: Family): string => (f === 4 ? "ipv4_addr" : "ipv6_addr");
  const ip = (f: Family): string => (f === 4 ? "ip" : "ip6");
  const body: string[] = [];
  if (t.services) {
    const vipsOf = (f: Family): string[] => t.vips.map((v) => v.split("/")[0]!).filter((v) => familyOf(v) === f);
    const entries = (f: Family): string[] =>
      t.ports.flatMap((p) => (p.targets[f] === null ? [] : [`${p.targets[f]!.vip} . ${p.protocol} . ${p.port} : goto ${p.chain}`]));
    body.push(
      ...perFamily("set", "vips", addr, vipsOf),
      ...perFamily("map", "services", (f) => `${addr(f)} . inet_proto . inet_service : verdict`, entries),
      ...perFamily("map", "hairpin", (f) => `${addr(f)} . ${addr(f)} : ${addr(f)}`, (f) => t.selfPairs[f]),
    );
  }
  if (t.dns.length > 0) body.push("  map dns4 {", "    type ifname : ipv4_addr", ...elements(t.dns), "  }");
  body.push(
    "  chain prerouting {",
    "    type nat hook prerouting priority dstnat; policy accept;",
    ...(t.services ? ([4, 6] as const).map((f) => `    ${ip(f)} daddr . meta l4proto . th dport vmap @services${f}`) : []),
    // Only queries to addresses outside the namespace: the tenant's own DNS (and a service on port 53) answer as they are.
    ...(t.dns.length > 0
      ? [`    meta nfproto ipv4 meta l4proto { tcp, udp } th dport ${DNS_PORT} fib daddr type != local dnat ip to iifname map @dns4`]
      : []),
    "  }",
  );
  if (t.services) {
    body.push(
      "  chain postrouting {",
      "    type nat hook postrouting priority srcnat; policy accept;",
      ...([4, 6] as const).map((f) => `    ct status dnat snat ${ip(f)} to ${ip(f)} saddr . ${ip(f)} daddr map @hairpin${f}`),
      "  }",
      // After the policy (filter), which may drop first: what reaches here to a VIP found no provider.
      "  chain input {",
      "    type filter hook input priority filter + 1; policy accept;",
      ...([4, 6] as const).flatMap((f) => [
        `    ${ip(f)} daddr @vips${f} meta l4proto tcp reject with tcp reset`,
        `    ${ip(f)} daddr @vips${f} meta l4proto udp reject`,
      ]),
      "  }",
    );
    if (t.confine.length > 0) {
      body.push("  chain forward {", "    type filter hook forward priority filter; policy accept;", ...t.confine, "  }");
    }
    for (const p of t.ports) {
      const rules = ([4, 6] as const).flatMap((f) => {
        const target = p.targets[f];
        if (target === null) return [];
        const map = target.providers.map((a, i) => `${i} : ${a} . ${p.targetPort}`).join(", ");
        return [`    meta nfproto ipv${f} meta l4proto ${p.protocol} dnat ${ip(f)} to numgen random mod ${target.providers.length} map { ${map} }`];
      });
      if (rules.length > 0) body.push(`  chain ${p.chain} {`, `    comment "${commentText(p.service)}"`, ...rules, "  }");
    }
  }
  return ownedTable("inet", LB_TABLE, body);
}

/** Chain comments are quoted strings: the service's name with anything nft would not take replaced. */
function commentText(name: string): string {
  return name.replace(/[^A-Za-z0-9_.:/ -]/g, "_").slice(0, 64);
}
