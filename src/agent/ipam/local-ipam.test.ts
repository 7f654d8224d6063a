import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import fc from "fast-check";
import pino from "pino";
import { blockKey } from "../../contract/keys.js";
import type { AddressBlock, EndpointState } from "../../contract/records.js";
import { UpstreamError } from "../../lib/errors.js";
import { AttachmentStore, type Attachment } from "../attachments.js";
import type { MasterClient } from "../master-client.js";
import { LocalIpam, NoBlock } from "./local-ipam.js";
import { built } from "./testing/built-endpoint.js";
import { FakeNetmaster, viewOf } from "./testing/fake-netmaster.js";

const NET = "t:net";
const log = pino({ level: process.env.TEST_LOG ?? "silent" });
const dirs: string[] = [];
const made: LocalIpam[] = [];
after(() => {
  made.forEach((ipam) => ipam.stop());
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});


function attachment(container: string): Attachment {
  return { endpointId: `net.t-${container}`, containerId: container, ifname: "eth0", netns: "/proc/1/ns/net", containerSide: "ours", tenant: "t", network: "net", group: "", cniNetwork: "n", portMappings: [] };
}

/** One agent's local IPAM on a state directory, as agent.ts makes it. */
function agentOn(dir: string, nm: FakeNetmaster, over: { idleReleaseMs?: number } = {}) {
  const attachments = new AttachmentStore(dir);
  const pending = new Map<string, EndpointState>();
  const ipam = new LocalIpam({
    host: "h1", stateDir: dir, view: viewOf(nm), master: nm.client as unknown as MasterClient, pending, attachments,
    idleReleaseMs: over.idleReleaseMs ?? 600_000, log,
  });
  ipam.start();
  made.push(ipam);
  return { ipam, attachments, pending };
}

/** What a CNI ADD does with the local IPAM (cni-handler.ts): assign, register (which writes the entry), then plumb. */
async function add(a: ReturnType<typeof agentOn>, container: string, plumbs = true): Promise<string> {
  const made = await a.ipam.assign(NET, built(container));
  const ip = made!.reply.endpoint.ipAddress;
  if (!plumbs) {
    a.ipam.release(ip);
    return ip;
  }
  a.pending.set(made!.reply.endpoint.endpointID, made!.reply.endpoint);
  a.ipam.register(ip);
  a.attachments.put(attachment(container));
  return ip;
}

async function del(a: ReturnType<typeof agentOn>, container: string): Promise<void> {
  a.attachments.delete(container, "eth0");
  a.ipam.remove(`net.t-${container}`);
}

async function settle(nm: FakeNetmaster, a: ReturnType<typeof agentOn>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const left = a.ipam.failures().length === 0 && [...nm.endpoints.keys()].every((id) => a.attachments.byEndpoint(id)) && a.attachments.all().every((x) => nm.endpoints.has(x.endpointId));
    if (left) return;
    await new Promise((r) => setTimeout(r, 5));
  }
}

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "np-local-ipam-"));
  dirs.push(d);
  return d;
}

describe("LocalIpam", () => {
  test("ADDs take addresses of one block in order, asking netmaster for a block once, and register after plumbing", async () => {
    const nm = new FakeNetmaster();
    const a = agentOn(tempDir(), nm);
    const ips = [await add(a, "c1"), await add(a, "c2"), await add(a, "c3")];
    assert.deepEqual(ips, ["198.18.4.0", "198.18.4.1", "198.18.4.2"]);
    assert.equal(nm.calls.filter((c) => c.startsWith("POST")).length, 1);
    await settle(nm, a);
    assert.deepEqual([...nm.endpoints.values()].sort(), ips);
    a.ipam.stop();
  });

  test("concurrent ADDs never share an address, across blocks", async () => {
    const nm = new FakeNetmaster();
    const a = agentOn(tempDir(), nm);
    const ips = await Promise.all(Array.from({ length: 30 }, (_, i) => add(a, `c${i}`)));
    assert.equal(new Set(ips).size, 30);
    await settle(nm, a);
    assert.equal(nm.endpoints.size, 30);
    a.ipam.stop();
  });

  test("while netmaster is down, ADDs go on in the host's blocks and DELs answer; both reach it once it is back", async () => {
    const nm = new FakeNetmaster();
    const a = agentOn(tempDir(), nm);
    await add(a, "c1");
    await settle(nm, a);
    nm.up = false;
    const ip2 = await add(a, "c2");
    await del(a, "c1");
    assert.ok(a.pending.has("net.t-c2"), "the new endpoint is plumbed from the agent's own record");
    assert.deepEqual([...nm.endpoints.keys()], ["net.t-c1"], "netmaster has heard nothing yet");
    // The freed address is not given again before netmaster has heard of its deletion.
    const ip3 = await add(a, "c3");
    assert.notEqual(ip3, "198.18.4.0");
    nm.up = true;
    a.ipam.flush(); // as the agent does when the state stream is back
    await settle(nm, a);
    assert.deepEqual(Object.fromEntries(nm.endpoints), { "net.t-c2": ip2, "net.t-c3": ip3 });
    a.ipam.stop();
  });

  test("with no block and netmaster down, an ADD fails instead of waiting; with no block granted it goes through netmaster", async () => {
    const nm = new FakeNetmaster();
    const a = agentOn(tempDir(), nm);
    nm.up = false;
    await assert.rejects(a.ipam.assign(NET, built("c1")), UpstreamError);
    nm.up = true;
    nm.maxBlocks = 0;
    await assert.rejects(a.ipam.assign(NET, built("c1")), NoBlock);
    a.ipam.stop();
  });

  test("a DEL before netmaster heard of the endpoint tells it nothing; a failed ADD frees its address at once", async () => {
    const nm = new FakeNetmaster();
    nm.up = false;
    const a = agentOn(tempDir(), nm);
    nm.up = true;
    await add(a, "seed");
    await settle(nm, a);
    nm.up = false;
    const ip = await add(a, "c1");
    await new Promise((r) => setTimeout(r, 10)); // its registration failed, and waits
    await del(a, "c1");
    assert.equal(await add(a, "c2", false), ip, "its address is free again");
    nm.up = true;
    a.ipam.flush();
    await settle(nm, a);
    assert.ok(!nm.calls.some((c) => c.endsWith("net.t-c1")), "netmaster never heard of c1");
    a.ipam.stop();
  });

  test("after a crash: an ADD cut before it registered frees its address, one cut after its plumbing is registered", async () => {
    const nm = new FakeNetmaster();
    const dir = tempDir();
    const a = agentOn(dir, nm);
    await add(a, "seed");
    nm.up = false;
    const cutEarly = (await a.ipam.assign(NET, built("early")))!.reply.endpoint.ipAddress;
    const cutLate = (await a.ipam.assign(NET, built("late")))!.reply.endpoint.ipAddress;
    // As an ADD does: registered (netmaster is down: it waits in the outbox), then plumbed.
    a.ipam.register(cutLate);
    a.attachments.put(attachment("late"));
    a.ipam.stop();
    nm.up = true;
    const b = agentOn(dir, nm);
    assert.ok(b.pending.has("net.t-late"), "unregistered endpoints are plumbed from the agent's record");
    await settle(nm, b);
    assert.equal(nm.endpoints.get("net.t-late"), cutLate);
    assert.equal(nm.endpoints.has("net.t-early"), false);
    assert.equal(await add(b, "next"), cutEarly, "the address of the ADD cut before plumbing is free");
    b.ipam.stop();
  });

  test("a registration's outcome not yet written when the agent stops is sent again, and netmaster keeps one endpoint", async () => {
    const nm = new FakeNetmaster();
    const dir = tempDir();
    const a = agentOn(dir, nm);
    const ip = await add(a, "c1");
    await settle(nm, a);
    // Stopped within the 200 ms its write waits for (saveSoon): the file still says queued.
    a.ipam.stop();
    const b = agentOn(dir, nm);
    await settle(nm, b);
    for (let i = 0; i < 200 && nm.calls.filter((c) => c === "create net.t-c1").length < 2; i++) await new Promise((r) => setTimeout(r, 5));
    assert.equal(nm.calls.filter((c) => c === "create net.t-c1").length, 2, "sent again");
    assert.deepEqual([...nm.endpoints], [["net.t-c1", ip]]);
    assert.notEqual(await add(b, "c2"), ip, "its address is still taken");
    b.ipam.stop();
  });

  test("after a crash between telling netmaster and the plumbing, the endpoint is deleted there, not registered", async () => {
    const nm = new FakeNetmaster();
    const dir = tempDir();
    const a = agentOn(dir, nm);
    await add(a, "seed");
    nm.up = false;
    const made = (await a.ipam.assign(NET, built("told")))!;
    a.ipam.register(made.reply.endpoint.ipAddress);
    await new Promise((r) => setTimeout(r, 5));
    a.ipam.stop();
    nm.up = true;
    nm.endpoints.set("net.t-told", made.reply.endpoint.ipAddress); // its registration may have landed before the crash
    const b = agentOn(dir, nm);
    assert.equal(b.pending.has("net.t-told"), false, "nothing plumbs an endpoint no attachment holds");
    for (let i = 0; i < 100 && nm.endpoints.has("net.t-told"); i++) await new Promise((r) => setTimeout(r, 5));
    assert.equal(nm.endpoints.has("net.t-told"), false);
    assert.equal(nm.calls.filter((c) => c === "create net.t-told").length, 0, "not registered again");
    b.ipam.stop();
  });

  test("the next block is asked for when few addresses are left, before an ADD has to wait for it", async () => {
    const nm = new FakeNetmaster();
    const a = agentOn(tempDir(), nm);
    for (let i = 0; i < 5; i++) await add(a, `c${i}`);
    assert.equal(nm.calls.filter((c) => c.startsWith("POST")).length, 1, "3 of 8 left: one block is enough");
    await add(a, "c5");
    for (let i = 0; i < 100 && nm.calls.filter((c) => c.startsWith("POST")).length < 2; i++) await new Promise((r) => setTimeout(r, 5));
    assert.equal(nm.calls.filter((c) => c.startsWith("POST")).length, 2, "2 of 8 left: the next block is on its way");
    nm.up = false;
    const ips = [await add(a, "c6"), await add(a, "c7"), await add(a, "c8")];
    assert.deepEqual(ips, ["198.18.4.6", "198.18.4.7", "198.18.4.8"], "the ninth ADD takes the prefetched block with netmaster down");
    a.ipam.stop();
  });

  test("netmaster refusing a registration shows as a failure of the endpoint", async () => {
    const nm = new FakeNetmaster();
    const a = agentOn(tempDir(), nm);
    await add(a, "seed");
    nm.up = false;
    const ip = await add(a, "c1");
    // Meanwhile netmaster gave the address to another endpoint (a store restored from a backup, say).
    nm.endpoints.set("net.t-other", ip);
    (nm.view.get(blockKey(NET, "198.18.4.0/29")) as AddressBlock).assigned[ip] = "net.t-other";
    nm.up = true;
    a.ipam.flush();
    await new Promise((r) => setTimeout(r, 30));
    assert.match(a.ipam.failures()[0]?.message ?? "", /netmaster refused the endpoint with block address 198\.18\.4\.1: 198\.18\.4\.1 is held by net\.t-other/);
    a.ipam.stop();
  });

  test("a block empty for the idle time goes back to netmaster", async () => {
    const nm = new FakeNetmaster();
    const a = agentOn(tempDir(), nm, { idleReleaseMs: 20 });
    await add(a, "c1");
    await settle(nm, a);
    await del(a, "c1");
    for (let i = 0; i < 100 && nm.view.size > 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(nm.view.size, 0, "the empty block was given back");
    a.ipam.stop();
  });

  test("any mix of ADDs, failed ADDs, DELs, netmaster outages and agent crashes never gives one address to two endpoints", async () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant("add" as const), c: fc.integer({ min: 0, max: 11 }), plumbs: fc.boolean() }),
      fc.record({ kind: fc.constant("del" as const), c: fc.integer({ min: 0, max: 11 }) }),
      fc.record({ kind: fc.constantFrom("down" as const, "up" as const, "crash" as const, "settle" as const) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 40 }), async (ops) => {
        const nm = new FakeNetmaster();
        const dir = tempDir();
        let a = agentOn(dir, nm);
        try {
          for (const o of ops) {
            if (o.kind === "add") {
              if (a.attachments.get(`c${o.c}`, "eth0")) continue;
              let ip: string;
              try {
                ip = await add(a, `c${o.c}`, o.plumbs);
              } catch (err) {
                if (err instanceof UpstreamError) continue; // no block yet and netmaster down
                throw err;
              }
              // The address is nobody else's, here or at netmaster.
              for (const [id, held] of nm.endpoints) assert.ok(held !== ip || id === `net.t-c${o.c}`, `${ip} given while netmaster has it for ${id}`);
              const holders = a.attachments.all().filter((x) => x.containerId !== `c${o.c}` && a.pending.get(x.endpointId)?.ipAddress === ip);
              assert.deepEqual(holders, []);
            } else if (o.kind === "del") {
              if (a.attachments.get(`c${o.c}`, "eth0")) await del(a, `c${o.c}`);
            } else if (o.kind === "down" || o.kind === "up") {
              nm.up = o.kind === "up";
              if (nm.up) a.ipam.flush();
            } else if (o.kind === "crash") {
              a.ipam.stop();
              a = agentOn(dir, nm);
            } else {
              nm.up = true;
              a.ipam.flush();
              await settle(nm, a);
            }
          }
          nm.up = true;
          a.ipam.flush();
          await settle(nm, a);
          assert.deepEqual(a.ipam.failures(), []);
          const held = [...nm.endpoints.values()];
          assert.equal(new Set(held).size, held.length, "netmaster holds each address once");
          assert.deepEqual([...nm.endpoints.keys()].sort(), a.attachments.all().map((x) => x.endpointId).sort(), "netmaster ends with exactly the attached endpoints");
        } finally {
          a.ipam.stop();
        }
      }),
      { numRuns: 60 },
    );
  });
});
