import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import pino from "pino";
import { endpointKey } from "../contract/keys.js";
import type { EndpointState } from "../contract/records.js";
import { AttachmentStore } from "./attachments.js";
import { DockerStore } from "./docker/state.js";
import { EndpointCollector, selectStray, type StraySelection } from "./endpoint-gc.js";
import type { MasterClient } from "./master-client.js";

function endpoint(id: string, host = "h1", containerID = id): EndpointState {
  return {
    endpointID: `net.t-${id}`, tenantName: "t", networkName: "net", groupName: "", containerID, containerName: "",
    ipAddress: "198.18.1.1", ipv6Address: "", macAddress: "02:02:c6:12:01:01", homingHost: host, intfName: "", vtepIP: "", labels: {}, requestedIp: false,
  };
}

const GRACE = 60_000;

function select(endpoints: EndpointState[], over: Partial<StraySelection> = {}) {
  return selectStray({ host: "h1", endpoints, held: new Set(), adding: new Set(), unheldSince: new Map(), now: 1_000_000, graceMs: GRACE, ...over });
}

describe("selectStray", () => {
  test("an unheld endpoint of this host is first only remembered, and collected once the grace period has passed", () => {
    const ep = endpoint("c1");
    const first = select([ep]);
    assert.deepEqual(first.stray, []);
    assert.deepEqual([...first.unheldSince], [[ep.endpointID, 1_000_000]]);
    const early = select([ep], { unheldSince: first.unheldSince, now: 1_000_000 + GRACE - 1 });
    assert.deepEqual(early.stray, []);
    assert.equal(early.unheldSince.get(ep.endpointID), 1_000_000, "the clock keeps its start");
    const late = select([ep], { unheldSince: early.unheldSince, now: 1_000_000 + GRACE });
    assert.deepEqual(late.stray, [ep]);
  });

  test("endpoints held by an attachment, a pending ADD or Docker are never collected, and their clock restarts", () => {
    const ep = endpoint("c1");
    const since = new Map([[ep.endpointID, 0]]);
    const r = select([ep], { held: new Set([ep.endpointID]), unheldSince: since });
    assert.deepEqual(r.stray, []);
    assert.equal(r.unheldSince.has(ep.endpointID), false);
    assert.deepEqual(select([ep], { unheldSince: r.unheldSince }).stray, [], "unheld again: a new grace period");
  });

  test("an ADD in progress for the container keeps its endpoint", () => {
    const ep = endpoint("c1", "h1", "c1-net1");
    const r = select([ep], { adding: new Set(["c1-net1"]), unheldSince: new Map([[ep.endpointID, 0]]) });
    assert.deepEqual(r.stray, []);
    assert.equal(r.unheldSince.size, 0);
  });

  test("other hosts' endpoints and this host's own endpoints on infra networks are left alone", () => {
    const remote = endpoint("c2", "h2");
    const own = endpoint("host-h1", "h1", "host-h1");
    const otherHosts = endpoint("host-h2", "h1", "host-h2");
    const r = select([remote, own, otherHosts], { unheldSince: new Map([[remote.endpointID, 0], [own.endpointID, 0], [otherHosts.endpointID, 0]]) });
    assert.deepEqual(r.stray, [otherHosts], "only this host's name marks its host endpoint");
  });

  test("endpoints gone from netmaster drop out of the clock", () => {
    const r = select([], { unheldSince: new Map([["net.t-gone", 0]]) });
    assert.equal(r.unheldSince.size, 0);
  });
});

describe("EndpointCollector", () => {
  const dirs: string[] = [];
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  function collector(endpoints: EndpointState[]) {
    const dir = mkdtempSync(join(tmpdir(), "np-gc-"));
    dirs.push(dir);
    const entries = new Map<string, unknown>(endpoints.map((ep) => [endpointKey(ep.endpointID), ep]));
    const deleted: string[] = [];
    let finish: () => void = () => undefined;
    const master = {
      deleteEndpoint: (id: string) => {
        deleted.push(id);
        return new Promise<void>((resolve) => (finish = resolve));
      },
    } as unknown as MasterClient;
    const attachments = new AttachmentStore(dir);
    const c = new EndpointCollector({
      host: "h1",
      view: { get: <T>(k: string) => entries.get(k) as T, list: <T>(p: string) => [...entries].filter(([k]) => k.startsWith(p)) as [string, T][], malformedRecords: () => new Map() },
      attachments,
      pending: new Map(),
      dockerEndpointIds: () => [...new DockerStore(dir).endpoints.values()].map((r) => r.endpointId),
      master,
      graceMs: 0,
      log: pino({ level: "silent" }),
    });
    return { c, dir, deleted, attachments, finish: () => finish() };
  }

  test("an ADD of a container waits for the deletion of its stray endpoint, and a claimed container is not collected", async () => {
    const { c, deleted, finish } = collector([endpoint("c1"), endpoint("c2")]);
    const releaseC2 = await c.claim("c2");
    const pass = c.pass();
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(deleted, ["net.t-c1"]);
    let claimed = false;
    const add = c.claim("c1").then((release) => ((claimed = true), release));
    await new Promise((r) => setImmediate(r));
    assert.equal(claimed, false, "the ADD is held while the deletion runs");
    finish();
    await pass;
    (await add)();
    releaseC2();
    assert.equal(claimed, true);
    assert.deepEqual(deleted, ["net.t-c1"], "c2 was claimed");
  });

  // A regression would call deleteEndpoint, whose promise this fake never settles: fail, do not hang.
  test("Docker's endpoints (its state file, or an adopted reservation) and attached ones are held", { timeout: 10_000 }, async () => {
    const { c, dir, deleted, attachments } = collector([endpoint("d1"), endpoint("a1")]);
    writeFileSync(join(dir, "docker.json"), JSON.stringify({ version: 1, pools: [], networks: [], endpoints: [
      { id: "d1", networkId: "n", endpointId: "net.t-d1", tenant: "t", network: "net", group: "", mac: "02:02:c6:12:01:01", srcName: "x", phase: "created" },
    ] }));
    attachments.put({ endpointId: "net.t-a1", containerId: "a1", ifname: "eth0", netns: "", containerSide: "ours", tenant: "t", network: "net", group: "", cniNetwork: "", portMappings: [] });
    await c.pass();
    await c.pass();
    assert.deepEqual(deleted, []);
  });
});
