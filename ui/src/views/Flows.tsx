// Flows: the connection attempts the hosts' kernels counted for a tenant (GET /api/v1/flows), polled every 2 s;
// denied ones name the rule that dropped them. Per host, whether its table is full and allowed attempts recorded.

import { useState } from "preact/hooks";
import { get } from "../api.js";
import { flowsQuery, flowTarget, hostSummary, type FlowHost, type FlowRow } from "../logic/flows.js";
import { usePoll } from "../poll.js";
import { ErrorText } from "../errorText.js";

interface FlowsAnswer {
  tenant: string;
  records: FlowRow[];
  hosts: FlowHost[];
}

export function Flows() {
  const [form, setForm] = useState({ tenant: "default", denied: false });
  // What is typed is kept apart from what is polled: a poll's re-render must not undo typing, and a half-typed
  // name is not asked for; it applies on Enter or when the field is left.
  const [draft, setDraft] = useState(form.tenant);
  const polled = usePoll(() => get<FlowsAnswer>(flowsQuery(form)), [form.tenant, form.denied]);
  const answer = polled.data;
  return (
    <section class="view" id="flows">
      <h2>Flows</h2>
      <form class="editor" onSubmit={(e) => e.preventDefault()}>
        <label class="field">
          <span>tenant</span>
          <input
            name="tenant"
            value={draft}
            onInput={(e) => setDraft((e.target as HTMLInputElement).value)}
            onChange={(e) => setForm({ ...form, tenant: (e.target as HTMLInputElement).value })}
          />
        </label>
        <label class="field">
          <span>denied only</span>
          <input name="denied" type="checkbox" checked={form.denied} onChange={(e) => setForm({ ...form, denied: (e.target as HTMLInputElement).checked })} />
        </label>
      </form>
      <ErrorText text={polled.error ?? ""} />
      {answer && (
        <>
          <p class="hosts">
            {answer.hosts.map(hostSummary).join(" · ") || "no host has reported flows yet"}
          </p>
          <table class="plain flows">
            <thead>
              <tr>
                <th>host</th>
                <th>verdict</th>
                <th>rule</th>
                <th>source</th>
                <th>destination</th>
                <th>packets</th>
                <th>last seen</th>
              </tr>
            </thead>
            <tbody>
              {answer.records.map((r) => (
                <tr class={`rule ${r.verdict}`}>
                  <td>{r.host}</td>
                  <td>{r.verdict}</td>
                  <td>{r.rule ?? "default"}</td>
                  <td>{r.src}</td>
                  <td>{flowTarget(r)}</td>
                  <td>{r.packets}</td>
                  <td>{new Date(r.lastSeen).toLocaleTimeString()}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}
