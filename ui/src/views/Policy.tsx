// Policy: for one tenant, the group-to-group matrix of rules (logic/matrix.ts) with each rule's packet
// and byte counters summed over the hosts (policy inspect's ruleStats), and the hosts where each policy's
// newest change is not in force yet (its realization). Polled every 2 s.

import { useState } from "preact/hooks";
import { get } from "../api.js";
import { buildPolicyMatrix, type GroupObject, type PolicyMatrix, type PolicyOper, type RuleObject } from "../logic/matrix.js";
import { usePoll } from "../poll.js";
import { ErrorText } from "../errorText.js";

async function loadMatrix(tenant: string): Promise<PolicyMatrix> {
  const [groups, rules, policies] = await Promise.all([
    get<GroupObject[]>("/api/v1/endpointGroups/"),
    get<RuleObject[]>("/api/v1/rules/"),
    get<{ tenantName: string; policyName: string }[]>("/api/v1/policys/"),
  ]);
  const mine = policies.filter((p) => p.tenantName === tenant);
  const opers = await Promise.all(mine.map((p) => get<{ Oper?: PolicyOper }>(`/api/v1/inspect/policys/${encodeURIComponent(`${tenant}:${p.policyName}`)}/`)));
  return buildPolicyMatrix(tenant, groups, rules, new Map(mine.map((p, i) => [p.policyName, opers[i]?.Oper ?? {}])));
}

export function Policy() {
  const tenants = usePoll(() => get<{ tenantName: string }[]>("/api/v1/tenants/"), [], 5000);
  const [chosen, setChosen] = useState<string>("");
  const tenant = chosen || tenants.data?.[0]?.tenantName || "";
  const matrix = usePoll(() => (tenant ? loadMatrix(tenant) : Promise.resolve(undefined)), [tenant]);
  const m = matrix.data;
  return (
    <section class="view" id="policy">
      <h2>Policy</h2>
      <label>
        Tenant{" "}
        <select name="tenant" value={tenant} onChange={(e) => setChosen((e.target as HTMLSelectElement).value)}>
          {(tenants.data ?? []).map((t) => (
            <option value={t.tenantName}>{t.tenantName}</option>
          ))}
        </select>
      </label>
      <ErrorText text={matrix.error ?? tenants.error} />
      {m && (
        <>
          <p class="muted">Rows: from; columns: to. Each rule: action, protocol/port, priority, and the packets and bytes it matched on every host (a rule's own total, so a rule of a policy on two groups shows the same counters in both columns). Pairs no rule names follow the default (allow).</p>
          <table class="matrix">
            <thead>
              <tr>
                <th>from \ to</th>
                {m.columns.map((c) => (
                  <th>{c}</th>
                ))}
              </tr>
            </thead>
            <tbody>
              {m.rows.map((r) => (
                <tr>
                  <th>{r}</th>
                  {m.columns.map((c) => (
                    <td data-cell={`${r}->${c}`}>
                      {(m.cells[r]?.[c] ?? []).map((rule) => (
                        <div class={`rule ${rule.action}`} title={`policy ${rule.policy}, rule ${rule.ruleId}`}>
                          <b>{rule.action}</b> {rule.what} <span class="muted">p{rule.priority}</span>{" "}
                          <span class="counters" data-rule={`${rule.policy}:${rule.ruleId}`}>
                            {rule.packets} pkts / {rule.bytes} B
                          </span>
                        </div>
                      ))}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
          <h3>Realization</h3>
          <table class="plain" id="realization">
            <thead>
              <tr>
                <th>policy</th>
                <th>revision</th>
                <th>pending on</th>
              </tr>
            </thead>
            <tbody>
              {m.pending.map((p) => (
                <tr>
                  <td>{p.policy}</td>
                  <td>{p.revision}</td>
                  <td class={p.hosts.length ? "pending" : "ok"}>
                    {p.hosts.length ? p.hosts.join(", ") : "in force on every host"}
                    {p.errors.map((e) => (
                      <div class="error">
                        {e.host}: {e.message}
                      </div>
                    ))}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}
