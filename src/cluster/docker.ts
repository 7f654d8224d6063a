// A real dockerd on a simulated host, for tests, benchmarks and the demo: it
// runs inside the host's network namespace next to that host's agent, as on a
// real machine where both share the host's namespace, so Docker's sandboxes,
// its own bridges and every container interface pass through that namespace
// and never through the machine's.
//
// The agent is restarted to serve this dockerd: its driver socket is named
// after the host (/run/docker/plugins/<host>.sock, the host's name carrying
// the run's prefix; the driver's name is the socket's base name), because the
// plugin directory is the machine's and every dockerd looks drivers up there
// by name: hosts with distinct names never use each other's driver.
//
// dockerd (20.10) gets its own data root, exec root, pid file and API socket
// under a directory of its own, and makes no bridge, iptables rules,
// masquerading or forwarding of its own. Its upstream DNS (--dns) is
// NOWHERE_DNS: Docker's embedded resolver (127.0.0.11 in a container) answers
// only the names its own dockerd knows and forwards the rest to those servers
// from the container's namespace, so only the tenant's interception of port 53
// can answer them, and a query that escaped it would find nothing there
// rather than the machine's resolvers. The image is local: a busybox root
// file system imported with `docker import`.
//
// stop() removes everything, also after a failure part-way through start():
// containers and networks of this dockerd (while the agent still serves its
// driver: dockerd undoes them only through it), dockerd by its PID (its
// containerd goes with it), what it left mounted, the driver socket and the
// plugin directories a run made, and its directory.

import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run, type RunResult } from "../lib/process.js";
import { StopWaiting, waitFor } from "../lib/wait.js";
import type { Cluster, ClusterHost } from "./cluster.js";
import { unixRequest } from "./http.js";
import { NsProcess } from "./process.js";

/** The Debian CLI that matches dockerd 20.10 (/usr/local/bin/docker, first in PATH on these machines, is a 28.x CLI). */
export const DOCKER = "/usr/bin/docker";
export const DOCKERD = "/usr/sbin/dockerd";
const BUSYBOX = "/bin/busybox";
export const DOCKER_IMAGE = "local/busybox:latest";
const APPLETS = ["sh", "ip", "ping", "sleep", "cat", "echo", "nc", "ls", "nslookup", "hostname"];

/**
 * A DNS server address that leads nowhere: in 198.18.0.0/15, outside every subnet the cluster, its tests and
 * its demo use, and routed by no namespace of a cluster. A query sent there is answered by the tenant's
 * interception of port 53 or by nobody (never by the machine's resolvers).
 */
export const NOWHERE_DNS = "198.19.255.53";

const PLUGIN_DIRS = ["/run/docker", "/run/docker/plugins"];
/** Plugin directories that did not exist before a dockerd of this process: removed when they are empty again. */
const madePluginDirs = new Set<string>();

export interface DockerHostOptions {
  /** Where dockerd's data, exec root, socket, log and image go; default a new temp directory, removed by stop(). */
  dir?: string;
  /** More flags for the host's agent, after the Docker ones (e.g. --docker-pool-range, --log-level). */
  agentArgs?: string[];
}

/** The programs a DockerHost needs that this machine lacks (empty when all are there). */
export function missingDockerTools(): string[] {
  return [DOCKER, DOCKERD, BUSYBOX, "/usr/bin/nsenter"].filter((p) => !existsSync(p));
}

export class DockerHost {
  readonly pluginSocket: string;
  /** The driver's name: `docker network create -d <driver> --ipam-driver <driver>`. */
  readonly driver: string;
  readonly apiSocket: string;
  readonly logFile: string;
  private dockerd: NsProcess | undefined;
  private stopped = false;

  private constructor(
    readonly cluster: Cluster,
    readonly host: ClusterHost,
    readonly dir: string,
    private readonly ownsDir: boolean,
    private readonly options: DockerHostOptions,
  ) {
    this.driver = host.name;
    this.pluginSocket = `/run/docker/plugins/${this.driver}.sock`;
    this.apiSocket = join(dir, "docker.sock");
    this.logFile = join(dir, "dockerd.log");
  }

  /** Serves Docker from the host's agent, starts dockerd in the host's namespace and imports the image; on failure removes what it made. */
  static async start(cluster: Cluster, host: ClusterHost, options: DockerHostOptions = {}): Promise<DockerHost> {
    const ownsDir = options.dir === undefined;
    const dir = options.dir ?? mkdtempSync(join(tmpdir(), `${host.name}-docker-`));
    const d = new DockerHost(cluster, host, dir, ownsDir, options);
    try {
      await d.setUp();
    } catch (err) {
      await d.stop();
      throw err;
    }
    return d;
  }

  private async setUp(): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
    // An explicit empty configuration: the machine's /etc/docker/daemon.json must not change the run.
    writeFileSync(join(this.dir, "daemon.json"), "{}");
    const rootfs = makeRootfs(join(this.dir, "rootfs"));
    // The agent makes the plugin directory when it is missing (dockerd, with its exec root elsewhere, does not).
    for (const d of PLUGIN_DIRS) if (!existsSync(d)) madePluginDirs.add(d);
    this.host.dockerPluginSocket = this.pluginSocket;
    this.host.agentArgs = [
      "--docker-netns", `/var/run/netns/${this.host.namespace}`,
      "--docker-api-socket", this.apiSocket,
      ...(this.options.agentArgs ?? []),
    ];
    await this.host.agent?.stop();
    await this.cluster.startAgent(this.host);
    await this.startDockerd();
    const tar = await run(["sh", "-c", `tar -C '${rootfs}' -c . | '${DOCKER}' -H 'unix://${this.apiSocket}' import - ${DOCKER_IMAGE}`], { timeoutMs: 60_000 });
    if (tar.code !== 0) throw new Error(`Cannot import ${DOCKER_IMAGE} into dockerd of ${this.host.name}: ${tar.stderr.trim()}`);
  }

  get dockerdPid(): number | undefined {
    return this.dockerd?.alive ? this.dockerd.child.pid : undefined;
  }

  /** Starts dockerd (again, after stopDockerd) and waits until it answers on its socket. */
  async startDockerd(): Promise<void> {
    if (this.dockerd?.alive) throw new Error(`dockerd of ${this.host.name} is running already`);
    this.dockerd = NsProcess.start(
      this.host.namespace,
      [
        DOCKERD,
        "--config-file", join(this.dir, "daemon.json"),
        "--iptables=false", "--ip-masq=false", "--bridge=none", "--ip-forward=false", "--userland-proxy=false",
        "--storage-driver=overlay2",
        "--data-root", join(this.dir, "data"), "--exec-root", join(this.dir, "exec"), "--pidfile", join(this.dir, "docker.pid"),
        "-H", `unix://${this.apiSocket}`,
        "--dns", NOWHERE_DNS,
        // No search domains copied from the machine's resolv.conf: a short name must stay short on its way out.
        "--dns-search", ".",
      ],
      this.logFile,
    );
    const dockerd = this.dockerd;
    await waitFor(
      async () => {
        if (!dockerd.alive) throw new StopWaiting(`dockerd of ${this.host.name} exited: ${this.logs()}`);
        return (await unixRequest(this.apiSocket, "GET", "/_ping", undefined, 2_000)).status === 200;
      },
      { timeoutMs: 60_000, what: () => `dockerd of ${this.host.name}: ${this.logs()}` },
    );
  }

  /** SIGTERM, SIGKILL after 30 s: dockerd stops its containers (no live-restore) and its containerd. */
  async stopDockerd(): Promise<void> {
    await this.dockerd?.stop("SIGTERM", 30_000);
  }

  /** The end of dockerd's log. */
  logs(): string {
    try {
      return readFileSync(this.logFile, "utf8").slice(-3000);
    } catch {
      return "";
    }
  }

  /** The argv of a docker CLI call against this dockerd (for callers that time it themselves). */
  argv(args: string[]): string[] {
    return [DOCKER, "-H", `unix://${this.apiSocket}`, ...args];
  }

  /** A docker CLI call; killed after timeoutMs (default 90 s). Never throws. */
  docker(args: string[], timeoutMs = 90_000): Promise<RunResult> {
    return run(this.argv(args), { timeoutMs });
  }

  /** A docker CLI call that must succeed: its trimmed stdout, or an error with its stderr and the end of the agent's log. */
  async must(...args: string[]): Promise<string> {
    const r = await this.docker(args);
    if (r.code !== 0) {
      throw new Error(`docker ${args.join(" ")} on ${this.host.name} exited ${r.code}: ${r.stderr.trim()}\n--- agent:\n${this.host.agent?.logs().slice(-3000) ?? ""}`);
    }
    return r.stdout.trim();
  }

  /** Removes everything start() made (see the top of this file). Idempotent; reports failures on stderr and goes on. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const step = async (what: string, fn: () => unknown): Promise<void> => {
      try {
        await fn();
      } catch (err) {
        process.stderr.write(`docker on ${this.host.name}: cannot ${what}: ${(err as Error).message}\n`);
      }
    };
    if (this.dockerd?.alive) {
      await step("remove the containers", async () => {
        const ids = (await this.docker(["ps", "-aq"])).stdout.split("\n").filter(Boolean);
        if (ids.length > 0) await this.docker(["rm", "-f", ...ids]);
      });
      await step("remove the networks", async () => {
        const nets = (await this.docker(["network", "ls", "--filter", `driver=${this.driver}`, "-q"])).stdout.split("\n").filter(Boolean);
        if (nets.length > 0) await this.docker(["network", "rm", ...nets]);
      });
    }
    await step("stop dockerd", () => this.stopDockerd());
    await step("unmount what dockerd left", () => unmountUnder(this.dir));
    await step("remove the driver socket", () => rmSync(this.pluginSocket, { force: true }));
    this.host.dockerPluginSocket = "";
    this.host.agentArgs = [];
    for (const d of [...madePluginDirs].reverse()) {
      await step(`remove ${d}`, () => {
        if (existsSync(d) && readdirSync(d).length === 0) rmdirSync(d);
      });
    }
    if (this.ownsDir) await step("remove its directory", () => rmSync(this.dir, { recursive: true, force: true }));
  }
}

function makeRootfs(dir: string): string {
  for (const d of ["bin", "etc", "proc", "sys", "dev", "tmp"]) mkdirSync(join(dir, d), { recursive: true });
  copyFileSync(BUSYBOX, join(dir, "bin/busybox"));
  chmodSync(join(dir, "bin/busybox"), 0o755);
  for (const applet of APPLETS) symlinkSync("busybox", join(dir, "bin", applet));
  return dir;
}

/** Unmounts everything mounted at or below dir, deepest first (a dockerd that had to be killed leaves its mounts). */
async function unmountUnder(dir: string): Promise<void> {
  const mounts = readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((l) => (l.split(" ")[4] ?? "").replace(/\\040/g, " "))
    .filter((m) => m === dir || m.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) await run(["umount", "-l", m]);
}
