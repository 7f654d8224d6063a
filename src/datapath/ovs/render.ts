// Pure: what the OVS driver wants of a host. The bridge's ports (one per local endpoint, the host side of its
// veth, and the tunnel port when a network spans hosts; the gateway namespaces' ports are gateway.ts's) and the flows of every table but the policy's
// (layout.ts), from a DesiredHost and the OpenFlow port numbers OVS gave the ports. The policy's flows come
// from policy-flows.ts, handed in per tenant, so this module decides nothing about rules; the services' from
// service-flows.ts.

import { canonicalIp, gatewayMac } from "../linux/addr.js";
import { gatewayHostLink, hostEndpointPort } from "../names.js";
import type { DatapathProblem, DesiredEndpoint, DesiredHost, DesiredNetwork, DesiredTenant } from "../types.js";
import { arpProxyResponder, arpResponder, classifyRegs, echo6Responder, echoResponder, flow, ndReplyFlows, ndResponder, UNTAGGED } from "./flow-text.js";
import { stableNumbers } from "./numbers.js";
import { forwardingOf, gatewayFlows, wantedGateways, type WantedGatewayNamespace } from "./gateway.js";
import { FLAG_FROM_TUNNEL, FLAGS_REG, NETWORK_REG, TABLE } from "./layout.js";
import { endpointMeter, type Meter } from "./meters.js";
import { checkServices, serviceFlows } from "./service-flows.js";
import type { WantedPort } from "./wanted-port.js";

/** The host's OVS bridge and its tunnel port: they carry the host's prefix, as every object of an agent does. */
export function bridgeName(prefix: string): string {
  return `${prefix}-br`;
}

export function tunnelPortName(prefix: string): string {
  return `${prefix}-vx`;
}

/** What external_ids:netplugin-endpoint holds on a port we made: the endpoint's id. */
export const ENDPOINT_ID_KEY = "netplugin-endpoint";
/** external_ids:netplugin-role=uplink marks the host's interface we made a trunk port (it is not ours to delete). */
export const ROLE_KEY = "netplugin-role";

/** The host's interface to the physical network, as a port of the bridge. */
export interface Uplink {
  name: string;
  /** The switch port is an access port of this VLAN: only the network with this tag goes there, untagged. */
  accessVlan?: number;
}

/** Whether the network is handed to the physical network on the uplink (else it rides the overlay). */
function handedOff(n: DesiredNetwork, uplink: Uplink | undefined): boolean {
  return n.vlan !== undefined && uplink !== undefined && (uplink.accessVlan === undefined || uplink.accessVlan === n.vlan);
}

/**
 * The host's --uplink-if as our port, when some `vlan` network is handed off on it (a trunk, or an access port
 * of the network's VLAN). Without one, vlan networks ride the overlay as on the Linux driver.
 */
export function uplinkOf(desired: DesiredHost, accessVlan?: number): Uplink | undefined {
  const name = desired.host.uplinkIf;
  if (name === undefined || name === "") return undefined;
  const uplink: Uplink = { name, ...(accessVlan === undefined ? {} : { accessVlan }) };
  return desired.tenants.some((t) => t.networks.some((n) => handedOff(n, uplink))) ? uplink : undefined;
}

/** The local endpoints that get a port, in a stable order. */
export function wantedPorts(desired: DesiredHost): WantedPort[] {
  const vlans = snoopingVlans(desired);
  return desired.tenants
    .flatMap((t) => t.endpoints.map((endpoint) => ({ name: endpoint.hostLink, endpoint, tenant: t.name, vlan: vlans.get(`${t.name}/${endpoint.network}`) ?? SNOOPING_NONE })))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The VLAN of ports of no network (an endpoint whose network is not on the host): no other port shares it. */
const SNOOPING_NONE = 4094;

/**
 * Each network's VLAN inside the bridge (1..4093, from its tenant's and its name, kept while others come and go):
 * the `tag` of its endpoints' ports. Only Open vSwitch's own multicast snooping uses it (the NORMAL action, which
 * learns group members from IGMP and delivers a group's packets to its members of the VLAN alone); our flows never
 * look at it, and frames never carry it outside the bridge.
 */
export function snoopingVlans(desired: DesiredHost): Map<string, number> {
  return stableNumbers(desired.tenants.flatMap((t) => t.networks.map((n) => `${t.name}/${n.name}`)), SNOOPING_NONE - 1);
}

/** The endpoint id of a tenant's host endpoint on an infra network (external_ids of its port). */
export function hostEndpointId(network: string): string {
  return `host:${network}`;
}

/**
 * The host with each tenant's host endpoints (infra networks) as endpoints of the bridge: their "container" is the
 * agent's own namespace (`agentNetns`, a path), where the veth's end holds the host's address on the network (no
 * default route: the host keeps its own), and the bridge's end is a port like a container's, with its flows.
 */
export function withHostEndpoints(desired: DesiredHost, agentNetns: string): DesiredHost {
  if (!desired.tenants.some((t) => t.hostEndpoints.length > 0)) return desired;
  return {
    ...desired,
    tenants: desired.tenants.map((t) => ({
      ...t,
      endpoints: [
        ...t.endpoints,
        ...t.hostEndpoints.map((h) => ({
          id: hostEndpointId(h.network),
          network: h.network,
          hostLink: hostEndpointPort(desired.prefix, t.name, h.network),
          netns: agentNetns,
          ifname: h.hostLink,
          mac: h.mac,
          ipv4: h.address,
          ipv6: "",
          gateway: "",
          ipv6Gateway: "",
          mtu: h.mtu,
          qos: { egressBps: 0, ingressBps: 0, burstBytes: 0 },
        })),
      ],
      hostEndpoints: [],
    })),
  };
}

/** The tenants' gateway namespaces (gateway.ts), but for networks handed off on the uplink (the site's router is their gateway). */
export function gatewaysOf(desired: DesiredHost, uplink: Uplink | undefined): WantedGatewayNamespace[] {
  return wantedGateways(desired, (n) => handedOff(n, uplink));
}

/** True when some network spans hosts over the overlay: the bridge needs the tunnel port. */
export function needsTunnel(desired: DesiredHost, uplink: Uplink | undefined): boolean {
  return desired.tenants.some((t) => t.networks.some((n) => overlay(n, uplink) !== undefined));
}

/** The network's overlay, unless it is handed off on the uplink (or has no peers to reach). */
function overlay(n: DesiredNetwork, uplink: Uplink | undefined): DesiredNetwork["vxlan"] {
  if (handedOff(n, uplink)) return undefined;
  return n.vxlan !== undefined && n.vxlan.peers.length > 0 ? n.vxlan : undefined;
}

/** Tenant numbers: their conntrack zones, 1..65535, kept while other tenants come and go (numbers.ts). */
export function tenantNumbers(names: readonly string[]): Map<string, number> {
  return stableNumbers(names);
}

/**
 * What this driver cannot make yet, each with its unit: left out of the host, with the message as its
 * failure, rather than made half. (The README's OVS section lists the same.)
 */
export function checkOvs(desired: DesiredHost): DatapathProblem[] {
  return desired.tenants.flatMap((t) => checkServices(t));
}

export interface OvsFacts {
  /** OpenFlow port number of each port, by name; a wanted port without one is not attached yet. */
  ofports: ReadonlyMap<string, number>;
  /** The uplink (uplinkOf()). */
  uplink?: Uplink;
  /** Policy flows per tenant name (policy-flows.ts), for tables POLICY..POLICY_LAST. */
  policy: (tenant: DesiredTenant, tenantNumber: number) => string[];
}

const addressOf = (cidr: string) => cidr.split("/")[0]!;
/** An IPv6 address ("addr" or "addr/len") as OVS prints it, or "" for none. */
const address6Of = (text: string) => (text === "" ? "" : (canonicalIp(addressOf(text)) ?? addressOf(text)));


function regs(tenant: number, network: number, fromTunnel: boolean): string {
  return classifyRegs(tenant, network, fromTunnel ? FLAG_FROM_TUNNEL : 0);
}

/** Broadcast and multicast, IPv6's too (33:33:…, neighbour solicitations among them): flooded. */
const MULTICAST = "dl_dst=01:00:00:00:00:00/01:00:00:00:00:00";
const IGMP = "ip,nw_proto=2";
/** An absent ND link-layer option, as OVS matches it. */
const NO_MAC = "00:00:00:00:00:00";

/** The tenant's networks by name, each with its number on this host (1.. in the host's order of networks). */
function networkNumbers(desired: DesiredHost): Map<string, number> {
  const keys = desired.tenants.flatMap((t) => t.networks.map((n) => `${t.name}/${n.name}`)).sort();
  return new Map(keys.map((k, i) => [k, i + 1]));
}

export interface WantedMeter {
  meter: Meter;
  /** The endpoint's port whose sending it limits. */
  port: WantedPort;
}

/** The meters of local endpoints with a port whose sending is metered (meters.ts endpointMeter), in id order. */
export function renderMeters(desired: DesiredHost, ofports: ReadonlyMap<string, number>): WantedMeter[] {
  return wantedPorts(desired)
    .filter((w) => ofports.has(w.name))
    .flatMap((port) => {
      const meter = endpointMeter(port.endpoint, ofports.get(port.name)!);
      return meter === undefined ? [] : [{ meter, port }];
    })
    .sort((a, b) => a.meter.id - b.meter.id);
}

/**
 * Every flow of the pipeline, sorted, for a DesiredHost that checkOvs() passed. Endpoints whose port has no
 * OpenFlow number yet get none (the next run adds them).
 */
export function renderFlows(desired: DesiredHost, facts: OvsFacts): string[] {
  const flows: string[] = [];
  const tenants = tenantNumbers(desired.tenants.map((t) => t.name));
  const networks = networkNumbers(desired);
  const vlans = snoopingVlans(desired);
  const tunnel = facts.ofports.get(tunnelPortName(desired.prefix));
  const uplink = facts.uplink;
  const uplinkPort = uplink === undefined ? undefined : facts.ofports.get(uplink.name);

  for (const t of desired.tenants) {
    const tn = tenants.get(t.name)!;
    for (const n of t.networks) {
      const nn = networks.get(`${t.name}/${n.name}`)!;
      const locals = t.endpoints.filter((e) => e.network === n.name && facts.ofports.has(e.hostLink));
      const ports = { ofports: facts.ofports, tunnel, uplink: handedOff(n, uplink) ? uplinkPort : undefined };
      flows.push(...networkFlows(n, tn, nn, locals, ports, uplink, vlans.get(`${t.name}/${n.name}`)!));
      const hasGateway = (n.gateway !== "" || n.ipv6Gateway !== "") && !handedOff(n, uplink);
      const gateway = hasGateway ? facts.ofports.get(gatewayHostLink(desired.prefix, t.name, n.name)) : undefined;
      if (gateway !== undefined) {
        const remotes = overlay(n, uplink)?.remotes ?? [];
        const known = [...locals.map((e) => ({ ip: addressOf(e.ipv4), mac: e.mac })), ...remotes.map((r) => ({ ip: r.ipv4, mac: r.mac }))].filter((k) => k.ip !== "");
        const known6 = [...locals.map((e) => ({ ip: address6Of(e.ipv6), mac: e.mac })), ...remotes.map((r) => ({ ip: address6Of(r.ipv6), mac: r.mac }))].filter((k) => k.ip !== "");
        const localPorts = locals.map((e) => facts.ofports.get(e.hostLink)!);
        flows.push(...gatewayFlows({ network: n, tenant: tn, networkNumber: nn, port: gateway, ...forwardingOf(t), known, known6, localPorts }));
      }
    }
    flows.push(...facts.policy(t, tn));
  }
  flows.push(...serviceFlows(desired, tenants, networks, facts.ofports));
  // Whatever matched nothing: dropped (fail-mode secure adds no flows of its own).
  for (const table of [TABLE.CLASSIFY, TABLE.L2_FORWARD]) flows.push(flow(table, 0, "", "drop"));
  flows.push(flow(TABLE.LOCAL, 1, "arp", `goto_table:${TABLE.L2_FORWARD}`));
  flows.push(flow(TABLE.LOCAL, 1, "ip", `goto_table:${TABLE.SERVICES}`));
  flows.push(flow(TABLE.LOCAL, 1, "ipv6", `goto_table:${TABLE.SERVICES}`));
  flows.push(...ndReplyFlows());
  flows.push(flow(TABLE.LOCAL, 0, "", "drop"));
  // The controller's tables: ours is only their lowest flow, on to the next of our tables.
  flows.push(flow(TABLE.PRE_HOOK, 0, "", `goto_table:${TABLE.POLICY}`));
  flows.push(flow(TABLE.POST_HOOK, 0, "", `goto_table:${TABLE.L2_FORWARD}`));
  return [...new Set(flows)].sort();
}

function networkFlows(
  n: DesiredNetwork,
  tn: number,
  nn: number,
  locals: DesiredEndpoint[],
  ports: { ofports: ReadonlyMap<string, number>; tunnel: number | undefined; uplink: number | undefined },
  uplink: Uplink | undefined,
  vlan: number,
): string[] {
  const out: string[] = [];
  const { ofports, tunnel } = ports;
  const net = `${NETWORK_REG}=${nn}`;
  const gwMac = gatewayMac(n.bridge);
  const fromOutside = `${FLAGS_REG}=${FLAG_FROM_TUNNEL}/${FLAG_FROM_TUNNEL}`;
  const local = `${FLAGS_REG}=0/${FLAG_FROM_TUNNEL}`;
  // Handed off: the physical network carries the frames between hosts, and its router is the gateway. On a
  // trunk the frames are tagged with the network's VLAN; on an access port of that VLAN they go untagged.
  const handoff = handedOff(n, uplink);
  const port = handoff ? ports.uplink : undefined;
  const tagged = uplink?.accessVlan === undefined;
  const vx = tunnel !== undefined ? overlay(n, uplink) : undefined;

  // --- where packets come from (an endpoint's meter first, where it has one: everything it sends) ---
  for (const e of locals) {
    const port = ofports.get(e.hostLink)!;
    const ip = addressOf(e.ipv4);
    // Untagged only: OVS matches ip/arp through one VLAN header, and a tagged frame would leave a trunk double-tagged.
    const from = `in_port=${port},dl_src=${e.mac},${UNTAGGED}`;
    const meter = endpointMeter(e, port);
    const metered = meter === undefined ? "" : `meter:${meter.id},`;
    const classified = `${metered}${regs(tn, nn, false)},goto_table:${TABLE.LOCAL}`;
    if (e.ipv4 === "") out.push(...awaitingLease(from, e.mac, metered, regs(tn, nn, false)));
    else {
      out.push(flow(TABLE.CLASSIFY, 110, `${from},arp,arp_spa=${ip},arp_sha=${e.mac}`, classified));
      out.push(flow(TABLE.CLASSIFY, 110, `${from},ip,nw_src=${ip}`, classified));
      // A leased address: its DHCP client may ask again from 0.0.0.0 (types.ts DesiredEndpoint.dhcp), and probe.
      if (e.dhcp === true) {
        out.push(flow(TABLE.CLASSIFY, 110, `${from},udp,nw_src=0.0.0.0,tp_src=68,tp_dst=67`, classified));
        out.push(flow(TABLE.CLASSIFY, 110, `${from},arp,arp_op=1,arp_spa=0.0.0.0,arp_sha=${e.mac}`, classified));
      }
    }
    const ip6 = address6Of(e.ipv6);
    if (ip6 === "") continue;
    // IPv6 from its address; its neighbour discovery only about itself: solicitations with its own MAC as
    // source link-layer address (or none), advertisements only of its own address and MAC. Other ND is dropped.
    out.push(flow(TABLE.CLASSIFY, 110, `${from},ipv6,ipv6_src=${ip6}`, classified));
    for (const sll of [e.mac, NO_MAC]) out.push(flow(TABLE.CLASSIFY, 120, `${from},icmp6,ipv6_src=${ip6},icmp_type=135,nd_sll=${sll}`, classified));
    for (const tll of [e.mac, NO_MAC]) out.push(flow(TABLE.CLASSIFY, 120, `${from},icmp6,ipv6_src=${ip6},icmp_type=136,nd_target=${ip6},nd_tll=${tll}`, classified));
    for (const type of [135, 136]) out.push(flow(TABLE.CLASSIFY, 115, `${from},icmp6,icmp_type=${type}`, "drop"));
  }
  if (vx !== undefined) {
    const from = `in_port=${tunnel},tun_id=${vx.vni},${UNTAGGED}`;
    out.push(flow(TABLE.CLASSIFY, 110, `${from},arp`, `${regs(tn, nn, true)},goto_table:${TABLE.LOCAL}`));
    for (const proto of ["ip", "ipv6"]) out.push(flow(TABLE.CLASSIFY, 110, `${from},${proto}`, `${regs(tn, nn, true)},goto_table:${TABLE.SERVICES}`));
  }
  if (port !== undefined) {
    const from = tagged ? `in_port=${port},dl_vlan=${n.vlan}` : `in_port=${port},${UNTAGGED}`;
    const untag = tagged ? "pop_vlan," : "";
    out.push(flow(TABLE.CLASSIFY, 110, `${from},arp`, `${untag}${regs(tn, nn, true)},goto_table:${TABLE.LOCAL}`));
    for (const proto of ["ip", "ipv6"]) out.push(flow(TABLE.CLASSIFY, 110, `${from},${proto}`, `${untag}${regs(tn, nn, true)},goto_table:${TABLE.SERVICES}`));
  }

  // --- ARP and ND answered on this host: the gateways (unless the site's router is); in proxy mode known endpoints ---
  const gw6 = address6Of(n.ipv6Gateway);
  if (n.gateway !== "" && !handoff) {
    out.push(flow(TABLE.LOCAL, 100, `${net},${local},arp,arp_op=1,arp_tpa=${n.gateway}`, arpResponder(gwMac, n.gateway)));
  }
  if (gw6 !== "" && !handoff) {
    out.push(flow(TABLE.LOCAL, 100, `${net},${local},icmp6,icmp_type=135,nd_target=${gw6}`, ndResponder(gwMac, gw6, true)));
  }
  if (vx === undefined || vx.arpMode === "proxy") {
    const remotes = handoff ? [] : (vx?.remotes ?? []);
    const known = [...locals.map((e) => ({ ip: addressOf(e.ipv4), mac: e.mac })), ...remotes.map((r) => ({ ip: r.ipv4, mac: r.mac }))].filter((k) => k.ip !== "");
    for (const k of known) out.push(flow(TABLE.LOCAL, 90, `${net},${local},arp,arp_op=1,arp_tpa=${k.ip}`, arpResponder(k.mac, k.ip)));
    const known6 = [...locals.map((e) => ({ ip: address6Of(e.ipv6), mac: e.mac })), ...remotes.map((r) => ({ ip: address6Of(r.ipv6), mac: r.mac }))];
    for (const k of known6.filter((k) => k.ip !== "")) out.push(flow(TABLE.LOCAL, 90, `${net},${local},icmp6,icmp_type=135,nd_target=${k.ip}`, ndResponder(k.mac, k.ip, false)));
  }
  // A routed network's containers elsewhere are reached through the gateway namespace (and from there the host's
  // BGP routes): the gateway answers for every other address of the subnet, as the Linux driver's bridge does
  // (proxy_arp; proxy NDP for the other hosts' IPv6 containers, remoteIpv6).
  if (n.routed && n.gateway !== "") out.push(flow(TABLE.LOCAL, 80, `${net},${local},arp,arp_op=1`, arpProxyResponder(gwMac)));
  if (n.routed && gw6 !== "") {
    for (const ip of (n.remoteIpv6 ?? []).map(address6Of)) out.push(flow(TABLE.LOCAL, 80, `${net},${local},icmp6,icmp_type=135,nd_target=${ip}`, ndResponder(gwMac, ip, false)));
  }

  // --- the gateway answers local pings (the rest of it, DNS and routing, is the gateway namespace's: gateway.ts) ---
  if (n.gateway !== "" && !handoff) {
    out.push(flow(TABLE.LOCAL, 100, `${net},${local},icmp,icmp_type=8,nw_dst=${n.gateway}`, echoResponder(gwMac, n.gateway)));
  }
  if (gw6 !== "" && !handoff) {
    out.push(flow(TABLE.LOCAL, 100, `${net},${local},icmp6,icmp_type=128,ipv6_dst=${gw6}`, echo6Responder(gwMac, gw6)));
  }

  // --- delivery (what an endpoint receives is limited by a tbf on its port's device: shapers.ts) ---
  for (const e of locals) {
    out.push(flow(TABLE.L2_FORWARD, 100, `${net},dl_dst=${e.mac}`, `output:${ofports.get(e.hostLink)!}`));
  }
  const toOutside: string[] = [];
  if (vx !== undefined) {
    for (const r of vx.remotes) {
      out.push(flow(TABLE.L2_FORWARD, 100, `${net},dl_dst=${r.mac}`, `set_field:${vx.vni}->tun_id,set_field:${r.vtep}->tun_dst,output:${tunnel}`));
    }
    for (const peer of vx.peers) toOutside.push(`set_field:${vx.vni}->tun_id`, `set_field:${peer}->tun_dst`, `output:${tunnel}`);
  }
  if (port !== undefined) {
    // Any other destination is on the physical network (other hosts' containers, the site's hosts and router).
    // Written as OpenFlow 1.5 has it (what mod_vlan_vid becomes), so OVS's comparison finds it unchanged.
    const toPhysical = tagged ? `push_vlan:0x8100,set_field:${0x1000 + n.vlan!}->vlan_vid,output:${port}` : `output:${port}`;
    out.push(flow(TABLE.L2_FORWARD, 10, `${net},${local}`, toPhysical));
    toOutside.push(toPhysical);
  }
  const toLocals = locals.map((e) => `output:${ofports.get(e.hostLink)!}`);
  const flood = toLocals.length > 0 ? toLocals.join(",") : "drop";
  out.push(flow(TABLE.L2_FORWARD, 60, `${net},${fromOutside},${MULTICAST}`, flood));
  const all = [...toLocals, ...toOutside];
  out.push(flow(TABLE.L2_FORWARD, 50, `${net},${MULTICAST}`, all.length > 0 ? all.join(",") : "drop"));
  // IGMP snooping, as the Linux driver's bridges do: IPv4 multicast reaches only this host's members of its group
  // (and, from here, every peer, which delivers to its own members). Open vSwitch's NORMAL action learns the members
  // from their IGMP reports and delivers by the port's VLAN (snoopingVlans); a packet from a peer gets the network's
  // VLAN first. Link-local groups (224.0.0.0/24) and IGMP from peers are flooded as before; IPv6 multicast (ND)
  // too. A network handed off on the uplink keeps flooding.
  if (!handoff) {
    const toVlan = `push_vlan:0x8100,set_field:${0x1000 + vlan}->vlan_vid,NORMAL`;
    for (const m of [IGMP, "ip,nw_dst=224.0.0.0/24"]) out.push(flow(TABLE.L2_FORWARD, 62, `${net},${fromOutside},${m}`, flood));
    out.push(flow(TABLE.L2_FORWARD, 61, `${net},${fromOutside},ip,nw_dst=224.0.0.0/4`, toVlan));
    out.push(flow(TABLE.L2_FORWARD, 57, `${net},${IGMP}`, "NORMAL"));
    out.push(flow(TABLE.L2_FORWARD, 56, `${net},ip,nw_dst=224.0.0.0/24`, all.length > 0 ? all.join(",") : "drop"));
    out.push(flow(TABLE.L2_FORWARD, 55, `${net},ip,nw_dst=224.0.0.0/4`, [...toOutside, "NORMAL"].join(",")));
  }
  return out;
}

/**
 * The CLASSIFY flows of an endpoint waiting for its DHCP lease (no IPv4 address yet: types.ts DesiredEndpoint.ipv4),
 * from its port and MAC (`from`): its DHCP client's packets (UDP from port 68 to port 67: the discover and request
 * from 0.0.0.0 to broadcast, and a release, which leaves from the leased address to the server's), and its ARP
 * requests with its own MAC as sender, as probes (RFC 5227): the sender address is set to 0.0.0.0, so whatever
 * address it names, no neighbour's cache learns it, and an answer still comes back to its MAC (a Linux host
 * answers a probe for its address, and the client's kernel takes the answer). Nothing else of IPv4: the server's
 * replies reach it by its MAC (L2_FORWARD). Once the lease is recorded (ipv4 set) the usual flows replace these.
 */
function awaitingLease(from: string, mac: string, meter: string, regs: string): string[] {
  const classified = `${meter}${regs},goto_table:${TABLE.LOCAL}`;
  return [
    flow(TABLE.CLASSIFY, 110, `${from},udp,tp_src=68,tp_dst=67`, classified),
    flow(TABLE.CLASSIFY, 110, `${from},arp,arp_op=1,arp_sha=${mac}`, `${meter}set_field:0.0.0.0->arp_spa,${regs},goto_table:${TABLE.LOCAL}`),
  ];
}
