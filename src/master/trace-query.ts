// The query of GET /api/v1/trace, checked before anything is looked up: which tenant, which two ends, which
// protocol and port. Pure; the same rules netctl trace applies to its flags (cli/trace.ts mirrors them, as
// cli may not import master).

import { ValidationError } from "../lib/errors.js";

export type TraceProto = "tcp" | "udp" | "icmp";
export const TRACE_PROTOS: readonly TraceProto[] = ["tcp", "udp", "icmp"];

export interface TraceQuery {
  tenant: string;
  /** An endpoint id, a container name or an address. */
  from: string;
  to: string;
  proto: TraceProto;
  /** Destination port (tcp, udp); null for icmp. */
  port: number | null;
  /** With a service VIP as `to`: trace to this backend (endpoint id, container name or address) only. */
  backend: string | null;
}

/** Tenant names as the model has them (Contiv's: letters, digits, `-`, `_`, `.`). */
const TENANT = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
/** An end: an endpoint id, a container name (Docker's may start with "/") or an address; printable, no spaces. */
const END = /^[\x21-\x7e]{1,255}$/;
const PORT = /^[0-9]{1,5}$/;
const KNOWN = new Set(["tenant", "from", "to", "proto", "port", "backend"]);

function required(query: Record<string, string>, name: string): string {
  const value = query[name];
  if (value === undefined || value === "") throw new ValidationError(`Invalid query: ${name} is required`);
  return value;
}

function end(query: Record<string, string>, name: string): string {
  const value = required(query, name);
  if (!END.test(value)) throw new ValidationError(`Invalid query: ${name} ${JSON.stringify(value)}: expected an endpoint id, a container name or an address`);
  return value;
}

/** Throws ValidationError naming the first bad parameter. */
export function parseTraceQuery(query: Record<string, string>): TraceQuery {
  for (const name of Object.keys(query)) {
    if (!KNOWN.has(name)) throw new ValidationError(`Invalid query: unknown parameter ${JSON.stringify(name)}: expected ${[...KNOWN].join(", ")}`);
  }
  const tenant = required(query, "tenant");
  if (!TENANT.test(tenant)) throw new ValidationError(`Invalid query: tenant ${JSON.stringify(tenant)}: expected a tenant name`);
  const from = end(query, "from");
  const to = end(query, "to");
  const proto = query["proto"] ?? "tcp";
  if (!(TRACE_PROTOS as readonly string[]).includes(proto)) throw new ValidationError(`Invalid query: proto ${JSON.stringify(proto)}: expected tcp, udp or icmp`);
  const rawPort = query["port"];
  let port: number | null = null;
  if (proto === "icmp") {
    if (rawPort !== undefined) throw new ValidationError("Invalid query: port: icmp has no ports");
  } else {
    if (rawPort === undefined || rawPort === "") throw new ValidationError(`Invalid query: port is required for ${proto}`);
    port = PORT.test(rawPort) ? Number(rawPort) : NaN;
    if (!(port >= 1 && port <= 65535)) throw new ValidationError(`Invalid query: port ${JSON.stringify(rawPort)}: expected 1..65535`);
  }
  const backend = query["backend"] === undefined ? null : end(query, "backend");
  return { tenant, from, to, proto: proto as TraceProto, port, backend };
}
