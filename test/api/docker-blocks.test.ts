// Docker's reservations and the hosts' address blocks at netmaster (master/docker/addresses.ts, networks.ts):
// a reservation never takes a block's address, an address of a block asked for by value is refused there
// (its host's agent gives it), and a Docker endpoint with its host's block address (one whose MAC Docker
// chose comes this way) is assigned in the block as netmaster's own. Run against a real netmaster on SQLite.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Api } from "../harness/api.js";
import { startNetmaster, waitForLeader, type NetmasterProcess } from "../harness/netmaster.js";
import { storeKinds, type StoreFixture } from "../harness/stores.js";

interface BlockReply {
  block: { cidr: string; addresses: string[]; assigned: Record<string, string> };
}
interface EndpointReply {
  endpoint: { endpointID: string; ipAddress: string; macAddress: string; ipamSource?: string };
}

describe("Docker reservations and address blocks at netmaster", () => {
  let store: StoreFixture;
  let nm: NetmasterProcess;
  let api: Api;
  let pool = "";
  let h1Block: string[] = [];
  let h2Block: string[] = [];

  before(async () => {
    store = await storeKinds.sqlite();
    nm = await startNetmaster({ store: store.url });
    await waitForLeader(nm);
    api = nm.api();
    await api.create("/api/v1/tenants/t/", { tenantName: "t" });
    await api.create("/api/v1/networks/t:net/", { tenantName: "t", networkName: "net", encap: "vxlan", subnet: "198.18.150.0/24", gateway: "198.18.150.254" });
    for (const [name, vtepIP] of [["h1", "198.18.0.1"], ["h2", "198.18.0.2"]]) assert.equal((await api.call("PUT", `/api/v1/agent/hosts/${name}/`, { vtepIP })).status, 200);
    h1Block = (await api.create<BlockReply>("/api/v1/agent/blocks", { tenantName: "t", networkName: "net", host: "h1" })).block.addresses;
    h2Block = (await api.create<BlockReply>("/api/v1/agent/blocks", { tenantName: "t", networkName: "net", host: "h2" })).block.addresses;
    pool = (await api.create<{ poolId: string }>("/api/v1/agent/docker/pools", { host: "h1", options: { tenant: "t", network: "net" } })).poolId;
  });
  after(async () => {
    await nm?.stop();
    await store?.teardown();
  });

  const request = (address: string) => api.post(`/api/v1/agent/docker/pools/${pool}/addresses`, { host: "h1", address });

  test("reservations never take an address of a block", async () => {
    const blocks = new Set([...h1Block, ...h2Block]);
    for (let i = 0; i < 20; i++) {
      const r = await request("");
      assert.equal(r.status, 200, r.text);
      const address = (JSON.parse(r.text) as { address: string }).address.split("/")[0]!;
      assert.ok(!blocks.has(address), `${address} is a block's`);
    }
  });

  test("an address of a block asked for by value is refused, naming the block's host; the store is unchanged", async () => {
    const before = await api.state();
    for (const [address, host] of [[h1Block[3]!, "h1"], [h2Block[3]!, "h2"]] as const) {
      const r = await request(address);
      assert.equal(r.status, 409, r.text);
      assert.match(r.text, new RegExp(`address ${address.replace(/\./g, "\\.")} is not available here: it is in host ${host}'s address block`));
    }
    assert.deepEqual(await api.state(), before);
  });

  test("a Docker endpoint with its host's block address and a chosen MAC is netmaster's, assigned in the block; another host's is refused", async () => {
    const address = h1Block[5]!;
    const r = await api.create<EndpointReply>("/api/v1/agent/docker/endpoints", {
      tenantName: "t", networkName: "net", containerID: "d1", host: "h1", ipAddress: address, macAddress: "02:42:c6:12:96:05",
    });
    assert.equal(r.endpoint.ipamSource, undefined, "not Docker's own IPAM's");
    assert.equal(r.endpoint.macAddress, "02:42:c6:12:96:05");
    const state = await api.state();
    const block = Object.entries(state).find(([k]) => k.includes("/blocks/") && (state[k] as { host: string }).host === "h1")?.[1] as { assigned: Record<string, string> };
    assert.equal(block.assigned[address], r.endpoint.endpointID);
    const other = await api.post("/api/v1/agent/docker/endpoints", { tenantName: "t", networkName: "net", containerID: "d2", host: "h1", ipAddress: h2Block[5]!, macAddress: "02:42:c6:12:96:06" });
    assert.equal(other.status, 409, other.text);
    assert.match(other.text, /in host h2's address block/);
  });
});
