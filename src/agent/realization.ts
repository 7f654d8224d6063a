// Tells netmaster what this host's datapath has in force (master/realization.ts): after every sync, the
// state revision it applied and what in it failed. Reports are coalesced (one in
// flight, the newest next) and the last one is sent again now and then: netmaster keeps them in the
// leader's memory, which a restart or a failover empties.

import type { Logger } from "pino";
import type { DatapathError } from "../datapath/driver.js";
import type { DatapathProblem } from "../datapath/types.js";
import { MAX_REPORTED_FAILURES, type RealizationReport, type UnitFailure } from "../contract/api.js";
import type { CompiledHost } from "./pipeline/compile.js";
import type { MasterClient } from "./master-client.js";
import type { StateMark } from "./pipeline/reconciler.js";

const MAX_MESSAGE = 2048;

/**
 * What a sync put in force: the revision it compiled, the units it left out or kept at older versions, and
 * the tenants where the kernel did not take what was applied (a namespace's errors fail its tenant); and the
 * host-wide settings its datapath does not apply (DatapathDriver.unapplied).
 */
export function realizationOf(compiled: CompiledHost, errors: DatapathError[], mark: StateMark, unapplied: readonly DatapathProblem[] = []): RealizationReport {
  const tenantOf = new Map(compiled.desired.tenants.map((t) => [t.namespace, t.name]));
  const failures: UnitFailure[] = compiled.failures.flatMap((f) =>
    f.owner.tenant === undefined ? [] : [{ ...f.owner, tenant: f.owner.tenant, message: f.message.slice(0, MAX_MESSAGE) }],
  );
  for (const e of errors) {
    const tenant = tenantOf.get(e.namespace);
    if (tenant !== undefined) failures.push({ tenant, message: e.message.slice(0, MAX_MESSAGE) });
  }
  const notApplied = unapplied.slice(0, 16).map((u) => ({ message: u.message.slice(0, MAX_MESSAGE) }));
  return { ...mark, failures: failures.slice(0, MAX_REPORTED_FAILURES), ...(notApplied.length === 0 ? {} : { unapplied: notApplied }) };
}

const RESEND_MS = 15_000;
const RETRY_MS = 1_000;

export class RealizationReporter {
  private latest: RealizationReport | undefined;
  private unsent = false;
  private sending = false;
  private timer: NodeJS.Timeout | undefined;
  private retry: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly master: MasterClient,
    private readonly host: string,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      this.unsent = this.latest !== undefined;
      void this.flush();
    }, RESEND_MS);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.retry);
  }

  report(report: RealizationReport): void {
    if (this.stopped) return;
    this.latest = report;
    this.unsent = true;
    void this.flush();
  }

  private async flush(): Promise<void> {
    if (this.sending) return;
    this.sending = true;
    try {
      while (this.unsent && !this.stopped) {
        this.unsent = false;
        try {
          await this.master.request("PUT", `/api/v1/agent/hosts/${encodeURIComponent(this.host)}/realized`, this.latest);
        } catch (err) {
          // Again in a second (the leader's copy of the state may be a moment behind a follower's), or with the
          // next report, whichever comes first.
          this.log.debug({ err: (err as Error).message }, "cannot report what is in force");
          this.unsent = true;
          if (this.retry === undefined) {
            this.retry = setTimeout(() => {
              this.retry = undefined;
              void this.flush();
            }, RETRY_MS);
            this.retry.unref();
          }
          return;
        }
      }
    } finally {
      this.sending = false;
    }
  }
}
