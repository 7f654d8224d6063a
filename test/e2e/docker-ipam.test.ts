// Docker with one of our two drivers and someone else's other one, on one
// host with a real dockerd (src/cluster/docker.ts, as in docker.test.ts):
// - our network driver with Docker's default IPAM (`--ipam-driver default`):
//   the network at netmaster has Docker's subnet, containers get Docker's
//   addresses and reach each other, netmaster holds no reservation for them;
// - our IPAM driver with Docker's `bridge` network driver, mapping a network
//   that exists at netmaster (`--ipam-opt network=NAME`): containers get their
//   addresses from that network's allocator at netmaster (a reservation there
//   while they live, released when they go) and reach each other on Docker's
//   bridge;
// - our IPAM driver with `bridge` and a new pool (no network named): only our
//   network driver makes a network of a new pool, so `docker run` is refused
//   with a message that says so and what to do instead, and nothing stays at
//   netmaster once the Docker network is removed.
// Docker objects carry the run's prefix; DockerHost.stop() removes every
// container and network of its dockerd, also after a failure. Addresses are
// from 198.18.0.0/15.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Cluster, DOCKER_IMAGE, DockerHost, missingDockerTools } from "../../src/cluster/index.js";
import { type RunResult } from "../../src/lib/process.js";
import { waitFor } from "../../src/lib/wait.js";
import { Api } from "../harness/api.js";
import { runPrefix } from "../harness/netns.js";

const missing = missingDockerTools();
const skip = process.getuid?.() !== 0 ? "needs root" : missing.length > 0 ? `not installed: ${missing.join(", ")}` : false;
const RESERVATIONS = "/netplugin/state/docker/addresses/";
const POOLS = "/netplugin/state/docker/pools/";

describe("Docker: our network driver with Docker's IPAM, our IPAM driver with Docker's bridge driver", { skip }, () => {
  const p = runPrefix("npi");
  let cluster: Cluster | undefined;
  let dockerHost: DockerHost | undefined;
  let api: Api;
  let driver = "";

  const docker = (...args: string[]): Promise<RunResult> => dockerHost!.docker(args);
  const must = (...args: string[]): Promise<string> => dockerHost!.must(...args);
  const ipOf = (container: string, network: string): Promise<string> =>
    must("inspect", container, "--format", `{{(index .NetworkSettings.Networks "${network}").IPAddress}}`);
  const ping = async (from: string, address: string, count = 2): Promise<boolean> =>
    (await docker("exec", from, "ping", "-c", String(count), "-W", "1", "-q", address)).code === 0;
  const keys = async (prefix: string): Promise<string[]> => Object.keys(await api.state()).filter((k) => k.startsWith(prefix));

  before(async () => {
    cluster = await Cluster.up({ hosts: 1, logLevel: "warn" });
    api = new Api(cluster.apiBase);
    dockerHost = await DockerHost.start(cluster, cluster.hosts[0]!, { agentArgs: ["--docker-pool-range", "198.19.242.0/23"] });
    driver = dockerHost.driver;
  });

  after(async () => {
    await dockerHost?.stop();
    await cluster?.down();
  });

  test("our network driver with --ipam-driver default: Docker's addresses, our network, packets both ways", async () => {
    const net = `${p}-dflt`;
    await must("network", "create", "-d", driver, "--ipam-driver", "default", "--subnet", "198.18.40.0/24", "--gateway", "198.18.40.1", net);
    let made: { subnet?: string; gateway?: string } = {};
    await waitFor(async () => {
      const r = await api.get<{ subnet: string; gateway: string }>(`/api/v1/networks/default:${net}/`);
      made = r.body;
      return r.status === 200;
    }, { timeoutMs: 20_000, what: () => `${net} did not appear at netmaster` });
    assert.equal(made.subnet, "198.18.40.0/24");
    assert.equal(made.gateway, "198.18.40.1");
    await must("run", "-d", "--name", `${p}-d1`, "--net", net, DOCKER_IMAGE, "sleep", "3600");
    await must("run", "-d", "--name", `${p}-d2`, "--net", net, DOCKER_IMAGE, "sleep", "3600");
    const [a1, a2] = [await ipOf(`${p}-d1`, net), await ipOf(`${p}-d2`, net)];
    assert.match(a1, /^198\.18\.40\.\d+$/);
    assert.match(a2, /^198\.18\.40\.\d+$/);
    assert.notEqual(a1, a2);
    assert.ok(await ping(`${p}-d1`, a2), "d1 reaches d2");
    assert.ok(await ping(`${p}-d2`, a1), "d2 reaches d1");
    assert.ok(await ping(`${p}-d1`, "198.18.40.1"), "d1 reaches the gateway");
    assert.deepEqual((await keys(RESERVATIONS)).filter((k) => k.includes(`:${net}/`)), [], "Docker's IPAM holds the addresses, not netmaster");
    const listed = (await api.get<{ Oper: { endpoints?: { ipAddress: string[]; ipamSource: string }[] } }>(`/api/v1/inspect/networks/default:${net}/`)).body.Oper.endpoints ?? [];
    assert.deepEqual(
      listed.map((e) => `${e.ipAddress[0]} ${e.ipamSource}`).sort(),
      [a1, a2].map((a) => `${a} docker`).sort(),
      "netctl net inspect says the addresses came from Docker's IPAM driver",
    );
    await must("rm", "-f", `${p}-d1`, `${p}-d2`);
    await must("network", "rm", net);
    await waitFor(async () => (await api.get(`/api/v1/networks/default:${net}/`)).status === 404, { timeoutMs: 10_000, what: () => `${net} stayed at netmaster` });
  });

  test("our IPAM driver with Docker's bridge driver, mapping a netmaster network: netmaster's addresses, held while the container lives", async () => {
    const backing = `${p}-pool`;
    const net = `${p}-br`;
    await api.create(`/api/v1/networks/default:${backing}/`, { tenantName: "default", networkName: backing, encap: "vxlan", subnet: "198.18.41.0/24", gateway: "198.18.41.254" });
    await must("network", "create", "-d", "bridge", "--ipam-driver", driver, "--ipam-opt", `network=${backing}`, "--subnet", "198.18.41.0/24", net);
    assert.equal(await must("network", "inspect", net, "--format", "{{.Driver}} {{.IPAM.Driver}}"), `bridge ${driver}`);
    await must("run", "-d", "--name", `${p}-b1`, "--net", net, DOCKER_IMAGE, "sleep", "3600");
    await must("run", "-d", "--name", `${p}-b2`, "--net", net, DOCKER_IMAGE, "sleep", "3600");
    const [a1, a2] = [await ipOf(`${p}-b1`, net), await ipOf(`${p}-b2`, net)];
    assert.match(a1, /^198\.18\.41\.\d+$/);
    assert.notEqual(a1, a2);
    // The state dump is netmaster's cache, fed by the store's watch: it may trail the commit RequestAddress waited for.
    const reserved = [a1, a2].map((a) => `${RESERVATIONS}default:${backing}/${a}`).sort();
    let held: string[] = [];
    await waitFor(async () => (held = (await keys(RESERVATIONS)).filter((k) => k.startsWith(`${RESERVATIONS}default:${backing}/`)).sort()).length >= 2, {
      timeoutMs: 5_000,
      what: () => `netmaster holds both addresses for the network it hands them out of: ${JSON.stringify(held)}`,
    });
    assert.deepEqual(held, reserved, "netmaster holds both addresses for the network it hands them out of");
    assert.ok(await ping(`${p}-b1`, a2), "b1 reaches b2 over Docker's bridge");
    assert.ok(await ping(`${p}-b2`, a1), "b2 reaches b1");
    assert.match(await must("exec", `${p}-b1`, "ip", "route"), /default via 198\.18\.41\.254/);

    await must("rm", "-f", `${p}-b1`);
    await waitFor(async () => !(await keys(RESERVATIONS)).includes(`${RESERVATIONS}default:${backing}/${a1}`), {
      timeoutMs: 10_000,
      what: () => `${a1} is still reserved at netmaster after its container went`,
    });
    assert.ok((await keys(RESERVATIONS)).includes(`${RESERVATIONS}default:${backing}/${a2}`), "b2's address stays reserved");
    // The released address is free again at netmaster: --ip takes it.
    await must("run", "-d", "--name", `${p}-b3`, "--net", net, "--ip", a1, DOCKER_IMAGE, "sleep", "3600");
    assert.equal(await ipOf(`${p}-b3`, net), a1);
    assert.ok(await ping(`${p}-b3`, a2), "b3 reaches b2");
    await must("rm", "-f", `${p}-b2`, `${p}-b3`);
    await must("network", "rm", net);
    await waitFor(async () => (await keys(RESERVATIONS)).filter((k) => k.includes(`:${backing}/`)).length === 0, {
      timeoutMs: 10_000,
      what: () => "reservations stayed at netmaster",
    });
    assert.equal((await api.get(`/api/v1/networks/default:${backing}/`)).status, 200, "the mapped network stays: netctl made it");
    // Its own Docker network (made by the agent's sync) goes with it.
    await api.del(`/api/v1/networks/default:${backing}/`);
    await waitFor(async () => !(await must("network", "ls", "--format", "{{.Name}}")).split("\n").includes(backing), {
      timeoutMs: 30_000,
      what: () => `Docker network ${backing} stayed`,
    });
  });

  test("our IPAM driver with Docker's bridge driver and a new pool: refused at docker run with what to do instead, nothing left", async () => {
    const net = `${p}-brnew`;
    const poolsBefore = await keys(POOLS);
    await must("network", "create", "-d", "bridge", "--ipam-driver", driver, "--subnet", "198.18.42.0/24", net);
    const r = await docker("run", "--rm", "--name", `${p}-n1`, "--net", net, DOCKER_IMAGE, "true");
    assert.notEqual(r.code, 0, "the container started");
    assert.match(r.stderr, /Error response from daemon: remote: /, r.stderr);
    assert.match(r.stderr, /no netplugin network was made with it/, r.stderr);
    assert.match(r.stderr, /--ipam-opt network=NAME/, r.stderr);
    assert.deepEqual((await keys(RESERVATIONS)).filter((k) => k.includes("198.18.42.")), [], "no address reserved");
    await must("network", "rm", net);
    let pools: string[] = [];
    // No pool of its own is left (one of an earlier test may still be on its way out meanwhile).
    await waitFor(async () => (pools = await keys(POOLS)).every((k) => poolsBefore.includes(k)), {
      timeoutMs: 10_000,
      what: () => `the pool stayed at netmaster: ${pools.join(", ")} (before: ${poolsBefore.join(", ")}); agent: ${cluster?.hosts[0]?.agent?.logs().slice(-2000)}`,
    });
  });
});
