// The Flows view's query for GET /api/v1/flows and how a record reads in its table.

export interface FlowsForm {
  tenant: string;
  denied: boolean;
}

export interface FlowRow {
  host: string;
  verdict: "allow" | "deny";
  rule: string | null;
  src: string;
  dst: string;
  proto: number;
  dport: number;
  packets: number;
  lastSeen: number;
}

/** A reporting host's table, as GET /api/v1/flows answers it. */
export interface FlowHost {
  host: string;
  allowed: boolean;
  cap: number;
  entries: number;
  evictedEntries: number;
  /** Attempts its kernel counted without a flow, its set being full (absent from an older netmaster). */
  overflowPackets?: number;
}

const PROTOS: Record<number, string> = { 1: "icmp", 6: "tcp", 17: "udp", 58: "icmpv6", 132: "sctp" };

export function flowsQuery(f: FlowsForm): string {
  const q = new URLSearchParams({ tenant: f.tenant.trim() });
  if (f.denied) q.set("denied", "true");
  return `/api/v1/flows?${q.toString()}`;
}

/** "tcp 198.18.0.3:80", "icmp 198.18.0.3", "tcp [fd00::3]:80". */
export function flowTarget(r: FlowRow): string {
  const proto = PROTOS[r.proto] ?? String(r.proto);
  if (r.dport === 0) return `${proto} ${r.dst}`;
  return `${proto} ${r.dst.includes(":") ? `[${r.dst}]` : r.dst}:${r.dport}`;
}

/** "h1: 3/2048 records, 0 evicted, 12 attempts without room, allowed not recorded". */
export function hostSummary(h: FlowHost): string {
  const overflow = h.overflowPackets ? `, ${h.overflowPackets} attempts without room` : "";
  return `${h.host}: ${h.entries}/${h.cap} records, ${h.evictedEntries} evicted${overflow}${h.allowed ? "" : ", allowed not recorded"}`;
}
