// The messages between the agent's DnsSupervisor and a DNS server process (Node IPC, JSON).
// Both sides parse what they receive: a malformed message is logged and ignored, never acted on.
//
// parent → server: records | listen | upstream | stats
// server → parent: ready (handlers installed; send the config now) | listening | stats

import { isIP } from "node:net";
import { z } from "zod";
import { parseUpstream } from "./forward.js";
import { TenantRecords } from "./records.js";

/** Counters of one server process since it started (a restart begins again at 0). */
export const DnsStats = z.object({
  /** Answered from the records (addresses, or NOERROR with none for a known name). */
  found: z.number().int(),
  /** Not ours and answered here: NXDOMAIN under the tenant domain, REFUSED without upstreams. */
  notFound: z.number().int(),
  /** Sent upstream (includes forwardFailed). */
  forwarded: z.number().int(),
  /** Forwarded, but no upstream answered in time: answered SERVFAIL. */
  forwardFailed: z.number().int(),
  /** Malformed, not a query, or rejected (opcode, EDNS version, TSIG). */
  invalid: z.number().int(),
});
export type DnsStats = z.infer<typeof DnsStats>;

const IpAddress = z.string().refine((s) => isIP(s) !== 0, "must be an IPv4 or IPv6 address");
const UpstreamServer = z.string().refine((s) => parseUpstream(s) !== undefined, "must be ADDRESS, IPV4:PORT or [IPV6]:PORT");

export const ServerRequest = z.discriminatedUnion("type", [
  /** Replaces the tenant's records. */
  z.object({ type: z.literal("records"), records: TenantRecords }),
  /** Replaces the set of addresses to serve on port 53 (UDP and TCP). */
  z.object({ type: z.literal("listen"), addresses: z.array(IpAddress) }),
  /** Replaces the resolvers unknown names are forwarded to; empty means answer REFUSED. */
  z.object({ type: z.literal("upstream"), servers: z.array(UpstreamServer) }),
  /** Asks for the counters; the reply carries the same id. */
  z.object({ type: z.literal("stats"), id: z.number().int() }),
]);
export type ServerRequest = z.infer<typeof ServerRequest>;

export const ServerReport = z.discriminatedUnion("type", [
  z.object({ type: z.literal("ready"), pid: z.number().int() }),
  /** Addresses bound on both UDP and TCP, after every change. */
  z.object({ type: z.literal("listening"), addresses: z.array(z.string()) }),
  z.object({ type: z.literal("stats"), id: z.number().int(), stats: DnsStats }),
]);
export type ServerReport = z.infer<typeof ServerReport>;
