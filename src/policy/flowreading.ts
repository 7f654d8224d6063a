// Reads the flow sets back (flowsets.ts). First the two counters (`nft -j list counters table inet netplugin`, a
// few hundred bytes): when the sets took no attempt since the last listing, that is all. Else the sets, each by
// name (`nft -j -n list set inet netplugin flows4`: -n prints protocols as numbers; by name, nft fetches that set
// alone). The agent's process starter answers both over netlink without starting nft (netlink/nft-list.ts): a
// full set's listing costs it a few ms where nft took ~70 ms of CPU, and nft fetched the full sets for the
// counters too. Each element is one flow with the kernel's running count of its attempts; the agent turns
// counts into records (agent/flows). Hand-checked rather than with a schema, and addresses by their shape only
// (the set's type made nft print them): a listing under a flood holds the sets' whole size, and the agent's CPU
// is what flow records are judged by.

import { ValidationError } from "../lib/errors.js";
import { ALLOWED_FLOW_ID, COUNTED_COUNTER, FLOW_SETS, FULL_COUNTER } from "./flowsets.js";
import { TABLE_NAME } from "./render.js";
import { tracePacket } from "./trace.js";
import type { CompiledPolicy } from "./types.js";

/** One element of a flow set: a flow and the attempts the kernel counted since it made the element. */
export interface FlowSetElement {
  family: 4 | 6;
  /** 0: allowed; else 1 + the deny rule's index in CompiledPolicy.flowRules. */
  flowId: number;
  src: string;
  dst: string;
  proto: number;
  /** 0 for a protocol without ports. */
  dport: number;
  packets: number;
  /** Seconds left before the element expires (whole seconds, as nft prints them). */
  expires: number;
}

export interface FlowSetsReading {
  elements: FlowSetElement[];
  /** Each family's set's size and timeout (seconds), from the first flow set read; 0 when none was. */
  size: number;
  timeout: number;
  /** Elements that could not be read (skipped). */
  malformed: number;
}

/** One listing per family's set, by name: nft fetches that set alone. */
export const FLOW_SETS_ARGVS = ([4, 6] as const).map((family) => ["nft", "-j", "-n", "list", "set", "inet", TABLE_NAME, FLOW_SETS[family]]);
export const FLOW_COUNTERS_ARGV = ["nft", "-j", "list", "counters", "table", "inet", TABLE_NAME];

/** Since the table was loaded: attempts the sets took, and attempts a full set had no room for. */
export interface FlowCountersReading {
  counted: number;
  full: number;
}

const IPV4 = /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;
const IPV6 = /^[0-9a-f:.]*:[0-9a-f:.]*$/i;

const FAMILY_OF: Record<string, 4 | 6> = { [FLOW_SETS[4]]: 4, [FLOW_SETS[6]]: 6 };

function int(v: unknown, max: number): number | undefined {
  const n = typeof v === "number" ? v : typeof v === "string" && /^\d{1,10}$/.test(v) ? Number(v) : NaN;
  return Number.isInteger(n) && n >= 0 && n <= max ? n : undefined;
}

interface JsonElem {
  val?: unknown;
  expires?: unknown;
  counter?: { packets?: unknown };
}

function element(e: unknown, family: 4 | 6): FlowSetElement | undefined {
  const elem = (e as { elem?: JsonElem } | null)?.elem;
  const parts = (elem?.val as { concat?: unknown } | undefined)?.concat;
  if (!Array.isArray(parts) || parts.length !== 5) return undefined;
  const [id, src, dst, proto, dport] = parts as unknown[];
  const flowId = int(id, 0xffffffff);
  const p = int(proto, 255);
  const port = int(dport, 65535);
  const packets = int(elem!.counter?.packets, Number.MAX_SAFE_INTEGER);
  const expires = elem!.expires === undefined ? 0 : int(elem!.expires, 0xffffffff);
  if (flowId === undefined || p === undefined || port === undefined || packets === undefined || expires === undefined) return undefined;
  const shape = family === 4 ? IPV4 : IPV6;
  if (typeof src !== "string" || typeof dst !== "string" || !shape.test(src) || !shape.test(dst)) return undefined;
  return { family, flowId, src, dst, proto: p, dport: port, packets, expires };
}

function nftItems(nftJsonText: string, what: string): unknown[] {
  let doc: unknown;
  try {
    doc = JSON.parse(nftJsonText);
  } catch (err) {
    throw new ValidationError(`Cannot read the ${what}: nft's output is not JSON`, [], { cause: err });
  }
  const items = (doc as { nftables?: unknown } | null)?.nftables;
  if (!Array.isArray(items)) throw new ValidationError(`Cannot read the ${what}: no "nftables" array in nft's output`);
  return items;
}

/** The flow counters of the listing (0 for one missing). Throws ValidationError when the text is not nft's JSON. */
export function parseFlowCounters(nftJsonText: string): FlowCountersReading {
  const reading: FlowCountersReading = { counted: 0, full: 0 };
  for (const item of nftItems(nftJsonText, "flow counters")) {
    const c = (item as { counter?: { family?: unknown; table?: unknown; name?: unknown; packets?: unknown } } | null)?.counter;
    if (!c || c.family !== "inet" || c.table !== TABLE_NAME) continue;
    const packets = int(c.packets, Number.MAX_SAFE_INTEGER) ?? 0;
    if (c.name === COUNTED_COUNTER) reading.counted = packets;
    else if (c.name === FULL_COUNTER) reading.full = packets;
  }
  return reading;
}

/** The flow sets of the listings (FLOW_SETS_ARGVS' outputs, or one of `list sets`). Throws ValidationError when a text is not nft's JSON. */
export function parseFlowSets(nftJsonTexts: string | string[]): FlowSetsReading {
  const reading: FlowSetsReading = { elements: [], size: 0, timeout: 0, malformed: 0 };
  const items = (typeof nftJsonTexts === "string" ? [nftJsonTexts] : nftJsonTexts).flatMap((text) => nftItems(text, "flow sets"));
  for (const item of items) {
    const set = (item as { set?: { family?: unknown; table?: unknown; name?: unknown; size?: unknown; timeout?: unknown; elem?: unknown } } | null)?.set;
    if (!set || set.family !== "inet" || set.table !== TABLE_NAME || typeof set.name !== "string") continue;
    const elems = Array.isArray(set.elem) ? set.elem : [];
    const family = FAMILY_OF[set.name];
    if (family === undefined) continue;
    if (reading.size === 0) {
      reading.size = int(set.size, 0xffffffff) ?? 0;
      reading.timeout = int(set.timeout, 0xffffffff) ?? 0;
    }
    for (const e of elems) {
      const parsed = element(e, family);
      if (parsed === undefined) reading.malformed++;
      else reading.elements.push(parsed);
    }
  }
  return reading;
}

/** The element as nft writes it (for `delete element`). */
export function flowElementText(e: Pick<FlowSetElement, "flowId" | "src" | "dst" | "proto" | "dport">): string {
  return `${e.flowId} . ${e.src} . ${e.dst} . ${e.proto} . ${e.dport}`;
}

/** One `nft -f` transaction deleting these elements (flowElementText) from their family's set; "" for none. */
export function renderFlowDeletes(elements: { family: 4 | 6; text: string }[]): string {
  const lines: string[] = [];
  for (const family of [4, 6] as const) {
    const mine = elements.filter((e) => e.family === family);
    if (mine.length > 0) lines.push(`delete element inet ${TABLE_NAME} ${FLOW_SETS[family]} { ${mine.map((e) => e.text).join(", ")} }`);
  }
  return lines.length === 0 ? "" : `${lines.join("\n")}\n`;
}

/**
 * The verdict and rule key of an element under the policy its table holds: a deny rule by its flow id; an allowed
 * attempt traced as `netctl trace` judges (the receiver's rule, else the sender's; null: the default). undefined:
 * an id the policy has no rule for (a table of another policy).
 */
export function flowRuleOf(compiled: CompiledPolicy, e: FlowSetElement): { verdict: "allow" | "deny"; rule: string | null } | undefined {
  if (e.flowId !== ALLOWED_FLOW_ID) {
    const rule = compiled.flowRules[e.flowId - 1];
    return rule === undefined ? undefined : { verdict: "deny", rule };
  }
  return { verdict: "allow", rule: allowingRule(compiled, e) };
}

/** The rule that allowed an attempt, as `netctl trace` names it: the receiver's, else the sender's; null: the default. */
export function allowingRule(compiled: CompiledPolicy, a: { src: string; dst: string; proto: number; dport: number }): string | null {
  const traced = tracePacket(compiled, { saddr: a.src, daddr: a.dst, protocol: a.proto, dport: a.dport });
  return traced.inRule ?? traced.outRule ?? null;
}
