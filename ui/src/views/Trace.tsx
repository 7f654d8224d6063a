// Trace: asks netmaster what would happen to a packet (GET /api/v1/trace) and shows its verdict, the
// service translation and each hop's rule; a failure shows the API's own message.

import { useState } from "preact/hooks";
import { get, messageOf } from "../api.js";
import { traceQuery } from "../logic/trace.js";
import { ErrorText } from "../errorText.js";

interface TraceHop {
  host: string;
  direction: "egress" | "ingress";
  verdict: string;
  rule: null | { id: string; policy: string; priority: number; action: string; text: string };
  pending: boolean;
}
interface TraceResult {
  tenant: string;
  proto: string;
  from: { ip: string; endpoint?: string | null; host?: string | null; group?: string | null };
  to: { ip: string; port?: number | null; endpoint?: string | null; host?: string | null; group?: string | null };
  service: null | { name: string; vip: string; port: number; backends: { endpoint: string; ip: string; port: number }[] };
  verdict: "allow" | "deny";
  hops: TraceHop[];
}

function party(p: { ip: string; endpoint?: string | null; host?: string | null; group?: string | null; port?: number | null }): string {
  const about = [p.endpoint ? p.ip : "", p.group ? `group ${p.group}` : "", p.host ? `on ${p.host}` : ""].filter((x) => x !== "");
  return `${p.endpoint ?? p.ip}${p.port ? `:${p.port}` : ""}${about.length ? ` (${about.join(", ")})` : ""}`;
}

export function Trace() {
  const [form, setForm] = useState({ tenant: "default", from: "", to: "", proto: "tcp" });
  const [result, setResult] = useState<TraceResult | undefined>(undefined);
  const [error, setError] = useState("");
  const submit = async (e: Event) => {
    e.preventDefault();
    setError("");
    setResult(undefined);
    try {
      setResult(await get<TraceResult>(traceQuery(form)));
    } catch (err) {
      setError(messageOf(err));
    }
  };
  const input = (name: keyof typeof form, placeholder: string) => (
    <label class="field">
      <span>{name}</span>
      <input name={name} value={form[name]} placeholder={placeholder} onInput={(e) => setForm({ ...form, [name]: (e.target as HTMLInputElement).value })} />
    </label>
  );
  return (
    <section class="view" id="trace">
      <h2>Trace</h2>
      <form class="editor" onSubmit={submit}>
        {input("tenant", "tenant")}
        {input("from", "endpoint or IP")}
        {input("to", "endpoint or IP[:port]")}
        <label class="field">
          <span>proto</span>
          <select name="proto" value={form.proto} onChange={(e) => setForm({ ...form, proto: (e.target as HTMLSelectElement).value })}>
            <option>tcp</option>
            <option>udp</option>
            <option>icmp</option>
          </select>
        </label>
        <div class="buttons">
          <button type="submit">Trace</button>
        </div>
      </form>
      <ErrorText text={error} />
      {result && (
        <div class="trace-result">
          <p class={`verdict ${result.verdict}`}>
            Verdict: <b>{result.verdict}</b> ({result.proto}) from {party(result.from)} to {party(result.to)}
          </p>
          {result.service && (
            <p class="service">
              Service {result.service.name}: VIP {result.service.vip}:{result.service.port} →{" "}
              {result.service.backends.map((b) => `${b.endpoint} ${b.ip}:${b.port}`).join(", ") || "no backends"}
            </p>
          )}
          <table class="plain hops">
            <thead>
              <tr>
                <th>host</th>
                <th>direction</th>
                <th>verdict</th>
                <th>rule</th>
                <th>pending</th>
              </tr>
            </thead>
            <tbody>
              {result.hops.map((h) => (
                <tr>
                  <td>{h.host}</td>
                  <td>{h.direction}</td>
                  <td class={h.verdict}>{h.verdict}</td>
                  <td>{h.rule ? `${h.rule.policy}/${h.rule.id} p${h.rule.priority} ${h.rule.action}: ${h.rule.text}` : "default"}</td>
                  <td>{h.pending ? "pending" : ""}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
