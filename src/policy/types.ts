// Input and output types of the policy compiler (compile.ts). Plain data: the
// agent builds a PolicyInput per tenant namespace from netmaster's state, and
// the compiled result carries both the nft script and the lookup structures it
// was rendered from, so tests can trace packets through exactly what is loaded.

import type { FlowSetOptions } from "./flowsets.js";

export type FwdMode = "bridge" | "routing";
export type Direction = "in" | "out";
export type RuleAction = "allow" | "deny";
export type AddressFamily = 4 | 6;

export interface PolicyNetwork {
  name: string;
  /** Bridge device of the network inside the tenant namespace. */
  bridge: string;
  /** IPv4 subnet (CIDR), or "". Informational: rules carry their own CIDRs. */
  subnet: string;
  /** IPv6 subnet (CIDR), or "". */
  ipv6Subnet: string;
}

export interface PolicyGroup {
  /** Endpoint group id (1..65535). */
  id: number;
  name: string;
  /** Addresses of every endpoint of the group, cluster-wide; "a.b.c.d" or "a.b.c.d/len" (the length is ignored). */
  ipv4: string[];
  /** IPv6 addresses, same forms. */
  ipv6: string[];
  /** DSCP (0..63) set on packets the group's endpoints send; 0 = leave as is. */
  dscp: number;
}

export interface PolicyRule {
  /** Rule key "tenant:policy:ruleId"; counters are summed per key. */
  key: string;
  /** The group this rule instance protects (the group the policy is attached to). */
  groupId: number;
  direction: Direction;
  /** 1..100, higher wins. */
  priority: number;
  action: RuleAction;
  /** fromEndpointGroup (in) / toEndpointGroup (out). */
  peerGroupId?: number;
  /**
   * fromIpAddress / fromNetwork's subnet (in), toIpAddress / toNetwork's subnet (out):
   * "a.b.c.d", "a.b.c.d/len", Contiv's last-octet range "a.b.c.d-e" (optionally "/len", ignored),
   * "addr-addr", IPv6 addresses and CIDRs. Several entries are alternatives (OR).
   * Undefined or empty = any address.
   */
  peerCidrs?: string[];
  /** IP protocol number; undefined or 0 = any. 1 (icmp) also means ICMPv6 for IPv6 packets. */
  protocol?: number;
  /** Destination port; 0/undefined = any. Only meaningful for tcp, udp and sctp (see compile.ts). */
  port?: number;
}

export interface PolicyInput {
  fwdMode: FwdMode;
  /** Bridges of the tenant's networks in this namespace. */
  networks: PolicyNetwork[];
  /** Every endpoint group of the tenant. */
  groups: PolicyGroup[];
  /** One entry per (group that has the policy attached, rule). */
  rules: PolicyRule[];
  /** Count connection attempts in the table's flow sets for the flow records (flowsets.ts); absent: no flow sets. */
  flowSets?: FlowSetOptions;
}

// ---------------------------------------------------------------------------
// Compiled lookup structures (what the script contains, as data).

/** A closed interval of addresses of one family, as integers. */
export interface AddrInterval<T> {
  lo: bigint;
  hi: bigint;
  value: T;
}

/** What a verdict-map element says; `ruleKey` is the winning rule, whose counter it feeds. */
export interface JudgeElement {
  /** deny → `drop`; allow → `return` (the other direction may still deny). */
  action: RuleAction;
  ruleKey: string;
}

/** Per (group, direction): the chain that classifies the peer address into a class id (a packet mark). */
export interface GroupChain {
  groupId: number;
  direction: Direction;
  /** nft chain name. */
  chain: string;
  /** Class of peers that match no selector of this group's rules (0 = no rule can match them). */
  noneClass: number;
  /** Peer address → class id; addresses not listed get `noneClass`. */
  peers4: AddrInterval<number>[];
  peers6: AddrInterval<number>[];
}

export interface PolicyTables {
  fwdMode: FwdMode;
  /** Ordered pairs (iif, oif) of different bridges: dropped in the forward hook in bridge mode (DNATed flows excepted). */
  crossBridge: [string, string][];
  /** Source address → DSCP value. */
  dscp4: AddrInterval<number>[];
  dscp6: AddrInterval<number>[];
  /** Source address → group id whose `out` rules judge the packet. */
  outGroups4: AddrInterval<number>[];
  outGroups6: AddrInterval<number>[];
  /** Destination address → group id whose `in` rules judge the packet. */
  inGroups4: AddrInterval<number>[];
  inGroups6: AddrInterval<number>[];
  outChains: Map<number, GroupChain>;
  inChains: Map<number, GroupChain>;
  /** key `class.l4proto.dport` (tcp, udp, sctp) → element. */
  portedExact: Map<string, JudgeElement>;
  /** key `class.l4proto`: tcp/udp/sctp packets to ports with no exact element. */
  portedAny: Map<string, JudgeElement>;
  /** key `class.nfproto.l4proto` (nfproto 2 = IPv4, 10 = IPv6) for every other protocol. */
  portlessExact: Map<string, JudgeElement>;
  /** key `class`: port-less packets with no exact element. */
  portlessAny: Map<string, JudgeElement>;
}

export interface CompileStats {
  rules: number;
  groups: number;
  /** Group chains (one per group and direction that has rules). */
  groupChains: number;
  /** Distinct peer classes that have verdict elements. */
  classes: number;
  /** Elements per map, by map name, and their total. */
  elements: Record<string, number>;
  totalElements: number;
  scriptBytes: number;
  compileMs: number;
}

export interface CompiledPolicy {
  /** One atomic `nft -f -` transaction that replaces `table inet netplugin` wholesale. */
  script: string;
  /** Verdict-map element id (see elementId()) → key of the rule that element stands for. */
  elementRules: Map<string, string>;
  /** Every rule key of the input, so counters can report rules that matched nothing. */
  ruleKeys: string[];
  /** With flow sets: the deny rule whose flow id is i + 1 at index i (flowsets.ts); empty without. */
  flowRules: string[];
  tables: PolicyTables;
  stats: CompileStats;
  /** Things that are legal but probably not what the user meant (unknown groups, ignored ports, duplicate addresses). */
  warnings: string[];
}

export interface RuleCounter {
  packets: number;
  bytes: number;
}

// ---------------------------------------------------------------------------
// Packets, for tracePacket() and evaluateNaive().

export type Hook = "forward" | "input" | "output";
export type CtState = "new" | "established" | "related" | "invalid" | "untracked";

export interface Packet {
  saddr: string;
  daddr: string;
  /** meta l4proto: 6 tcp, 17 udp, 132 sctp, 1 icmp, 58 icmpv6, ... */
  protocol: number;
  /** Destination port for tcp/udp/sctp (default 0). */
  dport?: number;
  /** ICMPv6 type, for neighbour discovery (133..137 always pass). */
  icmpType?: number;
  /** Default "forward". */
  hook?: Hook;
  /** Input / output interface names (the bridge for bridged traffic). */
  iif?: string;
  oif?: string;
  /** Default "new". */
  ctState?: CtState;
  /** Conntrack status dnat: a connection to a service's VIP, DNATed to a provider (may cross bridges in bridge mode). */
  dnat?: boolean;
}

export type TraceReason = "cross-network" | "established" | "neighbor-discovery" | "out-rule" | "in-rule" | "default";

export interface TraceResult {
  verdict: "accept" | "drop";
  /** Why: what dropped it, or why it passed ("default" = it went through both policy checks). */
  reason: TraceReason;
  /** Winning `out` rule (allow or deny), if one matched. */
  outRule?: string;
  /** Winning `in` rule, if one matched (not evaluated when `out` denied). */
  inRule?: string;
}
