// The flow records of one host: connection attempts aggregated per (tenant, verdict, rule, src, dst, proto,
// dport). Memory is bounded by a fixed number of entries: a new pair beyond the cap evicts the pair seen least
// recently (a Map keeps insertion order, and a touched entry is moved to its end), and what it had counted is
// added to `evicted`, so recorded + evicted = seen always holds, in packets and in entries.

import type { FlowRecord, FlowTableStats } from "../../contract/flows.js";

export type FlowKey = Omit<FlowRecord, "packets" | "firstSeen" | "lastSeen">;

export const DEFAULT_FLOW_CAP = 4096;

export class FlowTable {
  private readonly entries = new Map<string, FlowRecord>();
  private seenPackets = 0;
  private seenEntries = 0;
  private evictedPackets = 0;
  private evictedEntries = 0;
  private overflowPackets = 0;
  /** Goes up with every change: what the recorder pushes only when it moved. */
  version = 0;

  constructor(readonly cap = DEFAULT_FLOW_CAP) {
    if (!Number.isInteger(cap) || cap < 1) throw new RangeError(`Cannot make a flow table of ${cap} entries: expected a positive integer`);
  }

  /** Counts `packets` attempts of a pair, the last of them at `lastSeen`. */
  add(key: FlowKey, packets: number, lastSeen: number): void {
    this.version++;
    this.seenPackets += packets;
    const id = `${key.tenant}\u0000${key.verdict}\u0000${key.rule ?? ""}\u0000${key.src}\u0000${key.dst}\u0000${key.proto}\u0000${key.dport}`;
    const had = this.entries.get(id);
    if (had) {
      had.packets += packets;
      had.lastSeen = Math.max(had.lastSeen, lastSeen);
      this.entries.delete(id);
      this.entries.set(id, had);
      return;
    }
    if (this.entries.size >= this.cap) {
      const [oldest, record] = this.entries.entries().next().value as [string, FlowRecord];
      this.entries.delete(oldest);
      this.evictedEntries++;
      this.evictedPackets += record.packets;
    }
    this.seenEntries++;
    this.entries.set(id, { ...key, packets, firstSeen: lastSeen, lastSeen });
  }

  /** Counts attempts that came without a pair (the kernel had no room for one). */
  addOverflow(packets: number): void {
    this.version++;
    this.overflowPackets += packets;
  }

  /** The records, most recently seen first. */
  records(): FlowRecord[] {
    return [...this.entries.values()].reverse().map((r) => ({ ...r }));
  }

  /** Entries evicted so far (stats().evictedEntries, without building the rest). */
  get evicted(): number {
    return this.evictedEntries;
  }

  stats(): FlowTableStats {
    return {
      cap: this.cap,
      entries: this.entries.size,
      seenPackets: this.seenPackets,
      seenEntries: this.seenEntries,
      evictedPackets: this.evictedPackets,
      evictedEntries: this.evictedEntries,
      overflowPackets: this.overflowPackets,
    };
  }
}
