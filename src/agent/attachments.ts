// What only this host knows about its endpoints: which container namespace and
// interface each one is plumbed into, and the host ports published to it.
// Persisted in the agent's state directory (one JSON file, replaced
// atomically) so a restarted agent finds its endpoints again and can remove
// the ones deleted while it was down.

import { join } from "node:path";
import { z } from "zod";
import { readStateFile, writeStateFile } from "../lib/state-file.js";
import { PortMapping } from "./ports.js";

export const Attachment = z.object({
  /** Endpoint id at netmaster. */
  endpointId: z.string(),
  containerId: z.string(),
  ifname: z.string(),
  /** Container network namespace path; "" once the runtime no longer gives one. */
  netns: z.string(),
  /** DesiredEndpoint.containerSide: "runtime" for Docker's (the veth's container end is made in dockerd's namespace as `ifname`). */
  containerSide: z.enum(["ours", "runtime"]).default("ours"),
  tenant: z.string(),
  network: z.string(),
  group: z.string(),
  /** The CNI network config name, for GC. */
  cniNetwork: z.string().default(""),
  /** Host ports published to the container (ports.ts); files of older agents have none. */
  portMappings: z.array(PortMapping).default([]),
});
export type Attachment = z.infer<typeof Attachment>;

const FileFormat = z.object({ version: z.literal(1), attachments: z.array(Attachment) });

export function attachmentKey(containerId: string, ifname: string): string {
  return `${containerId}/${ifname}`;
}

export class AttachmentStore {
  private readonly byKey = new Map<string, Attachment>();
  private readonly file: string;

  constructor(stateDir: string) {
    this.file = join(stateDir, "attachments.json");
    for (const a of readStateFile(this.file, FileFormat)?.attachments ?? []) this.byKey.set(attachmentKey(a.containerId, a.ifname), a);
  }

  all(): Attachment[] {
    return [...this.byKey.values()];
  }

  get(containerId: string, ifname: string): Attachment | undefined {
    return this.byKey.get(attachmentKey(containerId, ifname));
  }

  byEndpoint(endpointId: string): Attachment | undefined {
    return this.all().find((a) => a.endpointId === endpointId);
  }

  put(a: Attachment): void {
    this.byKey.set(attachmentKey(a.containerId, a.ifname), a);
    this.save();
  }

  delete(containerId: string, ifname: string): boolean {
    const existed = this.byKey.delete(attachmentKey(containerId, ifname));
    if (existed) this.save();
    return existed;
  }

  private save(): void {
    writeStateFile(this.file, { version: 1, attachments: this.all() });
  }
}
