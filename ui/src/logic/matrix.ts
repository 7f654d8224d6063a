// The policy matrix of a tenant: which group may reach which, by what rule. A policy holds rules and is
// attached to groups (EndpointGroup.policies); an incoming rule of it applies to traffic into each group
// it is attached to, from the rule's source; an outgoing rule to traffic out of each such group, to the
// rule's destination. A source or destination named by network or address, or by nothing (any), is a row or
// column of its own. Pure: the Policy view polls the API and renders what this returns.

export interface GroupObject {
  tenantName: string;
  groupName: string;
  policies?: string[];
}

export interface RuleObject {
  tenantName: string;
  policyName: string;
  ruleId: string;
  direction: "in" | "out";
  action: "allow" | "deny";
  priority?: number;
  protocol?: string;
  port?: number;
  fromEndpointGroup?: string;
  fromNetwork?: string;
  fromIpAddress?: string;
  toEndpointGroup?: string;
  toNetwork?: string;
  toIpAddress?: string;
}

/** What inspect of a policy says of it (Oper.ruleStats and Oper.realization). */
export interface PolicyOper {
  ruleStats?: { ruleId: string; packets: number; bytes: number }[];
  realization?: { revision: number; pendingHosts: string[]; errors?: { host: string; message: string }[] };
}

export interface MatrixRule {
  policy: string;
  ruleId: string;
  action: "allow" | "deny";
  priority: number;
  /** "tcp/80", "udp", "icmp", "any" */
  what: string;
  packets: number;
  bytes: number;
}

export interface PolicyMatrix {
  rows: string[];
  columns: string[];
  /** cells[row][column]: the rules that decide that pair, highest priority first. */
  cells: Record<string, Record<string, MatrixRule[]>>;
  /** Per policy of the tenant: the hosts where its newest change is not in force yet. */
  pending: { policy: string; revision: number; hosts: string[]; errors: { host: string; message: string }[] }[];
}

/** A party named by a rule: a group as itself, others marked so they cannot be taken for a group. */
export function partyLabel(group: string | undefined, network: string | undefined, ip: string | undefined): string {
  if (group) return group;
  if (network) return `network ${network}`;
  if (ip) return `ip ${ip}`;
  return "any";
}

export function ruleWhat(protocol: string | undefined, port: number | undefined): string {
  const p = protocol ?? "";
  if (p === "") return port ? `any/${port}` : "any";
  return port ? `${p}/${port}` : p;
}

export function buildPolicyMatrix(tenant: string, groups: readonly GroupObject[], rules: readonly RuleObject[], opers: ReadonlyMap<string, PolicyOper>): PolicyMatrix {
  const tenantGroups = groups.filter((g) => g.tenantName === tenant);
  const attached = new Map<string, string[]>();
  for (const g of tenantGroups) for (const p of g.policies ?? []) attached.set(p, [...(attached.get(p) ?? []), g.groupName]);

  const rows = new Set<string>(tenantGroups.map((g) => g.groupName));
  const columns = new Set<string>(rows);
  const cells: PolicyMatrix["cells"] = {};
  const put = (from: string, to: string, rule: MatrixRule) => {
    rows.add(from);
    columns.add(to);
    ((cells[from] ??= {})[to] ??= []).push(rule);
  };

  for (const r of rules) {
    if (r.tenantName !== tenant) continue;
    const stats = opers.get(r.policyName)?.ruleStats?.find((s) => s.ruleId === r.ruleId);
    const rule: MatrixRule = {
      policy: r.policyName,
      ruleId: r.ruleId,
      action: r.action,
      priority: r.priority || 1,
      what: ruleWhat(r.protocol, r.port),
      packets: stats?.packets ?? 0,
      bytes: stats?.bytes ?? 0,
    };
    for (const group of attached.get(r.policyName) ?? []) {
      if (r.direction === "in") put(partyLabel(r.fromEndpointGroup, r.fromNetwork, r.fromIpAddress), group, rule);
      else put(group, partyLabel(r.toEndpointGroup, r.toNetwork, r.toIpAddress), rule);
    }
  }
  for (const row of Object.values(cells)) for (const list of Object.values(row)) list.sort((a, b) => b.priority - a.priority || a.policy.localeCompare(b.policy) || a.ruleId.localeCompare(b.ruleId));

  const pending = [...opers.entries()]
    .filter(([, o]) => o.realization !== undefined)
    .map(([policy, o]) => ({ policy, revision: o.realization!.revision, hosts: o.realization!.pendingHosts, errors: o.realization!.errors ?? [] }))
    .sort((a, b) => a.policy.localeCompare(b.policy));
  return { rows: [...rows].sort(), columns: [...columns].sort(), cells, pending };
}
