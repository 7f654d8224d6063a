// Docker containers start and stop while netmaster is down, on a network whose address block the host holds:
// RequestAddress takes the address from the block and CreateEndpoint registers the endpoint through the agent's
// outbox (agent/docker/ipam.ts, endpoints.ts), so `docker run` and `docker rm` wait for nothing at netmaster,
// which learns of them once it is back. A real dockerd in the host's namespace (src/cluster/docker.ts);
// addresses from 198.18.0.0/15 only.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Cluster, DOCKER_IMAGE, DockerHost, missingDockerTools, type ClusterHost } from "../../src/cluster/index.js";
import { waitFor } from "../../src/lib/wait.js";
import { Api } from "../harness/api.js";

const missing = missingDockerTools();

interface EndpointOper {
  ipAddress: string[];
  homingHost: string;
  containerID: string;
}

describe("Docker while netmaster is down", { skip: missing.length > 0 ? `not installed: ${missing.join(", ")}` : false }, () => {
  let cluster: Cluster;
  let host: ClusterHost;
  let api: Api;
  let dockerHost: DockerHost | undefined;

  const must = (...args: string[]): Promise<string> => dockerHost!.must(...args);
  const ipOf = (container: string): Promise<string> => must("inspect", container, "--format", "{{.NetworkSettings.Networks.dn.IPAddress}}");
  const ping = async (from: string, address: string): Promise<boolean> => (await dockerHost!.docker(["exec", from, "ping", "-c", "2", "-W", "1", "-q", address])).code === 0;
  /** netmaster's endpoints of the network: address → Docker endpoint id. */
  const endpoints = async (): Promise<Map<string, EndpointOper>> => {
    const r = await api.get("/api/v1/inspect/networks/default:dn/");
    const oper = r.status === 200 ? (JSON.parse(r.text) as { Oper: { endpoints?: EndpointOper[] } }).Oper : {};
    return new Map((oper.endpoints ?? []).map((e) => [e.ipAddress[0] ?? "", e]));
  };

  before(async () => {
    cluster = await Cluster.up({ hosts: 1, logLevel: "warn" });
    host = cluster.hosts[0]!;
    api = new Api(cluster.apiBase);
    dockerHost = await DockerHost.start(cluster, host, { agentArgs: ["--log-level", "info", "--docker-pool-range", "198.19.242.0/23"] });
  });

  after(async () => {
    await dockerHost?.stop();
    await cluster?.down();
  });

  test("docker run and rm work with netmaster stopped, and netmaster learns what happened once it is back", async () => {
    const driver = dockerHost!.driver;
    await must("network", "create", "-d", driver, "--ipam-driver", driver, "--subnet", "198.18.146.0/24", "--gateway", "198.18.146.254", "dn");
    // The first container brings the host a block of the network.
    await must("run", "-d", "--name", "n1", "--net", "dn", DOCKER_IMAGE, "sleep", "3600");
    const ip1 = await ipOf("n1");
    await waitFor(async () => (await endpoints()).has(ip1), { timeoutMs: 10_000, what: () => "netmaster does not list n1" });

    await cluster.killNetmaster();
    let ip2 = "";
    let ip3 = "";
    try {
      const started = Date.now();
      await must("run", "-d", "--name", "n2", "--net", "dn", DOCKER_IMAGE, "sleep", "3600");
      await must("run", "-d", "--name", "n3", "--net", "dn", DOCKER_IMAGE, "sleep", "3600");
      assert.ok(Date.now() - started < 20_000, `two docker runs took ${Date.now() - started} ms: they waited for netmaster`);
      ip2 = await ipOf("n2");
      ip3 = await ipOf("n3");
      assert.equal(new Set([ip1, ip2, ip3]).size, 3, `addresses ${ip1}, ${ip2}, ${ip3}`);
      assert.ok(await ping("n2", ip1), "n2 reaches n1");
      assert.ok(await ping("n1", ip3), "n1 reaches n3");
      // DeleteEndpoint and ReleaseAddress answer too (netmaster never heard of n3: its address is free at once).
      await must("rm", "-f", "n3");
      await must("run", "-d", "--name", "n4", "--net", "dn", DOCKER_IMAGE, "sleep", "3600");
      assert.ok(![ip1, ip2].includes(await ipOf("n4")), "n4's address is nobody else's");
    } finally {
      await cluster.startNetmaster();
    }
    const ip4 = await ipOf("n4");
    let listed = new Map<string, EndpointOper>();
    await waitFor(
      async () => {
        listed = await endpoints();
        return [ip1, ip2, ip4].every((ip) => listed.get(ip)?.homingHost === host.name) && listed.size === 3;
      },
      { timeoutMs: 20_000, what: () => `netmaster lists ${[...listed.keys()].join(", ")}, not n1, n2 and n4 (${ip1}, ${ip2}, ${ip4}) alone` },
    );
    // Removed with netmaster back, n4's address can be asked for again once netmaster has forgotten n4: nothing leaked.
    await must("rm", "-f", "n4");
    await waitFor(async () => !(await endpoints()).has(ip4), { timeoutMs: 10_000, what: () => "netmaster still lists n4" });
    await waitFor(async () => (await dockerHost!.docker(["run", "-d", "--name", "n5", "--net", "dn", "--ip", ip4, DOCKER_IMAGE, "sleep", "3600"])).code === 0 || (await must("rm", "-f", "n5"), false), {
      timeoutMs: 10_000,
      what: () => `n4's address ${ip4} is not free again`,
    });
    assert.ok(await ping("n5", ip1), "n5 reaches n1");
    await must("rm", "-f", "n1", "n2", "n5");
    await must("network", "rm", "dn");
    await waitFor(async () => (await api.get("/api/v1/networks/default:dn/")).status === 404, { timeoutMs: 10_000, what: () => "dn is still at netmaster" });
  });
});
