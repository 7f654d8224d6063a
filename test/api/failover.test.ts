// Three netmaster replicas on a three-member etcd cluster: one leads, the
// others forward writes to it; a killed leader is replaced within seconds and
// allocation carries on without handing out an address twice.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startEtcd } from "../../src/store/testing/etcd.js";
import { waitFor } from "../../src/lib/wait.js";
import { startNetmaster, type NetmasterProcess } from "../harness/netmaster.js";

type Etcd = Awaited<ReturnType<typeof startEtcd>>;

async function info(nm: NetmasterProcess): Promise<Record<string, string> | undefined> {
  const res = await nm.fetch("/info").catch(() => undefined);
  return res?.ok ? ((await res.json()) as Record<string, string>) : undefined;
}

describe("leader failover on a three-member etcd cluster", () => {
  let etcd: Etcd;
  const masters: NetmasterProcess[] = [];

  before(async () => {
    etcd = await startEtcd({ members: 3 });
    // Replicas share one CA, as the README tells operators: each trusts the others' certificates.
    for (let i = 0; i < 3; i++) masters.push(await startNetmaster({ store: etcd.url, args: ["--leader-ttl", "2"], ...(i > 0 ? { shareCaWith: masters[0]! } : {}) }));
  });
  after(async () => {
    for (const m of masters) await m.stop();
    await etcd?.stop();
  });

  async function leaders(alive: NetmasterProcess[]): Promise<NetmasterProcess[]> {
    const states = await Promise.all(alive.map(info));
    return alive.filter((_, i) => states[i]?.["current-state"] === "leader");
  }

  test("a follower relays the leader's 405 with its Allow header, and its hosts as the leader heard them", async () => {
    await waitFor(async () => (await leaders(masters)).length === 1, { timeoutMs: 15_000, what: () => "no single leader" });
    const [leader] = await leaders(masters);
    const follower = masters.find((m) => m !== leader)!;
    const viaFollower = follower.api();
    await waitFor(async () => (await viaFollower.get("/api/v1/globals/global/")).status === 200, { timeoutMs: 10_000, what: () => "defaults not written" });

    const patch = await follower.fetch("/api/v1/tenants/x/", { method: "PATCH", headers: { "content-type": "application/json" }, body: "{}" });
    assert.equal(patch.status, 405, await patch.text());
    assert.equal(patch.headers.get("allow"), "GET, HEAD, POST, PUT, DELETE");

    assert.equal((await viaFollower.call("PUT", "/api/v1/agent/hosts/h9/", {})).status, 200);
    assert.equal((await viaFollower.call("PUT", "/api/v1/agent/hosts/h9/realized", { revision: 0, epoch: "", failures: [] })).status, 200);
    await waitFor(async () => (await viaFollower.get<unknown[]>("/api/v1/agent/hosts/")).body.length === 1, { timeoutMs: 10_000, what: () => "h9 not listed" });
    const [h9] = (await viaFollower.get<{ name: string; reportedSecondsAgo: number | null }[]>("/api/v1/agent/hosts/")).body;
    assert.equal(h9!.name, "h9");
    assert.equal(typeof h9!.reportedSecondsAgo, "number", "the report lives in the leader's memory");
    assert.equal((await viaFollower.del("/api/v1/agent/hosts/h9/")).status, 409);
    assert.equal((await viaFollower.del("/api/v1/agent/hosts/h9/?force=true")).status, 200);
  });

  test("exactly one leader; followers forward writes; a killed leader is replaced", async (t) => {
    await waitFor(async () => (await leaders(masters)).length === 1, { timeoutMs: 15_000, what: () => "no single leader" });
    const [leader] = await leaders(masters);
    const followers = masters.filter((m) => m !== leader);
    const viaFollower = followers[0]!.api();
    await waitFor(async () => (await viaFollower.get("/api/v1/globals/global/")).status === 200, { timeoutMs: 10_000, what: () => "defaults not written" });

    await viaFollower.create("/api/v1/networks/default:n1/", {
      tenantName: "default", networkName: "n1", encap: "vxlan", subnet: "198.18.10.0/24",
    });
    const ips = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const r = await viaFollower.create<{ endpoint: { ipAddress: string } }>("/api/v1/agent/endpoints/", {
        tenantName: "default", networkName: "n1", containerID: `a${i}`, host: "h1",
      });
      ips.add(r.endpoint.ipAddress);
    }
    // A host's address block outlives the leader: the next one hands none of its addresses out either.
    assert.equal((await viaFollower.call("PUT", "/api/v1/agent/hosts/h2/", { vtepIP: "198.18.0.2", mtu: 1500 })).status, 200);
    const { block } = await viaFollower.create<{ block: { addresses: string[] } }>("/api/v1/agent/blocks/", { tenantName: "default", networkName: "n1", host: "h2" });
    for (const ip of block.addresses) ips.add(ip);

    const killedAt = Date.now();
    await leader!.kill();
    const survivors = followers;
    await waitFor(async () => (await leaders(survivors)).length === 1, { timeoutMs: 15_000, what: () => "no new leader" });
    t.diagnostic(`new leader after ${Date.now() - killedAt} ms`);

    const api = survivors[1]!.api();
    await waitFor(async () => (await api.post("/api/v1/tenants/after/", { tenantName: "after" })).status === 200, { timeoutMs: 10_000, what: () => "writes not accepted after failover" });
    for (let i = 0; i < 5; i++) {
      const r = await api.create<{ endpoint: { ipAddress: string } }>("/api/v1/agent/endpoints/", {
        tenantName: "default", networkName: "n1", containerID: `b${i}`, host: "h1",
      });
      assert.ok(!ips.has(r.endpoint.ipAddress), `${r.endpoint.ipAddress} handed out twice`);
      ips.add(r.endpoint.ipAddress);
    }
    assert.equal(ips.size, 10 + block.addresses.length);
    const fromBlock = await api.create<{ endpoint: { ipAddress: string } }>("/api/v1/agent/endpoints/", {
      tenantName: "default", networkName: "n1", containerID: "blk", host: "h2", ipAddress: block.addresses[0], fromBlock: true,
    });
    assert.equal(fromBlock.endpoint.ipAddress, block.addresses[0]);
  });
});
