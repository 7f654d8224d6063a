import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";

import { hostPrefix } from "../../datapath/names.js";
import { endpointKey, objectKey, networkStateKey, tenantStateKey } from "../../contract/keys.js";
import { Attachment } from "../attachments.js";
import { compileHost } from "../pipeline/compile.js";
import { dockerAttachment } from "./desired.js";
import { DockerStore, type EndpointRecord } from "./state.js";

const dir = mkdtempSync(join(tmpdir(), "np-docker-desired-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const DOCKERD = "/proc/1/ns/net";

function record(extra: Partial<EndpointRecord> = {}): EndpointRecord {
  return {
    id: "docker-a",
    networkId: "n1",
    endpointId: "a",
    tenant: "t",
    network: "net",
    group: "",
    mac: "02:02:c6:12:05:02",
    srcName: "npxd0a1b2c",
    sandbox: "/var/run/docker/netns/0123456789ab",
    phase: "joined",
    portMappings: [],
    ...extra,
  };
}

describe("dockerAttachment", () => {
  it("describes the container side as dockerd's, in its namespace as SrcName, wherever the sandbox is", () => {
    const a = dockerAttachment(record(), DOCKERD);
    assert.deepEqual([a.containerSide, a.netns, a.ifname, a.containerId], ["runtime", DOCKERD, "npxd0a1b2c", "docker-a"]);
    assert.deepEqual(dockerAttachment(record({ phase: "created", sandbox: "" }), DOCKERD), a, "the same before and after Join: nothing for a run to re-read");
    assert.deepEqual(Attachment.parse(JSON.parse(JSON.stringify(a))), a, "persisted as it is");
  });

  it("compiles into a runtime-owned desired endpoint", () => {
    const entries = new Map<string, unknown>([
      [objectKey("global", "global"), { fwdMode: "bridge", arpMode: "proxy" }],
      [objectKey("tenant", "t"), { tenantName: "t" }],
      [tenantStateKey("t"), { index: 3 }],
      [objectKey("network", "t:net"), { key: "t:net", tenantName: "t", networkName: "net", encap: "vxlan", nwType: "data", subnet: "198.18.5.0/24", gateway: "198.18.5.1", ipv6Subnet: "", ipv6Gateway: "" }],
      [networkStateKey("t:net"), { pktTag: 1, extPktTag: 42, ipv4: {} }],
      [endpointKey("a"), { endpointID: "a", tenantName: "t", networkName: "net", groupName: "", containerID: "docker-a", containerName: "", ipAddress: "198.18.5.2", ipv6Address: "", macAddress: "02:02:c6:12:05:02", homingHost: "h1", intfName: "", vtepIP: "", labels: {}, requestedIp: false }],
    ]);
    const view = { get: <T>(k: string) => entries.get(k) as T | undefined, list: <T>(p: string) => [...entries].filter(([k]) => k.startsWith(p)) as [string, T][], malformedRecords: () => new Map() };
    const ctx = { host: "h1", prefix: hostPrefix("h1"), mtu: 1450, vtepIP: "", vxlanPort: 4789 };
    const out = compileHost(view, [dockerAttachment(record(), DOCKERD)], new Map(), ctx);
    const [e] = out.desired.tenants[0]!.endpoints;
    assert.deepEqual([e!.containerSide, e!.netns, e!.ifname, e!.ipv4], ["runtime", DOCKERD, "npxd0a1b2c", "198.18.5.2/24"]);
  });
});

describe("DockerStore", () => {
  it("reads the hand-over steps of older agents' files as joined", () => {
    const stateDir = mkdtempSync(join(dir, "state-"));
    const old = ["staging", "transit", "leaving", "created"].map((phase, i) => ({ ...record({ id: `e${i}`, endpointId: `a${i}` }), phase, ifname: "eth0", routes: { v4: true, v6: false } }));
    writeFileSync(join(stateDir, "docker.json"), JSON.stringify({ version: 1, pools: [], networks: [], endpoints: old }));
    const store = new DockerStore(stateDir);
    assert.deepEqual([...store.endpoints.values()].map((e) => e.phase), ["joined", "joined", "joined", "created"]);
  });
});
