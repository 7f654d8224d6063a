// The DHCP leases this agent holds for its containers on `ipam: dhcp` networks: one LeaseClient (udhcpc in
// the container's namespace, renewing by itself) per endpoint, from its CNI ADD to its DEL. A lease the server
// takes back (NAK, a renewal that fails until the lease runs out) is logged and reported as a failure of the
// endpoint in the host's realization report (netctl endpoint inspect), until the client has a lease again; a
// new lease with another address is handed to `onAddress` (the agent records it at netmaster and replumbs).

import type { Logger } from "pino";
import type { UnitFailure } from "../../contract/api.js";
import { LeaseClient, type Lease, type LeaseClientOptions, type LeaseEvent } from "./lease.js";

export interface LeaseOwner {
  endpointId: string;
  tenant: string;
  network: string;
  netns: string;
  ifname: string;
}

export interface DhcpLeasesDeps {
  /** Where the lease clients' event script goes (the agent's state directory). */
  scriptDir: string;
  log: Logger;
  /** A lease came with another address than the one recorded for the endpoint. */
  onAddress: (owner: LeaseOwner, lease: Lease) => void;
  /** A lease was lost or came back: the realization report has changed. */
  onProblem: () => void;
  /** Seconds to wait for a first lease (LeaseClient's default when absent). */
  timeoutSeconds?: number;
  /** For tests: how clients are started. */
  start?: (o: LeaseClientOptions) => Promise<LeaseClient>;
}

const RETRY_MS = 10_000;

/** The endpoint was released (its DEL) while its lease client was starting: the client was stopped. */
export class LeaseReleased extends Error {
  constructor(endpointId: string) {
    super(`endpoint ${endpointId} was released while its DHCP lease was being acquired`);
  }
}

interface Held {
  owner: LeaseOwner;
  client: LeaseClient;
  /** The address netmaster has for the endpoint. */
  recorded: string;
}

export class DhcpLeases {
  private readonly held = new Map<string, Held>();
  private readonly lost = new Map<string, UnitFailure>();
  /** Endpoints whose client is starting, with the acquire() that started it: a release() in between cancels it. */
  private readonly starting = new Map<string, symbol>();
  constructor(private readonly d: DhcpLeasesDeps) {}

  has(endpointId: string): boolean {
    return this.held.has(endpointId);
  }

  /**
   * Starts the endpoint's client and resolves with its first lease; `requestIp`: the address it had (after an
   * agent restart). On failure nothing runs. The caller records the lease at netmaster and then calls recorded().
   */
  async acquire(owner: LeaseOwner, requestIp?: string): Promise<Lease> {
    const id = owner.endpointId;
    await this.release(id);
    const ticket = Symbol(id);
    this.starting.set(id, ticket);
    // False once a release() (or a newer acquire()) came while udhcpc was starting: a DEL racing its ADD.
    const current = () => this.starting.get(id) === ticket;
    let held: Held | undefined;
    let client: LeaseClient;
    try {
      client = await (this.d.start ?? LeaseClient.start)({
        netns: owner.netns,
        ifname: owner.ifname,
        scriptDir: this.d.scriptDir,
        ...(requestIp ? { requestIp } : {}),
        ...(this.d.timeoutSeconds ? { timeoutSeconds: this.d.timeoutSeconds } : {}),
        // Events before the first lease (udhcpc's initial deconfig) are start()'s; those after a release are moot.
        onEvent: (e) => {
          if (held !== undefined && this.held.get(id) === held) this.event(held, e);
        },
        onExit: (code) => {
          if (held !== undefined && this.held.get(id) === held) this.exited(held, code);
        },
      });
    } catch (err) {
      if (!current()) throw new LeaseReleased(id);
      this.starting.delete(id);
      throw err;
    }
    if (!current()) {
      await client.stop();
      throw new LeaseReleased(id);
    }
    this.starting.delete(id);
    held = { owner, client, recorded: requestIp ?? "" };
    this.held.set(id, held);
    return client.lease!;
  }

  /** Netmaster holds `ip` for the endpoint now. */
  recorded(endpointId: string, ip: string): void {
    const h = this.held.get(endpointId);
    if (h) h.recorded = ip;
  }

  /** Stops the endpoint's client, which releases its lease (DHCPRELEASE). Idempotent. */
  async release(endpointId: string): Promise<void> {
    const h = this.held.get(endpointId);
    this.held.delete(endpointId);
    this.starting.delete(endpointId);
    if (this.lost.delete(endpointId)) this.d.onProblem();
    await h?.client.stop();
  }

  /** Lease problems as failures of their endpoints, for the realization report. */
  failures(): UnitFailure[] {
    return [...this.lost.values()];
  }

  /** Agent shutdown: every client ends without releasing (a restarted agent asks for the same address again). */
  async abandonAll(): Promise<void> {
    const all = [...this.held.values()];
    this.held.clear();
    this.starting.clear(); // a client still starting is stopped by its acquire()
    await Promise.all(all.map((h) => h.client.abandon()));
  }

  private event(h: Held, e: LeaseEvent): void {
    const { owner } = h;
    const log = this.d.log.child({ endpoint: owner.endpointId, ifname: owner.ifname });
    if (e.kind === "bound" || e.kind === "renew") {
      if (this.lost.delete(owner.endpointId)) {
        log.info({ ip: e.lease.ip }, "DHCP lease back");
        this.d.onProblem();
      }
      if (e.lease.ip !== h.recorded) {
        log.warn({ ip: e.lease.ip, was: h.recorded }, "DHCP lease with another address");
        this.d.onAddress(owner, e.lease);
      }
      return;
    }
    this.lose(h, `DHCP lease of ${h.recorded} lost (${e.kind}): the server no longer gives it; the client keeps asking`);
    log.error({ ip: h.recorded, event: e.kind }, "DHCP lease lost");
  }

  private lose(h: Held, message: string): void {
    const { owner } = h;
    const had = this.lost.get(owner.endpointId);
    this.lost.set(owner.endpointId, { tenant: owner.tenant, network: owner.network, endpoint: owner.endpointId, message });
    if (had?.message !== message) this.d.onProblem();
  }

  /** udhcpc gave up (no server answered after a lost lease): asked again, for the same address, every RETRY_MS. */
  private exited(h: Held, code: number | null): void {
    this.lose(h, `DHCP lease of ${h.recorded} lost: the lease client ended (${code}); asking again`);
    this.d.log.error({ endpoint: h.owner.endpointId, ip: h.recorded, code }, "DHCP lease client ended; restarting it");
    const retry = () => {
      if (this.held.get(h.owner.endpointId) !== h) return; // released meanwhile
      const recorded = h.recorded;
      this.acquire(h.owner, recorded)
        .then((lease) => {
          this.recorded(h.owner.endpointId, recorded);
          if (this.lost.delete(h.owner.endpointId)) this.d.onProblem();
          if (lease.ip !== recorded) this.d.onAddress(h.owner, lease);
        })
        .catch((err: Error) => {
          if (err instanceof LeaseReleased) return;
          this.d.log.warn({ endpoint: h.owner.endpointId, err: err.message }, "no DHCP lease yet; asking again later");
          // acquire() dropped the old entry: put it back so a release() still stops the retries.
          if (!this.held.has(h.owner.endpointId)) this.held.set(h.owner.endpointId, h);
          this.lose(h, `DHCP lease of ${recorded} lost: no server answers; asking again`);
          setTimeout(retry, RETRY_MS).unref();
        });
    };
    setTimeout(retry, RETRY_MS).unref();
  }
}
