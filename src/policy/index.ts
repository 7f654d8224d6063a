// Policy: compiles a tenant's Contiv endpoint-group policy (groups, rules, DSCP,
// forwarding mode) into one atomic nft script for the tenant namespace, and reads
// per-rule counters back. Pure: running the script is the datapath's job.

export { compilePolicy, groupChainName } from "./compile.js";
export { RULE_COUNTERS_ARGVS, ruleCounters } from "./counters.js";
export { tracePacket } from "./trace.js";
export { splitChainTables } from "./split-chain.js";
export { evaluateNaive } from "./naive.js";
export { elementId, TABLE_NAME } from "./render.js";
export { DEFAULT_FLOW_TIMEOUT_SECONDS, type FlowSetOptions } from "./flowsets.js";
export {
  FLOW_COUNTERS_ARGV,
  FLOW_SETS_ARGVS,
  flowElementText,
  allowingRule,
  flowRuleOf,
  parseFlowCounters,
  parseFlowSets,
  renderFlowDeletes,
  type FlowCountersReading,
  type FlowSetElement,
  type FlowSetsReading,
} from "./flowreading.js";
export type {
  AddressFamily,
  CompiledPolicy,
  CompileStats,
  CtState,
  Direction,
  FwdMode,
  Hook,
  Packet,
  PolicyGroup,
  PolicyInput,
  PolicyNetwork,
  PolicyRule,
  PolicyTables,
  RuleAction,
  RuleCounter,
  TraceReason,
  TraceResult,
} from "./types.js";
