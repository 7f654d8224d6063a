// The direct attachments of a DesiredHost (endpoints with `direct` set: macvlan, ipvlan, host-device), kept
// by the driver beside its bridge path (driver.ts): attach.ts makes each one, through plan Steps that apply.ts
// runs; this remembers what it made so that an incremental run looks again only at an attachment whose
// rendered state changed, and a full run observes every one and changes only what differs (repairs drift: a
// table or shaper removed behind our back), and an attachment no longer wanted is released (host-device given
// back). Failures are errors of the endpoint, retried by the next run.
//
// What it remembers lives only in this process: after an agent restart the attachments still wanted are
// observed and planned again (the interface found is kept; the policy script is loaded once more, as the
// bridge path does, diff.ts diffNft), those removed while it was down are not known to it (their interface
// goes with the container's namespace; a moved NIC is returned by the kernel).

import type { DatapathProblem, DesiredEndpoint, DesiredHost, DesiredTenant } from "../types.js";
import type { Executor } from "../../lib/process.js";
import { applyAttachment, attachmentObject, releaseAttachment, renderAttachment, type AttachContext, type DesiredAttachment, type DirectMode } from "./attach.js";
import type { ChangeSummary, ReconcileError } from "./plan.js";
import type { PolicyCompiler } from "./policies.js";
import { changeSummary } from "./report.js";

interface Made {
  /** The rendered state applied (JSON), "" when the last apply of an attachment made before failed. */
  state: string;
  /** The policy script this process loaded in the container's namespace; null: none, or not known. */
  nftScript: string | null;
  tenant: string;
  /** The tenant namespace: a frozen tenant's attachments are left as they are. */
  namespace: string;
  network: string;
  endpoint: string;
  mode: DirectMode;
  hostIf: string;
  netns: string;
  ifname: string;
}

function keyOf(netns: string, ifname: string): string {
  return `${netns}\u0000${ifname}`;
}

function desiredAttachment(tenant: DesiredTenant, e: DesiredEndpoint & { direct: NonNullable<DesiredEndpoint["direct"]> }): DesiredAttachment {
  return {
    id: e.id,
    mode: e.direct.mode,
    hostIf: e.direct.hostIf,
    netns: e.netns,
    ifname: e.ifname,
    mac: e.mac,
    mtu: e.mtu,
    ipv4: e.ipv4,
    ipv6: e.ipv6,
    gateway: e.gateway,
    ipv6Gateway: e.ipv6Gateway,
    qos: e.qos,
    policy: tenant.policy,
    tenantNamespace: tenant.namespace,
  };
}

function directOf(tenant: DesiredTenant): Array<DesiredEndpoint & { direct: NonNullable<DesiredEndpoint["direct"]> }> {
  return tenant.endpoints.filter((e): e is DesiredEndpoint & { direct: NonNullable<DesiredEndpoint["direct"]> } => e.direct !== undefined);
}

/** The host without its direct attachments: what the bridge path renders. */
export function withoutDirect(desired: DesiredHost): DesiredHost {
  if (!desired.tenants.some((t) => t.endpoints.some((e) => e.direct !== undefined))) return desired;
  return { ...desired, tenants: desired.tenants.map((t) => ({ ...t, endpoints: t.endpoints.filter((e) => e.direct === undefined) })) };
}

/** Pure: the direct attachments that cannot be rendered (a bad name, address, or a policy that does not compile). */
export function checkDirect(desired: DesiredHost, compile: PolicyCompiler): DatapathProblem[] {
  const problems: DatapathProblem[] = [];
  for (const tenant of desired.tenants) {
    for (const e of directOf(tenant)) {
      try {
        renderAttachment(desiredAttachment(tenant, e), compile);
      } catch (err) {
        problems.push({ owner: { tenant: tenant.name, network: e.network, endpoint: e.id }, message: (err as Error).message });
      }
    }
  }
  return problems;
}

export interface DirectOptions {
  /** Named namespace standing in for the agent's (tests); absent: the agent's own. */
  hostNamespace?: string;
  /** Where sysfs is read (tests); default "/sys". */
  sysfs?: string;
}

export class DirectAttachments {
  private readonly made = new Map<string, Made>();
  private readonly ctx: AttachContext;

  constructor(executor: Executor, options: DirectOptions = {}) {
    this.ctx = { executor, ...options };
  }

  /**
   * Makes the direct attachments of `desired` true and releases those no longer wanted. `full`: observe every
   * attachment, not only those whose rendered state changed. `compile`: the driver's policy cache. Never
   * throws: failures are errors.
   */
  async reconcile(desired: DesiredHost, options: { full: boolean; compile: PolicyCompiler }): Promise<{ changes: ChangeSummary[]; errors: ReconcileError[] }> {
    const changes: ChangeSummary[] = [];
    const errors: ReconcileError[] = [];
    const wanted = new Set<string>();
    for (const tenant of desired.tenants) {
      for (const e of directOf(tenant)) {
        const key = keyOf(e.netns, e.ifname);
        wanted.add(key);
        const a = desiredAttachment(tenant, e);
        const owner = { tenant: tenant.name, network: e.network, endpoint: e.id };
        const before = this.made.get(key);
        let state;
        try {
          state = renderAttachment(a, options.compile);
        } catch (err) {
          errors.push({ owner, namespace: e.netns, objects: [attachmentObject(a)], message: (err as Error).message, cause: err as Error });
          continue;
        }
        const rendered = JSON.stringify(state);
        if (!options.full && before?.state === rendered) continue;
        const result = await applyAttachment(this.ctx, state, { owner, appliedScript: before?.nftScript ?? null });
        changes.push(...result.applied.map(changeSummary));
        errors.push(...result.errors);
        if (!result.present && before === undefined) continue;
        const ok = result.errors.length === 0;
        this.made.set(key, {
          state: ok ? rendered : "",
          // A failed run may have left the table as it was, or not: load it again next time.
          nftScript: ok ? state.nftScript : null,
          tenant: tenant.name, namespace: tenant.namespace, network: e.network, endpoint: e.id,
          mode: e.direct.mode, hostIf: e.direct.hostIf, netns: e.netns, ifname: e.ifname,
        });
      }
    }
    const frozen = new Set(desired.frozen ?? []);
    for (const [key, m] of [...this.made]) {
      if (wanted.has(key) || frozen.has(m.namespace)) continue;
      const result = await releaseAttachment(this.ctx, m, { tenant: m.tenant, network: m.network, endpoint: m.endpoint });
      changes.push(...result.applied.map(changeSummary));
      errors.push(...result.errors);
      if (result.errors.length === 0) this.made.delete(key);
    }
    return { changes, errors };
  }
}
