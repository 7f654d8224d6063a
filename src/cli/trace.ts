// netctl trace: why can A reach B, or not (GET /api/v1/trace). The flags are checked here by the rules
// netmaster applies to the query (master/trace-query.ts; cli reaches netmaster only over HTTP), so a typo
// fails before any request; names are resolved by netmaster.

import { jsonFlag, tenantFlag, type CommandContext, type CommandSpec } from "./command.js";
import { UsageError } from "./errors.js";
import { TabWriter } from "./table.js";

export type TraceProto = "tcp" | "udp" | "icmp";

export interface TraceArgs {
  tenant: string;
  from: string;
  to: string;
  proto: TraceProto;
  port: number | null;
  backend: string | null;
}

const END = /^[\x21-\x7e]{1,255}$/;
const TENANT = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** "name", "name:port", "a.b.c.d:port", "[v6]:port" or a bare IPv6 address → the end and its port. */
export function splitTo(to: string): { end: string; port: string | undefined } {
  const bracket = /^\[([^\]]+)\](?::(.*))?$/.exec(to);
  if (bracket) return { end: bracket[1]!, port: bracket[2] };
  const colons = to.split(":").length - 1;
  if (colons !== 1) return { end: to, port: undefined };
  const [end, port] = to.split(":") as [string, string];
  return { end, port };
}

function endFlag(flag: string, value: string): string {
  if (value === "") throw new UsageError(`--${flag} is required: an endpoint id, a container name or an address`, { showHelp: true });
  if (!END.test(value)) throw new UsageError(`Invalid --${flag} ${JSON.stringify(value)}: expected an endpoint id, a container name or an address`);
  return value;
}

/** Throws UsageError naming the flag. */
export function parseTraceArgs(flags: { tenant: string; from: string; to: string; proto: string; backend: string | undefined }): TraceArgs {
  if (!TENANT.test(flags.tenant)) throw new UsageError(`Invalid --tenant ${JSON.stringify(flags.tenant)}: expected a tenant name`);
  const from = endFlag("from", flags.from);
  if (flags.to === "") endFlag("to", flags.to);
  const { end, port: rawPort } = splitTo(flags.to);
  const to = endFlag("to", end);
  if (!["tcp", "udp", "icmp"].includes(flags.proto)) throw new UsageError(`Invalid --proto ${JSON.stringify(flags.proto)}: expected tcp, udp or icmp`);
  const proto = flags.proto as TraceProto;
  let port: number | null = null;
  if (proto === "icmp") {
    if (rawPort !== undefined) throw new UsageError(`Invalid --to ${JSON.stringify(flags.to)}: icmp has no ports`);
  } else {
    if (rawPort === undefined) throw new UsageError(`--to needs a port for ${proto}: --to ${to.includes(":") ? `[${to}]` : to}:PORT`);
    port = /^[0-9]{1,5}$/.test(rawPort) ? Number(rawPort) : NaN;
    if (!(port >= 1 && port <= 65535)) throw new UsageError(`Invalid port ${JSON.stringify(rawPort)} in --to: expected 1..65535`);
  }
  const backend = flags.backend === undefined ? null : endFlag("backend", flags.backend);
  return { tenant: flags.tenant, from, to, proto, port, backend };
}

export function traceQuery(a: TraceArgs): string {
  const q = new URLSearchParams({ tenant: a.tenant, from: a.from, to: a.to, proto: a.proto });
  if (a.port !== null) q.set("port", String(a.port));
  if (a.backend !== null) q.set("backend", a.backend);
  return q.toString();
}

interface End {
  ip: string;
  endpoint: string | null;
  host: string | null;
  group: string | null;
}
interface Hop {
  host: string;
  direction: string;
  verdict: string;
  rule: { id: string; policy: string; priority: number; action: string; text: string } | null;
  pending: boolean;
  reason?: string;
  backend?: string;
  errors?: string[];
}
export interface TraceReply {
  tenant: string;
  proto: string;
  from: End;
  to: End & { port: number | null };
  service: null | { name: string; vip: string; port: number | null; backends: { endpoint: string; ip: string; port: number | null; verdict: string }[] };
  verdict: string;
  hops: Hop[];
}

function withPort(ip: string, port: number | null): string {
  return port === null ? ip : ip.includes(":") ? `[${ip}]:${port}` : `${ip}:${port}`;
}

function describeEnd(e: End, port: number | null = null): string {
  const addr = withPort(e.ip, port);
  const about = [e.endpoint, e.group ? `group ${e.group}` : "", e.host ? `host ${e.host}` : ""].filter(Boolean);
  return about.length > 0 ? `${addr} (${about.join(", ")})` : `${addr} (outside the tenant's endpoints)`;
}

function decided(h: Hop): string {
  if (h.rule) return `rule ${h.rule.policy}/${h.rule.id}: ${h.rule.text}`;
  if (h.reason === "cross-network") return "networks do not meet in bridge mode";
  return "default (no rule matched)";
}

/** Pure: the reply as netctl prints it. */
export function formatTrace(r: TraceReply): string {
  const lines = [`Trace ${r.proto} ${describeEnd(r.from)} -> ${r.service ? `service ${r.service.name} ${withPort(r.service.vip, r.to.port)}` : describeEnd(r.to, r.to.port)}: ${r.verdict.toUpperCase()}`];
  if (r.service) {
    if (r.service.backends.length === 0) lines.push("  no backend: nothing answers the VIP");
    for (const b of r.service.backends) lines.push(`  backend ${b.endpoint} ${withPort(b.ip, b.port)}: ${b.verdict}`);
  }
  const w = new TabWriter();
  w.write(`${r.service ? "BACKEND\t" : ""}HOST\tDIRECTION\tVERDICT\tDECIDED BY\n`);
  for (const h of r.hops) {
    const pending = h.pending ? `  [pending: the host has not applied the newest change; this is what it will decide${h.errors?.length ? `; failed: ${h.errors.join("; ")}` : ""}]` : "";
    w.write(`${r.service ? `${h.backend ?? ""}\t` : ""}${h.host}\t${h.direction}\t${h.verdict}\t${decided(h)}${pending}\n`);
  }
  return lines.join("\n") + "\n" + w.flush();
}

async function trace(ctx: CommandContext): Promise<void> {
  ctx.requireNoArgs();
  const args = parseTraceArgs({
    tenant: ctx.str("tenant"),
    from: ctx.str("from"),
    to: ctx.str("to"),
    proto: ctx.str("proto"),
    backend: ctx.has("backend") ? ctx.str("backend") : undefined,
  });
  const reply = (await ctx.client.callJson("GET", `/api/v1/trace?${traceQuery(args)}`)) as TraceReply;
  if (ctx.bool("json")) ctx.printJson(reply);
  else ctx.print(formatTrace(reply));
}

export const traceCommand: CommandSpec = {
  name: "trace",
  usage: "Why an endpoint can or cannot reach another: the verdict and the rule deciding it on each host",
  flags: [
    tenantFlag,
    { name: "from", kind: "string", value: "endpoint|ip", usage: "Sender: an endpoint id, a container name or an address" },
    { name: "to", kind: "string", value: "endpoint|ip[:port]", usage: "Receiver or service VIP, with the port for tcp and udp ([v6]:port)" },
    { name: "proto", kind: "string", default: "tcp", value: "tcp|udp|icmp", usage: "Protocol" },
    { name: "backend", kind: "string", value: "endpoint|ip", usage: "With a service VIP: trace to this backend only (default: every backend)" },
    jsonFlag,
  ],
  action: trace,
};
