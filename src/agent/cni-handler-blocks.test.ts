// CNI ADD and DEL with addresses of the host's own blocks: the real CniHandler and LocalIpam, a netmaster in
// memory (ipam/testing/fake-netmaster.ts) and a plumber that records the attachment or fails on demand. What
// each path leaves behind, at netmaster and on the host, when it succeeds and when it fails.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, beforeEach, describe, it } from "node:test";
import pino from "pino";
import { networkStateKey, objectKey } from "../contract/keys.js";
import type { EndpointState } from "../contract/records.js";
import type { CniRequest, CniResponse } from "../cni/wire.js";
import { AttachmentStore, type Attachment } from "./attachments.js";
import { CniHandler } from "./cni-handler.js";
import type { EndpointPlumber } from "./endpoints.js";
import { LocalIpam } from "./ipam/local-ipam.js";
import { FakeNetmaster, viewOf } from "./ipam/testing/fake-netmaster.js";
import type { MasterClient } from "./master-client.js";
import type { Reconciler } from "./pipeline/reconciler.js";

const NETNS = `/proc/${process.pid}/ns/net`;
const config = { cniVersion: "1.0.0", name: "blue", type: "netplugin", tenant: "t", network: "net" };
const dirs: string[] = [];
const ipams: LocalIpam[] = [];
after(() => {
  ipams.forEach((i) => i.stop());
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});

function request(over: Partial<CniRequest> = {}): CniRequest {
  return { command: "ADD", containerId: "c1", netns: NETNS, ifname: "eth0", args: "", path: "/opt/cni/bin", config, ...over };
}

function ipOf(answer: CniResponse): string {
  assert.ok("result" in answer && answer.result, JSON.stringify(answer));
  return ((answer.result as { ips: { address: string }[] }).ips[0]?.address ?? "").split("/")[0]!;
}

function agentWith(nm: FakeNetmaster) {
  const dir = mkdtempSync(join(tmpdir(), "np-cni-blocks-"));
  dirs.push(dir);
  nm.view.set(objectKey("tenant", "t"), { tenantName: "t" });
  nm.view.set(objectKey("network", "t:net"), { key: "t:net", tenantName: "t", networkName: "net", encap: "vxlan", subnet: "198.18.4.0/24", gateway: "198.18.4.254", ipam: "netmaster" });
  nm.view.set(networkStateKey("t:net"), { pktTag: 1, extPktTag: 1 });
  const attachments = new AttachmentStore(dir);
  const pending = new Map<string, EndpointState>();
  const master = nm.client as unknown as MasterClient;
  const view = viewOf(nm);
  const ipam = new LocalIpam({ host: "h1", stateDir: dir, view, master, pending, attachments, idleReleaseMs: 600_000, log: pino({ level: "silent" }) });
  ipams.push(ipam);
  ipam.start();
  const plumbing = { fails: false };
  const plumber = {
    attach: async (ep: EndpointState, a: Attachment) => {
      if (plumbing.fails) throw new Error("veth: File exists");
      pending.set(ep.endpointID, ep);
      attachments.put(a);
    },
    detach: async (a: Attachment) => void attachments.delete(a.containerId, a.ifname),
  };
  const handler = new CniHandler({
    host: "h1", master, attachments, reconciler: {} as Reconciler, plumber: plumber as unknown as EndpointPlumber, ready: () => true, vxlanPort: 4789,
    claim: async () => () => undefined, localIpam: ipam, view, log: pino({ level: "silent" }),
  });
  return { handler, attachments, plumbing, pending };
}

describe("CniHandler with host address blocks", () => {
  let nm: FakeNetmaster;
  beforeEach(() => (nm = new FakeNetmaster()));

  it("an ADD takes an address of the host's block and answers once netmaster has the endpoint", async () => {
    const a = agentWith(nm);
    assert.equal(ipOf(await a.handler.handle(request())), "198.18.4.0");
    assert.equal(ipOf(await a.handler.handle(request({ containerId: "c2" }))), "198.18.4.1");
    assert.deepEqual(Object.fromEntries(nm.endpoints), { "net.t-c1": "198.18.4.0", "net.t-c2": "198.18.4.1" });
    assert.deepEqual(nm.calls.filter((c) => c.startsWith("POST")), ["POST /api/v1/agent/blocks"], "one block for both");
  });

  it("an ADD whose plumbing fails leaves nothing: no attachment, no endpoint at netmaster, its address free", async () => {
    const a = agentWith(nm);
    await a.handler.handle(request({ containerId: "first" }));
    a.plumbing.fails = true;
    const answer = await a.handler.handle(request());
    assert.ok("error" in answer);
    assert.match(answer.error.msg, /Cannot plumb endpoint net\.t-c1: veth: File exists; rolled back/);
    assert.equal(a.attachments.get("c1", "eth0"), undefined);
    assert.equal(nm.endpoints.has("net.t-c1"), false, "netmaster ends without it");
    a.plumbing.fails = false;
    assert.equal(ipOf(await a.handler.handle(request({ containerId: "c3" }))), "198.18.4.1", "its address is taken by the next ADD");
  });

  it("a DEL frees the endpoint at netmaster; while netmaster is down it answers and netmaster hears later", async () => {
    const a = agentWith(nm);
    await a.handler.handle(request());
    await a.handler.handle(request({ containerId: "c2" }));
    assert.deepEqual(await a.handler.handle(request({ command: "DEL" })), { result: null });
    for (let i = 0; i < 100 && nm.endpoints.has("net.t-c1"); i++) await new Promise((r) => setTimeout(r, 5));
    assert.equal(nm.endpoints.has("net.t-c1"), false, "the DEL answers at once, and netmaster is told right after");
    nm.up = false;
    assert.deepEqual(await a.handler.handle(request({ command: "DEL", containerId: "c2" })), { result: null });
    assert.equal(nm.endpoints.has("net.t-c2"), true, "not yet");
    nm.up = true;
    for (let i = 0; i < 100 && nm.endpoints.size > 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(nm.endpoints.size, 0, "told once it answers again");
  });

  it("an endpoint netmaster kept for the container from an earlier ADD cut short is replaced by the block's", async () => {
    const a = agentWith(nm);
    nm.endpoints.set("net.t-c1", "198.18.9.200");
    assert.equal(ipOf(await a.handler.handle(request())), "198.18.4.0");
    assert.equal(nm.endpoints.get("net.t-c1"), "198.18.4.0");
  });

  it("an address or MAC asked for by value goes through netmaster, not a block", async () => {
    const a = agentWith(nm);
    assert.equal(ipOf(await a.handler.handle(request({ args: "IP=198.18.4.77" }))), "198.18.4.77");
    assert.equal(ipOf(await a.handler.handle(request({ containerId: "c2", args: "MAC=02:00:00:00:00:01" }))), "198.18.9.1");
    assert.deepEqual(nm.calls.filter((c) => c.startsWith("POST")), [], "no block asked for");
  });

  it("an address of the host's own block asked for by value is not given to an ADD from the block meanwhile", async () => {
    const a = agentWith(nm);
    await a.handler.handle(request({ containerId: "first" }));
    let answer!: () => void;
    nm.gate = new Promise((resolve) => (answer = resolve));
    const asked = a.handler.handle(request({ containerId: "static", args: "IP=198.18.4.1" }));
    await new Promise((r) => setTimeout(r, 10));
    const other = ipOf(await a.handler.handle(request({ containerId: "other" })));
    answer();
    assert.equal(ipOf(await asked), "198.18.4.1");
    assert.notEqual(other, "198.18.4.1", "the lowest free address of the block was on its way to the request");
  });

  it("with no block and netmaster down, an ADD fails at once saying why", async () => {
    const a = agentWith(nm);
    nm.up = false;
    const answer = await a.handler.handle(request());
    assert.ok("error" in answer);
    assert.equal(answer.error.code, 11);
    assert.match(answer.error.msg, /this host has no free address of network t:net in its blocks, and netmaster cannot give a block now: Cannot reach netmaster/);
    assert.equal(a.attachments.all().length, 0);
  });

  it("no block to be had (the subnet is taken): the ADD goes through netmaster's own allocator", async () => {
    const a = agentWith(nm);
    nm.maxBlocks = 0;
    assert.equal(ipOf(await a.handler.handle(request())), "198.18.9.1");
  });
});
