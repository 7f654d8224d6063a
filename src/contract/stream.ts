// The state stream an agent follows (GET /api/v1/agent/watch): newline-delimited JSON, one event a line, for
// the host's own slice of netmaster's state (slices.ts). A snapshot is "reset", one "put" per key, "synced";
// then every change to the slice in revision order, with a "ping" once a write's lines are all sent (and
// every ten seconds), whose revision says the agent now holds its slice of that revision whole.

import { z } from "zod";

/** Response header naming the netmaster process that serves the stream: an agent resumes only with it. */
export const EPOCH_HEADER = "netplugin-stream-epoch";

export const StreamEvent = z.discriminatedUnion("type", [
  z.object({ type: z.literal("reset"), revision: z.int() }),
  z.object({ type: z.literal("synced"), revision: z.int() }),
  z.object({ type: z.literal("ping"), revision: z.int() }),
  z.object({ type: z.literal("put"), revision: z.int(), key: z.string(), value: z.unknown() }),
  z.object({ type: z.literal("delete"), revision: z.int(), key: z.string() }),
]);
export type StreamEvent = z.infer<typeof StreamEvent>;

/** The watch request's query: whose slice, and where the agent's copy of it stands. */
export const WatchQuery = z.object({
  host: z.string().min(1).max(256),
  /** The last revision the agent holds whole; 0: none (a snapshot). */
  revision: z.coerce.number().int().min(0).default(0),
  /** The epoch that revision came from (EPOCH_HEADER); "" for none. */
  epoch: z.string().max(64).default(""),
  /** "1": every tenant, network and group object too (an agent that makes Docker networks for them). */
  catalog: z.enum(["0", "1"]).default("0"),
});
export type WatchQuery = z.infer<typeof WatchQuery>;
