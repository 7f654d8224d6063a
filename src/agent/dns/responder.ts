// One tenant's DNS service without the sockets: holds the current records, turns a query packet
// into a reply packet (answer, forward, or SERVFAIL) and counts what happened. Forwarding itself
// is someone else's: the server passes a Forwarder that relays to the supervisor (relay.ts).

import type { DnsStats } from "./ipc.js";
import { EMPTY_RECORDS, RecordIndex, type TenantRecords } from "./records.js";
import { fitResponse, resolveQuery, servfail, type Transport } from "./resolve.js";

/** Gets the upstream reply to the client's packet (sent as is), or undefined when none came. */
export type Forwarder = (packet: Uint8Array) => Promise<Uint8Array | undefined>;

export interface ResponderOptions {
  /** Where names we do not own go; without it, a forward gets SERVFAIL. */
  forward?: Forwarder;
  /** Called when a forward fails, for rate-limited logging. */
  onForwardFailure?: (qname: string) => void;
}

export class Responder {
  #index = new RecordIndex(EMPTY_RECORDS);
  #forwarding = false;
  readonly #options: ResponderOptions;
  readonly stats: DnsStats = { found: 0, notFound: 0, forwarded: 0, forwardFailed: 0, invalid: 0 };

  constructor(options: ResponderOptions = {}) {
    this.#options = options;
  }

  /** Replaces all records; returns how many names are indexed. */
  setRecords(records: TenantRecords): number {
    this.#index = new RecordIndex(records);
    return this.#index.size;
  }

  /** Whether upstream resolvers exist: unknown names are forwarded, else answered REFUSED. */
  setForwarding(enabled: boolean): void {
    this.#forwarding = enabled;
  }

  /** The reply to send, or undefined to send nothing. Never throws. */
  async handle(packet: Uint8Array, transport: Transport): Promise<Uint8Array | undefined> {
    const resolution = resolveQuery(this.#index, packet, { transport, canForward: this.#forwarding });
    if (resolution.action === "drop") {
      this.stats.invalid++;
      return undefined;
    }
    if (resolution.action === "reply") {
      this.stats[resolution.outcome]++;
      return resolution.response;
    }
    const query = resolution.query;
    this.stats.forwarded++;
    let reply: Uint8Array | undefined;
    try {
      const upstream = await this.#options.forward?.(packet);
      if (upstream) reply = fitResponse(upstream, query, transport);
    } catch {
      reply = undefined;
    }
    if (reply) return reply;
    this.stats.forwardFailed++;
    this.#options.onForwardFailure?.(query.questions[0]?.name ?? "");
    return servfail(query, transport);
  }
}
