// Pure: a tenant's service load balancers (DesiredTenant.services) as OpenFlow, the OVS counterpart of
// ../linux/renderServices.ts: select groups (one per service port, a bucket per provider) and the flows of the
// LOCAL, SERVICES and SERVICE_CT tables (layout.ts). IPv4 only (the driver refuses IPv6 networks).
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
//  - The VIP answers ARP and pings on every host of the tenant (LOCAL), as the bridge does on Linux.
//  - No provider: OpenFlow cannot make a TCP reset (no writable TCP flags or sequence numbers) nor an ICMP
//    error around the packet, so the connection is dropped, not refused (the Linux driver refuses).
//  - Not done: hairpin (a provider that gets its own connection: the Linux driver also translates the source
//    to the gateway; here that connection fails), ICMP errors about a translated connection (not translated
//    back). Providers on another network than the VIP's are refused (checkServices): balancing across the
//    gateway namespace's routing is not done.

import { canonicalIp, familyOf, gatewayMac, networkOf, parseCidr } from "../linux/addr.js";
import type { DatapathProblem, DesiredHost, DesiredService, DesiredServicePort, DesiredTenant } from "../types.js";
import { stableNumbers } from "./numbers.js";
import { arpResponder, echoResponder, flow } from "./flow-text.js";
import { FLAG_FROM_TUNNEL, FLAGS_REG, GROUP_BASE, NETWORK_REG, TABLE, TENANT_REG } from "./layout.js";

/** An OpenFlow group of ours: its id and its ovs-ofctl spec (add-group/mod-group). */
export interface ServiceGroup {
  id: number;
  spec: string;
}

const ZONE = `NXM_NX_${TENANT_REG.toUpperCase()}[0..15]`;
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
    for (const p of s.ports) {
      if (p.protocol !== "tcp" && p.protocol !== "udp") add(`invalid protocol "${String(p.protocol)}"`);
      if (!isPort(p.port)) add(`invalid port ${p.port}`);
      if (!isPort(p.targetPort)) add(`invalid target port ${p.targetPort}`);
      const key = `${vip ?? s.vip} ${p.port}/${p.protocol}`;
      const other = taken.get(key);
      if (other !== undefined) add(`${key} is also a port of service "${other}"`);
      taken.set(key, s.name);
    }
    for (const p of s.providers) {
      const ip = canonicalIp(p.ipv4);
      if (ip === null || familyOf(ip) !== 4) add(`provider ${p.endpoint}: invalid IPv4 address "${p.ipv4}"`);
      else if (subnet !== null && networkOf(ip, subnet[1]) !== networkOf(subnet[0], subnet[1])) {
        add(`provider ${p.endpoint} (${ip}) is on another network than the VIP's: the ovs datapath does not balance across networks yet (use --datapath linux)`);
      }
    }
  }
  return problems;
}

/** A provider the pipeline can reach: its address and MAC on the service's network. */
interface Provider {
  ip: string;
  mac: string;
}

/** One port of a service on this host, with its group id when it has providers. */
interface ServicePort {
  tenant: DesiredTenant;
  service: DesiredService;
  port: DesiredServicePort;
  providers: Provider[];
  group: number | undefined;
}

/**
 * The providers of a service with a known MAC: local endpoints of the tenant and remote ones of the network's
 * overlay, by endpoint id (or address); sorted by address, unique.
 */
function providersOf(t: DesiredTenant, s: DesiredService): Provider[] {
  const n = t.networks.find((n) => n.name === s.network)!;
  const known = [
    ...t.endpoints.filter((e) => e.network === n.name).map((e) => ({ id: e.id, ip: e.ipv4.split("/")[0]!, mac: e.mac })),
    ...(n.vxlan?.remotes ?? []).map((r) => ({ id: r.id, ip: r.ipv4, mac: r.mac })),
  ];
  const out = new Map<string, Provider>();
  for (const p of s.providers) {
    const ip = canonicalIp(p.ipv4)!;
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
      const providers = providersOf(t, service);
      for (const port of service.ports) ports.push({ tenant: t, service, port, providers });
    }
  }
  const key = (p: Omit<ServicePort, "group">) => `${p.tenant.name}\0${p.service.name}\0${p.port.protocol}\0${String(p.port.port).padStart(5, "0")}`;
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
        (v, i) => `bucket=bucket_id:${i},actions=ct(commit,zone=${ZONE},nat(dst=${v.ip}:${p.port.targetPort}),table=${TABLE.SERVICE_CT})`,
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
  const vips = new Map<string, { match: string; vip: string; mac: string }>();
  for (const p of servicePorts(desired)) {
    const n = p.tenant.networks.find((n) => n.name === p.service.network)!;
    const where = `${TENANT_REG}=${tenants.get(p.tenant.name)!},${NETWORK_REG}=${networks.get(`${p.tenant.name}/${n.name}`)!}`;
    const vip = canonicalIp(p.service.vip)!;
    const vipMac = gatewayMac(n.bridge);
    const { protocol, port, targetPort } = p.port;
    vips.set(`${where} ${vip}`, { match: where, vip, mac: vipMac });

    // To the VIP's port: through conntrack's NAT; a new connection to the group (none: dropped).
    out.push(flow(TABLE.SERVICES, 100, `${where},${protocol},nw_dst=${vip},tp_dst=${port}`, `ct(zone=${ZONE},nat,table=${TABLE.SERVICE_CT})`));
    out.push(
      flow(TABLE.SERVICE_CT, 100, `${where},ct_state=+trk+new-inv,${protocol},nw_dst=${vip},tp_dst=${port}`, p.group === undefined ? "drop" : `group:${p.group}`),
    );
    for (const v of p.providers) {
      // The provider's packets from its target port: replies, translated back to the VIP.
      out.push(flow(TABLE.SERVICES, 90, `${where},${protocol},nw_src=${v.ip},tp_src=${targetPort}`, `ct(zone=${ZONE},nat,table=${TABLE.SERVICE_CT})`));
      macs.set(`${where} ${v.ip}`, { match: `${where},ip,nw_dst=${v.ip}`, mac: v.mac });
    }
  }
  for (const { match, mac } of macs.values()) out.push(flow(TABLE.SERVICE_CT, 50, match, `set_field:${mac}->eth_dst,goto_table:${TABLE.PRE_HOOK}`));
  for (const { match, vip, mac } of vips.values()) {
    // A reply translated back comes from the VIP's MAC; anything else to the VIP was not translated: dropped.
    out.push(flow(TABLE.SERVICE_CT, 60, `${match},ip,nw_src=${vip}`, `set_field:${mac}->eth_src,goto_table:${TABLE.PRE_HOOK}`));
    out.push(flow(TABLE.SERVICE_CT, 40, `${match},ip,nw_dst=${vip}`, "drop"));
    out.push(flow(TABLE.LOCAL, 100, `${match},${local},arp,arp_op=1,arp_tpa=${vip}`, arpResponder(mac, vip)));
    out.push(flow(TABLE.LOCAL, 100, `${match},${local},icmp,icmp_type=8,nw_dst=${vip}`, echoResponder(mac, vip)));
  }
  out.push(flow(TABLE.SERVICES, 0, "", `goto_table:${TABLE.PRE_HOOK}`));
  out.push(flow(TABLE.SERVICE_CT, 0, "", `goto_table:${TABLE.PRE_HOOK}`));
  return out;
}
