// The server's side of forwarding: queries it cannot answer go to the supervisor over IPC
// ("forward", see ipc.ts), which asks the upstream resolvers from the agent's namespace and
// answers "forwarded" with the same id. This table holds the queries in flight, bounded in
// number and time, so every client gets an answer (SERVFAIL when no reply comes) even if the
// supervisor's reply is lost or late. Late or unknown replies are ignored.

/** How long a relayed query waits for the supervisor; more than its upstream deadline (forward.ts). */
export const RELAY_TIMEOUT_MS = 2000;
/** Default most relayed queries in flight. */
export const MAX_RELAYED = 256;

export interface RelayOptions {
  /** Hands a query to the supervisor; false when it cannot be sent (IPC channel closed). */
  send: (id: number, packet: Uint8Array) => boolean;
  /** Default RELAY_TIMEOUT_MS. */
  timeoutMs?: number;
  /** Beyond this many in flight, forward() gives undefined at once. Default MAX_RELAYED. */
  maxInFlight?: number;
}

interface Pending {
  resolve: (reply: Uint8Array | undefined) => void;
  timer: NodeJS.Timeout;
}

export class ForwardRelay {
  readonly #pending = new Map<number, Pending>();
  readonly #options: RelayOptions;
  #nextId = 1;

  constructor(options: RelayOptions) {
    this.#options = options;
  }

  /** Queries waiting for the supervisor. */
  get inFlight(): number {
    return this.#pending.size;
  }

  /** The upstream reply to `packet`, or undefined (too many in flight, not sent, timed out, failed). */
  forward(packet: Uint8Array): Promise<Uint8Array | undefined> {
    if (this.#pending.size >= (this.#options.maxInFlight ?? MAX_RELAYED)) return Promise.resolve(undefined);
    const id = this.#takeId();
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.settle(id, undefined), this.#options.timeoutMs ?? RELAY_TIMEOUT_MS);
      this.#pending.set(id, { resolve, timer });
      let sent = false;
      try {
        sent = this.#options.send(id, packet);
      } catch {
        sent = false;
      }
      if (!sent) this.settle(id, undefined);
    });
  }

  /** The supervisor's answer for `id` (no packet: it failed). False when `id` is not in flight. */
  settle(id: number, reply: Uint8Array | undefined): boolean {
    const pending = this.#pending.get(id);
    if (!pending) return false;
    this.#pending.delete(id);
    clearTimeout(pending.timer);
    pending.resolve(reply);
    return true;
  }

  /** Fails everything in flight. */
  close(): void {
    for (const id of [...this.#pending.keys()]) this.settle(id, undefined);
  }

  #takeId(): number {
    for (;;) {
      const id = this.#nextId;
      this.#nextId = id >= 0x7fffffff ? 1 : id + 1;
      if (!this.#pending.has(id)) return id;
    }
  }
}
