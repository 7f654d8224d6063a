// Flow records on the wire: what an agent pushes (PUT /api/v1/agent/hosts/:name/flows, agent/flows/recorder.ts)
// and what netmaster answers for GET /api/v1/flows (master/flows.ts), which netctl and the web UI read.

import { z } from "zod";

const Address = z.string().min(2).max(45);

export const FlowRecord = z.object({
  tenant: z.string().min(1).max(256),
  verdict: z.enum(["allow", "deny"]),
  /** "policy:ruleId", or null: the default allowed it. */
  rule: z.string().max(256).nullable(),
  src: Address,
  dst: Address,
  proto: z.number().int().min(0).max(255),
  dport: z.number().int().min(0).max(65535),
  packets: z.number().int().min(1),
  firstSeen: z.number().int().min(0),
  lastSeen: z.number().int().min(0),
});
export type FlowRecord = z.infer<typeof FlowRecord>;

export const FlowTableStats = z.object({
  cap: z.number().int().min(1),
  entries: z.number().int().min(0),
  seenPackets: z.number().int().min(0),
  seenEntries: z.number().int().min(0),
  evictedPackets: z.number().int().min(0),
  evictedEntries: z.number().int().min(0),
  /** Attempts the kernel counted without a flow: its set was full (an agent from before reports none). */
  overflowPackets: z.number().int().min(0).default(0),
});
export type FlowTableStats = z.infer<typeof FlowTableStats>;

/** The agent's push: its whole table (at most its cap; the body limit is 1 MiB, so the cap is kept to what fits). */
export const FlowPush = z.object({
  /** Whether the host records allowed attempts too (--flow-records all). */
  allowed: z.boolean(),
  stats: FlowTableStats,
  records: z.array(FlowRecord).max(5000),
});
export type FlowPush = z.infer<typeof FlowPush>;

/** GET /api/v1/flows?tenant=T[&denied=true]: only these parameters; anything else is refused. */
export const FlowsQuery = z
  .object({
    tenant: z.string().min(1, "tenant is required").max(256),
    denied: z.enum(["true", "false"], { message: 'denied must be "true" or "false"' }).default("false"),
  })
  .strict();

export interface FlowsAnswer {
  tenant: string;
  /** Most recently seen first; each from the host whose table logged it. */
  records: (FlowRecord & { host: string })[];
  /** Per reporting host: whether it records allowed attempts, its table's bound, what it evicted and what overflowed. */
  hosts: ({ host: string; allowed: boolean; reportedAt: number } & FlowTableStats)[];
}
