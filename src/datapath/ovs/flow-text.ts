// OpenFlow text the renderers share (render.ts, service-flows.ts): a flow line of our cookie, and the actions
// that answer ARP, neighbour solicitations and pings on the host. Pure, no decisions.

import { COOKIE, FLAGS_REG, NETWORK_REG, TABLE, TENANT_REG } from "./layout.js";

/** One ovs-ofctl flow line with our cookie. */
export function flow(table: number, priority: number, match: string, actions: string): string {
  return `cookie=0x${COOKIE.toString(16)},table=${table},priority=${priority}${match === "" ? "" : `,${match}`},actions=${actions}`;
}

/** The actions of a CLASSIFY flow that say whose a packet is: the tenant's and network's numbers, and its flags. */
export function classifyRegs(tenant: number, network: number, flags: number): string {
  return [`set_field:${tenant}->${TENANT_REG}`, `set_field:${network}->${NETWORK_REG}`, `set_field:${flags}->${FLAGS_REG}`].join(",");
}

/** An ARP reply to the request in hand, from `mac`/`ip`, out of the port it came in by. */
export function arpResponder(mac: string, ip: string): string {
  return [
    "move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[]",
    `set_field:${mac}->eth_src`,
    "set_field:2->arp_op",
    "move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[]",
    "move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[]",
    `set_field:${mac}->arp_sha`,
    `set_field:${ip}->arp_spa`,
    "IN_PORT",
  ].join(",");
}

/**
 * An ARP reply from `mac` for whatever address the request in hand asks (proxy ARP: a router answering for the
 * addresses it routes elsewhere), out of the port it came in by. The asked address goes through reg5.
 */
export function arpProxyResponder(mac: string): string {
  return [
    "move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[]",
    `set_field:${mac}->eth_src`,
    "set_field:2->arp_op",
    "move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[]",
    `set_field:${mac}->arp_sha`,
    "move:NXM_OF_ARP_TPA[]->NXM_NX_REG5[]",
    "move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[]",
    "move:NXM_NX_REG5[]->NXM_OF_ARP_SPA[]",
    "IN_PORT",
  ].join(",");
}

/** An ICMP echo reply from `mac`/`ip` (the gateway, a VIP) to the request in hand. */
export function echoResponder(mac: string, ip: string): string {
  return [
    "move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[]",
    `set_field:${mac}->eth_src`,
    "move:NXM_OF_IP_SRC[]->NXM_OF_IP_DST[]",
    `set_field:${ip}->ip_src`,
    "set_field:0->icmp_type",
    "IN_PORT",
  ].join(",");
}

/** A neighbour advertisement's flags (nd_reserved): solicited and override, and router for a gateway. */
const ND_SOLICITED_OVERRIDE = 0x60000000;
const ND_ROUTER = 0x80000000;

/**
 * An IPv6 neighbour advertisement for `ip` at `mac` made of the solicitation in hand (the NA of RFC 4861 in
 * place of the NS: same target, its source-link-layer option turned into the target's), to its sender, out of
 * the port it came in by; `router` sets the advertisement's router flag (the gateway). The target link-layer
 * address is set in TABLE.ND_REPLY (ndReplyFlows): OpenFlow allows nd_tll only on a packet matched as an
 * advertisement. Numbers as OVS prints them back.
 */
export function ndResponder(mac: string, ip: string, router: boolean): string {
  return [
    "move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[]",
    `set_field:${mac}->eth_src`,
    "move:NXM_NX_IPV6_SRC[]->NXM_NX_IPV6_DST[]",
    `set_field:${ip}->ipv6_src`,
    "set_field:136->icmpv6_type",
    `set_field:${(router ? ND_ROUTER | ND_SOLICITED_OVERRIDE : ND_SOLICITED_OVERRIDE) >>> 0}->nd_reserved`,
    "set_field:2->nd_options_type",
    `resubmit(,${TABLE.ND_REPLY})`,
  ].join(",");
}

/** The flows of TABLE.ND_REPLY: an advertisement from ndResponder gets its sender's MAC as target link-layer address. */
export function ndReplyFlows(): string[] {
  return [flow(TABLE.ND_REPLY, 100, "icmp6,icmp_type=136", "move:NXM_OF_ETH_SRC[]->NXM_NX_ND_TLL[],IN_PORT"), flow(TABLE.ND_REPLY, 0, "", "drop")];
}

/** An ICMPv6 echo reply from `mac`/`ip` (the IPv6 gateway, a VIP) to the request in hand. */
export function echo6Responder(mac: string, ip: string): string {
  return [
    "move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[]",
    `set_field:${mac}->eth_src`,
    "move:NXM_NX_IPV6_SRC[]->NXM_NX_IPV6_DST[]",
    `set_field:${ip}->ipv6_src`,
    "set_field:129->icmpv6_type",
    "IN_PORT",
  ].join(",");
}

/** No 802.1Q header: what every classify flow of a port that must not carry tags matches. */
export const UNTAGGED = "vlan_tci=0x0000/0x1fff";
