// The OpenFlow pipeline of the OVS driver: one bridge per host, every flow ours carries COOKIE, and the tables and
// registers below are the contract between the parts that render flows (render.ts for ports, ARP and L2;
// policy-flows.ts for the tenant's policy). Plain constants, no logic.
//
//   CLASSIFY (0)   where a packet comes from: a local endpoint's port (its MAC, and its addresses for IP, ARP and
//                  IPv6 neighbour discovery: no spoofing; one waiting for its DHCP lease only its DHCP client's
//                  UDP 68→67 and its ARP requests as probes, sender address 0.0.0.0; a leased one also its DHCP
//                  client from 0.0.0.0), the tunnel port with a network's VNI, or a network's gateway port (the veth of the
//                  tenant's gateway namespace, gateway.ts: its MAC, any address, since it routes). Sets
//                  TENANT_REG, NETWORK_REG, FLAGS_REG.
//                  Anything else is dropped.
//   LOCAL (10)     what this host answers itself: ARP requests and IPv6 neighbour solicitations for the network's
//                  gateways and (proxy mode) for known endpoints, the way the Linux driver's bridge and VXLAN proxy
//                  answer them, and pings (ICMP and ICMPv6 echo) to the gateways, and ARP, ND and pings for service
//                  VIPs, and the gateway namespace's ARP and ND for the network's endpoints; other ARP goes to
//                  L2_FORWARD, other IPv4 and IPv6 to SERVICES.
//   SERVICES (11)  service load balancing (service-flows.ts): packets to a VIP's port, and the providers' packets
//                  from their target port (replies), through conntrack with NAT in the tenant's zone → SERVICE_CT;
//                  the rest → PRE_HOOK.
//   SERVICE_CT (12) a new connection to a VIP's port → its select group (GROUP_BASE + n), whose bucket per
//                  provider commits the DNAT (ct(commit,nat(dst=IP:PORT))) and comes back here; a packet now
//                  to a provider gets the provider's MAC (one on another network: routed here, that network's
//                  number and gateway MAC), a reply now from a VIP the VIP's MAC; untranslated TCP and UDP to a
//                  VIP go on (L2_FORWARD sends them to the gateway namespace, which refuses them), other
//                  untranslated packets to a VIP are dropped; → PRE_HOOK. So the controller and our policy see
//                  the provider's address, as on the Linux driver (DNAT before filtering).
//   ND_REPLY (13)  completes a neighbour advertisement a LOCAL responder made of a solicitation (flow-text.ts
//                  ndResponder): its target link-layer address, the MAC it now comes from. OpenFlow lets a flow set
//                  nd_tll only on a packet it matched as an advertisement, so the responder resubmits here; then
//                  back out of the port it came in by. Entered only by resubmit.
//   HAIRPIN_REPLY (14) a hairpin connection's reply (a local provider that got its own connection to a VIP,
//                  service-flows.ts), after conntrack undid its source NAT to the gateway: the provider's MAC,
//                  then conntrack undoes the DNAT (the VIP) → SERVICE_CT. Entered only by ct(table=).
//   PRE_HOOK (15)  an SDN controller's table (global sdnController, --ovs-controller): every IP packet crosses it before our policy;
//                  ours is only its lowest flow, on to POLICY.
//   POLICY (20-39) IPv4 and IPv6 packets of a tenant, judged by its groups' rules (policy-flows.ts); allowed
//                  packets continue at POST_HOOK, denied ones are dropped. Non-IP packets never enter.
//   POST_HOOK (40) the controller's table after our policy: ours is only its lowest flow, on to L2_FORWARD.
//   L2_FORWARD (45) a hairpin connection (source and destination the same local provider, after the policy) gets
//                  its source translated to the gateway → HAIRPIN; TCP and UDP to a VIP (untranslated) go to the
//                  gateway port (refused there); the rest by (network, destination MAC): a local port, the
//                  network's gateway port for IP to the gateway's
//                  MAC (fwdMode routing: any destination; bridge: only the gateway's own address), or the tunnel
//                  to the VTEP of a remote endpoint;
//                  broadcast and multicast to every local port of the network and, unless the packet came from
//                  the tunnel, to every peer VTEP.
//   HAIRPIN (46)   a hairpin connection, its source now the gateway's address: the gateway's MAC, → L2_FORWARD
//                  again (resubmit). Entered only by ct(table=).
//   FLOW_RECORDS (50) flow records (flow-record-flows.ts), only with --flow-records: flows the policy's verdict
//                  tables learn, one per (tenant, verdict, rule, addresses, protocol, destination port), counting
//                  the attempts by resubmit. No flow of COOKIE: OVS adds and expires them (idle timeout), bounded by
//                  the table's flow_limit (flow-record-table.ts). Entered only by resubmit.
// A controller may add flows of its own cookie to the hook tables; our runs replace only flows of COOKIE.
// Bandwidth limits are tbf shapers on the ports' devices (shapers.ts), not flows, except what a runtime's container
// (Docker's) sends: a meter (meters.ts), `meter:N` first on its CLASSIFY flows.

/**
 * Our flows' cookie: every flow of the pipeline carries it, and only flows with it are ever changed or removed.
 * Policy flows carry it in bits 0-15 only, with the tenant and a rule number above (policy-flows.ts): select all
 * of ours with `cookie=0x6e70/0xffff`.
 */
export const COOKIE = 0x6e70;

export const TABLE = {
  CLASSIFY: 0,
  LOCAL: 10,
  SERVICES: 11,
  SERVICE_CT: 12,
  ND_REPLY: 13,
  HAIRPIN_REPLY: 14,
  PRE_HOOK: 15,
  POLICY: 20,
  /** The last table the policy may use. */
  POLICY_LAST: 39,
  POST_HOOK: 40,
  L2_FORWARD: 45,
  HAIRPIN: 46,
  FLOW_RECORDS: 50,
} as const;

/**
 * The cookie (bits 0-15) of learned flow records (TABLE.FLOW_RECORDS): not COOKIE, since OVS, not our runs, adds and
 * removes them (a run's diff-flows must leave them alone and ourFlowCount() must not count them).
 */
export const FLOW_RECORD_COOKIE = 0x6e71;

/** The tenant's number (1..65535): its conntrack zone, so tenants with overlapping addresses never share entries. */
export const TENANT_REG = "reg6";
/** The network's number on this host (1..65535). */
export const NETWORK_REG = "reg7";
/**
 * The number of the rule that decided (a policy rule number, policy-flows.ts ruleNumberOf), written by the JUDGE
 * flows only while flow records are on, read when a record is learned (flow-record-flows.ts).
 */
export const RULE_REG = "reg9";
/** Flag bits, below. */
export const FLAGS_REG = "reg8";
/**
 * Set in FLAGS_REG when the packet came from outside this host (the tunnel, or the trunk to the physical
 * network): a container sender's host judged its `out` rules.
 */
export const FLAG_FROM_TUNNEL = 0x1;
/**
 * Set in FLAGS_REG when the packet came from the tenant's gateway namespace (gateway.ts): a router or a server
 * of ours, not a container. It has no `out` rules of its own (a routed packet's sender had them judged on its
 * way to the gateway), so the policy judges only the receiver's `in` rules, as for FLAG_FROM_TUNNEL; unlike a
 * packet from the tunnel it is still a local sender for ARP (our responders answer it) and it is never flooded
 * to peer VTEPs.
 */
export const FLAG_FROM_GATEWAY = 0x2;

/**
 * Our OpenFlow groups (service load balancing): GROUP_BASE + 1.. . Groups carry no cookie: the id's high 16 bits
 * (COOKIE) mark them as ours, so a controller's groups outside the range are never touched.
 */
export const GROUP_BASE = COOKIE * 0x10000;

/**
 * Our meters' ids: METER_BASE + 2·ofport of the endpoint's port (meters.ts meterId; the odd ids were meters of
 * what a container receives, now a tbf), up to METER_LAST for the highest OpenFlow port number (0xff00). Only meters in this range are ever changed or
 * removed: a controller keeps its meters below METER_BASE. (The userspace datapath has 262144 meters.)
 */
export const METER_BASE = 0x10000;
export const METER_LAST = METER_BASE + 2 * 0xff00 + 1;
