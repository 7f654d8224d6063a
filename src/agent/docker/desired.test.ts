import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";

import type { DesiredEndpoint, DesiredHost } from "../../datapath/types.js";
import { adjustDesired, filterErrors } from "./desired.js";
import { DockerStore, type EndpointPhase, type EndpointRecord } from "./state.js";

const dir = mkdtempSync(join(tmpdir(), "np-docker-desired-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const sandbox = join(dir, "sandbox"); // stands for a sandbox's namespace file
writeFileSync(sandbox, "");
const other = join(dir, "other");
writeFileSync(other, "");
const STAGING = "/var/run/netns/npx-docker";

function endpoint(id: string): DesiredEndpoint {
  return {
    id,
    network: "net",
    hostLink: `ne-${id}`,
    netns: "/compiled/netns",
    ifname: "compiled0",
    mac: "02:02:c6:12:05:02",
    ipv4: "198.18.5.2/24",
    ipv6: "fd00:5::2/64",
    gateway: "198.18.5.1",
    ipv6Gateway: "fd00:5::1",
    mtu: 1450,
    qos: { egressBps: 0, ingressBps: 0, burstBytes: 0 },
  };
}

function host(...ids: string[]): DesiredHost {
  return {
    prefix: "npx",
    host: { natOutbound: false },
    tenants: [
      {
        name: "t",
        namespace: "npx-t-t",
        fwdMode: "bridge",
        networks: [{ name: "net", bridge: "nbx", subnet: "198.18.5.0/24", gateway: "198.18.5.1", ipv6Subnet: "fd00:5::/64", ipv6Gateway: "fd00:5::1", mtu: 1450, routed: false, netfilter: false }],
        // Compiled as a second interface of its container (no default routes): dockerd decides for Docker's.
        endpoints: ids.map((id) => ({ ...endpoint(id), gateway: "", ipv6Gateway: "" })),
        nftScript: "",
        hostEndpoints: [],
      },
    ],
  };
}

function record(id: string, phase: EndpointPhase, extra: Partial<EndpointRecord> = {}): EndpointRecord {
  return {
    id: `docker-${id}`,
    networkId: "n1",
    endpointId: id,
    tenant: "t",
    network: "net",
    group: "",
    mac: "02:02:c6:12:05:02",
    srcName: `npxd${id}`,
    sandbox,
    ifname: "eth0",
    phase,
    routes: { v4: true, v6: false },
    portMappings: [],
    ...extra,
  };
}

function storeWith(...records: EndpointRecord[]): DockerStore {
  const store = new DockerStore(mkdtempSync(join(dir, "state-")));
  for (const r of records) store.endpoints.set(r.id, r);
  return store;
}

const adjusted = (store: DockerStore, ...ids: string[]) => {
  const out = adjustDesired(host(...ids), store, STAGING);
  return { endpoints: out.desired.tenants[0]!.endpoints, untouched: out.untouched };
};

describe("adjustDesired", () => {
  it("leaves endpoints that are not Docker's alone", () => {
    const { endpoints, untouched } = adjusted(storeWith(record("a", "joined")), "cni");
    assert.deepEqual(endpoints, [{ ...endpoint("cni"), gateway: "", ipv6Gateway: "" }]);
    assert.equal(untouched.size, 0);
  });

  it("stages a joining endpoint in the staging namespace without default routes", () => {
    const [e] = adjusted(storeWith(record("a", "staging")), "a").endpoints;
    assert.deepEqual({ netns: e!.netns, ifname: e!.ifname, gw: e!.gateway, gw6: e!.ipv6Gateway }, { netns: STAGING, ifname: "npxda", gw: "", gw6: "" });
  });

  it("points a joined endpoint at its sandbox interface with the default routes dockerd put there", () => {
    const [e] = adjusted(storeWith(record("a", "joined", { ifname: "eth1", routes: { v4: false, v6: true } })), "a").endpoints;
    assert.deepEqual({ netns: e!.netns, ifname: e!.ifname, gw: e!.gateway, gw6: e!.ipv6Gateway }, { netns: sandbox, ifname: "eth1", gw: "", gw6: "fd00:5::1" });
  });

  it("keeps hands off endpoints in transit or leaving, and every endpoint of their sandbox", () => {
    const store = storeWith(record("a", "transit"), record("b", "leaving", { sandbox: other }), record("c", "joined"), record("d", "joined", { sandbox: other }));
    const { endpoints, untouched } = adjusted(store, "a", "b", "c", "d");
    for (const e of endpoints) assert.deepEqual([e.netns, e.ifname], [STAGING, "lo"], e.id);
    assert.deepEqual([...untouched].sort(), ["a", "b", "c", "d"]);
  });

  it("keeps hands off a joined endpoint whose sandbox is gone", () => {
    const { endpoints, untouched } = adjusted(storeWith(record("a", "joined", { sandbox: join(dir, "gone") })), "a");
    assert.equal(endpoints[0]!.ifname, "lo");
    assert.deepEqual([...untouched], ["a"]);
  });
});

describe("filterErrors", () => {
  it("drops only the problems of endpoints left alone", () => {
    const errors = [
      { namespace: "npx-t-t", objects: ["endpoint a"], message: "lo is not the peer" },
      { namespace: "npx-t-t", objects: ["endpoint b"], message: "real" },
      { namespace: "npx-t-t", objects: ["endpoint a", "veth ne-b"], message: "mixed" },
      { namespace: "npx-t-t", objects: [], message: "namespace unreadable" },
    ];
    assert.deepEqual(
      filterErrors(errors, new Set(["a"])).map((e) => e.message),
      ["real", "mixed", "namespace unreadable"],
    );
  });
});
