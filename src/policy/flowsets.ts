// Flow records (agent/flows): the tenant's table counts connection attempts in the kernel, in dynamic sets whose
// elements carry counters, and the agent reads the sets every few seconds (flowreading.ts). Per-packet work in
// userspace (the NFLOG log statements this replaced) cost the agent several times its idle CPU under a flood; an
// `update @set` costs the flooding packet's softirq a hash lookup and nothing in userspace.
//
// One set per family, for every rule: the key starts with a constant naming the rule (its flow id: 1 + its index
// in the sorted deny rules; 0 for an allowed attempt), so the kernel's memory is bounded by the two sets' size
// (the agent's --flow-records-cap) whatever the number of rules, not by rules × size. A denied attempt goes to a
// chain of its rule's own, which counts it and drops it; an allowed one, when asked, is counted once at the end
// of the policy checks, where it has passed both directions (which rule let it through is traced on the compiled
// policy by the reader). When a set is full, `update` fails and the rule does not match: the next rule counts the
// attempt in FULL_COUNTER instead, so what did not fit is reported, not lost silently. COUNTED_COUNTER counts
// every attempt a set took: the reader lists the sets (their whole size) only when it moved.

/** How the tenant's table counts connection attempts; absent: it counts none. */
export interface FlowSetOptions {
  /** Count allowed connection attempts too, not only denied ones. */
  allowed: boolean;
  /** Elements each family's set may hold (nft `size`). */
  size: number;
  /** Seconds an element stays without being hit; the agent lists more often, so nothing expires unread. */
  timeoutSeconds: number;
}

/** Each family's set of flows: key flow id . saddr . daddr . l4proto . dport (0 without ports). */
export const FLOW_SETS = { 4: "flows4", 6: "flows6" } as const;
/** Named counters: attempts the sets took, and attempts a full set had no room for. */
export const COUNTED_COUNTER = "flows_counted";
export const FULL_COUNTER = "flows_full";
/** The flow id of an allowed attempt; a deny rule's is 1 + its index in CompiledPolicy.flowRules. */
export const ALLOWED_FLOW_ID = 0;
/** Longer than the agent's longest gap between two listings (agent/flows/counting.ts DEFAULT_PACE), so nothing expires unread. */
export const DEFAULT_FLOW_TIMEOUT_SECONDS = 300;

/** Chain of the deny rule with index `i` (in the sorted list of the table's deny rules). */
export function denyChainName(i: number): string {
  return `deny_${i}`;
}

const PORTED = "{ tcp, udp, sctp }";

/**
 * The rules that count one attempt under flow id `id` and then take `verdict` ("drop", "return"); `guard` goes
 * first on each. The last rule is reached only when the set had no room (or the packet is neither IPv4 nor IPv6).
 */
function countRules(id: number, verdict: string, guard: string): string[] {
  const key = (family: "ip" | "ip6", port: string) => `{ ${id} . ${family} saddr . ${family} daddr . meta l4proto . ${port} }`;
  // A statement after a failed `update` does not run: the counter counts what the set took.
  const counted = `counter name "${COUNTED_COUNTER}" ${verdict}`;
  return [
    `${guard}meta nfproto ipv4 meta l4proto ${PORTED} update @${FLOW_SETS[4]} ${key("ip", "th dport")} ${counted}`,
    `${guard}meta nfproto ipv4 meta l4proto != ${PORTED} update @${FLOW_SETS[4]} ${key("ip", "0")} ${counted}`,
    `${guard}meta nfproto ipv6 meta l4proto ${PORTED} update @${FLOW_SETS[6]} ${key("ip6", "th dport")} ${counted}`,
    `${guard}meta nfproto ipv6 meta l4proto != ${PORTED} update @${FLOW_SETS[6]} ${key("ip6", "0")} ${counted}`,
    `${guard}counter name "${FULL_COUNTER}" ${verdict}`,
  ].map((r) => `\t\t${r}`);
}

/** The nft lines of the flow sets: the sets, one chain per deny rule, and the allowed attempts' rules (for the enforce chain). */
export function renderFlowSets(o: FlowSetOptions, denyKeys: string[]): { objects: string[]; chains: string[]; allowRules: string[] } {
  // The rule's id is a `meta mark`-typed constant only because nft wants a named 32-bit type for the key.
  const flowSet = (name: string, family: "ip" | "ip6") => [
    `\tset ${name} {`,
    `\t\ttypeof meta mark . ${family} saddr . ${family} daddr . meta l4proto . th dport`,
    "\t\tflags dynamic,timeout",
    `\t\ttimeout ${o.timeoutSeconds}s`,
    `\t\tsize ${o.size}`,
    "\t\tcounter",
    "\t}",
  ];
  const objects = [`\tcounter ${COUNTED_COUNTER} {`, "\t}", `\tcounter ${FULL_COUNTER} {`, "\t}", ...flowSet(FLOW_SETS[4], "ip"), ...flowSet(FLOW_SETS[6], "ip6")];
  const chains = denyKeys.flatMap((_, i) => [`\tchain ${denyChainName(i)} {`, ...countRules(i + 1, "drop", ""), "\t}"]);
  // Counted, then `return`: the base chain's policy accepts it, as it would have without the count.
  const allowRules = o.allowed ? countRules(ALLOWED_FLOW_ID, "return", "ct state new ") : [];
  return { objects, chains, allowRules };
}
