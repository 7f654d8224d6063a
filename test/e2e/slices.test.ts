// Each host holds its own slice of netmaster's state (contract/slices.ts): nothing of a tenant it has no
// container of, the tenant's records once a container of it arrives there (with the address block it assigns
// from), none again once the last one has left and its block has gone back (after --address-block-idle).
// Read from each agent's copy (GET /state on its socket) on a cluster of three hosts.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Cluster, unixRequest } from "../../src/cluster/index.js";
import { waitFor } from "../../src/lib/wait.js";
import { Api } from "../harness/api.js";
import { attach } from "../harness/cluster.js";
import type { TestNetns } from "../harness/netns.js";

describe("each host holds its own slice of the state", () => {
  let cluster: Cluster;
  let api: Api;
  const made: TestNetns[] = [];
  const keysOf = async (host: number): Promise<string[]> => {
    const r = await unixRequest(cluster.hosts[host - 1]!.socket, "GET", "/state");
    return (JSON.parse(r.text) as { keys: string[] }).keys;
  };
  /** The host's keys that belong to the tenant (its objects, network records, endpoints). */
  const tenantKeys = async (host: number, tenant: string) =>
    (await keysOf(host)).filter((k) => k.includes(`/${tenant}:`) || k.endsWith(`/${tenant}`) || new RegExp(`/state/eps/[^/]*\\.${tenant}-`).test(k));

  before(async () => {
    cluster = await Cluster.up({ hosts: 3, logLevel: "warn", agentArgs: ["--address-block-idle", "2"] });
    api = new Api(cluster.apiBase);
    for (const [t, subnet] of [["red", "198.18.170"], ["blue", "198.18.171"]] as const) {
      await api.create(`/api/v1/tenants/${t}/`, { tenantName: t });
      await api.create(`/api/v1/networks/${t}:net/`, { tenantName: t, networkName: "net", encap: "vxlan", subnet: `${subnet}.0/24`, gateway: `${subnet}.254` });
      await api.create(`/api/v1/policys/${t}:p/`, { tenantName: t, policyName: "p" });
      await api.create(`/api/v1/endpointGroups/${t}:g/`, { tenantName: t, groupName: "g", networkName: "net", policies: ["p"] });
    }
    await attach(cluster, made, 1, "r1", { tenant: "red", network: "net", group: "g" });
    await attach(cluster, made, 2, "b2", { tenant: "blue", network: "net", group: "g" });
  });
  after(async () => {
    for (const ns of made.splice(0)) await ns.destroy();
    await cluster?.down();
  });

  test("a host holds nothing of a tenant it has no container of", async () => {
    assert.deepEqual(await tenantKeys(3, "red"), []);
    assert.deepEqual(await tenantKeys(3, "blue"), []);
    assert.deepEqual(await tenantKeys(1, "blue"), []);
    assert.deepEqual(await tenantKeys(2, "red"), []);
    const red = await tenantKeys(1, "red");
    for (const kind of ["obj/tenant/red", "obj/network/red:net", "obj/endpointGroup/red:g", "obj/policy/red:p", "state/nets/red:net", "state/epgs/red:g"]) {
      assert.ok(red.includes(`/netplugin/${kind}`), `h1 holds ${kind}: ${JSON.stringify(red)}`);
    }
    // What every host needs, and netmaster's own bookkeeping, which no host gets.
    const h3 = await keysOf(3);
    assert.ok(h3.includes("/netplugin/obj/global/global"));
    assert.ok(cluster.hosts.every((h) => h3.includes(`/netplugin/state/hosts/${h.name}`)));
    assert.deepEqual(h3.filter((k) => k.includes("/state/global/") || k.includes("/state/macs/")), []);
  });

  test("allocators never leave netmaster: a network's and a group's records reach a host without them", async () => {
    const r = await unixRequest(cluster.hosts[0]!.socket, "GET", "/state?prefix=/netplugin/state/");
    const records = (JSON.parse(r.text) as { records: Record<string, Record<string, unknown>> }).records;
    assert.deepEqual(Object.keys(records["/netplugin/state/nets/red:net"]!).sort(), ["extPktTag", "pktTag"]);
    assert.deepEqual(Object.keys(records["/netplugin/state/epgs/red:g"]!), ["groupId"]);
    const state = await api.state();
    assert.ok((state["/netplugin/state/nets/red:net"] as { ipv4?: unknown }).ipv4 !== undefined, "netmaster keeps the allocator");
  });

  test("a container's arrival brings its tenant's slice to the host, and its leaving (with its empty block) takes it away", async () => {
    const c = await cluster.addContainer(3, "b3", { tenant: "blue", network: "net", group: "g" });
    assert.equal(c.result.code, 0, JSON.stringify(c.result.out));
    const blue = await tenantKeys(3, "blue");
    for (const kind of ["obj/network/blue:net", "obj/policy/blue:p", "state/nets/blue:net"]) assert.ok(blue.includes(`/netplugin/${kind}`), kind);
    assert.equal(blue.filter((k) => k.includes("/state/blocks/blue:net/")).length, 1, "the host's own address block of the network");
    assert.equal(blue.filter((k) => k.includes("/state/eps/")).length, 2, "both of the tenant's endpoints, the other host's too");
    assert.deepEqual(await tenantKeys(3, "red"), [], "and still nothing of red");

    const r = await cluster.removeContainer(3, "b3", { tenant: "blue", network: "net", group: "g" });
    assert.equal(r.code, 0, JSON.stringify(r.out));
    let left: string[] = [];
    // The block stays while it has been empty for less than 2 s (a next container would take its address at once).
    await waitFor(async () => (left = await tenantKeys(3, "blue")).length === 0, { timeoutMs: 40_000, what: () => `h3 still holds ${JSON.stringify(left)}` });
  });
});
