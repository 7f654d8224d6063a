// The state streams against a real SQLite store and cache: each host's stream carries its slice, a tenant's
// records arrive with its first endpoint on a host and leave with its last, a broken stream resumes from the
// lines this process sent, and anything else starts with a snapshot of the slice.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { StreamingApi } from "hono/utils/stream";
import { blockKey, endpointKey, hostKey, networkStateKey, objectKey } from "../contract/keys.js";
import { SqliteStore } from "../store/index.js";
import { StateCache } from "./cache.js";
import { StateStreams } from "./watch-stream.js";

interface Line {
  type: string;
  revision: number;
  key?: string;
  value?: unknown;
}

/** A stream as an agent reads it: the lines so far, and a way to break the connection. */
function client(): { out: StreamingApi; lines: Line[]; hangUp: () => void } {
  const lines: Line[] = [];
  let abort = () => {};
  const out = {
    writeln: async (line: string) => {
      lines.push(JSON.parse(line) as Line);
      return out;
    },
    onAbort: (listener: () => void) => {
      abort = listener;
    },
  } as unknown as StreamingApi;
  return { out, lines, hangUp: () => abort() };
}

const meter = { lines: () => {}, snapshot: () => {} };
const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

function endpoint(id: string, tenant: string, host: string) {
  return {
    endpointID: id, tenantName: tenant, networkName: "net", groupName: "", containerID: id, containerName: "", ipAddress: "198.18.1.2",
    ipv6Address: "", macAddress: "02:02:c6:12:01:02", homingHost: host, intfName: "", vtepIP: "", labels: {}, requestedIp: false,
  };
}

describe("StateStreams", () => {
  const dir = mkdtempSync(join(tmpdir(), "np-streams-"));
  const store = new SqliteStore({ file: join(dir, "state.db") });
  let cache: StateCache;
  let streams: StateStreams;
  const put = (key: string, value: unknown) => store.put(key, JSON.stringify(value)).then(async (revision) => (await cache.waitFor(revision), revision));
  const keysOf = (lines: Line[], type = "put") => lines.filter((l) => l.type === type).map((l) => l.key!);

  before(async () => {
    await put0();
    cache = await StateCache.open(store);
    streams = new StateStreams(cache, "epoch-1");
  });
  after(() => {
    cache.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function put0(): Promise<void> {
    await store.put(objectKey("global", "global"), JSON.stringify({ name: "global" }));
    await store.put(hostKey("h1"), JSON.stringify({ name: "h1", vtepIP: "", mtu: 0, agentVersion: "" }));
    for (const t of ["red", "blue"]) {
      await store.put(objectKey("tenant", t), JSON.stringify({ tenantName: t }));
      await store.put(objectKey("network", `${t}:net`), JSON.stringify({ tenantName: t, networkName: "net", nwType: "data" }));
      await store.put(networkStateKey(`${t}:net`), JSON.stringify({ pktTag: 1, extPktTag: 7, ipv4: { bits: "secret" } }));
    }
    await store.put("/netplugin/state/global/tags", JSON.stringify({ vlan: "bitmap" }));
  }

  it("starts a host with its slice: what every host needs, and none of a tenant it does not have", async () => {
    const h1 = client();
    void streams.serve("h1", false, { revision: 0, epoch: "" }, h1.out, meter);
    await settle();
    assert.equal(h1.lines[0]!.type, "reset");
    assert.deepEqual(keysOf(h1.lines), [objectKey("global", "global"), hostKey("h1")]);
    assert.equal(h1.lines.at(-1)!.type, "synced");
    h1.hangUp();
  });

  it("brings a tenant's records with its first endpoint on the host, without allocators, and nothing to other hosts", async () => {
    const h1 = client();
    const h2 = client();
    void streams.serve("h1", false, { revision: 0, epoch: "" }, h1.out, meter);
    void streams.serve("h2", false, { revision: 0, epoch: "" }, h2.out, meter);
    await settle();
    const h2Before = h2.lines.length;
    h1.lines.length = 0;
    await put(endpointKey("net.red-a"), endpoint("net.red-a", "red", "h1"));
    await settle();
    assert.deepEqual(keysOf(h1.lines).sort(), [endpointKey("net.red-a"), networkStateKey("red:net"), objectKey("network", "red:net"), objectKey("tenant", "red")].sort());
    assert.deepEqual(h1.lines.find((l) => l.key === networkStateKey("red:net"))!.value, { pktTag: 1, extPktTag: 7 });
    assert.equal(h1.lines.at(-1)!.type, "ping", "the write's lines end with a ping");
    // h2 has no endpoint of red: a change of red is not its business (bar the 10 s ping).
    await put(objectKey("policy", "red:p"), { tenantName: "red", policyName: "p" });
    await settle();
    assert.equal(h2.lines.length, h2Before);
    assert.ok(keysOf(h1.lines).includes(objectKey("policy", "red:p")));

    // The last endpoint of red leaving h1 takes red's records away from it.
    h1.lines.length = 0;
    await store.delete(endpointKey("net.red-a"));
    await settle();
    assert.deepEqual(keysOf(h1.lines, "delete").sort(), [endpointKey("net.red-a"), networkStateKey("red:net"), objectKey("network", "red:net"), objectKey("policy", "red:p"), objectKey("tenant", "red")].sort());
    h1.hangUp();
    h2.hangUp();
  });

  it("resumes a broken stream from the lines this process sent; from another process's revision it takes a snapshot", async () => {
    const first = client();
    void streams.serve("h3", false, { revision: 0, epoch: "" }, first.out, meter);
    await settle();
    const held = first.lines.filter((l) => l.type === "synced" || l.type === "ping").at(-1)!.revision;
    first.hangUp();
    await put(endpointKey("net.blue-b"), endpoint("net.blue-b", "blue", "h3"));
    await put(objectKey("policy", "blue:p"), { tenantName: "blue", policyName: "p" });

    const again = client();
    void streams.serve("h3", false, { revision: held, epoch: "epoch-1" }, again.out, meter);
    await settle();
    assert.equal(again.lines.some((l) => l.type === "reset"), false, "no snapshot");
    assert.ok(keysOf(again.lines).includes(endpointKey("net.blue-b")));
    assert.ok(keysOf(again.lines).includes(objectKey("policy", "blue:p")));
    assert.equal(again.lines.at(-1)!.type, "ping");
    again.hangUp();

    const foreign = client();
    void streams.serve("h3", false, { revision: held, epoch: "another-process" }, foreign.out, meter);
    await settle();
    assert.equal(foreign.lines[0]!.type, "reset");
    assert.ok(keysOf(foreign.lines).includes(objectKey("policy", "blue:p")));
    foreign.hangUp();
  });

  it("gives a host that asks for the catalog every tenant's network and group objects, and keeps them when a tenant leaves", async () => {
    const d = client();
    void streams.serve("h4", true, { revision: 0, epoch: "" }, d.out, meter);
    await settle();
    const snapshot = keysOf(d.lines);
    assert.ok(snapshot.includes(objectKey("network", "red:net")) && snapshot.includes(objectKey("tenant", "red")));
    assert.equal(snapshot.includes(networkStateKey("red:net")), false, "the catalog is config objects only");
    await put(endpointKey("net.red-c"), endpoint("net.red-c", "red", "h4"));
    await settle();
    d.lines.length = 0;
    await store.delete(endpointKey("net.red-c"));
    await settle();
    assert.deepEqual(keysOf(d.lines, "delete").includes(objectKey("network", "red:net")), false);
    assert.ok(keysOf(d.lines, "delete").includes(networkStateKey("red:net")));
    d.hangUp();
  });

  it("sends an address block to its host alone, with its tenant's records; its release takes them away", async () => {
    const h5 = client();
    const h6 = client();
    void streams.serve("h5", false, { revision: 0, epoch: "" }, h5.out, meter);
    void streams.serve("h6", false, { revision: 0, epoch: "" }, h6.out, meter);
    await settle();
    const h6Before = h6.lines.length;
    h5.lines.length = 0;
    const block = { tenantName: "blue", networkName: "net", host: "h5", cidr: "198.18.1.0/28", addresses: ["198.18.1.2"], assigned: {} };
    await put(blockKey("blue:net", block.cidr), block);
    await settle();
    assert.deepEqual(keysOf(h5.lines).sort(), [blockKey("blue:net", block.cidr), endpointKey("net.blue-b"), networkStateKey("blue:net"), objectKey("network", "blue:net"), objectKey("policy", "blue:p"), objectKey("tenant", "blue")].sort());
    assert.deepEqual(h5.lines.find((l) => l.key === blockKey("blue:net", block.cidr))!.value, block);
    assert.equal(h6.lines.length, h6Before);
    assert.ok(streams.hostsOf("blue").includes("h5"));
    h5.lines.length = 0;
    await store.delete(blockKey("blue:net", block.cidr));
    await settle();
    assert.deepEqual(keysOf(h5.lines, "delete").sort(), [blockKey("blue:net", block.cidr), endpointKey("net.blue-b"), networkStateKey("blue:net"), objectKey("network", "blue:net"), objectKey("policy", "blue:p"), objectKey("tenant", "blue")].sort());
    assert.ok(!streams.hostsOf("blue").includes("h5"));
    h5.hangUp();
    h6.hangUp();
  });

  it("knows where each tenant is present", async () => {
    await put(endpointKey("net.red-d"), endpoint("net.red-d", "red", "h7"));
    assert.deepEqual(streams.hostsOf("red"), ["h7"]);
    assert.deepEqual(streams.hostsOf("blue"), ["h3"]);
  });
});
