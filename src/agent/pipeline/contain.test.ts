import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createDatapath } from "../../datapath/index.js";
import { clusterHost, emptyPolicy, endpoint, network, NS_A, PREFIX } from "../../datapath/testing/desired.js";
import type { DesiredHost, DesiredTenant } from "../../datapath/types.js";
import { contain, unitName, type LastGood } from "./contain.js";

/** clusterHost with a second tenant "b" that has one network and one endpoint of its own. */
function twoTenants(): DesiredHost {
  const host = clusterHost();
  const b: DesiredTenant = {
    name: "b",
    namespace: `${PREFIX}-t-b`,
    fwdMode: "bridge",
    networks: [network({ name: "green", bridge: "nb00000009", subnet: "198.18.9.0/24", gateway: "198.18.9.254", ipv6Subnet: "", ipv6Gateway: "" })],
    endpoints: [endpoint(7, { id: "g7", network: "green", hostLink: "ne0000000007", ipv4: "198.18.9.7/24", ipv6: "", gateway: "198.18.9.254", ipv6Gateway: "" })],
    policy: emptyPolicy(),
    hostEndpoints: [],
  };
  host.tenants.push(b);
  return host;
}

const driver = await createDatapath("linux", { prefix: PREFIX, probe: false });
const checkHost = (desired: DesiredHost) => driver.check(desired);

const attachedAll = (host: DesiredHost) => new Set(host.tenants.flatMap((t) => t.endpoints.map((e) => e.id)));
const none: LastGood = new Map();

describe("contain", () => {
  it("leaves a host that renders as it is, and remembers it as last good", () => {
    const host = twoTenants();
    const out = contain(host, [], none, attachedAll(host), checkHost);
    assert.deepEqual(out.desired, host);
    assert.deepEqual(out.failures, []);
    assert.deepEqual([...out.lastGood.keys()], ["a", "b"]);
  });

  it("leaves out a new network that cannot be rendered, with nothing else of its tenant or host", () => {
    const host = twoTenants();
    const a = host.tenants[0]!;
    a.networks.push(network({ name: "bad6", bridge: "nb00000002", subnet: "198.18.5.0/24", gateway: "", ipv6Subnet: "", ipv6Gateway: "fd00:99::1" }));
    a.endpoints.push(endpoint(5, { id: "on-bad6", network: "bad6", hostLink: "ne0000000005", ipv4: "198.18.5.5/24", ipv6: "", gateway: "", ipv6Gateway: "" }));
    const out = contain(host, [], none, attachedAll(host), checkHost);
    assert.deepEqual(out.failures, [{ owner: { tenant: "a", network: "bad6" }, message: 'ipv6Subnet: invalid subnet ""' }]);
    const [outA, outB] = out.desired.tenants;
    assert.deepEqual(outA!.networks.map((n) => n.name), ["blue"]);
    assert.deepEqual(outA!.endpoints.map((e) => e.id), ["ep1", "ep2"]);
    assert.deepEqual(outB, host.tenants[1]);
    assert.deepEqual(checkHost(out.desired), []);
  });

  it("keeps a network that breaks at its last good version, with the endpoints still attached", () => {
    const before = twoTenants();
    const { lastGood } = contain(before, [], none, attachedAll(before), checkHost);
    const host = twoTenants();
    host.tenants[0]!.networks[0]!.gateway = "198.18.1.999";
    const attached = new Set(["ep1", "g7"]);
    const out = contain(host, [], lastGood, attached, checkHost);
    assert.deepEqual(out.failures, [{ owner: { tenant: "a", network: "blue" }, message: 'gateway: invalid address "198.18.1.999"' }]);
    assert.deepEqual(out.desired.tenants[0]!.networks, before.tenants[0]!.networks);
    assert.deepEqual(out.desired.tenants[0]!.endpoints.map((e) => e.id), ["ep1"], "ep2 left the host meanwhile");
    assert.deepEqual(out.lastGood.get("a")!.networks, before.tenants[0]!.networks, "still the good version");
  });

  it("leaves out an endpoint that cannot be rendered, or keeps its last good version", () => {
    const host = twoTenants();
    host.tenants[0]!.endpoints[1]!.mac = "zz";
    const out = contain(host, [], none, attachedAll(host), checkHost);
    assert.deepEqual(out.failures, [{ owner: { tenant: "a", network: "blue", endpoint: "ep2" }, message: 'mac: invalid MAC "zz"' }]);
    assert.deepEqual(out.desired.tenants[0]!.endpoints.map((e) => e.id), ["ep1"]);

    const good = twoTenants();
    const kept = contain(host, [], contain(good, [], none, attachedAll(good), checkHost).lastGood, attachedAll(host), checkHost);
    assert.deepEqual(kept.desired.tenants[0]!.endpoints.find((e) => e.id === "ep2"), good.tenants[0]!.endpoints[1]);
  });

  it("drops a remote endpoint that cannot be rendered from its network's remotes only", () => {
    const host = twoTenants();
    host.tenants[0]!.networks[0]!.vxlan!.remotes[0]!.mac = "ff:ff";
    const out = contain(host, [], none, attachedAll(host), checkHost);
    assert.deepEqual(out.failures.map((f) => f.owner), [{ tenant: "a", network: "blue", endpoint: "net1.blue-21" }]);
    assert.deepEqual(out.desired.tenants[0]!.networks[0]!.vxlan!.remotes.map((r) => r.id), ["net1.blue-31"]);
    assert.deepEqual(out.desired.tenants[0]!.endpoints.length, 2);
  });

  it("freezes a tenant that fails as a whole and never rendered; keeps it at its last good version when it did", () => {
    const host = twoTenants();
    const compileFailure = { owner: { tenant: "b" }, message: "Cannot compile tenant b: boom" };
    const withoutB = { ...host, tenants: [host.tenants[0]!] };
    const frozen = contain(withoutB, [compileFailure], none, attachedAll(host), checkHost);
    assert.deepEqual(frozen.desired.tenants.map((t) => t.name), ["a"]);
    assert.deepEqual(frozen.desired.frozen, [`${PREFIX}-t-b`]);
    assert.deepEqual(frozen.failures, [compileFailure]);

    const lastGood = contain(host, [], none, attachedAll(host), checkHost).lastGood;
    const kept = contain(withoutB, [compileFailure], lastGood, attachedAll(host), checkHost);
    assert.deepEqual(kept.desired.tenants.map((t) => t.name), ["a", "b"]);
    assert.deepEqual(kept.desired.tenants[1], host.tenants[1]);
    assert.deepEqual(kept.desired.frozen, []);
    assert.deepEqual(kept.lastGood.get("b"), lastGood.get("b"));
  });

  it("throws for a problem of the host as a whole", () => {
    const host = twoTenants();
    host.prefix = "x";
    assert.throws(() => contain(host, [], none, attachedAll(host), checkHost), /Cannot build this host's datapath: prefix: invalid prefix "x"/);
  });

  it("freezes tenants whose problems keep coming back", () => {
    const host = twoTenants();
    let calls = 0;
    const stubborn = (d: DesiredHost) => {
      calls++;
      return d.tenants.some((t) => t.name === "a") ? [{ owner: { tenant: "a", network: "blue" }, message: "always" }] : [];
    };
    const out = contain(host, [], new Map([["a", host.tenants[0]!]]), attachedAll(host), stubborn);
    assert.deepEqual(out.desired.tenants.map((t) => t.name), ["b"]);
    assert.deepEqual(out.desired.frozen, [NS_A]);
    assert.ok(calls <= 6, `${calls} checks`);
  });

  it("names units for messages", () => {
    assert.equal(unitName({ tenant: "sec", network: "bad6" }), "network bad6 of tenant sec");
    assert.equal(unitName({ tenant: "sec", network: "web", endpoint: "web.sec-c1" }), "endpoint web.sec-c1 of network web of tenant sec");
    assert.equal(unitName({}), "this host");
  });
});
