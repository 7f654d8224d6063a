// An endpoint netmaster created for a host whose agent never recorded it: what
// a crash of the agent (or of netmaster) between netmaster's create and the
// agent's ADD reply leaves. The test makes that state the way the agent's
// first step does, with the agent's own request to netmaster, while the agent
// is down (a kill between the two steps would need a hook in the agent, and
// the state netmaster is left with is the same). The restarted agent releases
// it, and its address goes back to the pool; a running agent does the same.
// What something holds stays: attached containers, and the hosts' own
// endpoints on an infra network. The reverse, an attachment whose endpoint
// netmaster deleted, loses its interface and its record.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Cluster, unixRequest } from "../../src/cluster/index.js";
import { waitFor } from "../../src/lib/wait.js";
import { Api } from "../harness/api.js";
import { attach } from "../harness/cluster.js";
import type { TestNetns } from "../harness/netns.js";

interface EndpointReply {
  endpoint: { endpointID: string; ipAddress: string };
}

describe("endpoints no host holds", () => {
  let cluster: Cluster;
  let api: Api;
  const made: TestNetns[] = [];

  /** Whether netmaster's allocator has the address taken (its list is of ranges: "a-b, c"). */
  const allocated = async (ip: string): Promise<boolean> => {
    const r = await api.get<{ Oper: { allocatedIPAddresses?: string } }>("/api/v1/inspect/networks/t:net/");
    const n = (a: string) => a.split(".").reduce((acc, o) => acc * 256 + Number(o), 0);
    return (r.body.Oper.allocatedIPAddresses ?? "").split(", ").filter(Boolean).some((range) => {
      const [lo, hi = lo] = range.split("-") as [string, string?];
      return n(lo) <= n(ip) && n(ip) <= n(hi);
    });
  };
  const exists = async (id: string) => (await api.get(`/api/v1/inspect/endpoints/${id}/`)).status === 200;
  /** The request the agent's CNI ADD makes first. */
  const createAsAgent = (host: string, containerID: string) =>
    api.create<EndpointReply>("/api/v1/agent/endpoints/", { tenantName: "t", networkName: "net", groupName: "", containerID, containerName: "", host, ipAddress: "", ipv6Address: "", macAddress: "", labels: {} });

  before(async () => {
    cluster = await Cluster.up({ hosts: 2, logLevel: "warn", agentArgs: ["--endpoint-gc-grace", "2"] });
    api = new Api(cluster.apiBase);
    await api.create("/api/v1/tenants/t/", { tenantName: "t" });
    await api.create("/api/v1/networks/t:net/", { tenantName: "t", networkName: "net", encap: "vxlan", subnet: "198.18.150.0/24", gateway: "198.18.150.254" });
    await api.create("/api/v1/networks/t:infra/", { tenantName: "t", networkName: "infra", nwType: "infra", encap: "vxlan", subnet: "198.18.151.0/24", gateway: "198.18.151.254" });
  });
  after(async () => {
    for (const ns of made.splice(0)) await ns.destroy();
    await cluster?.down();
  });

  test("a restarted agent releases the endpoint it never recorded; attached and host endpoints stay", async () => {
    const h1 = cluster.hosts[0]!;
    const a = await attach(cluster, made, 1, "a", { tenant: "t", network: "net" });
    const b = await attach(cluster, made, 2, "b", { tenant: "t", network: "net" });
    const hostEndpoint = `infra.t-host-${h1.name}`;
    await waitFor(() => exists(hostEndpoint), { timeoutMs: 15_000, what: () => "h1 has no endpoint on the infra network" });

    await h1.agent!.kill();
    const stray = await createAsAgent(h1.name, `${cluster.prefix}crashed`);
    assert.ok(await allocated(stray.endpoint.ipAddress));
    await cluster.startAgent(h1);
    await waitFor(async () => !(await exists(stray.endpoint.endpointID)), { timeoutMs: 20_000, what: () => "the stray endpoint is still at netmaster" });
    assert.ok(!(await allocated(stray.endpoint.ipAddress)), "its address is back in the pool");

    assert.ok(await exists(`net.t-${cluster.prefix}a`), "the attached container's endpoint stays");
    assert.ok(await exists(hostEndpoint), "the host's infra endpoint stays");
    assert.ok(await a.ns.ping(b.ip), "the attached container still works");
  });

  test("a running agent releases one too, and leaves other hosts' alone", async () => {
    const [h1, h2] = cluster.hosts;
    // h2's agent is down, so nobody releases its endpoint while h1 looks at it for longer than the grace period.
    await h2!.agent!.kill();
    const other = await createAsAgent(h2!.name, `${cluster.prefix}elsewhere`);
    const stray = await createAsAgent(h1!.name, `${cluster.prefix}lost`);
    await waitFor(async () => !(await exists(stray.endpoint.endpointID)), { timeoutMs: 20_000, what: () => "h1 did not release its stray endpoint" });
    assert.ok(await exists(other.endpoint.endpointID), "h1 released an endpoint of h2");
    await cluster.startAgent(h2!);
    await waitFor(async () => !(await exists(other.endpoint.endpointID)), { timeoutMs: 20_000, what: () => "h2 did not release its stray endpoint" });
  });

  test("an attachment whose endpoint netmaster deleted loses its interface and its record", async () => {
    const h1 = cluster.hosts[0]!;
    const { ns } = await attach(cluster, made, 1, "gone", { tenant: "t", network: "net" });
    const id = `net.t-${cluster.prefix}gone`;
    assert.equal((await api.del(`/api/v1/agent/endpoints/${id}/`)).status, 200);
    const links = async () => (await ns.exec(["ip", "-o", "link"])).stdout.split("\n").filter(Boolean).length;
    await waitFor(async () => (await links()) === 1, { timeoutMs: 15_000, what: () => "the container still has its interface" });
    // The record goes right after the run that removed the interface.
    const recorded = async () => (JSON.parse((await unixRequest(h1.socket, "GET", "/inspect")).text) as { attachments: { endpointId: string }[] }).attachments.some((a) => a.endpointId === id);
    await waitFor(async () => !(await recorded()), { timeoutMs: 5_000, what: () => "the agent still has the attachment" });
  });
});
