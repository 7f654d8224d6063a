// Real container runtimes as CNI callers, for test/e2e/runtimes.test.ts:
// podman 4.3 on its CNI backend and containerd 1.6's `ctr run --cni`
// (reference: real-clients.md §2 and §4).
//
// Everything lives under one temp directory of the run: a busybox rootfs (no
// image is pulled or imported: podman and ctr both take `--rootfs DIR`),
// podman's containers.conf, storage and CNI config dir, and a standalone
// containerd with its own config, root, state and socket. Only `ctr run --cni`
// forces system paths on us (/etc/cni/net.d and /opt/cni/bin, hard-coded in
// ctr): SystemCni writes one conflist there under a unique name and puts the
// plugin in /opt/cni/bin, and restore() puts back exactly what was there.
// (containerd 1.6 also puts its shims' sockets in /run/containerd/s, hard-coded;
// each goes when its shim exits, and the directories go too if we made them.
// ctr's FIFOs and runc's state go to our dir; podman's runc keeps its state
// in /run/runc, removed with each container.)
//
// Every runtime command runs under `timeout`. Processes are stopped by the PID
// we started, never by name.

import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, closeSync, copyFileSync, openSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmdirSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { run, type RunResult } from "../../src/lib/process.js";
import { StopWaiting, waitFor } from "../../src/lib/wait.js";

/** The CNI wrapper `make build` writes (bin/netplugin-cni): what a runtime execs as type "netplugin". */
export const CNI_WRAPPER = fileURLToPath(new URL("../../../bin/netplugin-cni", import.meta.url));

const BUSYBOX = "/bin/busybox";
const APPLETS = ["sh", "ip", "ping", "nc", "sleep", "cat", "ls", "echo", "hostname", "nslookup", "wget"];

/** Tools a run needs; the names missing from this machine (empty when all are there). */
export function missingTools(): string[] {
  const want: [string, string[]][] = [
    ["podman", ["/usr/bin/podman"]],
    ["ctr", ["/usr/bin/ctr"]],
    ["containerd", ["/usr/bin/containerd"]],
    ["containerd-shim-runc-v2", ["/usr/bin/containerd-shim-runc-v2"]],
    ["runc", ["/usr/sbin/runc", "/usr/bin/runc"]],
    ["busybox (busybox-static)", [BUSYBOX]],
    ["conmon", ["/usr/bin/conmon", "/usr/libexec/podman/conmon"]],
    [`${CNI_WRAPPER} (make build)`, [CNI_WRAPPER]],
  ];
  return want.filter(([, paths]) => !paths.some((p) => existsSync(p))).map(([name]) => name);
}

/** `timeout -k 5 <seconds> argv…`: a runtime that hangs is killed, and the test sees exit code 124/137. */
export function timed(argv: string[], options: { timeoutS?: number; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  const t = options.timeoutS ?? 60;
  return run(["timeout", "-k", "5", String(t), ...argv], { env: options.env, timeoutMs: (t + 10) * 1000 });
}

async function ok(what: string, r: Promise<RunResult>): Promise<string> {
  const out = await r;
  if (out.code !== 0) throw new Error(`${what} failed (${out.code}): ${out.stderr.trim() || out.stdout.trim()}`);
  return out.stdout;
}

/**
 * A busybox rootfs both runtimes can run. /bin/np-serve PORT… answers every TCP connection on each port
 * with "$TAG:PORT" (TAG comes from the container's environment), then keeps the container alive.
 */
export function makeBusyboxRootfs(dir: string): string {
  for (const d of ["bin", "etc", "proc", "sys", "dev", "tmp", "run"]) mkdirSync(join(dir, d), { recursive: true });
  copyFileSync(BUSYBOX, join(dir, "bin/busybox"));
  chmodSync(join(dir, "bin/busybox"), 0o755);
  for (const a of APPLETS) symlinkSync("busybox", join(dir, "bin", a));
  writeFileSync(
    join(dir, "bin/np-serve"),
    '#!/bin/sh\nfor p in "$@"; do nc -ll -p "$p" -e sh -c "echo \\$TAG:$p" & done\nexec sleep 86400\n',
    { mode: 0o755 },
  );
  writeFileSync(join(dir, "etc/passwd"), "root:x:0:0:root:/:/bin/sh\n");
  writeFileSync(join(dir, "etc/group"), "root:x:0:\n");
  return dir;
}

/** One exec of the CNI plugin as the spy saw it. */
export interface SpyCall {
  command: string;
  containerId: string;
  netns: string;
  ifname: string;
  args: string;
  path: string;
}

/**
 * A CNI "plugin" that logs each call's CNI_* environment (one tab-separated line) and execs the real
 * plugin with the same stdin, arguments and environment. It stands where the runtime looks for
 * `netplugin`, so the test sees exactly what the runtime sent without changing what the agent gets.
 */
export function writeSpy(path: string, logFile: string, target = CNI_WRAPPER): void {
  writeFileSync(
    path,
    `#!/bin/sh
printf '%s\\t%s\\t%s\\t%s\\t%s\\t%s\\n' "$CNI_COMMAND" "$CNI_CONTAINERID" "$CNI_NETNS" "$CNI_IFNAME" "$CNI_ARGS" "$CNI_PATH" >> '${logFile}'
exec '${target}' "$@"
`,
    { mode: 0o755 },
  );
}

export function readSpy(logFile: string): SpyCall[] {
  if (!existsSync(logFile)) return [];
  return readFileSync(logFile, "utf8")
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => {
      const [command = "", containerId = "", netns = "", ifname = "", args = "", path = ""] = l.split("\t");
      return { command, containerId, netns, ifname, args, path };
    });
}

// ---------------------------------------------------------------------------------------------- podman

export interface PodmanRunOptions {
  network: string;
  ip?: string;
  mac?: string;
  env?: Record<string, string>;
  /** `-p` values ("HOSTPORT:PORT"); podman passes them to the plugin as runtimeConfig.portMappings. */
  publish?: string[];
  /** The container's nameserver (`--dns`); podman's default copies the machine's, which a test must never ask. */
  dns?: string;
  /** `--network-alias` names; podman passes them, with the container's name, as runtimeConfig.aliases. */
  aliases?: string[];
}

/** Podman with a private containers.conf, storage, run dir and CNI config dir, all under `dir`. */
export class Podman {
  readonly conf: string;
  readonly netDir: string;
  readonly pluginDir: string;
  private readonly names = new Set<string>();

  private constructor(readonly dir: string) {
    this.conf = join(dir, "containers.conf");
    this.netDir = join(dir, "net.d");
    this.pluginDir = join(dir, "cni-bin");
  }

  /**
   * conflists: file name → conflist. plugin(dir) puts the `netplugin` executable into the plugin dir
   * (a symlink to the wrapper, or a spy). Podman on its CNI backend, runc (crun fails on this host's
   * hybrid cgroups), lower ulimits (root here lacks CAP_SYS_RESOURCE), a default network of ours.
   */
  static setup(dir: string, conflists: Record<string, Record<string, unknown>>, plugin: (pluginDir: string) => void): Podman {
    const p = new Podman(dir);
    for (const d of [p.netDir, p.pluginDir, join(dir, "storage"), join(dir, "run"), join(dir, "tmp")]) mkdirSync(d, { recursive: true });
    plugin(p.pluginDir);
    for (const [file, conflist] of Object.entries(conflists)) writeFileSync(join(p.netDir, file), JSON.stringify(conflist, null, 2) + "\n");
    const first = Object.values(conflists)[0]?.["name"];
    writeFileSync(
      p.conf,
      [
        "[containers]",
        'default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]',
        "[engine]",
        'runtime = "runc"',
        'cgroup_manager = "cgroupfs"',
        'events_logger = "file"',
        `tmp_dir = "${join(dir, "tmp")}"`,
        "[network]",
        'network_backend = "cni"',
        `cni_plugin_dirs = ["${p.pluginDir}"]`,
        `network_config_dir = "${p.netDir}"`,
        ...(typeof first === "string" ? [`default_network = "${first}"`] : []),
        'default_subnet = "198.18.211.0/24"',
        "",
      ].join("\n"),
    );
    return p;
  }

  /** One podman command (`podman --root … --runroot … args…`) under timeout. */
  cmd(args: string[], timeoutS = 60): Promise<RunResult> {
    // (runc keeps its state in /run/runc: `--runtime-flag root=…` is not passed on by conmon's cleanup, which breaks restart.)
    return timed(["podman", "--root", join(this.dir, "storage"), "--runroot", join(this.dir, "run"), ...args], {
      timeoutS,
      env: { ...process.env, CONTAINERS_CONF: this.conf },
    });
  }

  /** `podman run -d` with `--rootfs` (which must come last: everything after DIR is the command). */
  async run(name: string, rootfs: string, options: PodmanRunOptions, command: string[]): Promise<RunResult> {
    this.names.add(name);
    const args = ["run", "-d", "--name", name, "--net", options.network];
    if (options.ip) args.push("--ip", options.ip);
    if (options.mac) args.push("--mac-address", options.mac);
    for (const p of options.publish ?? []) args.push("-p", p);
    if (options.dns) args.push("--dns", options.dns);
    for (const a of options.aliases ?? []) args.push("--network-alias", a);
    for (const [k, v] of Object.entries(options.env ?? {})) args.push("--env", `${k}=${v}`);
    args.push("--rootfs", rootfs, ...command);
    return this.cmd(args, 90);
  }

  exec(name: string, argv: string[], timeoutS = 30): Promise<RunResult> {
    return this.cmd(["exec", name, ...argv], timeoutS);
  }

  async inspect<T = Record<string, unknown>>(name: string): Promise<T> {
    const out = await ok(`podman inspect ${name}`, this.cmd(["inspect", name]));
    return (JSON.parse(out) as T[])[0]!;
  }

  rm(name: string): Promise<RunResult> {
    return this.cmd(["rm", "-f", "-t", "0", name], 90);
  }

  /** Names of the containers podman still knows. */
  async containers(): Promise<string[]> {
    const r = await this.cmd(["ps", "-a", "--format", "{{.Names}}"]);
    return r.stdout.split("\n").filter((l) => l !== "");
  }

  /** Removes every container of this podman; unmounts what podman left mounted under dir. */
  async cleanup(): Promise<void> {
    if (!existsSync(this.conf)) return;
    for (const name of this.names) await this.rm(name);
    await this.cmd(["rm", "-a", "-f", "-t", "0"], 120);
    await unmountUnder(this.dir);
  }
}

/** Unmounts everything mounted at or below dir, deepest first (podman's storage and run dirs). */
export async function unmountUnder(dir: string): Promise<void> {
  const mounts = readFileSync("/proc/self/mounts", "utf8")
    .split("\n")
    .map((l) => (l.split(" ")[1] ?? "").replace(/\\040/g, " "))
    .filter((m) => m === dir || m.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) await run(["umount", "-l", m]);
}

// ------------------------------------------------------------------------------------------ containerd

export interface CtrContainer {
  id: string;
  /** The foreground `ctr run`: it does the CNI ADD before starting the task and the DEL after it exits. */
  child: ChildProcess;
  exited: Promise<number | null>;
  output: () => string;
}

/**
 * runc under containerd puts a container's cgroup at /<containerd namespace>/<id> in every hierarchy; the
 * container's own goes with it, the namespace's stays behind: removed here where empty (v1: one per controller).
 */
function removeEmptyCgroups(name: string): void {
  const root = "/sys/fs/cgroup";
  let hierarchies: string[] = [];
  try {
    hierarchies = readdirSync(root).map((c) => join(root, c));
  } catch {
    return; // no cgroup file system
  }
  for (const dir of [root, ...hierarchies]) {
    try {
      rmdirSync(join(dir, name));
    } catch {
      // not there, not a hierarchy, or still in use
    }
  }
}

/** A standalone containerd (own config, root, state and socket under dir) and `ctr` against it. */
export class Containerd {
  readonly socket: string;
  private process: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private readonly runs = new Map<string, CtrContainer>();
  private execs = 0;
  /** containerd 1.6 puts shim sockets in /run/containerd/s whatever its config says; remove the dirs if we made them. */
  private readonly madeRunDir = !existsSync("/run/containerd");

  private constructor(
    readonly dir: string,
    /** The containerd namespace of the run; ctr's CNI_CONTAINERID is "<namespace>-<id>". */
    readonly namespace: string,
  ) {
    this.socket = join(dir, "containerd.sock");
  }

  static async start(dir: string, namespace: string): Promise<Containerd> {
    const c = new Containerd(dir, namespace);
    mkdirSync(dir, { recursive: true });
    const config = join(dir, "config.toml");
    // No CRI plugin: it would read /etc/cni/net.d itself and start pod sandboxes machinery we do not use.
    writeFileSync(
      config,
      [
        "version = 2",
        `root = "${join(dir, "root")}"`,
        `state = "${join(dir, "state")}"`,
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
        "[grpc]",
        `  address = "${c.socket}"`,
        "[ttrpc]",
        `  address = "${c.socket}.ttrpc"`,
        "[debug]",
        '  address = ""',
        "[metrics]",
        '  address = ""',
        "",
      ].join("\n"),
    );
    const log = join(dir, "containerd.log");
    const fd = openSync(log, "a");
    let child: ChildProcess;
    try {
      child = spawn("containerd", ["--config", config], { stdio: ["ignore", fd, fd] });
    } finally {
      closeSync(fd);
    }
    c.process = child;
    c.exited = new Promise((resolve) => child.once("exit", () => resolve()));
    const text = (): string => c.logs().slice(-4000);
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new StopWaiting(`containerd exited (${child.exitCode}): ${text()}`);
        return (await c.ctr(["version"], 10)).code === 0;
      },
      { timeoutMs: 30_000, intervalMs: 200, what: () => `containerd did not come up: ${text()}` },
    ).catch(async (err: unknown) => {
      await c.stop();
      throw err;
    });
    return c;
  }

  logs(): string {
    try {
      return readFileSync(join(this.dir, "containerd.log"), "utf8");
    } catch {
      return "";
    }
  }

  ctr(args: string[], timeoutS = 60): Promise<RunResult> {
    return timed(["ctr", "--address", this.socket, "--namespace", this.namespace, ...args], { timeoutS });
  }

  /**
   * `ctr run --rm --cni --rootfs … ROOTFS ID command…` in the foreground, as a child of this process (no -d:
   * only the foreground ctr tears the network down, with DEL and an empty CNI_NETNS, when the task exits).
   * Resolves once the task runs with an IPv4 address on eth0.
   */
  async run(id: string, rootfs: string, env: Record<string, string>, command: string[], timeoutS = 900): Promise<CtrContainer> {
    const args = ["timeout", "-k", "5", String(timeoutS), "ctr", "--address", this.socket, "--namespace", this.namespace, "run", "--rm", "--cni", "--rootfs"];
    // FIFOs and runc's state in our directory, not in /run/containerd/{fifo,runc} (ctr's defaults).
    args.push("--fifo-dir", join(this.dir, "fifo"), "--runc-root", join(this.dir, "runc"), "--env", "PATH=/bin");
    for (const [k, v] of Object.entries(env)) args.push("--env", `${k}=${v}`);
    args.push(rootfs, id, ...command);
    const child = spawn(args[0]!, args.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
    let text = "";
    child.stdout!.on("data", (d: Buffer) => (text += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (text += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    const container: CtrContainer = { id, child, exited, output: () => text };
    this.runs.set(id, container);
    let stderr = "";
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new StopWaiting(`ctr run ${id} exited (${child.exitCode}): ${text}`);
        const r = await this.exec(id, ["ip", "-o", "-4", "addr", "show", "eth0"], 10);
        stderr = r.stderr;
        return r.code === 0 && /inet /.test(r.stdout);
      },
      { timeoutMs: 60_000, intervalMs: 200, what: () => `ctr run ${id} did not come up: ${text} ${stderr}` },
    );
    return container;
  }

  exec(id: string, argv: string[], timeoutS = 30): Promise<RunResult> {
    this.execs += 1;
    return this.ctr(["task", "exec", "--fifo-dir", join(this.dir, "fifo"), "--exec-id", `x${this.execs}-${randomBytes(3).toString("hex")}`, id, ...argv], timeoutS);
  }

  /** The task's PID (its network namespace is /proc/<pid>/ns/net). */
  async pid(id: string): Promise<number> {
    const out = await ok("ctr task ls", this.ctr(["task", "ls"]));
    const line = out.split("\n").find((l) => l.split(/\s+/)[0] === id);
    return Number(line?.split(/\s+/)[1] ?? NaN);
  }

  /** SIGKILL the task and wait for the foreground `ctr run` to finish its teardown (DEL, task and container delete). */
  async kill(id: string, timeoutMs = 60_000): Promise<number | null> {
    const c = this.runs.get(id);
    await this.ctr(["task", "kill", "--signal", "SIGKILL", id]);
    if (!c) return null;
    const timer = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), timeoutMs).unref());
    const code = await Promise.race([c.exited, timer]);
    if (code === "timeout") throw new Error(`ctr run ${id} did not exit after its task was killed: ${c.output()}`);
    this.runs.delete(id);
    return code;
  }

  async containers(): Promise<string[]> {
    const r = await this.ctr(["containers", "ls", "-q"]);
    return r.stdout.split("\n").filter((l) => l !== "");
  }

  /** Removes every task and container of the namespace, the namespace and its cgroups, then stops containerd. */
  async cleanup(): Promise<void> {
    if (this.process && this.process.exitCode === null) {
      for (const id of await this.containers()) {
        await this.ctr(["task", "kill", "--signal", "SIGKILL", id]);
        const c = this.runs.get(id);
        if (c) await Promise.race([c.exited, new Promise((r) => setTimeout(r, 10_000).unref())]);
        await this.ctr(["task", "rm", "-f", id]);
        await this.ctr(["containers", "rm", id]);
      }
      await run(["timeout", "30", "ctr", "--address", this.socket, "namespaces", "rm", this.namespace]);
    }
    removeEmptyCgroups(this.namespace);
    for (const c of this.runs.values()) if (c.child.exitCode === null) c.child.kill("SIGKILL");
    this.runs.clear();
    await this.stop();
    await unmountUnder(this.dir);
    if (this.madeRunDir) {
      for (const d of ["/run/containerd/s", "/run/containerd"]) {
        try {
          rmdirSync(d); // only when empty: another containerd's shims may use it meanwhile
        } catch {
          // in use or already gone
        }
      }
    }
  }

  private async stop(): Promise<void> {
    const p = this.process;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    p.kill("SIGTERM");
    const timer = setTimeout(() => p.kill("SIGKILL"), 10_000);
    await this.exited;
    clearTimeout(timer);
  }
}

// ------------------------------------------------------------------------------ /etc/cni/net.d, /opt/cni/bin

const SYSTEM_NET_D = "/etc/cni/net.d";
const SYSTEM_BIN = "/opt/cni/bin";

/**
 * The system CNI paths `ctr run --cni` reads (it loads the first config file in /etc/cni/net.d by name
 * and finds plugins in /opt/cni/bin only). install() adds one conflist and the `netplugin` executable;
 * restore() removes them, puts back a `netplugin` that was there before, and removes the directories
 * it had to create.
 */
export class SystemCni {
  readonly confFile: string;
  readonly pluginPath = join(SYSTEM_BIN, "netplugin");
  private createdDirs: string[] = [];
  private saved: { kind: "link"; target: string } | { kind: "file"; backup: string } | undefined;
  private installed = false;

  constructor(readonly runId: string) {
    this.confFile = join(SYSTEM_NET_D, `00-netplugin-e2e-${runId}.conflist`);
  }

  /** plugin(path) writes the executable at /opt/cni/bin/netplugin. */
  install(conflist: Record<string, unknown>, plugin: (path: string) => void): void {
    for (const d of ["/etc/cni", SYSTEM_NET_D, "/opt/cni", SYSTEM_BIN]) {
      if (!existsSync(d)) {
        mkdirSync(d);
        this.createdDirs.push(d);
      }
    }
    this.installed = true;
    const existing = lstatOrUndefined(this.pluginPath);
    if (existing?.isSymbolicLink()) {
      this.saved = { kind: "link", target: readlinkSync(this.pluginPath) };
      unlinkSync(this.pluginPath);
    } else if (existing) {
      const backup = `${this.pluginPath}.e2e-backup-${this.runId}`;
      renameSync(this.pluginPath, backup);
      this.saved = { kind: "file", backup };
    }
    plugin(this.pluginPath);
    writeFileSync(this.confFile, JSON.stringify(conflist, null, 2) + "\n");
    const first = readdirSync(SYSTEM_NET_D).filter((f) => /\.(conf|conflist|json)$/.test(f)).sort()[0];
    if (first !== `00-netplugin-e2e-${this.runId}.conflist`) {
      throw new Error(`${SYSTEM_NET_D}/${first} sorts before our conflist: ctr run --cni would load that one instead`);
    }
  }

  restore(): void {
    if (!this.installed) return;
    rmSync(this.confFile, { force: true });
    if (lstatOrUndefined(this.pluginPath)) unlinkSync(this.pluginPath);
    if (this.saved?.kind === "link") symlinkSync(this.saved.target, this.pluginPath);
    if (this.saved?.kind === "file") renameSync(this.saved.backup, this.pluginPath);
    this.saved = undefined;
    for (const d of this.createdDirs.reverse()) {
      try {
        rmdirSync(d); // only when empty: podman may have put its cni.lock there meanwhile
      } catch {
        // not empty: leave it
      }
    }
    this.createdDirs = [];
    this.installed = false;
  }
}

function lstatOrUndefined(path: string): ReturnType<typeof lstatSync> | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

/** libcni's result cache (/var/lib/cni/results/<network>-<container>-<ifname>) entries of these CNI networks. */
export function cachedResults(networkNames: string[]): string[] {
  const dir = "/var/lib/cni/results";
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => networkNames.some((n) => f.startsWith(`${n}-`)))
    .map((f) => join(dir, f));
}
