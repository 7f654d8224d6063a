// Level-triggered convergence of this host: any change (state stream, an
// attachment added or removed, a timer) only asks for a run; a run compiles
// the whole desired host from current inputs and lets the datapath apply the
// difference. Runs never overlap; a request during a run causes one more run
// after it. Failures are retried with backoff, and a periodic resync repairs
// drift made behind our back: the datapath reads only what changed since it
// applied it, except on that resync, which asks it to read everything.

import type { Logger } from "pino";
import type { AttachmentStore } from "../attachments.js";
import { announced, compileHost, type CompiledHost, type HostContext, type StateView, type TenantDns } from "./compile.js";
import { contain, type LastGood } from "./contain.js";
import type { EndpointState } from "../../contract/records.js";
import type { DatapathDriver, DatapathError } from "../../datapath/driver.js";
import type { DatapathProblem } from "../../datapath/types.js";

export interface SyncResult {
  /** What the run applied: units that failed are left out or at their last good versions (contain.ts). */
  compiled: CompiledHost;
  /** What the datapath could not read or apply (retried). */
  errors: DatapathError[];
  /** Host-wide settings the datapath accepts but cannot put in force (DatapathDriver.unapplied): not retried. */
  unapplied: DatapathProblem[];
  /** The mark `stateMark` gave as the run compiled. */
  mark: StateMark;
}

/** Which state a run compiled: the mirror's last whole revision and its stream epoch. */
export interface StateMark {
  revision: number;
  epoch: string;
}

export interface DnsDriver {
  apply(dns: CompiledHost["dns"]): void;
}

export interface BgpDriver {
  apply(config: CompiledHost["bgp"]): Promise<void>;
}

export interface ReconcilerOptions {
  /** No run compiles before this settles (the Docker driver bringing its attachments up to date). */
  startAfter?: Promise<unknown>;
  view: StateView;
  attachments: AttachmentStore;
  /** Endpoints netmaster created for us that the state stream has not shown yet. */
  pending: Map<string, EndpointState>;
  ctx: HostContext;
  datapath: DatapathDriver;
  dns: DnsDriver;
  bgp: BgpDriver;
  /** Attachments whose endpoint netmaster no longer has, after each run. */
  forget: (orphans: CompiledHost["orphans"]) => void;
  /** Read as a run compiles, in the same tick: which state it applies. */
  stateMark?: () => StateMark;
  /** After every run that reached the datapath. */
  onSynced?: (result: SyncResult) => void;
  log: Logger;
  resyncMs?: number;
}

export class Reconciler {
  private chain: Promise<unknown>;
  private queued: Promise<SyncResult> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private resync: NodeJS.Timeout | undefined;
  private failures = 0;
  private last: CompiledHost | undefined;
  /** Each tenant as the last run that could render it had it (contain.ts). */
  private lastGood: LastGood = new Map();
  /** The DNS of each tenant namespace as last compiled: a tenant that fails keeps answering as before. */
  private lastDns = new Map<string, TenantDns>();
  /** The failures of the last run, to log them once rather than on every run. */
  private lastFailures = "[]";
  /** Likewise what the datapath does not apply. */
  private lastUnapplied = "[]";
  /** The next run reads the whole host: periodic resync, CNI CHECK. (The first reads everything anyway: the datapath has applied nothing yet.) */
  private full = false;

  constructor(private readonly o: ReconcilerOptions) {
    this.chain = o.startAfter ?? Promise.resolve();
  }

  get lastCompiled(): CompiledHost | undefined {
    return this.last;
  }

  start(): void {
    this.resync = setInterval(() => {
      this.full = true;
      this.trigger();
    }, this.o.resyncMs ?? 30_000);
    this.trigger();
  }

  stop(): void {
    clearInterval(this.resync);
    clearTimeout(this.timer);
  }

  /** Asks for a run soon; many requests in a burst make one run. */
  trigger(delayMs = 20): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.run().catch(() => undefined);
    }, delayMs);
  }

  /**
   * Runs after any run in progress and resolves with what it applied and what failed (failures are retried).
   * Callers arriving while a run is queued but not started share it: it compiles when it starts, so it sees their change.
   * full: that run reads the whole host (CNI CHECK), not only what changed since it was applied.
   */
  run(options: { full?: boolean } = {}): Promise<SyncResult> {
    if (options.full === true) this.full = true;
    if (this.queued) return this.queued;
    const next = this.chain
      .catch(() => undefined)
      .then(() => {
        this.queued = undefined;
        return this.once();
      });
    this.queued = next;
    this.chain = next;
    return next;
  }

  private async once(): Promise<SyncResult> {
    const started = Date.now();
    const full = this.full;
    this.full = false;
    let compiled: CompiledHost;
    let errors: DatapathError[];
    let mark: StateMark;
    try {
      mark = this.o.stateMark?.() ?? { revision: 0, epoch: "" };
      compiled = this.compile();
      ({ errors } = await this.o.datapath.reconcile(compiled.desired, { full }));
    } catch (err) {
      // A run that threw read nothing: a full one asked for is still owed.
      if (full) this.full = true;
      throw err;
    }
    this.o.dns.apply(compiled.dns);
    try {
      await this.o.bgp.apply(compiled.bgp);
    } catch (err) {
      errors.push({ owner: {}, namespace: "", objects: ["bgp"], message: `BGP: ${(err as Error).message}` });
    }
    this.last = compiled;
    if (compiled.orphans.length > 0) this.o.forget(compiled.orphans);
    const failing = JSON.stringify(compiled.failures);
    if (failing !== this.lastFailures) for (const f of compiled.failures) this.o.log.warn({ ...f.owner, err: f.message }, "not in the datapath: kept as it runs");
    this.lastFailures = failing;
    const unapplied = this.o.datapath.unapplied?.(compiled.desired) ?? [];
    const ignoring = JSON.stringify(unapplied);
    if (ignoring !== this.lastUnapplied) for (const u of unapplied) this.o.log.warn({ err: u.message }, "not applied by this datapath");
    this.lastUnapplied = ignoring;
    if (errors.length > 0 || compiled.failures.length > 0) {
      this.failures++;
      const delay = Math.min(120_000, 2000 * 2 ** (this.failures - 1));
      for (const e of errors) this.o.log.warn({ namespace: e.namespace, objects: e.objects, err: e.message, retryMs: delay }, "datapath sync failed");
      setTimeout(() => this.trigger(0), delay).unref();
    } else {
      this.failures = 0;
    }
    this.o.log.debug({ durationMs: Date.now() - started, tenants: compiled.desired.tenants.length, full }, "host synced");
    const result = { compiled, errors, unapplied, mark };
    this.o.onSynced?.(result);
    return result;
  }

  /** The host's desired state with what cannot be built contained (contain.ts); DNS and BGP follow what is kept. */
  private compile(): CompiledHost {
    const attachments = this.o.attachments.all();
    const compiled = compileHost(this.o.view, attachments, this.o.pending, this.o.ctx);
    const attached = new Set(attachments.map((a) => a.endpointId));
    const contained = contain(compiled.desired, compiled.failures, this.lastGood, attached, (d) => this.o.datapath.check(d));
    this.lastGood = contained.lastGood;
    const desired = contained.desired;
    const kept = new Set([...desired.tenants.map((t) => t.namespace), ...(desired.frozen ?? [])]);
    for (const d of compiled.dns) this.lastDns.set(d.namespace, d);
    for (const ns of [...this.lastDns.keys()]) if (!kept.has(ns)) this.lastDns.delete(ns);
    return {
      ...compiled,
      desired,
      failures: contained.failures,
      dns: [...this.lastDns.values()],
      bgp: compiled.bgp === undefined ? undefined : { ...compiled.bgp, announce: announced(desired.tenants) },
    };
  }
}
