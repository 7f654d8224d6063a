// render.ts withHostEndpoints: an infra network's host endpoint becomes a port of the bridge like a container's.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { hostEndpointPort } from "../names.js";
import { desiredHost, PREFIX } from "../testing/desired.js";
import { checkOvs, hostEndpointId, renderFlows, wantedPorts, withHostEndpoints } from "./render.js";

function withInfra() {
  const d = desiredHost();
  d.tenants[0]!.networks[0]!.ipv6Subnet = "";
  d.tenants[0]!.networks[0]!.ipv6Gateway = "";
  for (const e of d.tenants[0]!.endpoints) Object.assign(e, { ipv6: "", ipv6Gateway: "" });
  d.tenants[0]!.hostEndpoints = [{ network: "blue", hostLink: `${PREFIX}hzzzzz`, tenantLink: "nhzzzzzzzz", address: "198.18.1.100/24", mac: "02:00:00:00:01:64", mtu: 1450 }];
  return d;
}

describe("withHostEndpoints", () => {
  it("a host endpoint is an endpoint of the agent's namespace: its port carries the prefix, its end the host's address, no default route", () => {
    const d = withHostEndpoints(withInfra(), "/proc/self/ns/net");
    const host = d.tenants[0]!.endpoints.find((e) => e.id === hostEndpointId("blue"))!;
    assert.equal(host.hostLink, hostEndpointPort(PREFIX, "a", "blue"));
    assert.ok(host.hostLink.startsWith(PREFIX));
    assert.deepEqual([host.netns, host.ifname, host.ipv4, host.gateway], ["/proc/self/ns/net", `${PREFIX}hzzzzz`, "198.18.1.100/24", ""]);
    assert.deepEqual(d.tenants[0]!.hostEndpoints, []);
    assert.deepEqual(checkOvs(withInfra()), [], "infra networks are no longer refused");
  });

  it("its port gets a container's flows: classified by its MAC and address, delivered, its ARP answered", () => {
    const d = withHostEndpoints(withInfra(), "/proc/self/ns/net");
    const ofports = new Map(wantedPorts(d).map((w, i) => [w.name, i + 1]));
    const port = ofports.get(hostEndpointPort(PREFIX, "a", "blue"))!;
    const flows = renderFlows(d, { ofports, policy: () => [] });
    assert.ok(flows.some((f) => f.includes(`in_port=${port},dl_src=02:00:00:00:01:64`) && f.includes("nw_src=198.18.1.100")), flows.join("\n"));
    assert.ok(flows.some((f) => f.includes("dl_dst=02:00:00:00:01:64") && f.endsWith(`output:${port}`)));
    assert.ok(flows.some((f) => f.includes("arp_tpa=198.18.1.100")));
  });

  it("a host without host endpoints is returned as it is", () => {
    const d = desiredHost();
    assert.equal(withHostEndpoints(d, "/x"), d);
  });
});
