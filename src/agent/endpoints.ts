// Plumbing one endpoint on this host, for every way containers arrive (CNI,
// Docker): the attachment is recorded, the endpoint netmaster created is made
// known to the reconciler before the state stream shows it, and one reconcile
// run must bring it up without errors. A failure undoes the record and the
// kernel objects (the netmaster endpoint is the caller's to release), so a
// failed attach leaves nothing behind on the host.

import type { Logger } from "pino";
import type { DesiredEndpoint } from "../datapath/types.js";
import type { EndpointState } from "../contract/records.js";
import type { Attachment, AttachmentStore } from "./attachments.js";
import { errorsOfPorts, errorsOfUnit } from "../datapath/index.js";
import type { Reconciler } from "./pipeline/reconciler.js";
import { concerns } from "../contract/api.js";
import { unitName } from "./pipeline/contain.js";

export interface EndpointPlumberDeps {
  attachments: AttachmentStore;
  /** Endpoints netmaster created for us that the state stream has not shown yet. */
  pending: Map<string, EndpointState>;
  reconciler: Reconciler;
  /** Waits until the agent's copy of its slice holds a revision whole (mirror.ts waitForRevision). */
  waitForRevision: (revision: number, timeoutMs: number) => Promise<void>;
  log: Logger;
}

/** How long an attach waits for netmaster's state stream to bring the endpoint's tenant. */
const STATE_WAIT_MS = 10_000;

export class EndpointPlumber {
  constructor(private readonly d: EndpointPlumberDeps) {}

  /**
   * Records the attachment and waits for a reconcile run to plumb it. `revision`: where netmaster's reply said
   * the endpoint is. Throws when the run leaves the endpoint (or its tenant namespace) in error, after removing
   * the record and what the run made.
   */
  async attach(ep: EndpointState, attachment: Attachment, revision = 0): Promise<DesiredEndpoint> {
    const { attachments, pending, reconciler } = this.d;
    try {
      // This host's copy holds a tenant's records only while the tenant has an endpoint here: the first one
      // brings them, at the revision netmaster answered with.
      await this.d.waitForRevision(revision, STATE_WAIT_MS);
      pending.set(ep.endpointID, ep);
      attachments.put(attachment);
      const { compiled, errors } = await reconciler.run();
      // Its tenant, its network or itself could not be built from netmaster's state (contain.ts): say why.
      const failed = compiled.failures.filter((f) => concerns(f.owner, { tenant: ep.tenantName, network: ep.networkName, endpoint: ep.endpointID }));
      if (failed.length > 0) throw new Error(failed.map((f) => `${unitName(f.owner)}: ${f.message}`).join("; "));
      const tenant = compiled.desired.tenants.find((t) => t.name === ep.tenantName);
      const desired = tenant?.endpoints.find((e) => e.id === ep.endpointID);
      if (!tenant || !desired) throw new Error("the endpoint is not part of the host's desired state");
      const mine = errorsOfUnit(errors, { tenant: ep.tenantName, network: ep.networkName, endpoint: ep.endpointID });
      // Published ports live in the tenant's uplink table and the agent's namespace: theirs count too.
      if (attachment.portMappings.length > 0) {
        if (!tenant.uplink) throw new Error(`tenant ${ep.tenantName} has no uplink to publish host ports through`);
        mine.push(...errorsOfPorts(errors, ep.tenantName));
      }
      if (mine.length > 0) throw new Error(mine.map((e) => e.message).join("; "));
      return desired;
    } catch (err) {
      attachments.delete(attachment.containerId, attachment.ifname);
      pending.delete(ep.endpointID);
      await reconciler.run().catch(() => undefined);
      throw err;
    }
  }

  /**
   * Forgets the attachment and lets a reconcile run remove the endpoint's kernel objects. Idempotent.
   * Objects that fail to go (a vanished container namespace) are retried by later runs.
   */
  async detach(attachment: Attachment): Promise<void> {
    this.d.attachments.delete(attachment.containerId, attachment.ifname);
    this.d.pending.delete(attachment.endpointId);
    await this.d.reconciler.run();
  }

  /** Replaces an attachment's record (the container side moved or was renamed) without touching the kernel. */
  move(from: Attachment, to: Attachment): void {
    if (from.containerId !== to.containerId || from.ifname !== to.ifname) this.d.attachments.delete(from.containerId, from.ifname);
    this.d.attachments.put(to);
  }
}
