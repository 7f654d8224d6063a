// `make demo`: a three-host cluster on this machine, driven the way a user
// would: netctl creates a tenant, a network, two groups and a policy; the CNI
// plugin attaches containers on different hosts; ping and TCP show who
// reaches whom. When Docker is installed, Contiv's getting-started follows
// with the real netctl and docker: a dockerd on hosts 1 and 2, `netctl net
// create contiv-net`, `docker run --name=web` on one host and `--name=db` on
// the other, and `ping db` from web. With a terminal it then waits for Ctrl-C;
// without one it stops.
//
// Nothing leaves the machine: the hosts are namespaces on a private underlay;
// the agents' upstream DNS and dockerd's (--dns) are NOWHERE_DNS, which no
// namespace routes, so names nobody in a tenant knows fail at once. The work
// runs in a session of its own (session.ts): Ctrl-C reaches only the front
// process, which passes it on, and the teardown runs with the agents still
// serving dockerd.

import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Cluster, netctlHint } from "./cluster.js";
import { DOCKER, DOCKER_IMAGE, DockerHost, missingDockerTools, NOWHERE_DNS } from "./docker.js";
import { inOwnSession, isSessionWorker } from "./session.js";
import { run } from "../lib/process.js";
import { waitFor } from "../lib/wait.js";

const NETPROBE = fileURLToPath(new URL("../datapath/linux/netprobe.js", import.meta.url));
/** Set by the front process for the worker (which has no stdin): "1" when the demo was started from a terminal. */
const TERMINAL = "NP_DEMO_TERMINAL";
const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);

async function netctl(cluster: Cluster, ...args: string[]): Promise<void> {
  process.stdout.write(`\n${bold(`$ netctl ${args.join(" ")}`)}\n`);
  const r = await run([...cluster.netctl, ...args], { netns: cluster.underlay });
  process.stdout.write(r.stdout + r.stderr);
}

/** One docker command on a host, printed with its output as a user would see it; throws when it fails. */
async function docker(d: DockerHost, ...args: string[]): Promise<string> {
  process.stdout.write(`\n${bold(`${d.host.name}$ docker ${args.join(" ")}`)}\n`);
  const r = await d.docker(args);
  process.stdout.write(r.stdout + r.stderr);
  if (r.code !== 0) throw new Error(`docker ${args.join(" ")} on ${d.host.name} exited ${r.code}`);
  return r.stdout;
}

async function show(what: string, argv: string[]): Promise<string> {
  process.stdout.write(`${bold(`# ${what}`)}\n`);
  const r = await run(argv);
  return r.stdout;
}

/**
 * Waits until netmaster says the container's endpoint and its group's policy are in force on every host; the
 * hosts still pending when it gives up, for the demo to tell and go on.
 */
async function inForce(cluster: Cluster, containerId: string): Promise<string[]> {
  let pending: string[] = [];
  try {
    await waitFor(
      async () => {
        const r = await cluster.api("GET", `/api/v1/inspect/endpoints/${containerId}/`);
        if (r.status !== 200) return false;
        pending = (JSON.parse(r.text) as { Oper: { realization: { pendingHosts: string[] } } }).Oper.realization.pendingHosts;
        return pending.length === 0;
      },
      { timeoutMs: 15_000, intervalMs: 50, what: () => `${containerId} not in force on every host` },
    );
    return [];
  } catch {
    return pending;
  }
}

async function main(): Promise<void> {
  process.stdout.write("bringing up 3 hosts (network namespaces on a private underlay), netmaster and 3 agents…\n");
  const cluster = await Cluster.up({ hosts: 3, logLevel: "warn", agentArgs: ["--dns-upstream", NOWHERE_DNS] });
  const servers: ChildProcess[] = [];
  const dockers: Promise<DockerHost>[] = [];
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write("\nremoving the cluster…\n");
    for (const s of servers) s.kill("SIGKILL");
    // Docker's containers and networks go through the agents, so before the cluster; a dockerd still starting
    // is awaited (one that fails to start removes itself).
    for (const d of dockers) await (await d.catch(() => undefined))?.stop();
    await cluster.down();
    process.stdout.write("done: nothing of the demo is left running\n");
    process.exit(code);
  };
  process.on("SIGINT", () => void stop(0));
  process.on("SIGTERM", () => void stop(0));
  try {
    for (const h of cluster.hosts) process.stdout.write(`  ${h.name}: underlay ${h.address}\n`);
    await netctl(cluster, "tenant", "create", "blue");
    await netctl(cluster, "net", "create", "-t", "blue", "-s", "10.1.1.0/24", "-g", "10.1.1.254", "-s6", "fd00:1::/64", "-g6", "fd00:1::fe", "web-net");
    await netctl(cluster, "policy", "create", "-t", "blue", "web-policy");
    await netctl(cluster, "policy", "rule-add", "-t", "blue", "-d", "in", "-l", "tcp", "-j", "deny", "-p", "1", "web-policy", "1");
    await netctl(cluster, "policy", "rule-add", "-t", "blue", "-d", "in", "-l", "tcp", "-P", "80", "-j", "allow", "-p", "100", "web-policy", "2");
    await netctl(cluster, "group", "create", "-t", "blue", "-p", "web-policy", "web-net", "web");
    await netctl(cluster, "group", "create", "-t", "blue", "web-net", "client");

    process.stdout.write(`\n${bold("# containers through the CNI plugin: client-1 on host 1, web-1 on host 2, web-2 on host 3")}\n`);
    const made = [];
    for (const [host, name, group] of [[1, "client-1", "client"], [2, "web-1", "web"], [3, "web-2", "web"]] as const) {
      const c = await cluster.addContainer(host, name, { tenant: "blue", network: "web-net", group }, `IgnoreUnknown=1;K8S_POD_NAME=${name}`);
      if (c.result.code !== 0) throw new Error(`ADD ${name}: ${JSON.stringify(c.result.out)}`);
      const ip = ((c.result.out as { ips: { address: string }[] }).ips[0]!.address).split("/")[0]!;
      process.stdout.write(`  ${name} on ${cluster.hosts[host - 1]!.name}: ${ip}\n`);
      made.push({ name, ns: c.namespace, ip });
      for (const port of ["80", "8080"]) {
        const server = spawn("ip", ["netns", "exec", c.namespace, process.execPath, NETPROBE, "serve", name, port], { stdio: ["ignore", "pipe", "ignore"] });
        servers.push(server);
        await new Promise<void>((resolve, reject) => {
          server.stdout!.once("data", () => resolve()); // its {"ready":true} line
          server.once("exit", (code) => reject(new Error(`the server in ${name} exited ${code}`)));
        });
      }
    }
    const [client, web1, web2] = made as [typeof made[0], typeof made[0], typeof made[0]];
    // Not a fixed sleep: netmaster knows when every host applied them (realization in endpoint inspect).
    const started = Date.now();
    for (const c of made) {
      const pending = await inForce(cluster, `${cluster.prefix}${c.name}`);
      if (pending.length > 0) process.stdout.write(`  ${c.name} is not in force yet on ${pending.join(", ")}\n`);
    }
    process.stdout.write(`  all three and web-policy in force on every host ${Date.now() - started} ms later (netctl endpoint inspect: realization)\n`);
    const ping = await show(`client-1 pings web-1 across hosts`, ["ip", "netns", "exec", client.ns, "ping", "-c", "3", "-i", "0.3", web1.ip]);
    process.stdout.write(ping.split("\n").filter((l) => /bytes from|packet loss/.test(l)).join("\n") + "\n");
    for (const [target, port] of [[web1, "80"], [web2, "80"], [web1, "8080"]] as const) {
      const out = await show(`client-1 -> ${target.name}:${port} (tcp)`, ["ip", "netns", "exec", client.ns, process.execPath, NETPROBE, "tcp", target.ip, port, "1500"]);
      const r = JSON.parse(out.trim()) as { result: string };
      process.stdout.write(`  ${r.result === "reply" ? "connected" : "BLOCKED by web-policy"}\n`);
    }
    await netctl(cluster, "policy", "inspect", "-t", "blue", "web-policy");
    await netctl(cluster, "group", "inspect", "-t", "blue", "web");
    const play = [
      ...netctlHint(cluster).map((line) => `  ${line}`),
      `  ip netns exec ${client.ns} ping ${web2.ip}`,
    ];
    if (missingDockerTools().length === 0) {
      const [d1, d2] = await gettingStarted(cluster, dockers);
      play.push(
        `  ${DOCKER} -H unix://${d1.apiSocket} exec -it web sh     (then: ping db, nslookup db)`,
        `  ${DOCKER} -H unix://${d2.apiSocket} run --rm -it --net=contiv-net ${DOCKER_IMAGE} sh`,
        `  (docker is ${DOCKER}, the CLI that matches dockerd 20.10; -H picks the host's dockerd)`,
      );
    } else {
      process.stdout.write(`\n(Contiv's getting-started with Docker is skipped: not installed: ${missingDockerTools().join(", ")})\n`);
    }
    process.stdout.write(`\nthe cluster keeps running. In another terminal:\n${play.join("\n")}\nlogs: ${cluster.dir}\n`);
    if (process.env[TERMINAL] === "1") {
      process.stdout.write("Ctrl-C stops it and removes everything.\n");
      return;
    }
    process.stdout.write("no terminal: stopping now.\n");
    await stop(0);
  } catch (err) {
    process.stderr.write(`demo failed: ${(err as Error).message}\n`);
    await stop(1);
  }
}

/**
 * Contiv's getting-started, with a dockerd on hosts 1 and 2 next to their agents:
 * netctl makes contiv-net, which appears in both Dockers; web runs on host 1, db on host 2, and web pings db by name.
 * The dockerds join `dockers` as they begin to start, so the demo's teardown removes them whenever it comes.
 */
async function gettingStarted(cluster: Cluster, dockers: Promise<DockerHost>[]): Promise<[DockerHost, DockerHost]> {
  process.stdout.write(`\n${bold("# Contiv's getting-started with Docker: a dockerd on host 1 and on host 2, next to their agents")}\n`);
  const started: DockerHost[] = [];
  for (const h of cluster.hosts.slice(0, 2)) {
    const starting = DockerHost.start(cluster, h);
    dockers.push(starting);
    const d = await starting;
    started.push(d);
    process.stdout.write(`  ${h.name}: dockerd (PID ${d.dockerdPid}) in the host's namespace, its driver ${d.driver} served by the host's agent\n`);
  }
  const [d1, d2] = started as [DockerHost, DockerHost];
  await netctl(cluster, "net", "create", "-s", "10.1.2.0/24", "-g", "10.1.2.254", "contiv-net");
  for (const d of [d1, d2]) {
    await waitFor(async () => (await d.docker(["network", "ls", "--format", "{{.Name}}"])).stdout.split("\n").includes("contiv-net"), {
      timeoutMs: 30_000,
      what: () => `contiv-net in the Docker of ${d.host.name}`,
    });
  }
  await docker(d1, "network", "ls");
  await docker(d1, "run", "-d", "--name=web", "--net=contiv-net", "--label", "app=web", DOCKER_IMAGE, "sleep", "1d");
  await docker(d2, "run", "-d", "--name=db", "--net=contiv-net", DOCKER_IMAGE, "sleep", "1d");
  // Neither dockerd knows the other's container: web's host learns db's name from netmaster once db's agent reported it.
  const since = Date.now();
  for (const name of ["web", "db"]) {
    const pending = await inForce(cluster, name);
    if (pending.length > 0) process.stdout.write(`  ${name} is not in force yet on ${pending.join(", ")}\n`);
  }
  await waitFor(async () => (await d1.docker(["exec", "web", "nslookup", "db"])).code === 0, { timeoutMs: 10_000, what: () => `${d1.host.name} to learn the name db` });
  process.stdout.write(`  netmaster knows web and db by name, and every host has them, ${Date.now() - since} ms later\n`);
  await netctl(cluster, "endpoint", "inspect", "web");
  await docker(d1, "exec", "web", "ping", "-c", "3", "db");
  return [d1, d2];
}

if (isSessionWorker()) {
  void main();
} else {
  const { code } = await inOwnSession(fileURLToPath(import.meta.url), { label: "demo", env: { ...process.env, [TERMINAL]: process.stdin.isTTY ? "1" : "" } });
  process.exit(code);
}
