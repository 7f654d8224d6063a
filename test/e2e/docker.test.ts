// Docker end to end on one host: a real dockerd uses the agent's network and
// IPAM driver, both in the host namespace of a one-host cluster
// (src/cluster/docker.ts: its own data, exec root and API socket; no bridge,
// iptables, masquerading or forwarding of its own). Addresses from
// 198.18.0.0/15 only.
//
// Covered: networks created through Docker appear at netmaster under Docker's
// name and netctl's appear in Docker; containers reach each other (IPv4, IPv6),
// --ip/--mac-address/--ip-range, Docker's own IPAM, connect/disconnect; -p
// (reached from an "outside" namespace through the host's address); policy
// set at netmaster applies; contiv-tag mapping; an empty pool request never
// gets a pool twice; bad input gives Docker's error with our message and
// leaves no state behind; a killed agent and a restarted dockerd keep
// everything working; removal leaves netmaster as it was.
// NP_KEEP_LOGS=/some/prefix keeps the agent's and dockerd's logs of a run.

import assert from "node:assert/strict";
import { copyFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { Cluster, DOCKER_IMAGE, DockerHost, missingDockerTools, type ClusterHost } from "../../src/cluster/index.js";
import { hostPrefix } from "../../src/datapath/names.js";
import { run, type RunResult } from "../../src/lib/process.js";
import { waitFor } from "../../src/lib/wait.js";
import { Api } from "../harness/api.js";

const NETPROBE = fileURLToPath(new URL("../../src/datapath/linux/netprobe.js", import.meta.url));
const missing = missingDockerTools();

describe("Docker network and IPAM driver", { skip: missing.length > 0 ? `not installed: ${missing.join(", ")}` : false }, () => {
  let cluster: Cluster;
  let host: ClusterHost;
  let api: Api;
  let dockerHost: DockerHost | undefined;
  let driver = "";

  const docker = (...args: string[]): Promise<RunResult> => dockerHost!.docker(args);
  const must = (...args: string[]): Promise<string> => dockerHost!.must(...args);
  const ipOf = async (container: string, network: string): Promise<string> =>
    must("inspect", container, "--format", `{{(index .NetworkSettings.Networks "${network}").IPAddress}}`);
  const ping = async (from: string, address: string, count = 2): Promise<boolean> =>
    (await docker("exec", from, "ping", address.includes(":") ? "-6" : "-4", "-c", String(count), "-W", "1", "-q", address)).code === 0;

  before(async () => {
    cluster = await Cluster.up({ hosts: 1, logLevel: "warn" });
    host = cluster.hosts[0]!;
    api = new Api(cluster.apiBase);
    dockerHost = await DockerHost.start(cluster, host, { agentArgs: ["--log-level", "info", "--docker-pool-range", "198.19.240.0/23"] });
    driver = dockerHost.driver;
  });

  after(async () => {
    const keep = process.env["NP_KEEP_LOGS"];
    if (keep) {
      for (const [from, to] of [[join(cluster.dir, "h1.log"), "agent.log"], [dockerHost?.logFile ?? "", "dockerd.log"]] as const) {
        if (existsSync(from)) copyFileSync(from, `${keep}-${to}`);
      }
    }
    await dockerHost?.stop();
    await cluster?.down();
  });

  test("a network created through Docker appears at netmaster under Docker's name", async () => {
    await must("network", "create", "-d", driver, "--ipam-driver", driver, "--subnet", "198.18.30.0/24", "--gateway", "198.18.30.254", "dnet");
    let net: { subnet?: string; gateway?: string } = {};
    await waitFor(async () => {
      const r = await api.get<{ subnet: string; gateway: string }>("/api/v1/networks/default:dnet/");
      net = r.body;
      return r.status === 200;
    }, { timeoutMs: 20_000, what: () => "network dnet did not appear at netmaster" });
    assert.equal(net.subnet, "198.18.30.0/24");
    assert.equal(net.gateway, "198.18.30.254");
  });

  test("two containers on it reach each other and their gateway", async () => {
    await must("run", "-d", "--restart", "always", "--name", "c1", "--net", "dnet", DOCKER_IMAGE, "sleep", "3600");
    await must("run", "-d", "--restart", "always", "--name", "c2", "--net", "dnet", DOCKER_IMAGE, "sleep", "3600");
    const ip1 = await ipOf("c1", "dnet");
    const ip2 = await ipOf("c2", "dnet");
    assert.match(ip1, /^198\.18\.30\.\d+$/);
    assert.notEqual(ip1, ip2);
    assert.ok(await ping("c1", ip2), "c1 reaches c2");
    assert.ok(await ping("c2", ip1), "c2 reaches c1");
    assert.ok(await ping("c1", "198.18.30.254"), "c1 reaches the gateway");
    assert.match(await must("exec", "c1", "ip", "route"), /default via 198\.18\.30\.254 dev eth0/);
    const ep = await api.get<{ Oper: { homingHost: string } }>(`/api/v1/inspect/endpoints/dnet.default-${await must("inspect", "c1", "--format", "{{.NetworkSettings.Networks.dnet.EndpointID}}")}/`);
    assert.equal(ep.status, 200, ep.text);
    assert.equal(ep.body.Oper.homingHost, host.name);
  });

  test("docker run -p publishes host ports (a range gets its first free port); taken or missing ones are refused; stop withdraws them", async () => {
    const outside = await cluster.addOutside();
    // busybox `nc -e echo` closes with our request unread, so its reset may beat its reply ("error"): ask again.
    const reach = async (port: number): Promise<string> => {
      let result = "";
      for (let attempt = 0; attempt < 3 && (result === "" || result === "error"); attempt++) {
        const r = await run(["ip", "netns", "exec", outside, process.execPath, NETPROBE, "tcp", host.address, String(port), "1500"]);
        const out = JSON.parse(r.stdout.trim().split("\n").pop() || "{}") as { result?: string; tag?: string };
        result = out.result === "reply" ? String(out.tag) : String(out.result);
      }
      return result;
    };
    const serve = (tag: string) => ["sh", "-c", `nc -ll -p 80 -e echo ${tag}:80 & nc -ll -p 81 -e echo ${tag}:81 & exec sleep 3600`];
    await must("run", "-d", "--name", "pp1", "--net", "dnet", "-p", "18380:80", "-p", "18381-18383:81", DOCKER_IMAGE, ...serve("pp1"));
    await waitFor(async () => (await reach(18380)) === "pp1", { timeoutMs: 10_000, what: () => `18380 does not reach pp1: ${host.agent?.logs().slice(-3000)}` });
    assert.equal(await reach(18381), "pp1", "the range's first port");
    await must("run", "-d", "--name", "pp2", "--net", "dnet", "-p", "18381-18383:81", DOCKER_IMAGE, ...serve("pp2"));
    await waitFor(async () => (await reach(18382)) === "pp2", { timeoutMs: 10_000, what: () => "18382, the range's first free port, does not reach pp2" });
    const links = (await run(["ip", "-n", `${hostPrefix(host.name)}-t-default`, "-o", "link"])).stdout.split("\n").length;
    for (const [name, publish, message] of [
      ["pp3", "18380:80", /remote: Cannot publish host port: host port 18380\/tcp is published by container/],
      ["pp4", "80", /remote: Cannot publish container port 80\/tcp: give it a host port/],
    ] as const) {
      const r = await docker("run", "-d", "--name", name, "--net", "dnet", "-p", publish, DOCKER_IMAGE, "sleep", "3600");
      assert.notEqual(r.code, 0, `${name} started`);
      assert.match(r.stderr, message);
      await must("rm", "-f", name);
    }
    assert.equal((await run(["ip", "-n", `${hostPrefix(host.name)}-t-default`, "-o", "link"])).stdout.split("\n").length, links, "no link left");
    assert.equal(await reach(18380), "pp1", "pp1 keeps its port");
    await must("stop", "-t", "0", "pp1");
    assert.notEqual(await reach(18380), "pp1", "stopped: the port is withdrawn");
    assert.equal(await reach(18382), "pp2");
    await must("rm", "-f", "pp1", "pp2");
    assert.notEqual(await reach(18382), "pp2", "removed: the port is withdrawn");
  });

  test("--ip and --mac-address are honoured", async () => {
    await must("run", "-d", "--name", "c3", "--net", "dnet", "--ip", "198.18.30.50", "--mac-address", "02:42:c6:12:1e:32", DOCKER_IMAGE, "sleep", "3600");
    const addr = await must("exec", "c3", "ip", "addr", "show", "eth0");
    assert.match(addr, /inet 198\.18\.30\.50\/24/);
    assert.match(addr, /02:42:c6:12:1e:32/);
    assert.ok(await ping("c1", "198.18.30.50"));
    await must("rm", "-f", "c3");
  });

  test("--ip-range hands out addresses from the range only", async () => {
    await must("network", "create", "-d", driver, "--ipam-driver", driver, "--subnet", "198.18.37.0/24", "--ip-range", "198.18.37.128/25", "ranged");
    await waitFor(async () => (await api.get("/api/v1/networks/default:ranged/")).status === 200, { timeoutMs: 20_000, what: () => "ranged did not appear" });
    assert.equal((await api.get<{ subnet: string }>("/api/v1/networks/default:ranged/")).body.subnet, "198.18.37.128-198.18.37.254/24");
    await must("run", "-d", "--name", "g1", "--net", "ranged", DOCKER_IMAGE, "sleep", "3600");
    assert.equal(await ipOf("g1", "ranged"), "198.18.37.128");
    assert.ok(await ping("g1", "198.18.37.1"), "the gateway (first address of the subnet) answers");
    await must("rm", "-f", "g1");
    await must("network", "rm", "ranged");
  });

  test("with Docker's own IPAM driver the addresses are Docker's, the network ours", async () => {
    await must("network", "create", "-d", driver, "--subnet", "198.18.38.0/24", "--gateway", "198.18.38.1", "plain");
    await waitFor(async () => (await api.get("/api/v1/networks/default:plain/")).status === 200, { timeoutMs: 20_000, what: () => "plain did not appear" });
    await must("run", "-d", "--name", "h1", "--net", "plain", DOCKER_IMAGE, "sleep", "3600");
    await must("run", "-d", "--name", "h2", "--net", "plain", DOCKER_IMAGE, "sleep", "3600");
    assert.ok(await ping("h1", await ipOf("h2", "plain")));
    await must("rm", "-f", "h1", "h2");
    await must("network", "rm", "plain");
  });

  test("docker network connect and disconnect", async () => {
    await must("network", "create", "-d", driver, "--ipam-driver", driver, "--subnet", "198.18.33.0/24", "dnet2");
    await must("run", "-d", "--name", "e1", "--net", "dnet2", DOCKER_IMAGE, "sleep", "3600");
    await must("network", "connect", "dnet2", "c1");
    const ip = await ipOf("c1", "dnet2");
    assert.match(ip, /^198\.18\.33\.\d+$/);
    assert.ok(await ping("e1", ip), "e1 reaches c1 on the second network");
    // The sandbox's default route stays where dockerd put it, and the agent leaves it there.
    await new Promise((r) => setTimeout(r, 1500));
    assert.match(await must("exec", "c1", "ip", "route"), /default via 198\.18\.30\.254 dev eth0/);
    assert.ok(await ping("c1", await ipOf("c2", "dnet")), "c1 still reaches c2");
    await must("network", "disconnect", "dnet2", "c1");
    assert.doesNotMatch(await must("exec", "c1", "ip", "-o", "link"), /eth1/);
    assert.equal(await ping("e1", ip, 1), false);
    await must("rm", "-f", "e1");
    await must("network", "rm", "dnet2");
    assert.equal((await api.get("/api/v1/networks/default:dnet2/")).status, 404, "the network made for Docker is gone");
  });

  test("IPv6: a dual-stack network", async () => {
    await must("network", "create", "-d", driver, "--ipam-driver", driver, "--ipv6", "--subnet", "198.18.32.0/24", "--subnet", "fd00:32::/64", "dual");
    await must("run", "-d", "--name", "v1", "--net", "dual", DOCKER_IMAGE, "sleep", "3600");
    await must("run", "-d", "--name", "v2", "--net", "dual", DOCKER_IMAGE, "sleep", "3600");
    const v6 = await must("inspect", "v2", "--format", "{{.NetworkSettings.Networks.dual.GlobalIPv6Address}}");
    assert.match(v6, /^fd00:32::/);
    // Docker adds the address with duplicate address detection: it is usable after a second or two.
    await waitFor(() => ping("v1", v6, 1), { timeoutMs: 10_000, what: () => "v1 does not reach v2 over IPv6" });
    await must("rm", "-f", "v1", "v2");
    await must("network", "rm", "dual");
  });

  test("networks and groups made at netmaster appear in Docker; policy set there applies to Docker's containers", async () => {
    await api.create("/api/v1/networks/default:pnet/", { tenantName: "default", networkName: "pnet", encap: "vxlan", subnet: "198.18.31.0/24", gateway: "198.18.31.254" });
    await api.create("/api/v1/policys/default:noping/", { tenantName: "default", policyName: "noping" });
    await api.create("/api/v1/rules/default:noping:1/", { tenantName: "default", policyName: "noping", ruleId: "1", direction: "in", protocol: "icmp", action: "deny", priority: 1 });
    await api.create("/api/v1/endpointGroups/default:web/", { tenantName: "default", groupName: "web", networkName: "pnet", policies: ["noping"] });
    await api.create("/api/v1/endpointGroups/default:client/", { tenantName: "default", groupName: "client", networkName: "pnet" });
    await waitFor(async () => {
      const names = (await docker("network", "ls", "--format", "{{.Name}}")).stdout.split("\n");
      return ["pnet", "web", "client"].every((n) => names.includes(n));
    }, { timeoutMs: 30_000, what: () => `docker networks: ${host.agent?.logs().slice(-3000)}` });

    await must("run", "-d", "--name", "w1", "--net", "web", DOCKER_IMAGE, "sleep", "3600");
    await must("run", "-d", "--name", "k1", "--net", "client", DOCKER_IMAGE, "sleep", "3600");
    await must("run", "-d", "--name", "p1", "--net", "pnet", DOCKER_IMAGE, "sleep", "3600");
    const web = await ipOf("w1", "web");
    const client = await ipOf("k1", "client");
    assert.equal(await ping("k1", web, 1), false, "icmp into web is denied");
    assert.equal(await ping("p1", web, 1), false, "also from outside any group");
    assert.ok(await ping("w1", client), "web's own pings go out, and their replies come back");
    assert.ok(await ping("p1", client), "client has no policy");
    const ep = await api.get<{ Config: { groupName?: string }; Oper: { groupName?: string } }>(
      `/api/v1/inspect/endpoints/pnet.default-${await must("inspect", "w1", "--format", "{{.NetworkSettings.Networks.web.EndpointID}}")}/`,
    );
    assert.equal(ep.status, 200, ep.text);
    assert.match(ep.text, /"web"/, "the container is in group web");

    // Contiv's contiv-tag maps a Docker network of any name to a group.
    await must("network", "create", "-d", driver, "--ipam-driver", driver, "--ipam-opt", "contiv-tag=web.default", "tagged");
    await must("run", "-d", "--name", "w2", "--net", "tagged", DOCKER_IMAGE, "sleep", "3600");
    assert.match(await ipOf("w2", "tagged"), /^198\.18\.31\.\d+$/);
    assert.equal(await ping("k1", await ipOf("w2", "tagged"), 1), false, "the tagged network's container is in web too");
  });

  test("Docker asking for any pool never gets the same one twice", async () => {
    await must("network", "create", "-d", driver, "--ipam-driver", driver, "any1");
    await must("network", "create", "-d", driver, "--ipam-driver", driver, "any2");
    const subnet = (n: string) => must("network", "inspect", n, "--format", "{{(index .IPAM.Config 0).Subnet}}");
    const [s1, s2] = [await subnet("any1"), await subnet("any2")];
    assert.match(s1, /^198\.19\.24[01]\.0\/24$/);
    assert.match(s2, /^198\.19\.24[01]\.0\/24$/);
    assert.notEqual(s1, s2);
    await must("network", "rm", "any1", "any2");
  });

  test("bad input through Docker gives a clear message and leaves no state behind", async () => {
    await must("network", "create", "-d", driver, "--ipam-driver", driver, "--subnet", "198.18.34.0/30", "tiny");
    await must("run", "-d", "--name", "t1", "--net", "tiny", DOCKER_IMAGE, "sleep", "3600");
    // netmaster learns a container's name and labels from dockerd once it runs: that is a change too.
    await waitFor(async () => Object.values(await api.state()).some((v) => (v as { containerName?: string }).containerName === "t1"), {
      timeoutMs: 10_000,
      what: () => "netmaster never learned the container's name t1",
    });
    const prefix = hostPrefix(host.name);
    const stateOf = async () => {
      const s = await api.state();
      delete s["/netplugin/state/docker/pool-id"]; // a counter, like group ids: never reused
      return s;
    };
    const before = await stateOf();
    const links = async () =>
      (await run(["ip", "-n", `${prefix}-t-default`, "-o", "link"])).stdout.split("\n").map((l) => (l.split(":")[1] ?? "").split("@")[0]!.trim()).sort().join(" ");
    const linksBefore = await links();
    const networksBefore = await must("network", "ls", "-q");
    const c1 = await ipOf("c1", "dnet");
    const cases: [string, string[], RegExp][] = [
      ["overlapping subnet", ["network", "create", "-d", driver, "--ipam-driver", driver, "--subnet", "198.18.30.128/25", "bad1"], /overlaps subnet 198\.18\.30\.0\/24 of network dnet/],
      ["unknown tag", ["network", "create", "-d", driver, "--ipam-driver", driver, "--ipam-opt", "contiv-tag=nope", "bad2"], /contiv-tag "nope"/],
      ["unknown tenant", ["network", "create", "-d", driver, "--ipam-driver", driver, "--ipam-opt", "tenant=nope", "--subnet", "198.18.35.0/24", "bad3"], /Tenant nope not found/],
      ["IPv6 without subnet", ["network", "create", "-d", driver, "--ipam-driver", driver, "--ipv6", "--subnet", "198.18.36.0/24", "bad4"], /IPv6/],
      ["exhausted pool", ["run", "--rm", "--net", "tiny", DOCKER_IMAGE, "true"], /address exhaustion/],
      ["address in use", ["run", "--rm", "--net", "dnet", "--ip", c1, DOCKER_IMAGE, "true"], new RegExp(`address ${c1.replace(/\./g, "\\.")} .*not available`)],
    ];
    for (const [name, args, message] of cases) {
      const r = await docker(...args);
      assert.notEqual(r.code, 0, `${name}: succeeded`);
      assert.match(r.stderr, /Error response from daemon: remote: /, `${name}: ${r.stderr}`);
      assert.match(r.stderr, message, `${name}: ${r.stderr}`);
    }
    assert.deepEqual(await stateOf(), before, "netmaster's state is unchanged");
    assert.equal(await links(), linksBefore, "no link left in the tenant namespace");
    assert.equal(await must("network", "ls", "-q"), networksBefore, "no Docker network left");
    assert.equal((await run(["ip", "-n", host.namespace, "-o", "link"])).stdout.includes(`${prefix}d`), false, "no interface left in dockerd's namespace");
    assert.ok(await ping("c1", await ipOf("c2", "dnet")), "the network still works");
    await must("rm", "-f", "t1");
    await must("network", "rm", "tiny");
  });

  test("a killed agent loses no packet, and serves Docker again when it is back", async () => {
    const target = await ipOf("c2", "dnet");
    const flood = docker("exec", "c1", "ping", "-c", "300", "-i", "0.01", "-q", target);
    await new Promise((r) => setTimeout(r, 300));
    await host.agent?.kill();
    await cluster.startAgent(host);
    const out = await flood;
    assert.match(out.stdout, / 0% packet loss/, out.stdout);
    await must("run", "-d", "--name", "c4", "--net", "dnet", DOCKER_IMAGE, "sleep", "3600");
    assert.ok(await ping("c4", target), "a container started after the restart works");
    await must("rm", "-f", "c4");
  });

  test("a dockerd restart keeps networks and containers working", async () => {
    await dockerHost!.stopDockerd();
    await dockerHost!.startDockerd();
    await waitFor(async () => (await docker("inspect", "c1", "c2", "--format", "{{.State.Running}}")).stdout.trim() === "true\ntrue", { timeoutMs: 60_000, what: () => "c1 and c2 did not come back" });
    const ip2 = await ipOf("c2", "dnet");
    await waitFor(() => ping("c1", ip2, 1), { timeoutMs: 20_000, what: () => `c1 does not reach c2: ${host.agent?.logs().slice(-3000)}` });
    assert.ok(await ping("c2", await ipOf("c1", "dnet")));
    await must("start", "w1", "k1");
    assert.ok(await ping("w1", await ipOf("k1", "client")), "netctl's networks are there too");
  });

  test("removal leaves netmaster without Docker's pools, addresses, endpoints or networks", async () => {
    await must("rm", "-f", "c1", "c2", "w1", "w2", "k1", "p1");
    await must("network", "rm", "dnet", "tagged");
    await waitFor(async () => (await api.get("/api/v1/networks/default:dnet/")).status === 404, { timeoutMs: 10_000, what: () => "dnet is still at netmaster" });
    // The networks netctl made keep their Docker networks (and so their pools), nothing else stays.
    const dockerKeys = async (): Promise<string[]> =>
      Object.keys(await api.state()).filter((k) => k.startsWith("/netplugin/state/eps/") || (k.startsWith("/netplugin/state/docker/") && !k.endsWith("/pool-id")));
    let left: string[] = [];
    await waitFor(async () => {
      left = await dockerKeys();
      return left.length === 3 && left.every((k) => k.startsWith("/netplugin/state/docker/pools/"));
    }, { timeoutMs: 10_000, what: () => `pools of pnet, web and client only: ${left.join(", ")}` });
    // netctl's objects going makes their Docker networks go.
    await api.del("/api/v1/endpointGroups/default:web/");
    await api.del("/api/v1/endpointGroups/default:client/");
    await api.del("/api/v1/networks/default:pnet/");
    await waitFor(async () => (await docker("network", "ls", "--filter", `driver=${driver}`, "-q")).stdout.trim() === "", { timeoutMs: 30_000, what: () => "docker networks stayed" });
    await waitFor(async () => (left = await dockerKeys()).length === 0, { timeoutMs: 10_000, what: () => `left at netmaster: ${left.join(", ")}` });
  });
});
