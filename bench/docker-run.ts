// `docker run` on our network against `--net none` and against Docker's own
// bridge driver, measured in the same run (issue 5).
//
// A real dockerd (20.10, src/cluster/docker.ts: its own data root, exec root
// and API socket; no docker0, iptables, masquerading or forwarding of its own)
// runs inside the host namespace of a one-host cluster, next to that host's
// agent, which serves the libnetwork network + IPAM driver to it, as on a real
// machine where both share the host's namespace. So Docker's bridge (named
// with the run's prefix) and every container interface land in that
// namespace, never in the machine's: the benchmark checks this and aborts if
// the bridge shows up in the root namespace.
//
// Modes, interleaved rep by rep (the order rotates every rep):
//   none       docker run --net none
//   bridge     a Docker bridge network (198.19.200.0/24), Docker's own driver
//   netplugin  a network of ours made through Docker (-d <driver> --ipam-driver <driver>, 198.18.200.0/24)
// Measured per container, `docker run -d --net X local/busybox sleep 3600`:
//   run    spawn of the docker CLI until it exits (dockerd has created, attached
//          and started the container)
//   ready  run + the container is Running per the API (one GET on dockerd's
//          socket, which also gives its address) + one ping answered: from a
//          probe container already on the same network to the new container
//          (so the new container's interface, address and the network's
//          forwarding all work); for `none`, a ping to 127.0.0.1 inside the
//          new container, so every mode pays the same process and API costs.
//          The ping is iputils with -i 0.01 -w 5: it retries every 10 ms, so a
//          network that comes up late shows up as extra time, not a failure.
//   rm     `docker rm -f` of the container (after each rep's runs, same order)
// The first BENCH_DOCKER_WARMUP reps are not counted (first use of the image
// and of each network).
//
// Safety: namespaces, containers, networks, the bridge and the driver are
// named with a per-run prefix; everything is removed at the end, also on
// failure or Ctrl-C (the work runs in a session of its own, src/cluster/session.ts,
// so a terminal's Ctrl-C reaches only this process, which passes it on):
// containers, networks, dockerd (by its PID), its mounts, the cluster and its
// namespaces, the temp dirs and the plugin socket. Addresses in 198.18.0.0/15.
// The image is local (a busybox rootfs imported with `docker import`): no
// registry access.
//
// Run alone: node dist/bench/docker-run.js (root; docker.io and busybox-static). Knobs:
//   BENCH_DOCKER_COUNT=20     counted reps (one container per mode per rep)
//   BENCH_DOCKER_WARMUP=2     reps run first and not counted
//   BENCH_DOCKER_KEEP=/prefix keep the agent's and dockerd's logs as /prefix-agent.log, /prefix-dockerd.log
//   BENCH_DOCKER_BREAKDOWN=1  agent at debug level; also prints how long each libnetwork call took in the
//                             agent during the counted reps (debug logging costs the agent a little time)
//   BENCH_VERBOSE=1           every sample

import { copyFileSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Cluster, DOCKER_IMAGE, DockerHost, inOwnSession, isSessionWorker, missingDockerTools, unixRequest } from "../src/cluster/index.js";
import { runPrefix } from "../test/harness/netns.js";
import { envNumber, isMain, missingPrerequisite, printTable, Teardown, timedSpawn, type Timed } from "./lab.js";
import { fmt, median, percentile } from "./stats.js";

const COUNT = envNumber("BENCH_DOCKER_COUNT", 20);
const WARMUP = envNumber("BENCH_DOCKER_WARMUP", 2);
const VERBOSE = process.env.BENCH_VERBOSE === "1";
const BREAKDOWN = process.env.BENCH_DOCKER_BREAKDOWN === "1";

const OUR_SUBNET = "198.18.200.0/24";
const OUR_GATEWAY = "198.18.200.254";
const BRIDGE_SUBNET = "198.19.200.0/24";
const BRIDGE_GATEWAY = "198.19.200.1";
const POOL_RANGE = "198.19.240.0/23"; // for empty pool requests (none are made here)

type ModeKey = "none" | "bridge" | "netplugin";

interface Mode {
  key: ModeKey;
  /** The --net argument. */
  net: string;
  /** PID of the probe container on that network (pings come from its namespace). */
  probePid?: number;
  run: number[];
  ready: number[];
  rm: number[];
  /** Echo requests sent until the first reply, per container. */
  pings: number[];
}

interface Inspect {
  State?: { Running?: boolean; Pid?: number };
  NetworkSettings?: { Networks?: Record<string, { IPAddress?: string }> };
}

/** Runs the benchmark in a worker of its own session (src/cluster/session.ts): Ctrl-C then cleans up with everything still alive. */
export async function benchDockerRun(): Promise<void> {
  const missing = (await missingPrerequisite(["ip", "ping", "tar"])) ?? missingDockerTools().map((p) => `needs ${p}`)[0];
  if (missing) {
    console.log(`\ndocker run: skipped (${missing})`);
    return;
  }
  const { code, signalled } = await inOwnSession(fileURLToPath(import.meta.url), { label: "bench docker-run" });
  if (signalled) process.exit(130);
  if (code !== 0) throw new Error(`docker run benchmark: the worker exited ${code}`);
}

async function worker(): Promise<void> {
  const prefix = runPrefix("nbd");
  const bridgeName = `${prefix}br`;
  const teardown = new Teardown();
  const unhook = teardown.onSignals();
  const modes: Mode[] = (["none", "bridge", "netplugin"] as const).map((key) => ({
    key,
    net: key === "none" ? "none" : `${prefix}-${key === "bridge" ? "br" : "np"}`,
    run: [],
    ready: [],
    rm: [],
    pings: [],
  }));
  let versions = "";
  /** Driver call durations in the agent (ms by operation), from its debug log: BENCH_DOCKER_BREAKDOWN=1. */
  const calls = new Map<string, number[]>();

  try {
    const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
    teardown.add("remove the temp dir", () => rmSync(dir, { recursive: true, force: true }));

    // A one-host cluster; its agent restarted to serve the dockerd that runs in its (the host's) namespace.
    const cluster = await Cluster.up({ hosts: 1, logLevel: "warn", prefix, dir: join(dir, "cluster") });
    teardown.add("remove the one-host cluster and everything its agent made", () => cluster.down());
    const host = cluster.hosts[0]!;
    const dockerHost = await DockerHost.start(cluster, host, {
      dir: join(dir, "docker"),
      agentArgs: ["--docker-pool-range", POOL_RANGE, ...(BREAKDOWN ? ["--log-level", "debug"] : [])],
    });
    teardown.add("remove the containers, the networks and dockerd", () => dockerHost.stop());
    teardown.add("keep the logs (BENCH_DOCKER_KEEP)", () => {
      const keep = process.env.BENCH_DOCKER_KEEP;
      if (!keep) return;
      for (const [from, to] of [[join(cluster.dir, "h1.log"), "agent.log"], [dockerHost.logFile, "dockerd.log"]] as const) {
        if (existsSync(from)) copyFileSync(from, `${keep}-${to}`);
      }
    });
    const driver = dockerHost.driver;
    const dockerSocket = dockerHost.apiSocket;
    const docker = (args: string[], timeoutMs = 90_000): Promise<Timed> => timedSpawn(dockerHost.argv(args), { timeoutMs });
    const must = (...args: string[]): Promise<string> => dockerHost.must(...args);
    const inspect = async (id: string): Promise<Inspect> => {
      const r = await unixRequest(dockerSocket, "GET", `/containers/${id}/json`);
      if (r.status !== 200) throw new Error(`inspect ${id}: ${r.status} ${r.text}`);
      return JSON.parse(r.text) as Inspect;
    };
    teardown.add("remove the containers and networks of this run", async () => {
      const ids = (await docker(["ps", "-aq"])).stdout.split("\n").filter(Boolean);
      if (ids.length > 0) await docker(["rm", "-f", ...ids]);
      for (const m of modes) if (m.key !== "none") await docker(["network", "rm", m.net]);
    });

    versions = (await must("version", "--format", "CLI {{.Client.Version}}, dockerd {{.Server.Version}}")).trim();

    const bridge = modes.find((m) => m.key === "bridge")!;
    const ours = modes.find((m) => m.key === "netplugin")!;
    await must(
      "network", "create", "-d", "bridge", "--subnet", BRIDGE_SUBNET, "--gateway", BRIDGE_GATEWAY,
      "-o", `com.docker.network.bridge.name=${bridgeName}`, "-o", "com.docker.network.bridge.enable_ip_masquerade=false",
      bridge.net,
    );
    await must("network", "create", "-d", driver, "--ipam-driver", driver, "--subnet", OUR_SUBNET, "--gateway", OUR_GATEWAY, ours.net);
    // Where Docker's bridge landed: in the host namespace, and not in the machine's.
    if ((await timedSpawn(["ip", "link", "show", "dev", bridgeName])).code === 0) throw new Error(`${bridgeName} appeared in the root namespace: aborting`);
    if ((await timedSpawn(["ip", "-n", host.namespace, "link", "show", "dev", bridgeName])).code !== 0) throw new Error(`${bridgeName} is not in ${host.namespace}`);

    // One probe container per network, kept to the end: pings come from its namespace.
    for (const m of [bridge, ours]) {
      const id = await must("run", "-d", "--name", `${m.net}-probe`, "--net", m.net, DOCKER_IMAGE, "sleep", "3600");
      const pid = (await inspect(id)).State?.Pid;
      if (!pid) throw new Error(`probe on ${m.net} has no PID`);
      m.probePid = pid;
    }

    /** One container: run, then ready (Running per the API, then one ping answered). */
    const start = async (m: Mode, name: string): Promise<{ id: string; run: number; ready: number; pings: number }> => {
      const t0 = performance.now();
      const r = await docker(["run", "-d", "--name", name, "--net", m.net, DOCKER_IMAGE, "sleep", "3600"]);
      if (r.code !== 0) throw new Error(`docker run --net ${m.net}: ${r.stderr.trim()}\n--- agent:\n${host.agent?.logs().slice(-3000) ?? ""}`);
      const runMs = performance.now() - t0;
      const id = r.stdout.trim();
      const info = await inspect(id);
      if (!info.State?.Running || !info.State.Pid) throw new Error(`${name} is not running after docker run`);
      let from: number;
      let target: string;
      if (m.key === "none") {
        from = info.State.Pid;
        target = "127.0.0.1";
      } else {
        from = m.probePid!;
        target = info.NetworkSettings?.Networks?.[m.net]?.IPAddress ?? "";
        if (!target) throw new Error(`${name} has no address on ${m.net}`);
      }
      const p = await timedSpawn(["nsenter", `--net=/proc/${from}/ns/net`, "ping", "-4", "-n", "-q", "-c", "1", "-i", "0.01", "-w", "5", target]);
      if (p.code !== 0) throw new Error(`${name} (${target}) not reachable on ${m.net} within 5 s: ${p.stdout} ${p.stderr}`);
      const ready = performance.now() - t0;
      const sent = Number(/(\d+) packets transmitted/.exec(p.stdout)?.[1] ?? NaN);
      return { id, run: runMs, ready, pings: sent };
    };

    let logFrom = 0;
    for (let rep = 0; rep < WARMUP + COUNT; rep++) {
      const counted = rep >= WARMUP;
      if (rep === WARMUP) logFrom = host.agent?.logs().length ?? 0;
      const order = modes.map((_, i) => modes[(i + rep) % modes.length]!);
      const made: { m: Mode; id: string }[] = [];
      for (const m of order) {
        const s = await start(m, `${prefix}-${m.key}-${rep}`);
        made.push({ m, id: s.id });
        if (counted) {
          m.run.push(s.run);
          m.ready.push(s.ready);
          m.pings.push(s.pings);
        }
        if (VERBOSE) console.log(`rep ${rep}${counted ? "" : " (warm-up)"} ${m.key}: run ${fmt(s.run)} ms, ready ${fmt(s.ready)} ms, ${s.pings} ping(s)`);
      }
      for (const { m, id } of made) {
        const r = await docker(["rm", "-f", id]);
        if (r.code !== 0) throw new Error(`docker rm -f ${id}: ${r.stderr.trim()}`);
        if (counted) m.rm.push(r.ms);
        if (VERBOSE) console.log(`rep ${rep} ${m.key}: rm ${fmt(r.ms)} ms`);
      }
    }
    if (BREAKDOWN) {
      for (const line of (host.agent?.logs() ?? "").slice(logFrom).split("\n")) {
        const hit = /docker call \{.*"op":"([^"]+)".*"durationMs":(\d+)/.exec(line);
        if (hit) calls.set(hit[1]!, [...(calls.get(hit[1]!) ?? []), Number(hit[2])]);
      }
    }
  } finally {
    await teardown.run();
    unhook();
  }

  const none = modes.find((m) => m.key === "none")!;
  const bridge = modes.find((m) => m.key === "bridge")!;
  console.log(`\ndocker run: ${versions}; dockerd and our agent in one simulated host's namespace`);
  console.log(`${COUNT} containers per mode (after ${WARMUP} warm-up reps), modes interleaved rep by rep; ms`);
  console.log("run = docker run -d exits; ready = + Running per the API + first ping answered from a peer container");
  console.log(`(none: ping to its own 127.0.0.1); rm = docker rm -f. x = ratio of this mode's p50 (p90) to none's / bridge's\n`);
  const rows: string[][] = [];
  for (const what of ["run", "ready", "rm"] as const) {
    for (const m of modes) {
      const [p50, p90] = [median(m[what]), percentile(m[what], 90)];
      const [n50, n90, b50, b90] = [median(none[what]), percentile(none[what], 90), median(bridge[what]), percentile(bridge[what], 90)];
      rows.push([
        what, m.key, fmt(p50), fmt(p90),
        fmt(p50 / n50, 2), fmt(p50 / b50, 2), fmt(p90 / n90, 2), fmt(p90 / b90, 2),
        m.key === "none" ? "" : fmt(p50 - n50), m.key === "bridge" ? "" : fmt(p50 - b50),
      ]);
    }
  }
  printTable(["what", "mode", "p50", "p90", "x none", "x bridge", "x none p90", "x bridge p90", "+ms none", "+ms bridge"], rows, 2);
  console.log("(+ms = difference of the p50s)");
  for (const m of modes) {
    const firstTry = m.pings.filter((n) => n === 1).length;
    console.log(`  ${m.key.padEnd(9)} answered the first ping: ${firstTry}/${m.pings.length}; most pings needed: ${Math.max(0, ...m.pings)}`);
  }
  if (BREAKDOWN) {
    console.log(`\nlibnetwork calls answered by our agent during the counted reps (ms inside the agent, from its debug log)\n`);
    printTable(
      ["call", "count", "p50", "p90", "max"],
      [...calls.entries()].map(([op, ms]) => [op, String(ms.length), fmt(median(ms), 0), fmt(percentile(ms, 90), 0), fmt(Math.max(...ms), 0)]),
    );
  }
}

if (isMain(import.meta.url)) {
  if (isSessionWorker()) await worker();
  else await benchDockerRun();
}
