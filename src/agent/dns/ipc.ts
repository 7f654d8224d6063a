// The messages between the agent's DnsSupervisor and a DNS server process (Node IPC, JSON).
// Both sides parse what they receive: a malformed message is logged and ignored, never acted on.
//
// parent → server: records | listen | upstream | stats | forwarded
// server → parent: ready (handlers installed; send the config now) | listening | stats | forward
//
// Forwarding is relayed: the server lives in the tenant namespace, which has no route to the
// host's resolvers, so it hands each query it cannot answer to the supervisor ("forward"), which
// asks the upstreams from the agent's own namespace and hands the reply back ("forwarded").

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
  /** Not ours: relayed to the supervisor for the upstream resolvers (includes forwardFailed). */
  forwarded: z.number().int(),
  /** Relayed, but no upstream answered in time (or too many in flight): answered SERVFAIL. */
  forwardFailed: z.number().int(),
  /** Malformed, not a query, or rejected (opcode, EDNS version, TSIG). */
  invalid: z.number().int(),
});
export type DnsStats = z.infer<typeof DnsStats>;

const IpAddress = z.string().refine((s) => isIP(s) !== 0, "must be an IPv4 or IPv6 address");
/** Base64 of one DNS message (at most 65 535 bytes). */
const Packet = z.string().min(1).max(87_384);
const UpstreamServer = z.string().refine((s) => parseUpstream(s) !== undefined, "must be ADDRESS, IPV4:PORT or [IPV6]:PORT");

export const ServerRequest = z.discriminatedUnion("type", [
  /** Replaces the tenant's records. */
  z.object({ type: z.literal("records"), records: TenantRecords }),
  /** Replaces the set of addresses to serve on port 53 (UDP and TCP). */
  z.object({ type: z.literal("listen"), addresses: z.array(IpAddress) }),
  /**
   * The resolvers unknown names go to (asked by the supervisor, not the server); empty means
   * answer REFUSED. The server only needs to know whether there are any.
   */
  z.object({ type: z.literal("upstream"), servers: z.array(UpstreamServer) }),
  /** Asks for the counters; the reply carries the same id. */
  z.object({ type: z.literal("stats"), id: z.number().int() }),
  /** Answer to "forward" with the same id: the upstream's reply, or no packet when none came (SERVFAIL). */
  z.object({ type: z.literal("forwarded"), id: z.number().int(), packet: Packet.optional() }),
]);
export type ServerRequest = z.infer<typeof ServerRequest>;

export const ServerReport = z.discriminatedUnion("type", [
  z.object({ type: z.literal("ready"), pid: z.number().int() }),
  /** Addresses bound on both UDP and TCP, after every change. */
  z.object({ type: z.literal("listening"), addresses: z.array(z.string()) }),
  z.object({ type: z.literal("stats"), id: z.number().int(), stats: DnsStats }),
  /** A client's query, bytes as received, for the supervisor to send upstream; answered by "forwarded". */
  z.object({ type: z.literal("forward"), id: z.number().int(), packet: Packet }),
]);
export type ServerReport = z.infer<typeof ServerReport>;
