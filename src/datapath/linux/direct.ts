// The direct attachments of a DesiredHost (endpoints with `direct` set: macvlan, ipvlan, host-device), kept
// by the driver beside its bridge path (driver.ts): attach.ts makes each one; this remembers what it made so
// that an incremental run re-applies only an attachment whose rendered state changed (a policy change
// re-loads the table in the container's namespace), a full run re-applies every one (repairs drift: a table
// or shaper removed behind our back), and an attachment no longer wanted is released (host-device given
// back). Failures are errors of the endpoint, retried by the next run.
//
// What it remembers lives only in this process: after an agent restart the attachments still wanted are
// re-applied (idempotent: the interface found is kept), those removed while it was down are not known to it
// (their interface goes with the container's namespace; a moved NIC is returned by the kernel).

import type { DatapathProblem, DesiredEndpoint, DesiredHost, DesiredTenant } from "../types.js";
import type { Executor } from "../../lib/process.js";
import { applyAttachment, releaseAttachment, renderAttachment, type AttachContext, type DesiredAttachment, type DirectMode } from "./attach.js";
import type { ChangeSummary, ReconcileError } from "./plan.js";

interface Made {
  /** The rendered state applied (JSON), "" when the last apply of an attachment made before failed. */
  state: string;
  tenant: string;
  /** The tenant namespace: a frozen tenant's attachments are left as they are. */
  namespace: string;
  network: string;
  endpoint: string;
  mode: DirectMode;
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
export function checkDirect(desired: DesiredHost): DatapathProblem[] {
  const problems: DatapathProblem[] = [];
  for (const tenant of desired.tenants) {
    for (const e of directOf(tenant)) {
      try {
        renderAttachment(desiredAttachment(tenant, e));
      } catch (err) {
        problems.push({ owner: { tenant: tenant.name, network: e.network, endpoint: e.id }, message: (err as Error).message });
      }
    }
  }
  return problems;
}

export class DirectAttachments {
  private readonly made = new Map<string, Made>();
  private readonly ctx: AttachContext;

  constructor(executor: Executor, hostNamespace: string | undefined) {
    this.ctx = { executor, ...(hostNamespace === undefined ? {} : { hostNamespace }) };
  }

  /** Makes the direct attachments of `desired` true and releases those no longer wanted. Never throws: failures are errors. */
  async reconcile(desired: DesiredHost, full: boolean): Promise<{ changes: ChangeSummary[]; errors: ReconcileError[] }> {
    const changes: ChangeSummary[] = [];
    const errors: ReconcileError[] = [];
    const wanted = new Set<string>();
    for (const tenant of desired.tenants) {
      for (const e of directOf(tenant)) {
        const key = keyOf(e.netns, e.ifname);
        wanted.add(key);
        const a = desiredAttachment(tenant, e);
        const owner = { tenant: tenant.name, network: e.network, endpoint: e.id };
        const object = `${e.direct.mode} ${e.ifname} on ${e.direct.hostIf}`;
        const before = this.made.get(key);
        let state: string;
        try {
          state = JSON.stringify(renderAttachment(a));
        } catch (err) {
          errors.push({ owner, namespace: e.netns, objects: [object], message: (err as Error).message, cause: err as Error });
          continue;
        }
        if (!full && before?.state === state) continue;
        try {
          await applyAttachment(this.ctx, a);
        } catch (err) {
          // Still ours to release if it was made before; a new one was rolled back by applyAttachment.
          if (before !== undefined) this.made.set(key, { ...before, state: "" });
          errors.push({ owner, namespace: e.netns, objects: [object], message: (err as Error).message, cause: err as Error });
          continue;
        }
        this.made.set(key, { state, tenant: tenant.name, namespace: tenant.namespace, network: e.network, endpoint: e.id, mode: e.direct.mode, netns: e.netns, ifname: e.ifname });
        if (before?.state !== state) changes.push({ namespace: e.netns, phase: "container", action: before === undefined ? "create" : "update", object });
      }
    }
    const frozen = new Set(desired.frozen ?? []);
    for (const [key, m] of [...this.made]) {
      if (wanted.has(key) || frozen.has(m.namespace)) continue;
      const object = `${m.mode} ${m.ifname}`;
      try {
        await releaseAttachment(this.ctx, { mode: m.mode, netns: m.netns, ifname: m.ifname });
      } catch (err) {
        errors.push({ owner: { tenant: m.tenant, network: m.network, endpoint: m.endpoint }, namespace: m.netns, objects: [object], message: (err as Error).message, cause: err as Error });
        continue;
      }
      this.made.delete(key);
      changes.push({ namespace: m.netns, phase: "container", action: "delete", object });
    }
    return { changes, errors };
  }
}
