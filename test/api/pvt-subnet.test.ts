// The global pvtSubnet is where tenant uplinks take their addresses from (Contiv's private subnet): it can be
// changed while no network exists, and no network may overlap it.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Api } from "../harness/api.js";
import { startNetmaster, tempDir, sqliteUrl, waitForLeader, type NetmasterProcess } from "../harness/netmaster.js";

describe("global pvtSubnet", () => {
  let nm: NetmasterProcess;
  let api: Api;
  const dir = tempDir();
  before(async () => {
    nm = await startNetmaster({ store: sqliteUrl(dir.path) });
    await waitForLeader(nm);
    api = nm.api();
  });
  after(async () => {
    await nm?.stop();
    dir.remove();
  });

  test("defaults to the link-local block, can move while no network exists, and no network may overlap it", async () => {
    const global = (await api.get<Record<string, unknown>>("/api/v1/globals/global/")).body;
    assert.equal(global.pvtSubnet, "169.254.0.0/16");
    assert.equal((await api.post("/api/v1/globals/global/", { ...global, pvtSubnet: "10.250.0.0/16" })).status, 200);
    const overlap = await api.post("/api/v1/networks/default:n1/", { tenantName: "default", networkName: "n1", encap: "vxlan", subnet: "10.250.7.0/24" });
    assert.equal(overlap.status, 409);
    assert.equal(overlap.text, "subnet 10.250.7.0/24 overlaps the tenants' uplink block, the global pvtSubnet 10.250.0.0/16");
    await api.create("/api/v1/networks/default:n1/", { tenantName: "default", networkName: "n1", encap: "vxlan", subnet: "10.251.7.0/24" });
    const moved = await api.post("/api/v1/globals/global/", { ...global, pvtSubnet: "10.252.0.0/16" });
    assert.equal(moved.status, 409);
    assert.match(moved.text, /Unable to update private subnet/);
  });
});
