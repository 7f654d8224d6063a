// One direct attachment made or taken away outright (attach.ts), for the kernel tests and the bench, which
// drive attachments one by one rather than through DirectAttachments: a run with errors throws them.

import { renderAttachment, type DesiredAttachment, type DirectMode } from "../attach.js";
import { applyAttachment, releaseAttachment, type AttachContext } from "../direct.js";
import type { ReconcileError } from "../plan.js";
import { compileEach } from "../policies.js";

function throwErrors(errors: ReconcileError[]): void {
  if (errors.length > 0) throw new Error(errors.map((e) => e.message).join("; "));
}

/** Renders and applies `a`; throws the run's errors. Returns the applied steps as "action object" lines. */
export async function attach(ctx: AttachContext, a: DesiredAttachment): Promise<string[]> {
  const result = await applyAttachment(ctx, renderAttachment(a, compileEach), { owner: { endpoint: a.id }, appliedScript: null });
  throwErrors(result.errors);
  return result.applied.map((s) => `${s.action} ${s.object}`);
}

export async function detach(ctx: AttachContext, a: { mode: DirectMode; netns: string; ifname: string }): Promise<void> {
  throwErrors((await releaseAttachment(ctx, a, {})).errors);
}
