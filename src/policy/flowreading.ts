// Reads the flow sets back (flowsets.ts) from `nft -j -p list sets table inet netplugin`: -p prints protocols as
// numbers, and `list sets` gives every set of the table with its elements in one call (nft 1.0.6 prints only the
// first object's JSON when one command line lists several). Each element is one flow with the kernel's running
// count of its attempts; the agent turns counts into records (agent/flows). Hand-checked rather than with a
// schema: a read under a flood holds the sets' whole size, every few seconds, and the agent's CPU is the cost
// flow records are judged by.

import { isIP } from "node:net";
import { ValidationError } from "../lib/errors.js";
import { ALLOWED_FLOW_ID, FLOW_SETS, FULL_SET } from "./flowsets.js";
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
  /** Attempts the full sets had no room for, both families, since the table was loaded. */
  fullPackets: number;
  /** Each family's set's size and timeout (seconds), from the first flow set read; 0 when none was. */
  size: number;
  timeout: number;
  /** Elements that could not be read (skipped). */
  malformed: number;
}

export const FLOW_SETS_ARGV = ["nft", "-j", "-p", "list", "sets", "table", "inet", TABLE_NAME];

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
  if (typeof src !== "string" || typeof dst !== "string" || isIP(src) !== family || isIP(dst) !== family) return undefined;
  return { family, flowId, src, dst, proto: p, dport: port, packets, expires };
}

/** The flow sets of the listing. Throws ValidationError when the text is not nft's JSON. */
export function parseFlowSets(nftJsonText: string): FlowSetsReading {
  let doc: unknown;
  try {
    doc = JSON.parse(nftJsonText);
  } catch (err) {
    throw new ValidationError("Cannot read the flow sets: nft's output is not JSON", [], { cause: err });
  }
  const items = (doc as { nftables?: unknown } | null)?.nftables;
  if (!Array.isArray(items)) throw new ValidationError('Cannot read the flow sets: no "nftables" array in nft\'s output');
  const reading: FlowSetsReading = { elements: [], fullPackets: 0, size: 0, timeout: 0, malformed: 0 };
  for (const item of items) {
    const set = (item as { set?: { family?: unknown; table?: unknown; name?: unknown; size?: unknown; timeout?: unknown; elem?: unknown } } | null)?.set;
    if (!set || set.family !== "inet" || set.table !== TABLE_NAME || typeof set.name !== "string") continue;
    const elems = Array.isArray(set.elem) ? set.elem : [];
    if (set.name === FULL_SET) {
      for (const e of elems) {
        const packets = int((e as { elem?: JsonElem } | null)?.elem?.counter?.packets, Number.MAX_SAFE_INTEGER);
        if (packets === undefined) reading.malformed++;
        else reading.fullPackets += packets;
      }
      continue;
    }
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
  const traced = tracePacket(compiled, { saddr: e.src, daddr: e.dst, protocol: e.proto, dport: e.dport });
  return { verdict: "allow", rule: traced.inRule ?? traced.outRule ?? null };
}
