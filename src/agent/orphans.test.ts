import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import pino from "pino";
import { AttachmentStore, type Attachment } from "./attachments.js";
import { forgetOrphans } from "./orphans.js";
import type { EndpointState } from "../contract/records.js";

describe("forgetOrphans", () => {
  const dir = mkdtempSync(join(tmpdir(), "np-orphans-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const attachment = (id: string): Attachment => ({ endpointId: id, containerId: id, ifname: "eth0", netns: `/run/netns/${id}`, containerSide: "ours", tenant: "t", network: "n", group: "", cniNetwork: "c", portMappings: [] });

  it("forgets orphans once the agent follows netmaster's state, never one an ADD still makes", () => {
    const attachments = new AttachmentStore(dir);
    for (const id of ["gone", "adding"]) attachments.put(attachment(id));
    const pending = new Map([["adding", {} as EndpointState]]);
    const log = pino({ level: "silent" });
    forgetOrphans({ attachments, pending, synced: () => false, log }, [attachment("gone"), attachment("adding")]);
    assert.equal(attachments.all().length, 2, "a half-read state orphans nothing");
    forgetOrphans({ attachments, pending, synced: () => true, log }, [attachment("gone"), attachment("adding")]);
    assert.deepEqual(attachments.all().map((a) => a.endpointId), ["adding"]);
  });
});
