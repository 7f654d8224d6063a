// The flow records of this host (issue 15): every 5 s the datapath's totals of each tenant namespace are read
// (DatapathDriver.readFlows: on the linux driver, two nft counters of the table), and where they moved its flows
// are listed (the table's nft flow sets), turned into what came since the last listing (counting.ts) and added to
// one bounded table (table.ts); the counts go to Prometheus by tenant, rule and verdict (no per-address label: its
// cardinality would be the flood's), and the records to netmaster (GET /api/v1/flows gathers them). The kernel
// counts every attempt, so packets are exact, not sampled.
//
// Pace: a namespace with 1000 attempts or more since the last reading is busy; its flows are listed, and the
// records pushed, at most every 4 minutes (counting.ts DEFAULT_PACE), so a flood costs the agent a reading of two
// counters every 5 s and a listing of the sets' size per 4 minutes, whatever its rate (what it costs the kernel
// is in the flooding packets' softirq). A flood's records lag by up to that; its overflow too.
//
// Eviction: the kernel's sets expire a flow not hit for their timeout (300 s, longer than two listings apart, so
// nothing expires unread). A set at 3/4 of its size has its least recently seen flows forgotten down to half
// (DatapathDriver.forgetFlows): their counts are in the table already, and new flows find room. Not while the
// tenant is busy: the flows a flood filled the set with stay and the rest is overflow, so the agent's work stays
// one listing of the same set; room is made at the first quiet reading. What comes
// between a full set and that reading is counted as overflow, per tenant, not per flow. Lost: attempts counted
// between a reading and the forgetting that follows it (milliseconds), and those since the last reading when a
// policy change replaces the table. Nothing here knows nft: another datapath could feed it the same counts.

import type { Logger } from "pino";
import { Counter, Gauge, type Registry } from "prom-client";
import type { FlowPush } from "../../contract/flows.js";
import type { DatapathDriver } from "../../datapath/index.js";
import type { MasterClient } from "../master-client.js";
import { countSince, DEFAULT_PACE, flowsToForget, isBusy, noBaseline, shouldList, type Baseline, type PaceOptions } from "./counting.js";
import { FlowTable } from "./table.js";

/** What the recorder needs of a datapath. */
export type FlowSource = Required<Pick<DatapathDriver, "readFlows" | "forgetFlows">>;

export interface FlowRecorderOptions {
  host: string;
  /** The host's prefix: its tenant namespaces are "<prefix>-t-<tenant>" (datapath/names.ts). */
  prefix: string;
  /** Whether allowed attempts are counted too (the agent's --flow-records all). */
  allowed: boolean;
  cap: number;
  source: FlowSource;
  master: MasterClient;
  registry: Registry;
  log: Logger;
  /** How often the totals are read and, when the records changed, pushed; default 5 s. */
  readMs?: number;
  /** When a namespace is busy, and how often it is listed and pushed then (counting.ts); default DEFAULT_PACE. */
  pace?: PaceOptions;
}

/**
 * In a lasting flood the totals are read at most this often (ms): its records are pushed every busyMs at most
 * anyway, and under a flood each reading costs the agent the flood's softirq it happens to run in.
 */
export const BUSY_READ_MS = 30_000;

/** A rule key "tenant:policy:ruleId" as the records name it: "policy:ruleId". */
function ruleName(key: string | null): string | null {
  if (key === null) return null;
  const colon = key.indexOf(":");
  return colon < 0 ? key : key.slice(colon + 1);
}

export class FlowRecorder {
  readonly table: FlowTable;
  private baselines = new Map<string, Baseline>();
  private readonly packets: Counter<"tenant" | "rule" | "verdict">;
  private readonly overflow: Counter<"tenant">;
  private readonly evicted: Counter;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private pushedVersion = -1;
  private pushedAt = 0;
  private readAt = 0;
  /** Whether the reading before the last found a namespace busy. */
  private wasBusy = false;
  /** Whether the last reading found a namespace busy: pushes are paced then. */
  private busy = false;
  private stopped = false;

  constructor(private readonly o: FlowRecorderOptions) {
    this.table = new FlowTable(o.cap);
    const registers = [o.registry];
    this.packets = new Counter({
      name: "netplugin_flow_packets_total",
      help: "Connection attempts (packets of new connections) the tenants' tables counted per flow, every one, by tenant, rule (or default) and verdict",
      labelNames: ["tenant", "rule", "verdict"],
      registers,
    });
    this.overflow = new Counter({
      name: "netplugin_flow_overflow_packets_total",
      help: "Connection attempts a tenant's table counted without a flow, its flow set being full",
      labelNames: ["tenant"],
      registers,
    });
    this.evicted = new Counter({ name: "netplugin_flow_records_evicted_total", help: "Flow records evicted from the agent's bounded table (least recently seen first)", registers });
    const table = this.table;
    new Gauge({
      name: "netplugin_flow_records",
      help: "Flow records the agent's table holds (at most its cap)",
      registers,
      collect() {
        this.set(table.stats().entries);
      },
    });
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.o.readMs ?? 5000);
    this.timer.unref();
  }

  /** Stops reading, and waits for a reading under way. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }

  /**
   * Whether the timer's reading runs at `now`: always, but while a namespace has been busy at two readings in a
   * row (a flood that lasts, not a burst whose records the next reading should bring) at most every BUSY_READ_MS.
   */
  readingDue(now: number): boolean {
    return !(this.busy && this.wasBusy) || now - this.readAt >= BUSY_READ_MS;
  }

  /** One reading and push; skipped while the last one still runs, or while busy and not due. */
  private async tick(): Promise<void> {
    if (this.running || this.stopped || !this.readingDue(Date.now())) return;
    this.running = (async () => {
      try {
        await this.read();
        await this.push();
      } catch (err) {
        this.o.log.debug({ err: (err as Error).message }, "flow records read or push failed");
      }
    })();
    await this.running;
    this.running = undefined;
  }

  /** Reads the totals of every tenant namespace of this host, the flows of those due, into the table; forgets flows where a set fills. */
  async read(now = Date.now()): Promise<void> {
    this.readAt = now;
    const mine = `${this.o.prefix}-t-`;
    const pace = this.o.pace ?? DEFAULT_PACE;
    const baselineOf = (namespace: string, restarted: boolean) => (restarted ? undefined : this.baselines.get(namespace)) ?? noBaseline();
    const busy = new Set<string>();
    const { counts: read, unreadable } = await this.o.source.readFlows((namespace, totals, restarted) => {
      if (!namespace.startsWith(mine)) return false;
      const last = baselineOf(namespace, restarted);
      if (isBusy(last, totals, restarted, pace)) busy.add(namespace);
      return shouldList(last, totals, restarted, now, pace);
    });
    this.wasBusy = this.busy;
    this.busy = busy.size > 0;
    const baselines = new Map<string, Baseline>();
    // Counts not read now go on in the kernel: the next reading takes up from the last.
    for (const namespace of unreadable) {
      const last = this.baselines.get(namespace);
      if (last) baselines.set(namespace, last);
    }
    for (const counts of read) {
      if (!counts.namespace.startsWith(mine)) continue;
      const tenant = counts.namespace.slice(mine.length);
      const { added, overflow, next } = countSince(baselineOf(counts.namespace, counts.restarted), counts, counts.flows, now);
      const evictedBefore = this.table.evicted;
      const byRule = new Map<string, { rule: string; verdict: string; packets: number }>();
      for (const { flow, packets } of added) {
        const rule = ruleName(flow.rule);
        this.table.add({ tenant, verdict: flow.verdict, rule, src: flow.src, dst: flow.dst, proto: flow.proto, dport: flow.dport }, packets, flow.lastSeen);
        const label = `${rule ?? "default"}\u0000${flow.verdict}`;
        const sum = byRule.get(label);
        if (sum) sum.packets += packets;
        else byRule.set(label, { rule: rule ?? "default", verdict: flow.verdict, packets });
      }
      for (const { rule, verdict, packets } of byRule.values()) this.packets.labels(tenant, rule, verdict).inc(packets);
      if (this.table.evicted > evictedBefore) this.evicted.inc(this.table.evicted - evictedBefore);
      if (overflow > 0) {
        this.table.addOverflow(overflow);
        this.overflow.labels(tenant).inc(overflow);
      }
      const wanted = counts.flows === undefined ? [] : flowsToForget(counts.flows, counts.capacity, now);
      const forget = busy.has(counts.namespace) ? [] : wanted;
      if (wanted.length > 0 && forget.length === 0) next.crowded = true;
      if (forget.length > 0) {
        await this.o.source.forgetFlows(counts.namespace, forget);
        // Counted anew from nothing if they come back.
        for (const id of forget) next.flows.delete(id);
      }
      baselines.set(counts.namespace, next);
    }
    // A namespace gone from the datapath's tenants is forgotten: if it comes back, its table and counts are new.
    this.baselines = baselines;
  }

  report(): FlowPush {
    return { allowed: this.o.allowed, stats: this.table.stats(), records: this.table.records() };
  }

  /** Sends the records to netmaster when they changed; while a namespace is busy, at most as often as it is listed. */
  async push(now = Date.now()): Promise<void> {
    const version = this.table.version;
    if (version === this.pushedVersion) return;
    if (this.busy && now - this.pushedAt < (this.o.pace ?? DEFAULT_PACE).busyMs) return;
    await this.o.master.request("PUT", `/api/v1/agent/hosts/${encodeURIComponent(this.o.host)}/flows`, this.report());
    this.pushedVersion = version;
    this.pushedAt = now;
  }
}
