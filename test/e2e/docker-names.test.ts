// Contiv's getting-started across hosts, with the real tools: `netctl net create
// contiv-net`, then `docker run --name=web --net=contiv-net` on host 1 and
// `--name=db` on host 2 of a three-host cluster (a real dockerd in each host's
// namespace next to its agent, src/cluster/docker.ts), and `docker exec web
// ping db`. Neither dockerd knows the other's container: Docker's embedded
// resolver forwards the name to dockerd's upstream (an address that leads
// nowhere), the tenant's interception of port 53 hands it to the tenant DNS on
// the container's host, which knows every container of the tenant by name
// from netmaster. A podman container on host 3 (CNI, through that host's
// agent) asks its gateway for both names, and web asks for podman's name and
// alias. Names the tenant does not know go to a stand-in upstream resolver that
// runs in the cluster's "outside" namespace (every agent has --dns-upstream
// pointing at it): an outside name resolves to its answer, a name it says does
// not exist gets NXDOMAIN, and one it never answers fails in seconds. Docker's
// labels reach the endpoint at netmaster (netctl endpoint inspect).
//
// Everything is named with the run's prefix and removed in after(), also on
// failure; addresses are from 198.18.0.0/15; no query can reach the machine's
// resolvers (dockerd's --dns and podman's --dns lead into the cluster only).

import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { Cluster, DOCKER_IMAGE, DockerHost, missingDockerTools, NOWHERE_DNS, OUTSIDE_ADDRESS } from "../../src/cluster/index.js";
import { NsProcess } from "../../src/cluster/process.js";
import { FAKE_UPSTREAM_A } from "../../src/agent/dns/testing/fakeUpstream.js";
import { run, type RunResult } from "../../src/lib/process.js";
import { waitFor } from "../../src/lib/wait.js";
import { runPrefix } from "../harness/netns.js";
import { CNI_WRAPPER, makeBusyboxRootfs, Podman } from "../harness/runtimes.js";

const DNS_QUERY = fileURLToPath(new URL("../harness/dns-query.js", import.meta.url));
const FAKE_UPSTREAM = fileURLToPath(new URL("../../src/agent/dns/testing/fakeUpstream.js", import.meta.url));

const SUBNET = "198.18.50.0/24";
const GATEWAY = "198.18.50.254";

const missing = [...missingDockerTools(), ...["/usr/bin/podman", "/usr/bin/conmon", CNI_WRAPPER].filter((p) => !existsSync(p))];
const skip = process.getuid?.() !== 0 ? "needs root" : missing.length > 0 ? `missing: ${missing.join(", ")}` : false;

/** The address busybox ping resolved the name to ("PING db (198.18.50.2): …"), "" when none. */
function pinged(out: string): string {
  return /^PING \S+ \(([0-9.]+)\)/m.exec(out)?.[1] ?? "";
}
/** The IPv4 addresses of busybox nslookup's answers (not the server's own "Address:\t…:53" line). */
function looked(out: string): string[] {
  return [...out.matchAll(/^Address: ([0-9.]+)$/gm)].map((m) => m[1]!);
}

describe("Contiv's getting-started across hosts: containers find each other by name", { skip }, () => {
  const prefix = runPrefix("npn");
  const podmanName = `${prefix}-app`;
  let cluster: Cluster | undefined;
  const dockers: DockerHost[] = [];
  let upstream: NsProcess | undefined;
  let podman: Podman | undefined;
  let podmanDir = "";
  const ips = new Map<string, string>();

  const netctl = (...args: string[]): Promise<RunResult> =>
    run([...cluster!.netctl, ...args], { netns: cluster!.underlay });
  /** The Docker of host 1 (where web runs) and of host 2 (db). */
  const d1 = (): DockerHost => dockers[0]!;
  const d2 = (): DockerHost => dockers[1]!;

  before(async () => {
    // Every agent sends names its tenants do not know to the stand-in, which starts below (before any query).
    cluster = await Cluster.up({ hosts: 3, prefix, logLevel: "warn", agentArgs: ["--dns-upstream", OUTSIDE_ADDRESS] });
    const outside = await cluster.addOutside();
    upstream = NsProcess.start(outside, [process.execPath, FAKE_UPSTREAM, OUTSIDE_ADDRESS, "53"], join(cluster.dir, "upstream.log"));
    await waitFor(() => upstream!.logs().includes("ready"), { timeoutMs: 10_000, what: () => `the stand-in resolver: ${upstream!.logs()}` });
    const started = await Promise.allSettled(cluster.hosts.slice(0, 2).map((h) => DockerHost.start(cluster!, h)));
    for (const s of started) if (s.status === "fulfilled") dockers.push(s.value);
    const failed = started.find((s) => s.status === "rejected");
    if (failed) throw failed.reason;
  });

  after(async () => {
    await podman?.cleanup();
    if (podmanDir) rmSync(podmanDir, { recursive: true, force: true });
    for (const d of dockers) await d.stop();
    await upstream?.stop();
    await cluster?.down();
  });

  test("netctl net create contiv-net: the network appears in the Docker of both hosts", async () => {
    const r = await netctl("net", "create", "contiv-net", "-s", SUBNET, "-g", GATEWAY);
    assert.equal(r.code, 0, r.stderr);
    for (const d of dockers) {
      await waitFor(async () => (await d.docker(["network", "ls", "--format", "{{.Name}} {{.Driver}}"])).stdout.split("\n").includes(`contiv-net ${d.driver}`), {
        timeoutMs: 30_000,
        what: () => `contiv-net in the Docker of ${d.host.name}: ${d.host.agent?.logs().slice(-2000)}`,
      });
    }
  });

  test("docker run web on host 1 and db on host 2: each pings the other by name", async () => {
    await d1().must("run", "-d", "--name=web", "--net=contiv-net", "--label", "app=web", DOCKER_IMAGE, "sleep", "3600");
    await d2().must("run", "-d", "--name=db", "--net=contiv-net", DOCKER_IMAGE, "sleep", "3600");
    for (const [d, name] of [[d1(), "web"], [d2(), "db"]] as const) {
      ips.set(name, await d.must("inspect", name, "--format", "{{(index .NetworkSettings.Networks \"contiv-net\").IPAddress}}"));
      assert.match(ips.get(name)!, /^198\.18\.50\.\d+$/);
      // Docker's embedded resolver, which forwards what it does not know to dockerd's --dns.
      assert.match(await d.must("exec", name, "cat", "/etc/resolv.conf"), /^nameserver 127\.0\.0\.11$/m);
    }
    // The other host's container is known once its agent told netmaster its name, and netmaster told this host.
    for (const [d, from, to] of [[d1(), "web", "db"], [d2(), "db", "web"]] as const) {
      let last: RunResult | undefined;
      await waitFor(async () => (last = await d.docker(["exec", from, "ping", "-c1", "-W2", to], 20_000)).code === 0, {
        timeoutMs: 30_000,
        what: () => `docker exec ${from} ping -c1 ${to}: ${last?.stdout} ${last?.stderr}\n--- agent:\n${d.host.agent?.logs().slice(-2000)}`,
      });
      assert.equal(pinged(last!.stdout), ips.get(to), `${to} resolved to its own address: ${last!.stdout}`);
      assert.match(last!.stdout, / 0% packet loss/);
    }
  });

  test("docker run --label app=web: the endpoint has the label at netmaster", async () => {
    let out = "";
    await waitFor(async () => /app:web/.test((out = (await netctl("endpoint", "inspect", "web")).stdout)), {
      timeoutMs: 15_000,
      what: () => `label app=web in netctl endpoint inspect web: ${out}`,
    });
    assert.match(out, /"containerName": "web"/);
    assert.match(out, new RegExp(`"homingHost": "${d1().host.name}"`));
  });

  test("a podman container on host 3 resolves web and db through its gateway, and web resolves it and its alias", async () => {
    podmanDir = mkdtempSync(join(tmpdir(), `${prefix}-podman-`));
    const rootfs = makeBusyboxRootfs(join(podmanDir, "rootfs"));
    const h3 = cluster!.hosts[2]!;
    const network = `${prefix}-contiv`;
    podman = Podman.setup(
      podmanDir,
      { "contiv.conflist": { cniVersion: "1.0.0", name: network, plugins: [{ type: "netplugin", network: "contiv-net", socket: h3.socket, capabilities: { aliases: true } }] } },
      (dir) => symlinkSync(CNI_WRAPPER, join(dir, "netplugin")),
    );
    const r = await podman.run(podmanName, rootfs, { network, dns: GATEWAY, aliases: ["cache"] }, ["sleep", "3600"]);
    assert.equal(r.code, 0, `podman run: ${r.stderr}\n--- agent:\n${h3.agent?.logs().slice(-2000)}`);
    ips.set(podmanName, /inet ([0-9.]+)\//.exec((await podman.exec(podmanName, ["ip", "-o", "-4", "addr", "show", "eth0"])).stdout)?.[1] ?? "");
    assert.match(ips.get(podmanName)!, /^198\.18\.50\.\d+$/);
    for (const name of ["web", "db"]) {
      const out = await podman.exec(podmanName, ["nslookup", name, GATEWAY]);
      assert.equal(out.code, 0, `nslookup ${name} ${GATEWAY}: ${out.stdout} ${out.stderr}`);
      assert.deepEqual(looked(out.stdout), [ips.get(name)], out.stdout);
    }
    for (const name of [podmanName, "cache"]) {
      let last: RunResult | undefined;
      await waitFor(async () => looked((last = await d1().docker(["exec", "web", "nslookup", name])).stdout).includes(ips.get(podmanName)!), {
        timeoutMs: 15_000,
        what: () => `web resolves ${name}: ${last?.stdout} ${last?.stderr}`,
      });
    }
  });

  test("names nobody in the tenant knows: answered upstream, refused upstream, or failed in seconds", async () => {
    const outside = await d1().docker(["exec", "web", "nslookup", "example.test"]);
    assert.equal(outside.code, 0, `${outside.stdout} ${outside.stderr}`);
    assert.ok(looked(outside.stdout).includes(FAKE_UPSTREAM_A), `the stand-in's answer: ${outside.stdout}`);

    const nx = await d2().docker(["exec", "db", "nslookup", "nx.example"]);
    assert.notEqual(nx.code, 0);
    assert.match(nx.stdout + nx.stderr, /NXDOMAIN/);

    // The stand-in never answers this one: the tenant DNS gives up and says so (SERVFAIL) in about 2 s. Asked
    // once from podman's container (busybox nslookup would ask again on every SERVFAIL until its own 5 s are up).
    const pid = (await podman!.inspect<{ State: { Pid: number } }>(podmanName)).State.Pid;
    const silent = await run(["nsenter", `--net=/proc/${pid}/ns/net`, process.execPath, DNS_QUERY, GATEWAY, "silent.example", "A"]);
    // The SERVFAIL at all proves it came before dns-query's own 3 s were up.
    assert.deepEqual(JSON.parse(silent.stdout), { rcode: 2, addresses: [] }, silent.stderr);

    // The interception answers whatever server a container asks; dockerd's own leads nowhere else.
    const direct = await d1().docker(["exec", "web", "nslookup", "db", NOWHERE_DNS]);
    assert.deepEqual(looked(direct.stdout), [ips.get("db")], direct.stdout);
  });

  test("a removed container's name is forgotten on the other hosts: it goes upstream like any unknown name", async () => {
    await d2().must("rm", "-f", "db");
    let last: RunResult | undefined;
    await waitFor(async () => looked((last = await d1().docker(["exec", "web", "nslookup", "db"])).stdout).includes(FAKE_UPSTREAM_A), {
      timeoutMs: 15_000,
      what: () => `web still resolves db: ${last?.stdout} ${last?.stderr}`,
    });
    assert.ok(!looked(last!.stdout).includes(ips.get("db")!), last!.stdout);
    const podmanAsks = await podman!.exec(podmanName, ["nslookup", "db", GATEWAY]);
    assert.deepEqual(looked(podmanAsks.stdout), [FAKE_UPSTREAM_A], podmanAsks.stdout);
  });
});
