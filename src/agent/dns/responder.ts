// One tenant's DNS service without the sockets: holds the current records and upstreams, turns
// a query packet into a reply packet (answer, forward, or SERVFAIL) and counts what happened.

import type { DnsStats } from "./ipc.js";
import { forwardQuery, type ForwardOptions, type Upstream } from "./forward.js";
import { EMPTY_RECORDS, RecordIndex, type TenantRecords } from "./records.js";
import { resolveQuery, servfail, type Transport } from "./resolve.js";

export interface ResponderOptions {
  /** Most forwards in flight; beyond it, queries get SERVFAIL at once. Default 256. */
  maxInFlight?: number;
  /** Per query deadline for upstream attempts; see forward.ts. */
  forwardTimeoutMs?: number;
  /** Called when a forward fails, for rate-limited logging. */
  onForwardFailure?: (qname: string) => void;
}

export class Responder {
  #index = new RecordIndex(EMPTY_RECORDS);
  #upstreams: Upstream[] = [];
  #inFlight = 0;
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

  setUpstreams(upstreams: Upstream[]): void {
    this.#upstreams = [...upstreams];
  }

  /** The reply to send, or undefined to send nothing. Never throws. */
  async handle(packet: Uint8Array, transport: Transport): Promise<Uint8Array | undefined> {
    const upstreams = this.#upstreams;
    const resolution = resolveQuery(this.#index, packet, { transport, canForward: upstreams.length > 0 });
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
    const max = this.#options.maxInFlight ?? 256;
    let reply: Uint8Array | undefined;
    if (this.#inFlight < max) {
      this.#inFlight++;
      try {
        const options: ForwardOptions = { transport };
        if (this.#options.forwardTimeoutMs !== undefined) options.timeoutMs = this.#options.forwardTimeoutMs;
        reply = await forwardQuery(packet, query, upstreams, options);
      } finally {
        this.#inFlight--;
      }
    }
    if (reply) return reply;
    this.stats.forwardFailed++;
    this.#options.onForwardFailure?.(query.questions[0]?.name ?? "");
    return servfail(query, transport);
  }
}
