// State and allocations survive a netmaster restart on each store, and
// endpoint group ids are never handed out twice (Contiv reset its counter).

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Api } from "../harness/api.js";
import { startNetmaster, waitForLeader, type NetmasterProcess } from "../harness/netmaster.js";
import { STORE_KINDS, storeKinds, type StoreFixture } from "../harness/stores.js";

interface Inspect {
  Oper: Record<string, unknown>;
}

for (const kind of STORE_KINDS) {
  describe(`restart on ${kind}`, () => {
    let store: StoreFixture;
    let nm: NetmasterProcess | undefined;

    before(async () => {
      store = await storeKinds[kind]();
    });
    after(async () => {
      await nm?.stop();
      await store?.teardown();
    });

    async function start(): Promise<Api> {
      nm = await startNetmaster({ store: store.url });
      await waitForLeader(nm);
      return nm.api();
    }

    test("objects, addresses and group ids survive; ids are not reused", async () => {
      let api = await start();
      await api.create("/api/v1/networks/default:n1/", {
        tenantName: "default", networkName: "n1", encap: "vxlan", subnet: "198.18.0.0/24", gateway: "198.18.0.1",
      });
      await api.create("/api/v1/endpointGroups/default:a/", { tenantName: "default", groupName: "a", networkName: "n1" });
      await api.create("/api/v1/endpointGroups/default:b/", { tenantName: "default", groupName: "b", networkName: "n1" });
      for (const c of ["c1", "c2", "c3"]) {
        await api.create("/api/v1/agent/endpoints/", { tenantName: "default", groupName: "a", containerID: c, host: "h1" });
      }
      const idB = (await api.get<Inspect>("/api/v1/inspect/endpointGroups/default:b/")).body.Oper.endpointGroupId as number;
      assert.equal((await api.del("/api/v1/endpointGroups/default:b/")).status, 200);
      const before = await api.state();

      await nm!.stop();
      api = await start();
      assert.deepEqual(await api.state(), before, "state is identical after the restart");

      const net = await api.get<Inspect>("/api/v1/inspect/networks/default:n1/");
      assert.equal(net.body.Oper.allocatedIPAddresses, "198.18.0.1-198.18.0.4");
      const next = await api.create<{ endpoint: { ipAddress: string } }>("/api/v1/agent/endpoints/", {
        tenantName: "default", groupName: "a", containerID: "c4", host: "h1",
      });
      assert.equal(next.endpoint.ipAddress, "198.18.0.5");

      await api.create("/api/v1/endpointGroups/default:c/", { tenantName: "default", groupName: "c", networkName: "n1" });
      const idC = (await api.get<Inspect>("/api/v1/inspect/endpointGroups/default:c/")).body.Oper.endpointGroupId as number;
      assert.ok(idC > idB, `group id ${idC} must be above every id handed out before (${idB})`);

      // A host's address block survives: netmaster still hands none of its addresses out, and it releases empty.
      assert.equal((await api.call("PUT", "/api/v1/agent/hosts/h1/", { vtepIP: "198.18.1.1", mtu: 1500 })).status, 200);
      const { block } = await api.create<{ block: { cidr: string; addresses: string[] } }>("/api/v1/agent/blocks/", { tenantName: "default", networkName: "n1", host: "h1" });
      await api.create("/api/v1/agent/endpoints/", { tenantName: "default", networkName: "n1", containerID: "b1", host: "h1", ipAddress: block.addresses[0], fromBlock: true });
      const withBlock = await api.state();
      await nm!.stop();
      api = await start();
      assert.deepEqual(await api.state(), withBlock);
      const after = await api.create<{ endpoint: { ipAddress: string } }>("/api/v1/agent/endpoints/", { tenantName: "default", networkName: "n1", containerID: "c5", host: "h2" });
      assert.ok(!block.addresses.includes(after.endpoint.ipAddress), `${after.endpoint.ipAddress} is block ${block.cidr}'s`);
      assert.equal((await api.del(`/api/v1/agent/blocks/default:n1/${block.cidr.replace("/", "_")}`)).status, 409, "an endpoint holds an address of it");

      // A killed netmaster (no clean shutdown) loses nothing either.
      const beforeKill = await api.state();
      await nm!.kill();
      api = await start();
      assert.deepEqual(await api.state(), beforeKill);
    });
  });
}
