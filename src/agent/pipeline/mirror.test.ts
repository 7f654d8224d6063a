// The mirror against a stand-in netmaster that writes the state stream line by line, so the test decides
// where a read ends: a write whose events are split over two reads is not whole until a later line says so.

import assert from "node:assert/strict";
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { waitFor } from "../../lib/wait.js";
import { MasterClient } from "../master-client.js";
import { StateMirror } from "./mirror.js";

describe("StateMirror", () => {
  let stream: ServerResponse | undefined;
  /** The query of every stream request. */
  const asked: string[] = [];
  let connected!: () => void;
  let connection = new Promise<void>((resolve) => (connected = resolve));
  const server = createServer((req, res) => {
    asked.push(new URL(req.url!, "http://x").search);
    res.writeHead(200, { "content-type": "application/x-ndjson", "netplugin-stream-epoch": "e1" });
    res.flushHeaders();
    stream = res;
    connected();
  });
  let mirror: StateMirror;
  let snapshots = 0;

  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    mirror = new StateMirror(new MasterClient([`http://127.0.0.1:${port}`]), { host: "h1", catalog: false }, () => undefined, () => snapshots++);
    mirror.start();
    await connection;
  });
  after(() => {
    mirror.stop();
    stream?.destroy();
    server.close();
  });

  /** Writes lines as one chunk and waits until `read` says the mirror has taken them. */
  const send = async (read: () => boolean, ...lines: object[]) => {
    stream!.write(lines.map((l) => `${JSON.stringify(l)}\n`).join(""));
    await waitFor(read, { timeoutMs: 10_000, intervalMs: 10, what: () => `the mirror did not take ${JSON.stringify(lines)}` });
  };

  it("holds a revision as whole only once a later line shows all its events arrived", async () => {
    await send(() => mirror.synced, { type: "reset", revision: 4 }, { type: "put", revision: 3, key: "/netplugin/a", value: 1 }, { type: "synced", revision: 4 });
    assert.equal(snapshots, 1);
    assert.deepEqual(mirror.completeRevision, { revision: 4, epoch: "e1" });

    // Revision 5 wrote two keys; the read ends between them.
    await send(() => mirror.get("/netplugin/b") === 2, { type: "put", revision: 5, key: "/netplugin/b", value: 2 });
    assert.equal(mirror.currentRevision, 5);
    assert.deepEqual(mirror.completeRevision, { revision: 4, epoch: "e1" }, "half of 5 is not 5");
    await send(() => mirror.get("/netplugin/c") === 3, { type: "put", revision: 5, key: "/netplugin/c", value: 3 });
    assert.equal(mirror.completeRevision.revision, 4);
    await send(() => mirror.completeRevision.revision === 5, { type: "ping", revision: 5 });

    await send(() => mirror.get("/netplugin/a") === 4, { type: "delete", revision: 6, key: "/netplugin/a" }, { type: "put", revision: 7, key: "/netplugin/a", value: 4 });
    assert.equal(mirror.completeRevision.revision, 6, "an event of 7 shows 6 is whole");
  });

  it("resumes a broken stream from the last whole revision, so a write cut in half is sent again", async () => {
    await send(() => mirror.completeRevision.revision === 7, { type: "ping", revision: 7 });
    await send(() => mirror.get("/netplugin/d") === 5, { type: "put", revision: 8, key: "/netplugin/d", value: 5 });
    connection = new Promise<void>((resolve) => (connected = resolve));
    stream!.destroy(); // the rest of revision 8 never came
    await connection;
    assert.equal(asked.at(-1), "?host=h1&revision=7&epoch=e1&catalog=0");
    await send(() => mirror.completeRevision.revision === 8, { type: "put", revision: 8, key: "/netplugin/d", value: 5 }, { type: "put", revision: 8, key: "/netplugin/e", value: 6 }, { type: "ping", revision: 8 });
    assert.deepEqual([mirror.get("/netplugin/d"), mirror.get("/netplugin/e")], [5, 6]);
  });

  it("takes a ping's revision as whole: nothing of this host's slice changed up to it", async () => {
    await send(() => mirror.completeRevision.revision === 20, { type: "ping", revision: 20 });
    assert.equal(mirror.currentRevision, 20);
  });

  it("keeps a record that is not what its key says apart, with the reason, until a good one replaces it", async () => {
    const key = "/netplugin/state/eps/n.t-c1";
    await send(() => mirror.malformedRecords().has(key), { type: "put", revision: 21, key, value: { endpointID: 7 } });
    assert.equal(mirror.get(key), undefined);
    assert.match(mirror.malformedRecords().get(key)!, /^endpointID: /);
    const good = {
      endpointID: "n.t-c1", tenantName: "t", networkName: "n", groupName: "", containerID: "c1", containerName: "", ipAddress: "198.18.1.2",
      ipv6Address: "", macAddress: "02:02:c6:12:01:02", homingHost: "h1", intfName: "", vtepIP: "", labels: {}, requestedIp: false,
    };
    await send(() => mirror.get(key) !== undefined, { type: "put", revision: 22, key, value: good });
    assert.equal(mirror.malformedRecords().has(key), false);
  });
});
