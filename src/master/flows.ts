// Flow records as the hosts last pushed them (contract/flows.ts). Kept in the leader's memory only, like the rule
// counters: they are a recent window of what the kernels logged, bounded on each host, and worthless after a
// restart. GET /api/v1/flows gathers one tenant's records from every host.

import { FlowPush, type FlowsAnswer } from "../contract/flows.js";

export class FlowReports {
  private readonly hosts = new Map<string, FlowPush & { reportedAt: number }>();

  /** Replaces the host's last push; `push` is parsed already. */
  report(host: string, push: FlowPush, now = Date.now()): void {
    this.hosts.set(host, { ...push, reportedAt: now });
  }

  forget(host: string): void {
    this.hosts.delete(host);
  }

  /** One tenant's records over every host, most recently seen first; denied: only denied ones. */
  query(tenant: string, denied: boolean): FlowsAnswer {
    const records: FlowsAnswer["records"] = [];
    const hosts: FlowsAnswer["hosts"] = [];
    for (const [host, push] of [...this.hosts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      hosts.push({ host, allowed: push.allowed, reportedAt: push.reportedAt, ...push.stats });
      for (const r of push.records) if (r.tenant === tenant && (!denied || r.verdict === "deny")) records.push({ host, ...r });
    }
    records.sort((a, b) => b.lastSeen - a.lastSeen);
    return { tenant, records, hosts };
  }
}
