// Flow records (agent/flows): what the tenant's table hands the kernel's NFLOG for the agent to read. A denied
// connection attempt is logged by the rule that dropped it, in a chain of that rule's own, so the kernel itself
// names the rule (the log prefix); an allowed one, when asked, once at the end of the policy checks, where it has
// passed both directions (which rule let it through is for the reader to trace on the compiled policy). All log
// statements share one named limit per table, so a flood costs the host at most `ratePerSecond` records.

/** How the tenant's table logs connection attempts; absent: it logs nothing. */
export interface FlowLogOptions {
  /** NFLOG group the reader listens on (per network namespace, so every tenant may use the same). */
  group: number;
  /** Log allowed connection attempts too, not only denied ones. */
  allowed: boolean;
  /** Records per second the table may log, denied and allowed together (nft `limit rate`). */
  ratePerSecond: number;
}

/** The NFLOG group of the tenants' tables. */
export const FLOW_LOG_GROUP = 2407;
/** Bytes of each packet copied to the reader: enough for an IPv6 header with a TCP header's ports. */
export const FLOW_LOG_SNAPLEN = 96;
/** The kernel keeps 127 bytes of a prefix (NF_LOG_PREFIXLEN, its NUL aside). */
export const MAX_PREFIX_BYTES = 127;
/** Prefixes: "D <policy>:<ruleId>" for a denied attempt, "A" for an allowed one. */
export const DENY_PREFIX = "D ";
export const ALLOW_PREFIX = "A";
export const FLOW_LIMIT = "flowlog";

/** Chain of the deny rule with index `i` (in the sorted list of the table's deny rules). */
export function denyChainName(i: number): string {
  return `deny_${i}`;
}

/** The rule as the prefix names it: the key without its tenant ("tenant:policy:rule" → "policy:rule"), cut to what the kernel keeps. */
export function denyPrefix(ruleKey: string): string {
  const colon = ruleKey.indexOf(":");
  return `${DENY_PREFIX}${colon < 0 ? ruleKey : ruleKey.slice(colon + 1)}`.slice(0, MAX_PREFIX_BYTES);
}

function logStatement(o: FlowLogOptions, prefix: string): string {
  return `limit name "${FLOW_LIMIT}" log prefix "${prefix}" group ${o.group} snaplen ${FLOW_LOG_SNAPLEN}`;
}

/** The nft lines of the flow log: the limit object, one chain per deny rule, and the allowed attempts' rule (for the enforce chain). */
export function renderFlowLog(o: FlowLogOptions, denyKeys: string[]): { objects: string[]; chains: string[]; allowRule: string[] } {
  const objects = [`\tlimit ${FLOW_LIMIT} {`, `\t\trate ${o.ratePerSecond}/second burst ${o.ratePerSecond} packets`, "\t}"];
  const chains = denyKeys.flatMap((key, i) => [`\tchain ${denyChainName(i)} {`, `\t\t${logStatement(o, denyPrefix(key))}`, "\t\tdrop", "\t}"]);
  const allowRule = o.allowed ? [`\t\tct state new ${logStatement(o, ALLOW_PREFIX)}`] : [];
  return { objects, chains, allowRule };
}
