// Pure: a tenant's service load balancers (DesiredTenant.services) as OpenFlow, the OVS counterpart of
// ../linux/renderServices.ts: select groups (one per service port, a bucket per provider) and the flows of the
// LOCAL, SERVICES and SERVICE_CT tables (layout.ts). Each family alike: a service's IPv6 VIP (vip6) is balanced to
// its providers' IPv6 addresses, in a group of its own (NAT targets in brackets).
//
// Why it looks like this:
//  - DNAT happens on the client's host before PRE_HOOK and the policy, in the tenant's conntrack zone, so the
//    policy (same zone) sees the provider's address and judges the connection as a direct one. The policy's
//    own ct() finds the connection the DNAT committed (same zone, the packet's cached entry), and its commit
//    of a new connection is a no-op on it.
//  - A new connection to VIP:port goes to the port's select group; OVS hashes the packet's 5-tuple to one
//    bucket, so connections spread evenly. Each bucket commits `nat(dst=provider:targetPort)` and comes back
//    to SERVICE_CT, where the packet, now to the provider, gets the provider's MAC (local endpoint, or a remote
//    one of the network's overlay: L2_FORWARD then tunnels it to the provider's host).
//  - Later packets of the connection are translated by conntrack (`ct(nat)`); the provider's packets from its
//    target port (on this host, or from the tunnel) go through `ct(nat)` too, so replies come back from the
//    VIP, with the VIP's MAC. The VIP's MAC is the network's gateway MAC (the Linux driver puts VIPs on the
//    network's bridge, whose MAC that is).
//  - The VIP answers ARP (IPv6: neighbour solicitations) and pings on every host of the tenant (LOCAL), as the
//    bridge does on Linux.
//  - No provider: OpenFlow cannot make a TCP reset (no writable TCP flags or sequence numbers) nor an ICMP
//    error around the packet, so the connection is dropped, not refused (the Linux driver refuses).
//  - Not done: hairpin (a provider that gets its own connection: the Linux driver also translates the source
//    to the gateway; here that connection fails), ICMP errors about a translated connection (not translated
//    back). Providers on another network than the VIP's are refused (checkServices): balancing across the
//    gateway namespace's routing is not done.

import { canonicalIp, familyOf, gatewayMac, networkOf, parseCidr } from "../linux/addr.js";
import type { DatapathProblem, DesiredHost, DesiredService, DesiredServicePort, DesiredTenant } from "../types.js";
import { stableNumbers } from "./numbers.js";
import { arpResponder, echo6Responder, echoResponder, flow, ndResponder } from "./flow-text.js";
import { FLAG_FROM_TUNNEL, FLAGS_REG, GROUP_BASE, NETWORK_REG, TABLE, TENANT_REG } from "./layout.js";

/** An OpenFlow group of ours: its id and its ovs-ofctl spec (add-group/mod-group). */
export interface ServiceGroup {
  id: number;
  spec: string;
}

const ZONE = `NXM_NX_${TENANT_REG.toUpperCase()}[0..15]`;
/** Match field names by family. */
const FIELDS = {
  4: { ip: "ip", src: "nw_src", dst: "nw_dst" },
  6: { ip: "ipv6", src: "ipv6_src", dst: "ipv6_dst" },
} as const;
const isPort = (n: number) => Number.isInteger(n) && n >= 1 && n <= 65_535;
const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** What is wrong with the tenant's services, each as a problem of the tenant (the services are made whole or not). */
export function checkServices(t: DesiredTenant): DatapathProblem[] {
  const problems: DatapathProblem[] = [];
  const owner = { tenant: t.name };
  const taken = new Map<string, string>();
  for (const s of t.services ?? []) {
    const what = `service "${s.name}"`;
    const add = (message: string) => problems.push({ owner, message: `${what}: ${message}` });
    const n = t.networks.find((n) => n.name === s.network);
    if (n === undefined) {
      add(`unknown network "${s.network}"`);
      continue;
    }
    const vip = canonicalIp(s.vip);
    const subnet = parseCidr(n.subnet);
    if (vip === null || familyOf(vip) !== 4) add(`invalid IPv4 VIP "${s.vip}"`);
    else if (subnet === null || familyOf(subnet[0]) !== 4 || networkOf(vip, subnet[1]) !== networkOf(subnet[0], subnet[1])) add(`VIP ${vip} is outside the subnet "${n.subnet}" of network "${n.name}"`);
    else if (canonicalIp(n.gateway) === vip) add(`VIP ${vip} is the gateway of network "${n.name}"`);
    const vip6 = s.vip6 === "" ? null : canonicalIp(s.vip6);
    const subnet6 = n.ipv6Subnet === "" ? null : parseCidr(n.ipv6Subnet);
    if (s.vip6 !== "") {
      if (vip6 === null || familyOf(vip6) !== 6) add(`invalid IPv6 VIP "${s.vip6}"`);
      else if (subnet6 === null || familyOf(subnet6[0]) !== 6 || networkOf(vip6, subnet6[1]) !== networkOf(subnet6[0], subnet6[1])) add(`VIP ${vip6} is outside the IPv6 subnet "${n.ipv6Subnet}" of network "${n.name}"`);
      else if (canonicalIp(n.ipv6Gateway) === vip6) add(`VIP ${vip6} is the IPv6 gateway of network "${n.name}"`);
    }
    for (const p of s.ports) {
      if (p.protocol !== "tcp" && p.protocol !== "udp") add(`invalid protocol "${String(p.protocol)}"`);
      if (!isPort(p.port)) add(`invalid port ${p.port}`);
      if (!isPort(p.targetPort)) add(`invalid target port ${p.targetPort}`);
      for (const v of [vip ?? s.vip, ...(s.vip6 === "" ? [] : [vip6 ?? s.vip6])]) {
        const key = `${v} ${p.port}/${p.protocol}`;
        const other = taken.get(key);
        if (other !== undefined) add(`${key} is also a port of service "${other}"`);
        taken.set(key, s.name);
      }
    }
    const across = (who: string) => `provider ${who} is on another network than the VIP's: the ovs datapath does not balance across networks yet (use --datapath linux)`;
    for (const p of s.providers) {
      const ip = canonicalIp(p.ipv4);
      if (ip === null || familyOf(ip) !== 4) add(`provider ${p.endpoint}: invalid IPv4 address "${p.ipv4}"`);
      else if (subnet !== null && networkOf(ip, subnet[1]) !== networkOf(subnet[0], subnet[1])) {
        add(across(`${p.endpoint} (${ip})`));
      }
      if (p.ipv6 === "" || s.vip6 === "") continue;
      const ip6 = canonicalIp(p.ipv6);
      if (ip6 === null || familyOf(ip6) !== 6) add(`provider ${p.endpoint}: invalid IPv6 address "${p.ipv6}"`);
      else if (subnet6 !== null && networkOf(ip6, subnet6[1]) !== networkOf(subnet6[0], subnet6[1])) add(across(`${p.endpoint} (${ip6})`));
    }
  }
  return problems;
}

/** A provider the pipeline can reach: its address and MAC on the service's network. */
interface Provider {
  ip: string;
  mac: string;
}

type Family = 4 | 6;

/** One port of a service on this host in one family (its VIP's), with its group id when it has providers. */
interface ServicePort {
  tenant: DesiredTenant;
  service: DesiredService;
  port: DesiredServicePort;
  family: Family;
  /** The VIP of that family, canonical. */
  vip: string;
  providers: Provider[];
  group: number | undefined;
}

/**
 * The providers of a service with a known MAC: local endpoints of the tenant and remote ones of the network's
 * overlay, by endpoint id (or address); sorted by address, unique.
 */
function providersOf(t: DesiredTenant, s: DesiredService, family: Family): Provider[] {
  const n = t.networks.find((n) => n.name === s.network)!;
  const v6 = family === 6;
  const canonical = (text: string) => (text === "" ? "" : (canonicalIp(text.split("/")[0]!) ?? ""));
  const known = [
    ...t.endpoints.filter((e) => e.network === n.name).map((e) => ({ id: e.id, ip: canonical(v6 ? e.ipv6 : e.ipv4), mac: e.mac })),
    ...(n.vxlan?.remotes ?? []).map((r) => ({ id: r.id, ip: canonical(v6 ? r.ipv6 : r.ipv4), mac: r.mac })),
  ].filter((k) => k.ip !== "");
  const out = new Map<string, Provider>();
  for (const p of s.providers) {
    const ip = canonical(v6 ? p.ipv6 : p.ipv4);
    if (ip === "") continue;
    const k = known.find((k) => k.id === p.endpoint) ?? known.find((k) => k.ip === ip);
    if (k !== undefined && !out.has(ip)) out.set(ip, { ip, mac: k.mac });
  }
  return [...out.values()].sort((a, b) => compare(a.ip, b.ip));
}

/**
 * Every service port of the host in a stable order; those with providers get a group id GROUP_BASE + 1..65535
 * that stays while other services come and go (numbers.ts): a renumbered group would send new connections to
 * another service's providers between its mod-group and the flows that follow.
 */
function servicePorts(desired: DesiredHost): ServicePort[] {
  const ports: Omit<ServicePort, "group">[] = [];
  for (const t of desired.tenants) {
    for (const service of t.services ?? []) {
      const vips: [Family, string][] = [[4, canonicalIp(service.vip)!], ...(service.vip6 === "" ? [] : [[6, canonicalIp(service.vip6)!] as [Family, string]])];
      for (const [family, vip] of vips) {
        const providers = providersOf(t, service, family);
        for (const port of service.ports) ports.push({ tenant: t, service, port, family, vip, providers });
      }
    }
  }
  // An IPv4 port's key is what it was before IPv6: its group keeps its number.
  const key = (p: Omit<ServicePort, "group">) => `${p.tenant.name}\0${p.service.name}\0${p.port.protocol}\0${String(p.port.port).padStart(5, "0")}${p.family === 6 ? "\0" + "6" : ""}`;
  ports.sort((a, b) => compare(key(a), key(b)));
  const ids = stableNumbers(ports.filter((p) => p.providers.length > 0).map(key));
  return ports.map((p) => ({ ...p, group: p.providers.length > 0 ? GROUP_BASE + ids.get(key(p))! : undefined }));
}

/** The select groups of the host's services (for a DesiredHost checkOvs() passed), by id. */
export function serviceGroups(desired: DesiredHost): ServiceGroup[] {
  return servicePorts(desired)
    .filter((p) => p.group !== undefined)
    .map((p) => {
      const buckets = p.providers.map(
        (v, i) => `bucket=bucket_id:${i},actions=ct(commit,zone=${ZONE},nat(dst=${p.family === 6 ? `[${v.ip}]` : v.ip}:${p.port.targetPort}),table=${TABLE.SERVICE_CT})`,
      );
      return { id: p.group!, spec: `group_id=${p.group!},type=select,${buckets.join(",")}` };
    });
}

/**
 * The flows of the host's services (for a DesiredHost checkOvs() passed), with the tenants' and networks'
 * numbers of render.ts (networks by "tenant/network"). Always the lowest flows of SERVICES and SERVICE_CT.
 */
export function serviceFlows(desired: DesiredHost, tenants: ReadonlyMap<string, number>, networks: ReadonlyMap<string, number>): string[] {
  const out: string[] = [];
  const local = `${FLAGS_REG}=0/${FLAG_FROM_TUNNEL}`;
  const macs = new Map<string, { match: string; mac: string }>();
  const vips = new Map<string, { match: string; family: Family; vip: string; mac: string }>();
  for (const p of servicePorts(desired)) {
    const n = p.tenant.networks.find((n) => n.name === p.service.network)!;
    const where = `${TENANT_REG}=${tenants.get(p.tenant.name)!},${NETWORK_REG}=${networks.get(`${p.tenant.name}/${n.name}`)!}`;
    const { vip, family } = p;
    const f = FIELDS[family];
    const vipMac = gatewayMac(n.bridge);
    const { protocol, port, targetPort } = p.port;
    const proto = family === 6 ? `${protocol}6` : protocol;
    vips.set(`${where} ${vip}`, { match: where, family, vip, mac: vipMac });

    // To the VIP's port: through conntrack's NAT; a new connection to the group (none: dropped).
    out.push(flow(TABLE.SERVICES, 100, `${where},${proto},${f.dst}=${vip},tp_dst=${port}`, `ct(zone=${ZONE},nat,table=${TABLE.SERVICE_CT})`));
    out.push(
      flow(TABLE.SERVICE_CT, 100, `${where},ct_state=+trk+new-inv,${proto},${f.dst}=${vip},tp_dst=${port}`, p.group === undefined ? "drop" : `group:${p.group}`),
    );
    for (const v of p.providers) {
      // The provider's packets from its target port: replies, translated back to the VIP.
      out.push(flow(TABLE.SERVICES, 90, `${where},${proto},${f.src}=${v.ip},tp_src=${targetPort}`, `ct(zone=${ZONE},nat,table=${TABLE.SERVICE_CT})`));
      macs.set(`${where} ${v.ip}`, { match: `${where},${f.ip},${f.dst}=${v.ip}`, mac: v.mac });
    }
  }
  for (const { match, mac } of macs.values()) out.push(flow(TABLE.SERVICE_CT, 50, match, `set_field:${mac}->eth_dst,goto_table:${TABLE.PRE_HOOK}`));
  for (const { match, family, vip, mac } of vips.values()) {
    const f = FIELDS[family];
    // A reply translated back comes from the VIP's MAC; anything else to the VIP was not translated: dropped.
    out.push(flow(TABLE.SERVICE_CT, 60, `${match},${f.ip},${f.src}=${vip}`, `set_field:${mac}->eth_src,goto_table:${TABLE.PRE_HOOK}`));
    out.push(flow(TABLE.SERVICE_CT, 40, `${match},${f.ip},${f.dst}=${vip}`, "drop"));
    if (family === 4) {
      out.push(flow(TABLE.LOCAL, 100, `${match},${local},arp,arp_op=1,arp_tpa=${vip}`, arpResponder(mac, vip)));
      out.push(flow(TABLE.LOCAL, 100, `${match},${local},icmp,icmp_type=8,nw_dst=${vip}`, echoResponder(mac, vip)));
    } else {
      out.push(flow(TABLE.LOCAL, 100, `${match},${local},icmp6,icmp_type=135,nd_target=${vip}`, ndResponder(mac, vip, false)));
      out.push(flow(TABLE.LOCAL, 100, `${match},${local},icmp6,icmp_type=128,ipv6_dst=${vip}`, echo6Responder(mac, vip)));
    }
  }
  out.push(flow(TABLE.SERVICES, 0, "", `goto_table:${TABLE.PRE_HOOK}`));
  out.push(flow(TABLE.SERVICE_CT, 0, "", `goto_table:${TABLE.PRE_HOOK}`));
  return out;
}
