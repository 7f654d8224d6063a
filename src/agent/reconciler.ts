// Level-triggered convergence of this host: any change (state stream, an
// attachment added or removed, a timer) only asks for a run; a run compiles
// the whole desired host from current inputs and lets the datapath apply the
// difference. Runs never overlap; a request during a run causes one more run
// after it. Failures are retried with backoff, and a periodic resync repairs
// drift made behind our back: the datapath reads only what changed since it
// applied it, except on that resync, which asks it to read everything.

import type { Logger } from "pino";
import type { PolicyInput } from "../policy/index.js";
import type { AttachmentStore } from "./attachments.js";
import { compileHost, type CompiledHost, type HostContext, type StateView } from "./compile.js";
import type { EndpointState } from "../master/records.js";

export interface DatapathError {
  namespace: string;
  /** Kernel objects that did not reach the wanted state; empty when the namespace could not be read. */
  objects: string[];
  message: string;
}

export interface DatapathDriver {
  /** full: read the whole host, not only what changed since it was applied (LinuxDatapath ReconcileOptions). */
  reconcile(desired: CompiledHost["desired"], options: { full: boolean }): Promise<{ errors: DatapathError[] }>;
}

export interface SyncResult {
  compiled: CompiledHost;
  errors: DatapathError[];
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
  nftScriptFor: (namespace: string, input: PolicyInput) => string;
  /** Attachments whose endpoint netmaster no longer has, after each run. */
  forget: (orphans: CompiledHost["orphans"]) => void;
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
    try {
      compiled = compileHost(this.o.view, this.o.attachments.all(), this.o.pending, this.o.ctx, this.o.nftScriptFor);
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
      errors.push({ namespace: "", objects: ["bgp"], message: `BGP: ${(err as Error).message}` });
    }
    this.last = compiled;
    if (compiled.orphans.length > 0) this.o.forget(compiled.orphans);
    if (errors.length > 0) {
      this.failures++;
      const delay = Math.min(120_000, 2000 * 2 ** (this.failures - 1));
      for (const e of errors) this.o.log.warn({ namespace: e.namespace, objects: e.objects, err: e.message, retryMs: delay }, "datapath sync failed");
      setTimeout(() => this.trigger(0), delay).unref();
    } else {
      this.failures = 0;
    }
    this.o.log.debug({ durationMs: Date.now() - started, tenants: compiled.desired.tenants.length, full }, "host synced");
    return { compiled, errors };
  }
}
