import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { buildTopology, type EndpointView } from "./topology.js";

const ep = (endpointID: string, host: string, group: string, containerName = ""): EndpointView => ({
  endpointID,
  containerName,
  homingHost: host,
  ipAddress: ["10.1.0.2", ""],
  endpointGroupKey: group ? `${group}:t` : "",
  network: "net.t",
});

describe("buildTopology", () => {
  const input = {
    hosts: [{ name: "h1" }, { name: "h2" }],
    tenants: [{ tenantName: "t" }],
    networks: [{ tenantName: "t", networkName: "net", subnet: "10.1.0.0/24" }],
    groups: [{ tenantName: "t", groupName: "web", networkName: "net" }],
    services: [{ tenantName: "t", serviceName: "svc", networkName: "net", ipAddress: "10.1.0.200" }],
    endpoints: [ep("e1", "h1", "web", "a"), ep("e2", "h2", ""), ep("e3", "gone", "nosuch")],
  };
  const g = buildTopology(input);
  const edges = g.edges.map((e) => `${e.from} -${e.kind}-> ${e.to}`).sort();

  test("every object is a node, an endpoint named by its container and showing its addresses", () => {
    assert.deepEqual(g.nodes.map((n) => n.id).sort(), ["endpoint/e1", "endpoint/e2", "endpoint/e3", "group/t/web", "host/gone", "host/h1", "host/h2", "network/t/net", "service/t/svc", "tenant/t"]);
    const e1 = g.nodes.find((n) => n.id === "endpoint/e1")!;
    assert.deepEqual([e1.label, e1.detail], ["a", "10.1.0.2"]);
  });

  test("an endpoint hangs off its group (else its network) and points at the host it lives on", () => {
    assert.deepEqual(edges, [
      "endpoint/e1 -on-> host/h1",
      "endpoint/e2 -on-> host/h2",
      "endpoint/e3 -on-> host/gone",
      "group/t/web -holds-> endpoint/e1",
      "network/t/net -holds-> endpoint/e2",
      "network/t/net -holds-> endpoint/e3",
      "network/t/net -holds-> group/t/web",
      "service/t/svc -serves-> network/t/net",
      "tenant/t -holds-> network/t/net",
    ]);
  });
});
