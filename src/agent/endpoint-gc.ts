// Endpoints netmaster keeps for this host that nothing on the host holds.
// netmaster allocates an endpoint's addresses before the agent records the
// attachment; a crash of either in between (or a create that committed but
// whose answer never came back) leaves an endpoint homed here that no DEL will
// ever name, and its addresses would stay taken forever. The agent deletes such
// endpoints at netmaster once it has seen them unheld for a grace period.
//
// Never collected: endpoints an attachment or a pending ADD holds, ADDs in
// progress (their container id is claimed, and an ADD waits for a collection
// of its container to finish, so the two never interleave), the host's own
// endpoints on infra networks (infra.ts owns them), and Docker's endpoints:
// between CreateEndpoint and Join they have no attachment by design, and
// deleting one the CNI way would hand an address back that a Docker
// reservation still accounts for (master/docker/).

import type { Logger } from "pino";
import { RESERVATION_PREFIX } from "../contract/keys.js";
import { ENDPOINT_PREFIX } from "../contract/keys.js";
import type { EndpointState } from "../contract/records.js";
import type { AttachmentStore } from "./attachments.js";
import { hostEndpointContainer, type StateView } from "./pipeline/compile.js";
import type { MasterClient } from "./master-client.js";

export const DEFAULT_GRACE_MS = 60_000;
/** A collection pass at least this often, so strays go within grace + this. */
const MAX_PASS_INTERVAL_MS = 30_000;

export interface StraySelection {
  host: string;
  /** Every endpoint netmaster has. */
  endpoints: EndpointState[];
  /** Endpoint ids something on this host holds: attachments, pending ADDs, Docker's endpoints. */
  held: ReadonlySet<string>;
  /** netmaster container ids of ADDs in progress. */
  adding: ReadonlySet<string>;
  /** Since when each endpoint has been seen unheld, from the previous selection. */
  unheldSince: ReadonlyMap<string, number>;
  now: number;
  graceMs: number;
}

/**
 * Pure: the endpoints to delete (unheld for at least the grace period) and the unheld-since times to
 * carry to the next selection (endpoints held again or gone drop out, so their clock restarts).
 */
export function selectStray(s: StraySelection): { stray: EndpointState[]; unheldSince: Map<string, number> } {
  const hostEndpoint = hostEndpointContainer(s.host);
  const unheldSince = new Map<string, number>();
  const stray: EndpointState[] = [];
  for (const ep of s.endpoints) {
    if (ep.homingHost !== s.host || ep.containerID === hostEndpoint) continue;
    if (s.held.has(ep.endpointID) || s.adding.has(ep.containerID)) continue;
    const since = s.unheldSince.get(ep.endpointID) ?? s.now;
    unheldSince.set(ep.endpointID, since);
    if (s.now - since >= s.graceMs) stray.push(ep);
  }
  return { stray, unheldSince };
}

export interface EndpointCollectorDeps {
  host: string;
  view: StateView;
  attachments: AttachmentStore;
  /** Endpoints netmaster created for us that the state stream has not shown yet. */
  pending: Map<string, EndpointState>;
  /** The Docker driver's endpoint ids (docker/state.ts), also when it does not run now; throws when unreadable. */
  dockerEndpointIds: () => Iterable<string>;
  master: MasterClient;
  graceMs: number;
  log: Logger;
}

export class EndpointCollector {
  private unheldSince = new Map<string, number>();
  /** netmaster container id → ADDs in progress for it. */
  private readonly adding = new Map<string, number>();
  /** netmaster container id → its endpoint's deletion in progress. */
  private readonly collecting = new Map<string, Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private passing = false;

  constructor(private readonly d: EndpointCollectorDeps) {}

  /**
   * Brackets an ADD of a netmaster container id: from now on no collection of it starts, and one already
   * running is waited for (else netmaster could answer the ADD with the endpoint being deleted). Call the
   * returned function when the ADD is over, whatever its outcome.
   */
  async claim(containerID: string): Promise<() => void> {
    this.adding.set(containerID, (this.adding.get(containerID) ?? 0) + 1);
    await this.collecting.get(containerID);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = (this.adding.get(containerID) ?? 1) - 1;
      if (n > 0) this.adding.set(containerID, n);
      else this.adding.delete(containerID);
    };
  }

  /** Passes now and then; the first one right away (call once the state is synced). */
  start(): void {
    this.timer = setInterval(() => void this.pass(), Math.min(this.d.graceMs, MAX_PASS_INTERVAL_MS));
    this.timer.unref();
    void this.pass();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** One selection and the deletions it asks for; failures are logged and retried by the next pass. */
  async pass(): Promise<void> {
    if (this.passing) return;
    this.passing = true;
    try {
      const { d } = this;
      let held: Set<string>;
      try {
        held = this.held();
      } catch (err) {
        d.log.warn({ err: (err as Error).message }, "endpoint collection skipped: cannot read the Docker driver's state");
        return;
      }
      const { stray, unheldSince } = selectStray({
        host: d.host,
        endpoints: d.view.list<EndpointState>(ENDPOINT_PREFIX).map(([, ep]) => ep),
        held,
        adding: new Set(this.adding.keys()),
        unheldSince: this.unheldSince,
        now: Date.now(),
        graceMs: d.graceMs,
      });
      this.unheldSince = unheldSince;
      for (const ep of stray) {
        // Deletions take time: an ADD may have claimed the container, or completed, since the selection.
        if (this.adding.has(ep.containerID) || d.attachments.byEndpoint(ep.endpointID) || d.pending.has(ep.endpointID)) continue;
        const deletion = d.master.deleteEndpoint(ep.endpointID);
        this.collecting.set(ep.containerID, deletion.catch(() => undefined));
        try {
          await deletion;
          this.unheldSince.delete(ep.endpointID);
          d.log.info({ endpoint: ep.endpointID, ip: ep.ipAddress, ipv6: ep.ipv6Address }, "released endpoint nothing on this host holds");
        } catch (err) {
          d.log.warn({ endpoint: ep.endpointID, err: (err as Error).message }, "cannot release endpoint nothing on this host holds");
        } finally {
          this.collecting.delete(ep.containerID);
        }
      }
    } finally {
      this.passing = false;
    }
  }

  private held(): Set<string> {
    const { d } = this;
    const held = new Set<string>(d.pending.keys());
    for (const a of d.attachments.all()) held.add(a.endpointId);
    for (const id of d.dockerEndpointIds()) held.add(id);
    for (const [, r] of d.view.list<{ endpointId: string }>(RESERVATION_PREFIX)) if (r.endpointId) held.add(r.endpointId);
    return held;
  }
}
