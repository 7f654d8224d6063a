// `make demo`: a three-host cluster on this machine, driven the way a user
// would: netctl creates a tenant, a network, two groups and a policy; the CNI
// plugin attaches containers on different hosts; ping and TCP show who
// reaches whom. With a terminal it then waits for Ctrl-C; without one it stops.

import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Cluster, NETMASTER_ADDRESS } from "./cluster.js";
import { run } from "../lib/process.js";
import { waitFor } from "../lib/wait.js";

const NETCTL = fileURLToPath(new URL("../bin/netctl.js", import.meta.url));
const NETPROBE = fileURLToPath(new URL("../datapath/linux/netprobe.js", import.meta.url));
const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);

async function netctl(cluster: Cluster, ...args: string[]): Promise<void> {
  process.stdout.write(`\n${bold(`$ netctl ${args.join(" ")}`)}\n`);
  const r = await run(["ip", "netns", "exec", cluster.underlay, process.execPath, NETCTL, "--netmaster", `http://${NETMASTER_ADDRESS}:9999`, ...args]);
  process.stdout.write(r.stdout + r.stderr);
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
  const cluster = await Cluster.up({ hosts: 3, logLevel: "warn" });
  const servers: ChildProcess[] = [];
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write("\nremoving the cluster…\n");
    for (const s of servers) s.kill("SIGKILL");
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
    process.stdout.write(
      `\nthe cluster keeps running. In another terminal:\n` +
        `  ip netns exec ${cluster.underlay} bin/netctl --netmaster http://${NETMASTER_ADDRESS}:9999 net ls -a\n` +
        `  ip netns exec ${client.ns} ping ${web2.ip}\n` +
        `logs: ${cluster.dir}\n`,
    );
    if (process.stdin.isTTY) {
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

void main();
