// The flow records of one tenant namespace's table (policy/flowsets.ts), as the recorder sees them
// (DatapathDriver.readFlows): its two counters, and when the recorder asks for them, its sets, each element a
// CountedFlow named by its rule under the policy the table holds. An allowed attempt's rule is a trace on that policy; its answer is kept per element while the
// policy stays, so a flow is traced once, not at every reading.

import type { CountedFlow, FlowCounts, FlowListChoice } from "../driver.js";
import type { Executor } from "../../lib/process.js";
import { FLOW_COUNTERS_ARGV, FLOW_SETS_ARGVS, flowElementText, flowRuleOf, parseFlowCounters, parseFlowSets, renderFlowDeletes, type CompiledPolicy } from "../../policy/index.js";

type Named = ReturnType<typeof flowRuleOf>;

/** The rules of the allowed flows of one table, for the policy they were traced on. */
export interface TraceCache {
  policy: CompiledPolicy;
  rules: Map<string, Named>;
}

/** A CountedFlow's id: the family, then the element as nft writes it. */
function flowId(family: 4 | 6, text: string): string {
  return `${family} ${text}`;
}

/**
 * Reads a namespace's flow counters, and its sets when `list` says so. `cache` is the last listing's (or
 * undefined); the answer carries the next one, holding only the elements listed now (the same when not listed).
 * Throws what the executor throws, ValidationError for output not nft's JSON.
 */
export async function readFlowCounts(
  executor: Executor,
  namespace: string,
  o: { policy: CompiledPolicy; restarted: boolean; now: number; cache: TraceCache | undefined; list: FlowListChoice },
): Promise<{ counts: FlowCounts; cache: TraceCache | undefined }> {
  const { policy, restarted, now, cache } = o;
  const totals = parseFlowCounters(await executor.run(FLOW_COUNTERS_ARGV, { netns: namespace }));
  const base = { namespace, restarted, counted: totals.counted, overflowPackets: totals.full };
  if (!o.list(namespace, { counted: totals.counted, overflowPackets: totals.full }, restarted)) {
    return { counts: { ...base, flows: undefined, capacity: 0 }, cache: cache?.policy === policy ? cache : undefined };
  }
  const reading = parseFlowSets(await Promise.all(FLOW_SETS_ARGVS.map((argv) => executor.run(argv, { netns: namespace }))));
  const had = cache?.policy === policy ? cache.rules : new Map<string, Named>();
  const rules = new Map<string, Named>();
  const flows: CountedFlow[] = [];
  for (const e of reading.elements) {
    const text = flowElementText(e);
    let named = had.get(text);
    if (named === undefined) named = flowRuleOf(policy, e);
    if (named === undefined) continue; // an id this policy has no rule for: not ours to name
    if (e.flowId === 0) rules.set(text, named);
    // An update sets the element's timeout afresh: it was last counted `timeout - expires` seconds ago.
    const expiresAt = now + e.expires * 1000;
    flows.push({ id: flowId(e.family, text), ...named, src: e.src, dst: e.dst, proto: e.proto, dport: e.dport, packets: e.packets, lastSeen: expiresAt - reading.timeout * 1000, expiresAt });
  }
  return { counts: { ...base, flows, capacity: reading.size }, cache: { policy, rules } };
}

/** Deletes these flows (CountedFlow.id) from a namespace's sets, in one transaction. Throws what the executor throws. */
export async function forgetFlowElements(executor: Executor, namespace: string, ids: string[]): Promise<void> {
  const script = renderFlowDeletes(ids.map((id) => ({ family: id.startsWith("6 ") ? 6 : 4, text: id.slice(2) })));
  if (script !== "") await executor.run(["nft", "-f", "-"], { netns: namespace, stdin: script });
}
