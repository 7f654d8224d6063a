// The trace form's query for GET /api/v1/trace. `to` may carry a port ("10.0.0.5:80", "web:8080",
// "[fd00::5]:80"); a bare IPv6 address has colons of its own and is taken whole.

export interface TraceForm {
  tenant: string;
  from: string;
  to: string;
  proto: string;
}

export function traceQuery(f: TraceForm): string {
  const q = new URLSearchParams({ tenant: f.tenant.trim(), from: f.from.trim(), proto: f.proto });
  const to = f.to.trim();
  const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(to);
  if (m) {
    q.set("to", m[1]!.replace(/^\[|\]$/g, ""));
    q.set("port", m[2]!);
  } else q.set("to", to.replace(/^\[|\]$/g, ""));
  return `/api/v1/trace?${q.toString()}`;
}
