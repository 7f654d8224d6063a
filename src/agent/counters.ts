// Per-rule packet counters: read from each tenant's nft table, kept as running
// totals (a policy reload recreates the table and restarts its counters at
// zero, so a drop in a counter means "add what we had"), and pushed to
// netmaster for `netctl policy inspect`.

import type { Logger } from "pino";
import type { Executor } from "../datapath/linux/index.js";
import { NFT_TABLE } from "../datapath/names.js";
import { ruleCounters, type CompiledPolicy } from "../policy/index.js";
import type { MasterClient } from "./master-client.js";

export interface Counter {
  packets: number;
  bytes: number;
}

export class CounterCollector {
  /** Per namespace and rule: the last reading and what earlier generations of the table counted. */
  private readonly seen = new Map<string, Map<string, { last: Counter; base: Counter }>>();
  private timer: NodeJS.Timeout | undefined;
  private lastPushed = "";

  constructor(
    private readonly executor: Executor,
    /** The policy currently applied in each tenant namespace. */
    private readonly policies: () => Map<string, CompiledPolicy>,
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
  async collect(): Promise<Record<string, Counter>> {
    const totals: Record<string, Counter> = {};
    const policies = this.policies();
    for (const ns of this.seen.keys()) if (!policies.has(ns)) this.seen.delete(ns);
    for (const [ns, compiled] of policies) {
      let json: string;
      try {
        json = await this.executor.run(["nft", "-j", "list", "table", "inet", NFT_TABLE], { netns: ns });
      } catch {
        continue; // table not there (yet): nothing counted
      }
      const rules = this.seen.get(ns) ?? new Map<string, { last: Counter; base: Counter }>();
      this.seen.set(ns, rules);
      for (const [key, now] of ruleCounters(json, compiled)) {
        const prev = rules.get(key) ?? { last: { packets: 0, bytes: 0 }, base: { packets: 0, bytes: 0 } };
        const reset = now.packets < prev.last.packets || now.bytes < prev.last.bytes;
        const base = reset ? { packets: prev.base.packets + prev.last.packets, bytes: prev.base.bytes + prev.last.bytes } : prev.base;
        rules.set(key, { last: now, base });
        const t = (totals[key] ??= { packets: 0, bytes: 0 });
        t.packets += base.packets + now.packets;
        t.bytes += base.bytes + now.bytes;
      }
    }
    return totals;
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
