// OpenFlow text the renderers share (render.ts, service-flows.ts): a flow line of our cookie, and the actions
// that answer ARP and pings on the host. Pure, no decisions.

import { COOKIE, FLAGS_REG, NETWORK_REG, TENANT_REG } from "./layout.js";

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

/** No 802.1Q header: what every classify flow of a port that must not carry tags matches. */
export const UNTAGGED = "vlan_tci=0x0000/0x1fff";
