// Attachments whose endpoint netmaster no longer has (deleted while this agent was away, or behind its back):
// the reconcile run that found them has removed their kernel objects, so their records go too. Only once the
// agent holds netmaster's state whole (a half-read snapshot would make every attachment look orphaned), and
// never one whose endpoint netmaster made for an ADD still in progress.

import type { Logger } from "pino";
import type { EndpointState } from "../contract/records.js";
import type { Attachment, AttachmentStore } from "./attachments.js";

export interface OrphanDeps {
  attachments: AttachmentStore;
  pending: ReadonlyMap<string, EndpointState>;
  /** The agent follows netmaster's state (mirror.ts synced). */
  synced: () => boolean;
  log: Logger;
}

export function forgetOrphans(d: OrphanDeps, orphans: Attachment[]): void {
  if (!d.synced()) return;
  for (const a of orphans) {
    if (d.pending.has(a.endpointId)) continue;
    d.attachments.delete(a.containerId, a.ifname);
    d.log.info({ endpoint: a.endpointId }, "forgot endpoint netmaster no longer has");
  }
}
