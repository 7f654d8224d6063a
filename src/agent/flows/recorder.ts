// The flow records of this host (issue 15): a reader per tenant namespace (reader.ts) feeds one bounded table
// (table.ts); the counts go to Prometheus by tenant, rule and verdict (no per-address label: its cardinality would
// be the flood's), and the records to netmaster every few seconds (GET /api/v1/flows gathers them).
// A denied attempt names the rule the kernel stamped on it (policy/flowlog.ts). An allowed one is logged after both
// checks, where no single rule stamps it: its rule is traced on the compiled policy the namespace's table holds,
// as `netctl trace` judges (the receiver's rule, else the sender's, else the default).

import type { Logger } from "pino";
import { Counter, Gauge, type Registry } from "prom-client";
import { ALLOW_PREFIX, DENY_PREFIX, tracePacket, type CompiledPolicy } from "../../policy/index.js";
import type { MasterClient } from "../master-client.js";
import { FlowReader } from "./reader.js";
import type { FlowPush } from "../../contract/flows.js";
import { FlowTable } from "./table.js";
import type { FlowPacket } from "./nflog.js";

export interface FlowRecorderOptions {
  host: string;
  /** The host's prefix: its tenant namespaces are "<prefix>-t-<tenant>" (datapath/names.ts). */
  prefix: string;
  group: number;
  /** Whether the tables log allowed attempts too (the agent's --flow-records all). */
  allowed: boolean;
  cap: number;
  /** The names of the network namespaces (datapath/linux/netnsDir.ts). */
  namespaces: () => Promise<string[]>;
  /** The compiled policy a namespace's table holds, for allowed attempts (DatapathDriver.compiledPolicy). */
  compiled: (namespace: string) => CompiledPolicy | undefined;
  master: MasterClient;
  registry: Registry;
  log: Logger;
  /** How often the namespaces are looked at and the records pushed; default 2 s and 5 s. */
  scanMs?: number;
  pushMs?: number;
}

/** What the local API serves and the agent pushes (contract: master/flows.ts parses it). */
export interface FlowReport extends FlowPush {
  /** The readers' PIDs by namespace (what bench/flows.ts measures), and what they could not read. */
  readers: { namespace: string; pid: number | null; malformed: number; restarts: number }[];
}

/** A rule key "tenant:policy:ruleId" as the records name it: "policy:ruleId". */
function ruleName(key: string | undefined): string | null {
  if (key === undefined) return null;
  const colon = key.indexOf(":");
  return colon < 0 ? key : key.slice(colon + 1);
}

export class FlowRecorder {
  readonly table: FlowTable;
  private readonly readers = new Map<string, FlowReader>();
  private readonly packets: Counter<"tenant" | "rule" | "verdict">;
  private readonly evicted: Counter;
  private readonly labelled = new Map<string, { inc(): void }>();
  private timers: NodeJS.Timeout[] = [];
  private lastPushed = "";
  private stopped = false;

  constructor(private readonly o: FlowRecorderOptions) {
    this.table = new FlowTable(o.cap);
    const registers = [o.registry];
    this.packets = new Counter({
      name: "netplugin_flow_packets_total",
      help: "Connection attempts the tenants' tables logged (rate-limited by the kernel), by tenant, rule (or default) and verdict",
      labelNames: ["tenant", "rule", "verdict"],
      registers,
    });
    this.evicted = new Counter({ name: "netplugin_flow_records_evicted_total", help: "Flow records evicted from the bounded table (least recently seen first)", registers });
    const table = this.table;
    new Gauge({
      name: "netplugin_flow_records",
      help: "Flow records held (at most the table's cap)",
      registers,
      collect() {
        this.set(table.stats().entries);
      },
    });
  }

  start(): void {
    const scan = () => void this.scan().catch((err: Error) => this.o.log.warn({ err: err.message }, "cannot list namespaces for flow readers"));
    const push = () => void this.push().catch((err: Error) => this.o.log.debug({ err: err.message }, "flow records push failed"));
    scan();
    this.timers = [setInterval(scan, this.o.scanMs ?? 2000), setInterval(push, this.o.pushMs ?? 5000)];
    for (const t of this.timers) t.unref();
  }

  /** Stops every reader (each by its PID) and waits for them to be gone. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    await Promise.all([...this.readers.values()].map((r) => r.stop()));
    this.readers.clear();
  }

  /** Starts a reader for each tenant namespace of this host, stops those whose namespace is gone. */
  async scan(): Promise<void> {
    const names = await this.o.namespaces();
    if (this.stopped) return;
    const mine = new Set(names.filter((n) => n.startsWith(`${this.o.prefix}-t-`)));
    for (const ns of mine) {
      if (this.readers.has(ns)) continue;
      const tenant = ns.slice(`${this.o.prefix}-t-`.length);
      const reader = new FlowReader({ namespace: ns, group: this.o.group, log: this.o.log, onPacket: (p, prefix) => this.record(ns, tenant, p, prefix) });
      this.readers.set(ns, reader);
      reader.start();
    }
    for (const [ns, reader] of this.readers) {
      if (mine.has(ns)) continue;
      this.readers.delete(ns);
      void reader.stop();
    }
  }

  /** One logged attempt: its verdict and rule from the prefix (or, allowed, a trace), counted. */
  record(namespace: string, tenant: string, p: FlowPacket, prefix: string): void {
    let verdict: "allow" | "deny";
    let rule: string | null;
    if (prefix.startsWith(DENY_PREFIX)) {
      verdict = "deny";
      rule = prefix.slice(DENY_PREFIX.length);
    } else if (prefix === ALLOW_PREFIX) {
      verdict = "allow";
      const compiled = this.o.compiled(namespace);
      const traced = compiled === undefined ? undefined : tracePacket(compiled, { saddr: p.src, daddr: p.dst, protocol: p.proto, dport: p.dport });
      rule = ruleName(traced?.inRule ?? traced?.outRule);
    } else return; // not ours: another tool logging to the group
    const before = this.table.evicted;
    this.table.add({ tenant, verdict, rule, src: p.src, dst: p.dst, proto: p.proto, dport: p.dport }, Date.now());
    if (this.table.evicted > before) this.evicted.inc(this.table.evicted - before);
    this.counterOf(tenant, rule ?? "default", verdict).inc();
  }

  /** The labelled counter, kept: prom-client hashes the labels on every inc() otherwise. Bounded by the rules. */
  private counterOf(tenant: string, rule: string, verdict: string) {
    const key = `${tenant}\u0000${rule}\u0000${verdict}`;
    let child = this.labelled.get(key);
    if (!child) this.labelled.set(key, (child = this.packets.labels(tenant, rule, verdict)));
    return child;
  }

  report(): FlowReport {
    return {
      allowed: this.o.allowed,
      stats: this.table.stats(),
      records: this.table.records(),
      readers: [...this.readers].map(([namespace, r]) => ({ namespace, pid: r.pid ?? null, malformed: r.malformed, restarts: r.restarts })),
    };
  }

  /** Sends the records to netmaster when they changed. */
  async push(): Promise<void> {
    const { allowed, stats, records } = this.report();
    const body: FlowPush = { allowed, stats, records };
    const text = JSON.stringify(body);
    if (text === this.lastPushed) return;
    await this.o.master.request("PUT", `/api/v1/agent/hosts/${encodeURIComponent(this.o.host)}/flows`, body);
    this.lastPushed = text;
  }
}
