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
//  - No provider (or a port the service does not have): OpenFlow cannot make a TCP reset nor an ICMP error, so
//    TCP and UDP to a VIP that conntrack did not translate pass the policy (which commits them in the tenant's
//    zone) and go to the tenant's gateway namespace (gateway.ts), where the VIP is a local address and an nft
//    rule refuses them as the Linux driver's input chain does (reset, ICMP port unreachable). The refusal comes
//    back from the VIP as the reply of the committed connection (related, for the ICMP error), so the policy
//    passes it. A network without a gateway in the VIP's family has no namespace link: there they are dropped.
//  - Hairpin (a local provider balanced to itself): after the policy (which judged provider → provider, as on
//    Linux), L2_FORWARD commits a second entry in the same zone that translates the source to the gateway
//    (ct_clear first, or conntrack would reuse the packet's DNAT entry), and HAIRPIN delivers it from the
//    gateway's MAC. The provider's reply to the gateway is translated back twice: the source NAT (SERVICES), then
//    after ct_clear the DNAT (HAIRPIN_REPLY), so it comes from the VIP. The hairpin entry's tuple (P:sport →
//    P:targetPort) never meets the DNAT entry's (P:sport → VIP:port, reply P:targetPort → P:sport).
//  - A provider on another network than the VIP's (fwdMode routing, as on Linux): the client's host routes the
//    translated packet itself (NETWORK_REG := the provider's network, from that network's gateway MAC, to the
//    provider's MAC): a second pass through the gateway namespace would meet conntrack with the translated tuple
//    and commit a second entry. The provider's reply goes to its gateway and through the namespace (which
//    routes); SERVICES translates it back only on the VIP's network, the namespace's second pass.
//  - Clients on another network than the VIP's (fwdMode routing): the VIP's ports are matched on every network of
//    the tenant, the translated packet routed as above; replies are translated back wherever they reach the
//    client's network, but not on their way to a gateway namespace (to its MAC), which routes them first.
//  - Not done: ICMP errors about a translated connection (not translated back); in bridge mode clients on another
//    network than the VIP's are not balanced (dropped; the Linux driver balances them).

import { canonicalIp, familyOf, gatewayMac, networkOf, parseCidr } from "../linux/addr.js";
import { gatewayHostLink } from "../names.js";
import type { DatapathProblem, DesiredHost, DesiredNetwork, DesiredService, DesiredServicePort, DesiredTenant } from "../types.js";
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
    // Another network of the tenant: routed to (fwdMode routing), as on Linux.
    const networkOfProvider = (ip: string, v6: boolean): DesiredNetwork | undefined =>
      t.networks.find((m) => {
        const c = parseCidr(v6 ? m.ipv6Subnet : m.subnet);
        return c !== null && familyOf(c[0]) === familyOf(ip) && networkOf(ip, c[1]) === networkOf(c[0], c[1]);
      });
    const elsewhere = (who: string, ip: string, v6: boolean) => {
      const m = networkOfProvider(ip, v6);
      if (m === undefined) add(`provider ${who} is on no network of the tenant`);
      else if (m.name !== n.name && t.fwdMode !== "routing") add(`provider ${who} is on network "${m.name}", not the VIP's: the ovs datapath balances across networks only in fwdMode routing (use --datapath linux)`);
    };
    for (const p of s.providers) {
      const ip = canonicalIp(p.ipv4);
      if (ip === null || familyOf(ip) !== 4) add(`provider ${p.endpoint}: invalid IPv4 address "${p.ipv4}"`);
      else if (subnet !== null && networkOf(ip, subnet[1]) !== networkOf(subnet[0], subnet[1])) elsewhere(`${p.endpoint} (${ip})`, ip, false);
      if (p.ipv6 === "" || s.vip6 === "") continue;
      const ip6 = canonicalIp(p.ipv6);
      if (ip6 === null || familyOf(ip6) !== 6) add(`provider ${p.endpoint}: invalid IPv6 address "${p.ipv6}"`);
      else if (subnet6 !== null && networkOf(ip6, subnet6[1]) !== networkOf(subnet6[0], subnet6[1])) elsewhere(`${p.endpoint} (${ip6})`, ip6, true);
    }
  }
  return problems;
}

/** A provider the pipeline can reach: its address, MAC and network, and whether it is on this host. */
interface Provider {
  ip: string;
  mac: string;
  network: DesiredNetwork;
  local: boolean;
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
  const v6 = family === 6;
  const canonical = (text: string) => (text === "" ? "" : (canonicalIp(text.split("/")[0]!) ?? ""));
  const known = t.networks.flatMap((n) =>
    [
      ...t.endpoints.filter((e) => e.network === n.name).map((e) => ({ id: e.id, ip: canonical(v6 ? e.ipv6 : e.ipv4), mac: e.mac, network: n, local: true })),
      ...(n.vxlan?.remotes ?? []).map((r) => ({ id: r.id, ip: canonical(v6 ? r.ipv6 : r.ipv4), mac: r.mac, network: n, local: false })),
    ].filter((k) => k.ip !== ""),
  );
  const out = new Map<string, Provider>();
  for (const p of s.providers) {
    const ip = canonical(v6 ? p.ipv6 : p.ipv4);
    if (ip === "") continue;
    const k = known.find((k) => k.id === p.endpoint && k.ip === ip) ?? known.find((k) => k.ip === ip);
    if (k !== undefined && !out.has(ip)) out.set(ip, { ip, mac: k.mac, network: k.network, local: k.local });
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
      // Hashed on the 5-tuple by ofproto (OVS's default, the datapath's dp_hash, put every UDP flow of the
      // userspace datapath in one bucket).
      const f = FIELDS[p.family];
      const fields = `${f.src === "nw_src" ? "ip_src,ip_dst" : "ipv6_src,ipv6_dst"},${p.port.protocol}_src,${p.port.protocol}_dst`;
      return { id: p.group!, spec: `group_id=${p.group!},type=select,selection_method=hash,fields(${fields}),${buckets.join(",")}` };
    });
}

/** Conntrack entries of a provider that left a service port (leftProviders): NATed to it from the VIP's port. */
export interface LeftProvider {
  zone: number;
  protocol: "tcp" | "udp";
  vip: string;
  port: number;
  provider: string;
  targetPort: number;
}

/**
 * The providers that the groups on the bridge (`onBridge`: id → the line OVS printed) send to and the wanted
 * ones no longer do, whose conntrack entries must go (the Linux driver's diffServices.ts, as far as OpenFlow's
 * ct-flush can tell entries apart: by tuple, not by state). An entry DNATed to a provider sends the connection
 * there for as long as it lives, whatever the group says now: a SYN sent while the provider went away (or
 * before this host learned it had) leaves a SYN_SENT entry its retransmissions follow, to a provider that is not
 * there. So: UDP entries always (every flow would go on to it), TCP ones only when the provider is no longer an
 * endpoint of the tenant (it is gone, and so are its connections; one that only left the service keeps its
 * running connections, as on Linux). What left is read from the bridge, so a restarted agent finds it too. Not
 * found: the providers of a port whose last provider left (its group is deleted, not changed): those entries
 * time out.
 */
export function leftProviders(desired: DesiredHost, tenants: ReadonlyMap<string, number>, onBridge: ReadonlyMap<number, string>): LeftProvider[] {
  const out: LeftProvider[] = [];
  for (const p of servicePorts(desired)) {
    const line = p.group === undefined ? undefined : onBridge.get(p.group);
    if (line === undefined) continue;
    const now = new Set(p.providers.map((v) => (p.family === 6 ? `[${v.ip}]` : v.ip) + `:${p.port.targetPort}`));
    const addresses = new Set(
      [...p.tenant.endpoints.flatMap((e) => [e.ipv4, e.ipv6]), ...p.tenant.networks.flatMap((n) => (n.vxlan?.remotes ?? []).flatMap((r) => [r.ipv4, r.ipv6]))]
        .filter((a) => a !== "")
        .map((a) => canonicalIp(a.split("/")[0]!) ?? a),
    );
    for (const m of line.matchAll(/nat\(dst=([^)]+)\)/g)) {
      const target = m[1]!;
      if (now.has(target)) continue;
      const at = /^\[?([^\]]+?)\]?:(\d+)$/.exec(target);
      const ip = at === null ? null : canonicalIp(at[1]!);
      if (at === null || ip === null) continue;
      if (p.port.protocol === "tcp" && addresses.has(ip)) continue;
      out.push({ zone: tenants.get(p.tenant.name)!, protocol: p.port.protocol, vip: p.vip, port: p.port.port, provider: ip, targetPort: Number(at[2]) });
    }
  }
  return out;
}

/** ovs-ofctl ct-flush's arguments (after the switch) for a LeftProvider's entries: original destination, reply source. */
export function ctFlushArgs(l: LeftProvider): string[] {
  const v6 = l.vip.includes(":");
  const proto = `ct_nw_proto=${l.protocol === "tcp" ? 6 : 17}`;
  return [`zone=${l.zone}`, `${v6 ? "ct_ipv6_dst" : "ct_nw_dst"}=${l.vip},${proto},ct_tp_dst=${l.port}`, `${v6 ? "ct_ipv6_src" : "ct_nw_src"}=${l.provider},${proto},ct_tp_src=${l.targetPort}`];
}

/**
 * The flows of the host's services (for a DesiredHost checkOvs() passed), with the tenants' and networks'
 * numbers of render.ts (networks by "tenant/network") and the bridge's OpenFlow port numbers by name (for the
 * gateway ports, where refused connections go). Always the lowest flows of SERVICES and SERVICE_CT.
 */
export function serviceFlows(desired: DesiredHost, tenants: ReadonlyMap<string, number>, networks: ReadonlyMap<string, number>, ofports: ReadonlyMap<string, number> = new Map()): string[] {
  const out: string[] = [];
  const local = `${FLAGS_REG}=0/${FLAG_FROM_TUNNEL}`;
  const macs = new Map<string, string>();
  const vips = new Map<string, { match: string; family: Family; vip: string; mac: string; refuseTo: number | undefined }>();
  const hairpins = new Map<string, string>();
  for (const p of servicePorts(desired)) {
    const t = p.tenant;
    const n = t.networks.find((n) => n.name === p.service.network)!;
    const tenant = `${TENANT_REG}=${tenants.get(t.name)!}`;
    const where = `${tenant},${NETWORK_REG}=${networks.get(`${t.name}/${n.name}`)!}`;
    // fwdMode routing: clients on every network of the tenant (as on Linux), so balancing and translating back
    // happen wherever the packet is; bridge mode: on the VIP's network only.
    const routing = t.fwdMode === "routing";
    const scope = routing ? tenant : where;
    const { vip, family } = p;
    const f = FIELDS[family];
    const vipMac = gatewayMac(n.bridge);
    const { protocol, port, targetPort } = p.port;
    const proto = family === 6 ? `${protocol}6` : protocol;
    // The gateway of the VIP's family: where refused connections go, and a hairpin's source.
    const gateway = canonicalIp(family === 6 ? n.ipv6Gateway : n.gateway);
    const refuseTo = gateway === null ? undefined : ofports.get(gatewayHostLink(desired.prefix, t.name, n.name));
    vips.set(`${where} ${vip}`, { match: where, family, vip, mac: vipMac, refuseTo });

    // To the VIP's port: through conntrack's NAT; a new connection to the group (none: refused, or dropped).
    out.push(flow(TABLE.SERVICES, 100, `${scope},${proto},${f.dst}=${vip},tp_dst=${port}`, `ct(zone=${ZONE},nat,table=${TABLE.SERVICE_CT})`));
    const none = refuseTo === undefined ? "drop" : `goto_table:${TABLE.PRE_HOOK}`;
    out.push(flow(TABLE.SERVICE_CT, 100, `${scope},ct_state=+trk+new-inv,${proto},${f.dst}=${vip},tp_dst=${port}`, p.group === undefined ? none : `group:${p.group}`));
    for (const v of p.providers) {
      // The provider's packets from its target port: replies, translated back to the VIP where they reach the
      // client's network (bridge mode: the VIP's); one to its gateway's MAC is routed by the gateway namespace
      // first and translated on its second pass (translated now, that pass would meet conntrack with the VIP).
      out.push(flow(TABLE.SERVICES, 90, `${scope},${proto},${f.src}=${v.ip},tp_src=${targetPort}`, `ct(zone=${ZONE},nat,table=${TABLE.SERVICE_CT})`));
      if (routing) {
        for (const m of t.networks) {
          const match = `${tenant},${NETWORK_REG}=${networks.get(`${t.name}/${m.name}`)!},${proto},${f.src}=${v.ip},tp_src=${targetPort},dl_dst=${gatewayMac(m.bridge)}`;
          out.push(flow(TABLE.SERVICES, 92, match, `goto_table:${TABLE.PRE_HOOK}`));
        }
      }
      const nv = networks.get(`${t.name}/${v.network.name}`)!;
      // To the provider: its MAC; from another network, routed here (its network's number and gateway MAC).
      const routed = `set_field:${gatewayMac(v.network.bridge)}->eth_src,set_field:${v.mac}->eth_dst,set_field:${nv}->${NETWORK_REG},goto_table:${TABLE.PRE_HOOK}`;
      const direct = `set_field:${v.mac}->eth_dst,goto_table:${TABLE.PRE_HOOK}`;
      if (routing) {
        macs.set(`51 ${tenant},${NETWORK_REG}=${nv},${f.ip},${f.dst}=${v.ip}`, direct);
        macs.set(`50 ${tenant},${f.ip},${f.dst}=${v.ip}`, routed);
      } else {
        macs.set(`50 ${where},${f.ip},${f.dst}=${v.ip}`, v.network === n ? direct : routed);
      }
      if (!v.local || v.network !== n || gateway === null) continue;
      // Hairpin: the provider's reply to the gateway, translated back twice (SNAT, then after ct_clear the DNAT).
      const gw = family === 6 ? `[${gateway}]` : gateway;
      out.push(flow(TABLE.SERVICES, 95, `${where},${proto},${f.src}=${v.ip},${f.dst}=${gateway},tp_src=${targetPort}`, `ct(zone=${ZONE},nat,table=${TABLE.HAIRPIN_REPLY})`));
      hairpins.set(`${where},${f.ip},${f.dst}=${v.ip}`, `ct_clear,set_field:${v.mac}->eth_dst,ct(zone=${ZONE},nat,table=${TABLE.SERVICE_CT})`);
      hairpins.set(`L2 ${where},${f.ip},${f.src}=${v.ip},${f.dst}=${v.ip}`, `ct_clear,ct(commit,zone=${ZONE},nat(src=${gw}),table=${TABLE.HAIRPIN})`);
      // Back out of the port it came in by: OpenFlow outputs to the in_port only when that is cleared.
      hairpins.set(`GW ${where}`, `set_field:${vipMac}->eth_src,set_field:0->in_port,resubmit(,${TABLE.L2_FORWARD})`);
      hairpins.set(`VIP ${where},${f.ip},${f.src}=${vip},${f.dst}=${v.ip}`, `set_field:${vipMac}->eth_src,set_field:0->in_port,goto_table:${TABLE.PRE_HOOK}`);
    }
  }
  for (const [key, actions] of macs) out.push(flow(TABLE.SERVICE_CT, Number(key.slice(0, 2)), key.slice(3), actions));
  for (const [key, actions] of hairpins) {
    if (key.startsWith("L2 ")) out.push(flow(TABLE.L2_FORWARD, 110, key.slice(3), actions));
    else if (key.startsWith("GW ")) out.push(flow(TABLE.HAIRPIN, 100, key.slice(3), actions));
    else if (key.startsWith("VIP ")) out.push(flow(TABLE.SERVICE_CT, 65, key.slice(4), actions));
    else out.push(flow(TABLE.HAIRPIN_REPLY, 100, key, actions));
  }
  if (hairpins.size > 0) {
    // Not a hairpin's reply after all (no source NAT undone): on as any provider's packet.
    for (const ip of ["ip", "ipv6"]) out.push(flow(TABLE.HAIRPIN_REPLY, 0, ip, `ct_clear,ct(zone=${ZONE},nat,table=${TABLE.SERVICE_CT})`));
    out.push(flow(TABLE.HAIRPIN, 0, "", "drop"));
  }
  for (const { match, family, vip, mac, refuseTo } of vips.values()) {
    const f = FIELDS[family];
    // A reply translated back comes from the VIP's MAC; anything else to the VIP was not translated: TCP and UDP
    // refused by the gateway namespace (after the policy, which commits them), the rest dropped.
    out.push(flow(TABLE.SERVICE_CT, 60, `${match},${f.ip},${f.src}=${vip}`, `set_field:${mac}->eth_src,goto_table:${TABLE.PRE_HOOK}`));
    out.push(flow(TABLE.SERVICE_CT, 40, `${match},${f.ip},${f.dst}=${vip}`, "drop"));
    if (refuseTo !== undefined) {
      for (const protocol of ["tcp", "udp"]) {
        const proto = family === 6 ? `${protocol}6` : protocol;
        out.push(flow(TABLE.SERVICE_CT, 45, `${match},${proto},${f.dst}=${vip}`, `goto_table:${TABLE.PRE_HOOK}`));
        out.push(flow(TABLE.L2_FORWARD, 110, `${match},${local},${proto},${f.dst}=${vip}`, `output:${refuseTo}`));
      }
    }
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
