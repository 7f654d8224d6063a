// Hosts' address blocks through the API of an in-process netmaster: granted, assigned by the host's agent and
// registered after (fromBlock), kept by the block when an endpoint goes, released empty, reclaimed with their
// host or network; and no address given twice, whatever the order of calls (a property over three hosts).

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { macFromIpv4, type BlockReply, type EndpointReply } from "../contract/api.js";
import { AUTH_SECRETS_KEY, BLOCK_PREFIX, blockPrefix, ENDPOINT_PREFIX, networkStateKey } from "../contract/keys.js";
import type { AddressBlock, EndpointState } from "../contract/records.js";
import { Ipv4Allocator } from "./alloc/index.js";
import type { NetworkState } from "./records.js";
import { InProcessNetmaster, TEST_ADMIN_PASSWORD, type Reply } from "./testing/in-process.js";

describe("address blocks", () => {
  let nm: InProcessNetmaster;
  let admin: string;
  const call = (method: string, path: string, body?: unknown, token = admin) => nm.call({ method, path, ...(body === undefined ? {} : { body }) }, token);
  const must = async (method: string, path: string, body?: unknown): Promise<Reply> => nm.must({ method, path, ...(body === undefined ? {} : { body }) }, admin);
  const state = () => nm.master.dump();
  const keys = async () => (await nm.store.list("/netplugin/")).items.map((i) => `${i.key}@${i.modRevision}`);
  const grant = (networkName: string, host: string, tenantName = "t") => call("POST", "/api/v1/agent/blocks/", { tenantName, networkName, host });
  const granted = async (networkName: string, host: string) => {
    const r = await grant(networkName, host);
    assert.equal(r.status, 200, r.text);
    return (r.body as BlockReply).block;
  };
  const endpoint = (networkName: string, containerID: string, host: string, extra: Record<string, unknown> = {}) =>
    call("POST", "/api/v1/agent/endpoints/", { tenantName: "t", networkName, containerID, host, ...extra });
  const created = async (networkName: string, containerID: string, host: string, extra: Record<string, unknown> = {}) => {
    const r = await endpoint(networkName, containerID, host, extra);
    assert.equal(r.status, 200, r.text);
    return (r.body as EndpointReply).endpoint;
  };
  const blocksOf = (networkKey: string) =>
    Object.entries(state()).filter(([k]) => k.startsWith(blockPrefix(networkKey))).map(([, v]) => v as AddressBlock);
  const allocator = (networkKey: string) => Ipv4Allocator.fromJSON((state()[networkStateKey(networkKey)] as NetworkState).ipv4);
  const network = (name: string, subnet: string, extra: Record<string, unknown> = {}) =>
    must("POST", `/api/v1/networks/t:${name}/`, { tenantName: "t", networkName: name, encap: "vxlan", subnet, ...extra });
  const hostToken = async (host: string) => {
    const { joinToken } = JSON.parse((await nm.store.get(AUTH_SECRETS_KEY))!.value) as { joinToken: string };
    return ((await nm.must({ method: "POST", path: "/api/v1/agent/join/", body: { host, joinToken } }, "")).body as { credential: string }).credential;
  };

  before(async () => {
    nm = await InProcessNetmaster.start();
    admin = await nm.login("admin", TEST_ADMIN_PASSWORD);
    await must("POST", "/api/v1/tenants/t/", { tenantName: "t" });
    for (const host of ["h1", "h2", "h3"]) await must("PUT", `/api/v1/agent/hosts/${host}/`, { vtepIP: `198.18.0.${host.slice(1)}`, mtu: 1500 });
  });
  after(() => nm?.stop());

  it("grants the lowest half-free range, without the gateway, reserved in the network", async () => {
    await network("a", "10.1.0.0/24", { gateway: "10.1.0.1" });
    const r = await grant("a", "h1");
    assert.equal(r.status, 200, r.text);
    const { block, revision } = r.body as BlockReply;
    assert.deepEqual(block, {
      tenantName: "t", networkName: "a", host: "h1", cidr: "10.1.0.0/28", assigned: {},
      addresses: Array.from({ length: 14 }, (_, i) => `10.1.0.${i + 2}`),
    });
    assert.ok(revision >= nm.master.cache.get(`${BLOCK_PREFIX}t:a/10.1.0.0_28`)!.modRevision);
    assert.equal((await granted("a", "h2")).cidr, "10.1.0.16/28");
    assert.ok(block.addresses.every((a) => !allocator("t:a").isAvailable(a)));
    // Netmaster's own allocation goes past both blocks.
    assert.equal((await created("a", "rt1", "h3")).ipAddress, "10.1.0.32");
  });

  it("refuses a block of an unknown network, a DHCP or IPv6 network, an unregistered host, a full subnet; writing nothing", async () => {
    await network("dual", "10.2.0.0/24", { ipv6Subnet: "fd00:2::/64" });
    await network("dhcp", "10.3.0.0/24", { encap: "vlan", ipam: "dhcp" });
    await network("tiny", "10.4.0.0/29");
    await created("tiny", "x1", "h3", { ipAddress: "10.4.0.1" });
    await created("tiny", "x2", "h3", { ipAddress: "10.4.0.2" });
    await created("tiny", "x3", "h3", { ipAddress: "10.4.0.5" });
    await created("tiny", "x4", "h3", { ipAddress: "10.4.0.6" });
    const was = await keys();
    const cases: [string, string, number, RegExp][] = [
      ["nope", "h1", 404, /network nope of tenant t not found/],
      ["dhcp", "h1", 400, /addresses come from DHCP/],
      ["dual", "h1", 400, /IPv6 subnet .*its endpoints get their addresses from netmaster/],
      ["a", "h9", 404, /host h9 is not registered/],
      ["tiny", "h1", 409, /no free block/],
    ];
    for (const [net, host, status, text] of cases) {
      const r = await grant(net, host);
      assert.equal(r.status, status, `${net} ${host}: ${r.text}`);
      assert.match(r.text, text);
    }
    assert.deepEqual(await keys(), was);
  });

  it("records an endpoint the host assigned from its block, once, and refuses its address to anyone else", async () => {
    await network("b", "10.5.0.0/24", { gateway: "10.5.0.254" });
    const block = await granted("b", "h1");
    const ep = await created("b", "c1", "h1", { ipAddress: "10.5.0.5", fromBlock: true });
    assert.equal(ep.macAddress, macFromIpv4("10.5.0.5"));
    assert.equal(ep.requestedIp, false);
    assert.deepEqual(blocksOf("t:b")[0]!.assigned, { "10.5.0.5": ep.endpointID });
    const again = await created("b", "c1", "h1", { ipAddress: "10.5.0.5", fromBlock: true });
    assert.deepEqual(again, ep, "idempotent");
    const was = await keys();
    const refusals: [string, string, Record<string, unknown>, number, RegExp][] = [
      ["c2", "h1", { ipAddress: "10.5.0.5", fromBlock: true }, 409, /endpoint b\.t-c1 holds it already/],
      ["c3", "h2", { ipAddress: "10.5.0.6", fromBlock: true }, 409, /address 10\.5\.0\.6 is in host h1's address block 10\.5\.0\.0\/28: ask for it on h1/],
      ["c4", "h2", { ipAddress: "10.5.0.6" }, 409, /is in host h1's address block/],
      ["c5", "h1", { ipAddress: "10.5.0.100", fromBlock: true }, 409, /in none of host h1's address blocks/],
      ["c6", "h1", { fromBlock: true }, 400, /has no ipAddress/],
      ["c7", "h2", { macAddress: macFromIpv4("10.5.0.7") }, 409, /belongs to an address of host h1's address block 10\.5\.0\.0\/28/],
      ["c8", "h1", { ipAddress: "10.5.0.8", fromBlock: true, macAddress: macFromIpv4("10.5.0.9") }, 409, /MAC address 02:02:0a:05:00:09 is reserved/],
    ];
    for (const [container, host, extra, status, text] of refusals) {
      const r = await endpoint("b", container, host, extra);
      assert.equal(r.status, status, `${container}: ${r.text}`);
      assert.match(r.text, text, container);
    }
    assert.deepEqual(await keys(), was, "refusals wrote nothing");
    // The host's own static request for a free address of its block is assigned there.
    const own = await created("b", "c9", "h1", { ipAddress: "10.5.0.6" });
    assert.equal(blocksOf("t:b")[0]!.assigned["10.5.0.6"], own.endpointID);
    assert.equal(own.requestedIp, true);
    assert.equal(block.cidr, "10.5.0.0/28");
  });

  it("keeps a deleted endpoint's address in the block, and releases an empty block only, to its host alone", async () => {
    await network("c", "10.6.0.0/24");
    const block = await granted("c", "h1");
    const path = `/api/v1/agent/blocks/t:c/${block.cidr.replace("/", "_")}`;
    const ep = await created("c", "k1", "h1", { ipAddress: "10.6.0.1", fromBlock: true });
    const busy = await call("DELETE", path);
    assert.equal(busy.status, 409);
    assert.match(busy.text, new RegExp(`endpoints ${ep.endpointID.replace(".", "\\.")} still hold addresses of it`));
    await must("DELETE", `/api/v1/agent/endpoints/${ep.endpointID}/`);
    assert.deepEqual(blocksOf("t:c")[0]!.assigned, {});
    assert.equal(allocator("t:c").isAvailable("10.6.0.1"), false, "the block keeps it");
    assert.equal((await created("c", "k2", "h2")).ipAddress, "10.6.0.16");
    assert.equal((await created("c", "k3", "h1", { ipAddress: "10.6.0.1", fromBlock: true })).ipAddress, "10.6.0.1");
    await must("DELETE", `/api/v1/agent/endpoints/c.t-k3/`);

    const h2 = await call("DELETE", path, undefined, await hostToken("h2"));
    assert.equal(h2.status, 403, h2.text);
    const h1 = await call("DELETE", `/api/v1/agent/blocks/t:c/${encodeURIComponent(block.cidr)}`, undefined, await hostToken("h1"));
    assert.equal(h1.status, 200, h1.text);
    assert.deepEqual(blocksOf("t:c"), []);
    assert.equal(allocator("t:c").isAvailable("10.6.0.1"), true);
    assert.equal((await call("DELETE", path)).status, 404);
    assert.equal((await call("DELETE", "/api/v1/agent/blocks/t:c/10.6.0.0_99")).status, 400);
  });

  it("reclaims a deregistered host's blocks and endpoints, and a deleted network's blocks", async () => {
    await network("d", "10.7.0.0/24");
    await network("e", "10.8.0.0/24");
    const d = await granted("d", "h3");
    await granted("e", "h3");
    await created("d", "g1", "h3", { ipAddress: d.addresses[0], fromBlock: true });
    const removal = await must("DELETE", "/api/v1/agent/hosts/h3/?force=true");
    assert.deepEqual((removal.body as { blocks: string[] }).blocks.filter((b) => /t:[de] /.test(b)).sort(), ["t:d 10.7.0.0/28", "t:e 10.8.0.0/28"]);
    assert.deepEqual([...blocksOf("t:d"), ...blocksOf("t:e")], []);
    assert.equal(allocator("t:d").availableCount, 254);
    await must("PUT", "/api/v1/agent/hosts/h3/", { vtepIP: "198.18.0.3", mtu: 1500 });

    await granted("e", "h1");
    await must("DELETE", "/api/v1/networks/t:e/");
    assert.deepEqual(blocksOf("t:e"), []);
  });

  it("inspect counts a block's unassigned addresses as available and lists the blocks", async () => {
    await network("f", "10.9.0.0/24", { gateway: "10.9.0.1" });
    await granted("f", "h2");
    await created("f", "i1", "h2", { ipAddress: "10.9.0.3", fromBlock: true });
    const oper = (await must("GET", "/api/v1/inspect/networks/t:f/")).body as { Oper: Record<string, unknown> };
    assert.equal(oper.Oper["allocatedIPAddresses"], "10.9.0.1, 10.9.0.3");
    assert.equal(oper.Oper["availableIPAddresses"], "10.9.0.2, 10.9.0.4-10.9.0.254");
    assert.deepEqual(oper.Oper["addressBlocks"], [{ host: "h2", cidr: "10.9.0.0/28", assigned: 1, size: 14 }]);
  });
});

describe("address blocks under any sequence of calls", () => {
  let nm: InProcessNetmaster;
  let admin: string;
  const HOSTS = ["p1", "p2", "p3"] as const;

  before(async () => {
    nm = await InProcessNetmaster.start();
    admin = await nm.login("admin", TEST_ADMIN_PASSWORD);
  });
  after(() => nm?.stop());

  type Op =
    | { kind: "grant" | "roundTrip" | "deregister"; host: number }
    | { kind: "fromBlock" | "static"; host: number; address: number }
    | { kind: "delete" | "release"; pick: number; host: number };
  const host = fc.integer({ min: 0, max: 2 });
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ kind: fc.constantFrom("grant" as const, "roundTrip" as const, "deregister" as const), host }),
    fc.record({ kind: fc.constantFrom("fromBlock" as const, "static" as const), host, address: fc.integer({ min: 0, max: 63 }) }),
    fc.record({ kind: fc.constantFrom("delete" as const, "release" as const), pick: fc.nat(), host }),
  );

  it("never gives two endpoints one address, nor a block's address to netmaster's allocation", async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 5, maxLength: 40 }), async (ops) => {
        const tenant = `r${run++}`;
        const net = `${tenant}:n`;
        const call = (method: string, path: string, body?: unknown) => nm.call({ method, path, ...(body === undefined ? {} : { body }) }, admin);
        await nm.must({ method: "POST", path: `/api/v1/tenants/${tenant}/`, body: { tenantName: tenant } }, admin);
        await nm.must({ method: "POST", path: `/api/v1/networks/${net}/`, body: { tenantName: tenant, networkName: "n", encap: "vxlan", subnet: "10.50.0.0/26", gateway: "10.50.0.62" } }, admin);
        for (const h of HOSTS) await nm.must({ method: "PUT", path: `/api/v1/agent/hosts/${h}/`, body: { vtepIP: "198.18.1.1", mtu: 1500 } }, admin);
        const dump = () => nm.master.dump();
        const endpoints = () => Object.entries(dump()).filter(([k]) => k.startsWith(ENDPOINT_PREFIX)).map(([, v]) => v as EndpointState).filter((e) => e.tenantName === tenant);
        const blocks = () => Object.entries(dump()).filter(([k]) => k.startsWith(blockPrefix(net))).map(([, v]) => v as AddressBlock);
        let container = 0;
        for (const o of ops) {
          const h = HOSTS[o.host]!;
          // An agent assigns from the blocks it holds: mostly a free address of its own, else any block's.
          const own = blocks().filter((b) => b.host === h).flatMap((b) => b.addresses.filter((a) => b.assigned[a] === undefined));
          const any = blocks().flatMap((b) => b.addresses);
          const choices = "address" in o && o.address % 4 !== 0 && own.length > 0 ? own : any;
          const address = !("address" in o) ? "" : o.kind === "fromBlock" && choices.length > 0 ? choices[o.address % choices.length]! : `10.50.0.${o.address}`;
          let r: Reply;
          switch (o.kind) {
            case "grant":
              r = await call("POST", "/api/v1/agent/blocks/", { tenantName: tenant, networkName: "n", host: h });
              break;
            case "roundTrip":
              r = await call("POST", "/api/v1/agent/endpoints/", { tenantName: tenant, networkName: "n", containerID: `c${container++}`, host: h });
              break;
            case "fromBlock":
            case "static":
              r = await call("POST", "/api/v1/agent/endpoints/", { tenantName: tenant, networkName: "n", containerID: `c${container++}`, host: h, ipAddress: address, fromBlock: o.kind === "fromBlock" });
              break;
            case "delete": {
              const eps = endpoints();
              if (eps.length === 0) continue;
              r = await call("DELETE", `/api/v1/agent/endpoints/${eps[o.pick % eps.length]!.endpointID}/`);
              break;
            }
            case "release": {
              const bs = blocks();
              if (bs.length === 0) continue;
              r = await call("DELETE", `/api/v1/agent/blocks/${net}/${bs[o.pick % bs.length]!.cidr.replace("/", "_")}`);
              break;
            }
            case "deregister":
              r = await call("DELETE", `/api/v1/agent/hosts/${h}/?force=true`);
              await nm.must({ method: "PUT", path: `/api/v1/agent/hosts/${h}/`, body: { vtepIP: "198.18.1.1", mtu: 1500 } }, admin);
              break;
          }
          assert.ok([200, 404, 409].includes(r.status) || (r.status === 400 && o.kind === "static"), `${JSON.stringify(o)}: ${r.status} ${r.text}`);

          const eps = endpoints();
          const ipv4 = Ipv4Allocator.fromJSON((dump()[networkStateKey(net)] as NetworkState).ipv4);
          const byAddress = new Map(eps.map((e) => [e.ipAddress, e]));
          assert.equal(byAddress.size, eps.length, `two endpoints share an address after ${JSON.stringify(o)}`);
          const inBlocks = new Set<string>();
          for (const b of blocks()) {
            for (const a of b.addresses) {
              inBlocks.add(a);
              assert.equal(ipv4.isAvailable(a), false, `${a} of block ${b.cidr} is free for netmaster`);
              const id = b.assigned[a];
              if (id === undefined) assert.equal(byAddress.get(a), undefined, `${a} is in use but not assigned in ${b.cidr}`);
              else assert.equal(byAddress.get(a)?.homingHost, b.host, `${a} assigned to ${id} is not its host ${b.host}'s endpoint`);
            }
            assert.ok(Object.keys(b.assigned).every((a) => b.addresses.includes(a)));
          }
          for (const e of eps) if (!inBlocks.has(e.ipAddress)) assert.ok(ipv4.isAllocated(e.ipAddress), `${e.ipAddress} of ${e.endpointID} is not allocated`);
          const macs = new Set(eps.map((e) => e.macAddress));
          assert.equal(macs.size, eps.length, "two endpoints share a MAC");
        }
        for (const h of HOSTS) await call("DELETE", `/api/v1/agent/hosts/${h}/?force=true`);
      }),
      { numRuns: 100 },
    );
  });
});
