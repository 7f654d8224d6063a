// Docker with the agent on `--datapath ovs`: a real dockerd on a one-host simulated cluster whose host runs its
// own private Open vSwitch (src/cluster, DockerHost). A network made through our driver, containers started
// with `docker run`: the veth the OVS driver makes for Docker (its side handed over down, with the endpoint's
// MAC and offloads) is moved and configured by Docker, and the containers reach each other and the gateway.
// Per-run names in 198.18.0.0/15; DockerHost.stop() and the cluster's down() remove everything.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Cluster, DOCKER_IMAGE, DockerHost, missingDockerTools } from "../../src/cluster/index.js";
import { hostPrefix } from "../../src/datapath/names.js";
import { bridgeName } from "../../src/datapath/ovs/render.js";
import { run, type RunResult } from "../../src/lib/process.js";
import { waitFor } from "../../src/lib/wait.js";

const missing = missingDockerTools();
const ovsInstalled = (await run(["ovs-vswitchd", "--version"])).code === 0;
const skip = process.getuid?.() !== 0 ? "needs root" : missing.length > 0 ? `not installed: ${missing.join(", ")}` : !ovsInstalled ? "openvswitch-switch is not installed" : false;

describe("Docker on the OVS datapath", { skip }, () => {
  let cluster: Cluster;
  let dockerHost: DockerHost | undefined;

  const docker = (...args: string[]): Promise<RunResult> => dockerHost!.docker(args);
  const must = (...args: string[]): Promise<string> => dockerHost!.must(...args);
  const ping = async (from: string, address: string): Promise<boolean> => (await docker("exec", from, "ping", "-c", "2", "-W", "1", "-q", address)).code === 0;

  before(async () => {
    cluster = await Cluster.up({ hosts: 1, datapath: "ovs", logLevel: "warn" });
    dockerHost = await DockerHost.start(cluster, cluster.hosts[0]!, { agentArgs: ["--docker-pool-range", "198.19.244.0/23"] });
  });

  after(async () => {
    await dockerHost?.stop();
    await cluster?.down();
  });

  test("docker run on our network: containers reach each other and the gateway, both ways", async () => {
    const driver = dockerHost!.driver;
    await must("network", "create", "-d", driver, "--ipam-driver", driver, "--subnet", "198.18.73.0/24", "--gateway", "198.18.73.254", "onet");
    await must("run", "-d", "--name", "o1", "--net", "onet", DOCKER_IMAGE, "sleep", "3600");
    await must("run", "-d", "--name", "o2", "--net", "onet", DOCKER_IMAGE, "sleep", "3600");
    const ip = (c: string) => must("inspect", c, "--format", "{{(index .NetworkSettings.Networks \"onet\").IPAddress}}");
    const [a, b] = [await ip("o1"), await ip("o2")];
    assert.match(a, /^198\.18\.73\.\d+$/);
    assert.ok(await ping("o1", b), "o1 → o2");
    assert.ok(await ping("o2", a), "o2 → o1");
    assert.ok(await ping("o1", "198.18.73.254"), "o1 → the gateway");
    const host = cluster.hosts[0]!;
    // The containers' ports (the tenant's gateway port aside): named after their endpoint, "ne…".
    const ports = async () => (await run(["ovs-vsctl", `--db=${host.ovs!.db}`, "list-ports", bridgeName(hostPrefix(host.name))])).stdout.split("\n").filter((p) => p.startsWith("ne"));
    assert.equal((await ports()).length, 2, "a port for each container");
    await must("rm", "-f", "o1", "o2");
    let left: string[] = [];
    await waitFor(async () => (left = await ports()).length === 0, { timeoutMs: 15_000, what: () => `ports left: ${left.join(" ")}` });
    await must("network", "rm", "onet");
  });
});
