// What a run reports, from what apply.ts did: the changes that took effect and one error per unit whose
// steps failed or could not be planned. Shared by the bridge path (driver.ts) and the direct attachments
// (direct.ts), so both report alike.

import type { DatapathErrorOwner } from "../driver.js";
import type { StepFailure } from "./apply.js";
import type { ChangeSummary, Problem, ReconcileError, Step } from "./plan.js";

export function changeSummary(s: Step): ChangeSummary {
  return { namespace: s.namespace, phase: s.phase, action: s.action, object: s.object };
}

function ownerKey(owner: DatapathErrorOwner): string {
  return JSON.stringify([owner.tenant, owner.network, owner.endpoint, owner.ports]);
}

/** One error per unit whose steps failed: each reports what it concerns. */
export function failureErrors(f: StepFailure): ReconcileError[] {
  const byOwner = new Map<string, { owner: DatapathErrorOwner; steps: Step[] }>();
  for (const step of f.steps) {
    const key = ownerKey(step.owner);
    const entry = byOwner.get(key) ?? { owner: step.owner, steps: [] };
    entry.steps.push(step);
    byOwner.set(key, entry);
  }
  return [...byOwner.values()].map(({ owner, steps }) => ({
    owner,
    namespace: f.namespace,
    objects: [...new Set(steps.map((s) => s.object))],
    message: f.message,
    cause: f.error,
  }));
}

export function problemError(p: Problem): ReconcileError {
  return { owner: p.owner, namespace: p.namespace, objects: [p.object], message: `Cannot configure ${p.object}: ${p.message}`, cause: null };
}
