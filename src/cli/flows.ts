// netctl flows: the connection attempts the hosts' kernels counted for a tenant (GET /api/v1/flows), denied ones by
// the rule that dropped them. --follow polls and prints the records that are new or changed since the last poll.

import { jsonFlag, tenantFlag, type CommandContext, type CommandSpec } from "./command.js";
import { UsageError } from "./errors.js";
import { TabWriter } from "./table.js";

const TENANT = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const PROTOS: Record<number, string> = { 1: "icmp", 6: "tcp", 17: "udp", 58: "icmpv6", 132: "sctp" };

export interface FlowRow {
  host: string;
  tenant: string;
  verdict: "allow" | "deny";
  rule: string | null;
  src: string;
  dst: string;
  proto: number;
  dport: number;
  packets: number;
  firstSeen: number;
  lastSeen: number;
}
export interface FlowsReply {
  tenant: string;
  records: FlowRow[];
  /** overflowPackets: absent from a netmaster from before flow sets. */
  hosts: { host: string; allowed: boolean; cap: number; entries: number; evictedEntries: number; evictedPackets: number; overflowPackets?: number }[];
}

export function flowsQuery(tenant: string, denied: boolean): string {
  if (!TENANT.test(tenant)) throw new UsageError(`Invalid --tenant ${JSON.stringify(tenant)}: expected a tenant name`);
  const q = new URLSearchParams({ tenant });
  if (denied) q.set("denied", "true");
  return q.toString();
}

function rowKey(r: FlowRow): string {
  return [r.host, r.verdict, r.rule ?? "", r.src, r.dst, r.proto, r.dport].join("|");
}

/** Pure: the records as a table (header included), most recently seen first. */
export function formatFlows(records: FlowRow[]): string {
  const w = new TabWriter();
  w.write("HOST\tVERDICT\tRULE\tPROTO\tSOURCE\tDESTINATION\tPACKETS\tLAST SEEN\n");
  for (const r of records) {
    const dst = r.dport === 0 ? r.dst : r.dst.includes(":") ? `[${r.dst}]:${r.dport}` : `${r.dst}:${r.dport}`;
    w.write(`${r.host}\t${r.verdict}\t${r.rule ?? "default"}\t${PROTOS[r.proto] ?? r.proto}\t${r.src}\t${dst}\t${r.packets}\t${new Date(r.lastSeen).toISOString()}\n`);
  }
  return w.flush();
}

/** Pure: one line per host on what its table holds, what its kernel had no room for, and whether allowed attempts are recorded there. */
export function formatHosts(reply: FlowsReply, denied: boolean): string {
  return reply.hosts
    .map((h) => {
      const overflow = h.overflowPackets ? `, ${h.overflowPackets} attempts counted without room for their flow` : "";
      return `# ${h.host}: ${h.entries} of ${h.cap} records held, ${h.evictedEntries} evicted${overflow}${denied || h.allowed ? "" : "; allowed attempts not recorded (netplugin --flow-records all)"}\n`;
    })
    .join("");
}

/** The records of `next` that `seen` has not, or has with other counts; updates `seen`. */
export function changedFlows(seen: Map<string, number>, next: FlowRow[]): FlowRow[] {
  const out: FlowRow[] = [];
  for (const r of next) {
    const k = rowKey(r);
    if (seen.get(k) === r.packets) continue;
    seen.set(k, r.packets);
    out.push(r);
  }
  return out;
}

/** Polls `fetch` every intervalMs until `signal` aborts, printing what is new or changed (a header first). */
export async function followFlows(fetch: () => Promise<FlowsReply>, print: (s: string) => void, o: { intervalMs: number; signal: AbortSignal }): Promise<void> {
  const seen = new Map<string, number>();
  let header = true;
  while (!o.signal.aborted) {
    const changed = changedFlows(seen, (await fetch()).records);
    if (changed.length > 0) {
      const table = formatFlows(changed.reverse());
      print(header ? table : table.slice(table.indexOf("\n") + 1));
      header = false;
    }
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, o.intervalMs);
      o.signal.addEventListener("abort", () => (clearTimeout(t), resolve()), { once: true });
    });
  }
}

async function flows(ctx: CommandContext): Promise<void> {
  ctx.requireNoArgs();
  const denied = ctx.bool("denied");
  const path = `/api/v1/flows?${flowsQuery(ctx.str("tenant"), denied)}`;
  const fetch = async () => (await ctx.client.callJson("GET", path)) as FlowsReply;
  if (ctx.bool("follow")) {
    if (ctx.bool("json")) throw new UsageError("--follow prints a table: it cannot be combined with --json");
    const interval = ctx.str("interval");
    if (!/^[0-9]{1,5}$/.test(interval) || Number(interval) < 100) throw new UsageError(`Invalid --interval ${JSON.stringify(interval)}: expected milliseconds, 100..99999`);
    const abort = new AbortController();
    const stop = () => abort.abort();
    process.once("SIGINT", stop).once("SIGTERM", stop);
    try {
      await followFlows(fetch, (s) => ctx.print(s), { intervalMs: Number(interval), signal: abort.signal });
    } finally {
      process.off("SIGINT", stop).off("SIGTERM", stop);
    }
    return;
  }
  const reply = await fetch();
  if (ctx.bool("json")) ctx.printJson(reply);
  else ctx.print(formatFlows(reply.records) + formatHosts(reply, denied));
}

export const flowsCommand: CommandSpec = {
  name: "flows",
  usage: "Connection attempts the hosts counted for a tenant: denied ones by rule, allowed ones where recorded",
  flags: [
    tenantFlag,
    { name: "denied", kind: "bool", usage: "Only denied attempts" },
    { name: "follow", short: "f", kind: "bool", usage: "Keep polling and print records that are new or changed" },
    { name: "interval", kind: "string", default: "2000", value: "ms", usage: "With --follow: how often to poll" },
    jsonFlag,
  ],
  action: flows,
};
