// Docker's two-step allocation from the host's blocks (LocalIpam reserve / adopt / unreserve), against the
// in-memory netmaster: no address given twice, none leaked when CreateEndpoint or Join fails, restarts.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import pino from "pino";
import type { EndpointState } from "../../contract/records.js";
import { ConflictError, UpstreamError } from "../../lib/errors.js";
import { AttachmentStore, type Attachment } from "../attachments.js";
import type { MasterClient } from "../master-client.js";
import { LocalIpam, NoBlock } from "./local-ipam.js";
import { built } from "./testing/built-endpoint.js";
import { FakeNetmaster, viewOf } from "./testing/fake-netmaster.js";

const NET = "t:net";
const POOL = "pool-1";
const log = pino({ level: process.env.TEST_LOG ?? "silent" });
const dirs: string[] = [];
const made: LocalIpam[] = [];
after(() => {
  made.forEach((ipam) => ipam.stop());
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "np-local-ipam-docker-"));
  dirs.push(d);
  return d;
}


function attachment(container: string): Attachment {
  return { endpointId: `net.t-${container}`, containerId: container, ifname: "eth0", netns: "/proc/1/ns/net", containerSide: "runtime", tenant: "t", network: "net", group: "", cniNetwork: "", portMappings: [] };
}

/** One agent's local IPAM with its Docker driver's endpoint records (`docker`), as agent.ts wires them. */
function agentOn(dir: string, nm: FakeNetmaster, docker = new Set<string>(), idleReleaseMs = 600_000) {
  const attachments = new AttachmentStore(dir);
  const pending = new Map<string, EndpointState>();
  const ipam = new LocalIpam({
    host: "h1", stateDir: dir, view: viewOf(nm), master: nm.client as unknown as MasterClient, pending, attachments, holds: (id) => docker.has(id), idleReleaseMs, log,
  });
  ipam.start();
  made.push(ipam);
  return { ipam, attachments, pending, docker };
}
type Agent = ReturnType<typeof agentOn>;

/** RequestAddress + CreateEndpoint as the Docker driver does them (its record written right after adopt), and Join's registration. */
async function create(a: Agent, container: string): Promise<string> {
  const ip = (await a.ipam.reserve(NET, POOL))!;
  assert.ok(a.ipam.adopt(NET, ip, built(container)), "adopted");
  a.docker.add(`net.t-${container}`);
  a.ipam.register(ip);
  return ip;
}

/** DeleteEndpoint (after Leave) and ReleaseAddress. */
function remove(a: Agent, container: string, ip: string): void {
  a.attachments.delete(container, "eth0");
  a.docker.delete(`net.t-${container}`);
  assert.ok(a.ipam.remove(`net.t-${container}`));
  assert.ok(a.ipam.unreserve(POOL, ip));
}

async function until(what: string, ok: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(ok(), what);
}

describe("LocalIpam for Docker", () => {
  test("CreateEndpoint tells netmaster nothing; a DeleteEndpoint without Join drops the endpoint without netmaster", async () => {
    const nm = new FakeNetmaster();
    const a = agentOn(tempDir(), nm);
    const ip = (await a.ipam.reserve(NET, POOL))!;
    assert.ok(a.ipam.adopt(NET, ip, built("d1")));
    a.docker.add("net.t-d1");
    assert.equal(a.ipam.endpointOf("net.t-d1")?.ipAddress, ip, "Join finds the endpoint");
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(nm.endpoints.size, 0, "netmaster heard nothing before Join");
    a.docker.delete("net.t-d1");
    assert.ok(a.ipam.remove("net.t-d1"));
    assert.equal(a.ipam.endpointOf("net.t-d1"), undefined);
    assert.notEqual(await a.ipam.reserve(NET, POOL), ip, "Docker holds it until ReleaseAddress");
    assert.ok(a.ipam.unreserve(POOL, ip));
    assert.equal(await a.ipam.reserve(NET, POOL), ip, "then it is free");
    assert.equal(nm.calls.filter((c) => c.endsWith("net.t-d1")).length, 0, "netmaster was never asked");
  });

  test("RequestAddress reserves, Join registers without waiting, DeleteEndpoint then ReleaseAddress free it", async () => {
    const nm = new FakeNetmaster();
    const a = agentOn(tempDir(), nm);
    const ip = await create(a, "d1");
    assert.equal(ip, "198.18.4.0");
    assert.equal(a.ipam.endpointOf("net.t-d1")?.ipAddress, ip, "Join finds the endpoint before netmaster has it");
    await until("netmaster has the endpoint", () => nm.endpoints.get("net.t-d1") === ip);
    a.attachments.put(attachment("d1"));
    // DeleteEndpoint: the address stays Docker's until ReleaseAddress.
    a.attachments.delete("d1", "eth0");
    a.docker.delete("net.t-d1");
    assert.ok(a.ipam.remove("net.t-d1"));
    await until("netmaster forgot the endpoint", () => !nm.endpoints.has("net.t-d1"));
    assert.notEqual(await a.ipam.reserve(NET, POOL), ip, "not free before ReleaseAddress");
    assert.ok(a.ipam.unreserve(POOL, ip));
    assert.equal(a.ipam.unreserve(POOL, ip), false, "idempotent");
    assert.equal(await a.ipam.reserve(NET, POOL), ip, "free again");
  });

  test("a reserved address is never taken by a CNI ADD or another reservation, concurrent ones included", async () => {
    const nm = new FakeNetmaster();
    const a = agentOn(tempDir(), nm);
    const reserved = await a.ipam.reserve(NET, POOL);
    const cni = await a.ipam.assign(NET, built("c1"));
    const other = await a.ipam.reserve(NET, "pool-2");
    assert.equal(new Set([reserved, cni?.reply.endpoint.ipAddress, other]).size, 3);
    const mixed = await Promise.all(
      Array.from({ length: 30 }, async (_, i) => (i % 2 === 0 ? a.ipam.reserve(NET, POOL) : (await a.ipam.assign(NET, built(`m${i}`)))?.reply.endpoint.ipAddress)),
    );
    assert.equal(new Set([reserved, cni?.reply.endpoint.ipAddress, other, ...mixed]).size, 33, "33 addresses across blocks");
  });

  test("a wanted address: reserved when free in the host's blocks, refused when held, netmaster's when outside them", async () => {
    const nm = new FakeNetmaster();
    const a = agentOn(tempDir(), nm);
    const first = await create(a, "d1");
    assert.equal(await a.ipam.reserve(NET, POOL, "198.18.4.5"), "198.18.4.5");
    await assert.rejects(a.ipam.reserve(NET, POOL, first), (err: Error) => err instanceof ConflictError && /address 198\.18\.4\.0 is not available/.test(err.message));
    await assert.rejects(a.ipam.reserve(NET, POOL, "198.18.4.5"), ConflictError);
    assert.equal(await a.ipam.reserve(NET, POOL, "198.18.9.7"), undefined, "in none of the host's blocks");
    const cni = await a.ipam.assign(NET, built("c1"));
    assert.notEqual(cni?.reply.endpoint.ipAddress, "198.18.4.5");
  });

  test("a failed CreateEndpoint changes nothing, and its ReleaseAddress frees the address", async () => {
    const nm = new FakeNetmaster();
    const a = agentOn(tempDir(), nm);
    const ip = (await a.ipam.reserve(NET, POOL))!;
    assert.equal(a.ipam.adopt(NET, ip, () => undefined), undefined, "no endpoint made");
    assert.equal(a.ipam.adopt("t:other", ip, built("d1")), undefined, "another network's address");
    assert.equal(a.ipam.adopt(NET, "198.18.4.7", built("d1")), undefined, "an address Docker's IPAM was not given here");
    assert.equal(a.ipam.endpointOf("net.t-d1"), undefined);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(nm.endpoints.size, 0, "netmaster heard nothing");
    assert.ok(a.ipam.unreserve(POOL, ip));
    assert.equal(await a.ipam.reserve(NET, POOL), ip, "no address leaked");
  });

  test("a failed Join, then DeleteEndpoint and ReleaseAddress with netmaster down: the address is free only once netmaster forgot the endpoint", async () => {
    const nm = new FakeNetmaster();
    const a = agentOn(tempDir(), nm);
    const ip = await create(a, "d1");
    await until("registered", () => nm.endpoints.has("net.t-d1"));
    nm.up = false;
    remove(a, "d1", ip); // Join failed: no attachment was ever kept
    assert.notEqual(await a.ipam.reserve(NET, POOL), ip, "still netmaster's endpoint's");
    nm.up = true;
    a.ipam.flush();
    await until("netmaster forgot the endpoint", () => !nm.endpoints.has("net.t-d1"));
    await until("the deletion is confirmed", () => a.ipam.endpointOf("net.t-d1") === undefined);
    assert.equal(await a.ipam.reserve(NET, POOL), ip);
  });

  test("with netmaster down, Docker's endpoints come and go in the host's blocks and reach netmaster once it is back", async () => {
    const nm = new FakeNetmaster();
    const a = agentOn(tempDir(), nm);
    await create(a, "seed");
    nm.up = false;
    const ip1 = await create(a, "d1");
    const ip2 = await create(a, "d2");
    remove(a, "d2", ip2);
    nm.up = true;
    a.ipam.flush();
    await until("netmaster has seed and d1 only", () => nm.endpoints.size === 2 && nm.endpoints.get("net.t-d1") === ip1);
    assert.equal(nm.endpoints.has("net.t-d2"), false);
  });

  test("with no block and netmaster down RequestAddress fails at once; with none granted it goes through netmaster", async () => {
    const nm = new FakeNetmaster();
    const a = agentOn(tempDir(), nm);
    nm.up = false;
    await assert.rejects(a.ipam.reserve(NET, POOL), UpstreamError);
    nm.up = true;
    nm.maxBlocks = 0;
    await assert.rejects(a.ipam.reserve(NET, POOL), NoBlock);
  });

  test("after a crash: reservations stay; endpoints Docker's record holds are registered, ones it never recorded are not", async () => {
    const nm = new FakeNetmaster();
    const dir = tempDir();
    const docker = new Set<string>();
    const a = agentOn(dir, nm, docker);
    const kept = await create(a, "kept");
    await until("registered", () => nm.endpoints.has("net.t-kept"));
    const spare = (await a.ipam.reserve(NET, POOL))!;
    // Created, not joined yet: Docker's record holds it.
    const waiting = (await a.ipam.reserve(NET, POOL))!;
    a.ipam.adopt(NET, waiting, built("waiting"));
    docker.add("net.t-waiting");
    // Cut between adopt and the driver's record of the endpoint; and one cut after Join told netmaster, before the record.
    const cut = (await a.ipam.reserve(NET, POOL))!;
    a.ipam.adopt(NET, cut, built("cut"));
    const told = (await a.ipam.reserve(NET, POOL))!;
    a.ipam.adopt(NET, told, built("told"));
    a.ipam.register(told);
    await until("told registered", () => nm.endpoints.has("net.t-told"));
    a.ipam.stop();
    const b = agentOn(dir, nm, docker);
    assert.ok(b.pending.has("net.t-waiting"), "the created endpoint is known to the reconciler");
    await until("the created endpoint is registered, the unrecorded one deleted", () => nm.endpoints.get("net.t-waiting") === waiting && !nm.endpoints.has("net.t-told"));
    assert.equal(nm.endpoints.get("net.t-kept"), kept, "the joined one stays");
    assert.equal(nm.calls.filter((c) => c === "create net.t-kept").length, 1, "not registered again");
    assert.equal(nm.calls.filter((c) => c === "create net.t-cut").length, 0, "never told");
    // Docker still holds every address until its ReleaseAddress.
    const next = await b.ipam.reserve(NET, POOL);
    assert.ok(![kept, spare, waiting, cut, told].includes(next!), `${next} is new`);
    assert.ok(b.ipam.unreserve(POOL, cut));
    assert.equal(await b.ipam.reserve(NET, POOL, cut), cut, "the cut one's address is free once released");
  });

  test("ReleasePool drops its reservations; a block holding one is not given back when idle", async () => {
    const nm = new FakeNetmaster();
    const a = agentOn(tempDir(), nm, new Set(), 20);
    const ip = (await a.ipam.reserve(NET, POOL))!;
    await new Promise((r) => setTimeout(r, 120));
    assert.equal(nm.view.size, 1, "the block stays while Docker holds an address of it");
    a.ipam.releasePool(POOL);
    assert.equal(a.ipam.unreserve(POOL, ip), false, "gone with its pool");
    await until("the empty block went back", () => nm.view.size === 0);
  });
});
