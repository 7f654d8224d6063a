// Per-rule packet counters: read through the datapath driver (running totals per rule key, which it keeps
// across its policy reloads) and pushed to netmaster for `netctl policy inspect`.

import type { Logger } from "pino";
import type { RuleCounters } from "../datapath/index.js";
import type { MasterClient } from "./master-client.js";

export class CounterCollector {
  private timer: NodeJS.Timeout | undefined;
  private lastPushed = "";

  constructor(
    /** The driver's counters (DatapathDriver.counters). */
    private readonly read: () => Promise<RuleCounters>,
    private readonly master: MasterClient,
    private readonly host: string,
    private readonly log: Logger,
  ) {}

  start(intervalMs = 5000): void {
    this.timer = setInterval(() => void this.push().catch((err: Error) => this.log.debug({ err: err.message }, "counter push failed")), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Running totals per rule key over every tenant namespace of this host. */
  collect(): Promise<RuleCounters> {
    return this.read();
  }

  /** Sends the totals to netmaster when they changed. */
  async push(): Promise<void> {
    const rules = await this.collect();
    const body = JSON.stringify(rules);
    if (body === this.lastPushed) return;
    await this.master.request("PUT", `/api/v1/agent/hosts/${encodeURIComponent(this.host)}/counters`, { rules });
    this.lastPushed = body;
  }
}
