// Removing a host gone for good (DELETE /api/v1/agent/hosts/<host>/): one call releases every endpoint homed
// there, what its dockerd held and its record; refused while its agent reports unless forced. Run against a
// real netmaster process on each store backend.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Api } from "../harness/api.js";
import { startNetmaster, waitForLeader, type NetmasterProcess } from "../harness/netmaster.js";
import { STORE_KINDS, storeKinds, type StoreFixture } from "../harness/stores.js";

interface EndpointReply {
  endpoint: { endpointID: string; ipAddress: string; ipv6Address: string; ipamSource?: string };
}

interface HostRow {
  name: string;
  registered: boolean;
  vtepIP: string;
  endpoints: number;
  reportedSecondsAgo: number | null;
}

/**
 * The state without what only ever moves on and holds nothing: Docker's pool counter, and the IPv6
 * allocators' cursor (they hand out the address after the last one given, as Contiv did).
 */
function comparable(state: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(state)) {
    if (key === "/netplugin/state/docker/pool-id") continue;
    const ipv6 = (value as { ipv6?: { lastHost?: string } }).ipv6;
    out[key] = key.startsWith("/netplugin/state/nets/") && ipv6 ? { ...(value as object), ipv6: { ...ipv6, lastHost: "cursor" } } : value;
  }
  return out;
}

for (const kind of STORE_KINDS) {
  describe(`host removal on ${kind}`, () => {
    let store: StoreFixture;
    let nm: NetmasterProcess;
    let api: Api;
    const hosts = async () => {
      const r = await api.get<HostRow[]>("/api/v1/agent/hosts/");
      assert.equal(r.status, 200, r.text);
      return r.body;
    };
    const endpoint = (body: Record<string, unknown>) => api.create<EndpointReply>("/api/v1/agent/endpoints/", { tenantName: "t", ...body });
    const register = async (name: string, vtepIP: string) => {
      const r = await api.call("PUT", `/api/v1/agent/hosts/${name}/`, { vtepIP });
      assert.equal(r.status, 200, r.text);
    };

    before(async () => {
      store = await storeKinds[kind]();
      nm = await startNetmaster({ store: store.url });
      await waitForLeader(nm);
      api = nm.api();
      await api.create("/api/v1/tenants/t/", { tenantName: "t" });
      await api.create("/api/v1/networks/t:net/", {
        tenantName: "t", networkName: "net", encap: "vxlan", subnet: "10.5.0.0/24", gateway: "10.5.0.254", ipv6Subnet: "fd00:5::/64",
      });
      await api.create("/api/v1/networks/t:infra/", { tenantName: "t", networkName: "infra", nwType: "infra", encap: "vxlan", subnet: "10.6.0.0/24" });
      await api.create("/api/v1/endpointGroups/t:pooled/", { tenantName: "t", groupName: "pooled", networkName: "net", ipPool: "10.5.0.100-10.5.0.110" });
      await register("alive", "198.18.0.1");
      await endpoint({ networkName: "net", containerID: "stays", host: "alive" });
    });
    after(async () => {
      await nm?.stop();
      await store?.teardown();
    });

    test("a dead host with containers is removed in one call; everything it held is free again", async () => {
      const before = await api.state();
      await register("dead", "198.18.0.2");
      const held = [
        await endpoint({ networkName: "net", containerID: "c1", host: "dead" }),
        await endpoint({ groupName: "pooled", containerID: "c2", host: "dead" }),
        await endpoint({ networkName: "net", containerID: "c3", host: "dead", ipAddress: "10.5.0.50" }),
        await endpoint({ networkName: "infra", containerID: "host-dead", containerName: "dead", host: "dead" }),
      ].map((r) => r.endpoint);
      // Its dockerd: a pool, an address still only reserved, and one a Docker endpoint adopted.
      const pool = await api.create<{ poolId: string }>("/api/v1/agent/docker/pools", { host: "dead", options: { tenant: "t", network: "net" } });
      const reserve = async () => {
        const r = await api.create<{ address: string }>(`/api/v1/agent/docker/pools/${pool.poolId}/addresses`, { host: "dead", address: "" });
        return r.address.split("/")[0]!;
      };
      const reserved = await reserve();
      const adopted = await reserve();
      const docker = await api.create<EndpointReply>("/api/v1/agent/docker/endpoints", { tenantName: "t", networkName: "net", containerID: "d1", host: "dead", ipAddress: adopted });
      held.push(docker.endpoint);
      assert.equal(docker.endpoint.ipamSource, undefined, "an address from our IPAM driver's pool is netmaster's");
      // An address Docker's own IPAM driver gave (no reservation of ours holds it): the endpoint says so.
      const fromDocker = await api.create<EndpointReply>("/api/v1/agent/docker/endpoints", { tenantName: "t", networkName: "net", containerID: "d2", host: "dead", ipAddress: "10.5.0.60" });
      assert.equal(fromDocker.endpoint.ipamSource, "docker");
      held.push(fromDocker.endpoint);
      const claimed = await api.post("/api/v1/agent/docker/endpoints", { tenantName: "t", networkName: "net", containerID: "d3", host: "dead", ipAddress: "10.5.0.61", ipamSource: "cni:static" });
      assert.equal(claimed.status, 400);
      assert.match(claimed.text, /addresses come from the Docker network's IPAM driver, not cni:static/);

      assert.deepEqual(
        (await hosts()).map((h) => [h.name, h.registered, h.vtepIP, h.endpoints, h.reportedSecondsAgo]),
        [["alive", true, "198.18.0.1", 1, null], ["dead", true, "198.18.0.2", 6, null]],
      );

      const removed = await api.del<{ endpoints: string[] }>("/api/v1/agent/hosts/dead/");
      assert.equal(removed.status, 200, removed.text);
      assert.deepEqual([...removed.body.endpoints].sort(), held.map((ep) => ep.endpointID).sort());

      const after = await api.state();
      assert.doesNotMatch(JSON.stringify(after), /dead/, "nothing of the host is left in the store");
      assert.deepEqual(comparable(after), comparable(before), "the store is as it was before the host came");
      assert.deepEqual((await hosts()).map((h) => h.name), ["alive"]);

      // Every address it held can be handed out again, and is.
      const again = async (body: Record<string, unknown>) => (await endpoint({ host: "alive", ...body })).endpoint;
      const c1 = held[0]!;
      const c1Again = await again({ networkName: "net", containerID: "a1", ipAddress: c1.ipAddress, ipv6Address: c1.ipv6Address });
      assert.deepEqual([c1Again.ipAddress, c1Again.ipv6Address], [c1.ipAddress, c1.ipv6Address]);
      assert.equal((await again({ groupName: "pooled", containerID: "a2", ipAddress: held[1]!.ipAddress })).ipAddress, held[1]!.ipAddress);
      assert.equal((await again({ networkName: "net", containerID: "a3", ipAddress: "10.5.0.50" })).ipAddress, "10.5.0.50");
      assert.equal((await again({ networkName: "infra", containerID: "a4", ipAddress: held[3]!.ipAddress })).ipAddress, held[3]!.ipAddress);
      for (const [i, address] of [reserved, adopted].entries()) {
        assert.equal((await again({ networkName: "net", containerID: `a-docker-${i}`, ipAddress: address })).ipAddress, address);
      }

      const gone = await api.del("/api/v1/agent/hosts/dead/");
      assert.equal(gone.status, 404);
      assert.equal(gone.text, "Host dead not found");
    });

    test("refused while its agent reports, and then nothing changes; ?force=true removes it anyway", async () => {
      await register("busy", "198.18.0.3");
      await endpoint({ networkName: "net", containerID: "b1", host: "busy" });
      const report = await api.call("PUT", "/api/v1/agent/hosts/busy/realized", { revision: 0, epoch: "", failures: [] });
      assert.equal(report.status, 200, report.text);
      const row = (await hosts()).find((h) => h.name === "busy");
      assert.ok(row && row.reportedSecondsAgo !== null && row.reportedSecondsAgo <= 5, JSON.stringify(row));

      const before = await api.state();
      const refused = await api.del("/api/v1/agent/hosts/busy/");
      assert.equal(refused.status, 409, refused.text);
      assert.match(refused.text, /^Cannot remove host busy: its agent reported \d+ s ago; .*--force/);
      const badForce = await api.del("/api/v1/agent/hosts/busy/?force=yes");
      assert.equal(badForce.status, 400, badForce.text);
      assert.equal(badForce.text, 'Invalid force "yes": expected true or false');
      assert.equal((await api.del("/api/v1/agent/hosts/busy/?force=false")).status, 409);
      assert.deepEqual(await api.state(), before);

      const forced = await api.del<{ endpoints: string[] }>("/api/v1/agent/hosts/busy/?force=true");
      assert.equal(forced.status, 200, forced.text);
      assert.deepEqual(forced.body.endpoints, ["net.t-b1"]);
      assert.doesNotMatch(JSON.stringify(await api.state()), /busy|b1/);
      assert.deepEqual((await hosts()).map((h) => h.name), ["alive"]);
    });

    test("endpoints left on a host without a record are listed and removed; unknown and bad names are refused", async () => {
      await endpoint({ networkName: "net", containerID: "o1", host: "orphan" });
      const row = (await hosts()).find((h) => h.name === "orphan");
      assert.deepEqual(row, { name: "orphan", registered: false, vtepIP: "", mtu: 0, agentVersion: "", endpoints: 1, reportedSecondsAgo: null });
      assert.equal((await api.del("/api/v1/agent/hosts/orphan/")).status, 200);
      assert.doesNotMatch(JSON.stringify(await api.state()), /orphan/);

      const before = await api.state();
      const unknown = await api.del("/api/v1/agent/hosts/nosuch/?force=true");
      assert.equal(unknown.status, 404);
      assert.equal(unknown.text, "Host nosuch not found");
      const bad = await api.del("/api/v1/agent/hosts/-bad/");
      assert.equal(bad.status, 400);
      assert.match(bad.text, /^Invalid host name: /);
      assert.deepEqual(await api.state(), before);
    });
  });
}
