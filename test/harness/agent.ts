// Starts real netplugin agents for tests (dist/src/bin/netplugin.js), calls the
// real CNI executable against them, and removes everything an agent made
// (`netplugin --cleanup`) when the test ends, also after a failure.

import { execFile, spawn, type ChildProcess } from "node:child_process";
import { request } from "node:http";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { hostPrefix } from "../../src/datapath/names.js";
import { tempDir, waitUntil } from "./netmaster.js";

const NETPLUGIN_JS = fileURLToPath(new URL("../../src/bin/netplugin.js", import.meta.url));
const CNI_JS = fileURLToPath(new URL("../../src/bin/netplugin-cni.js", import.meta.url));

const running = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

export interface CniRun {
  code: number;
  out: Record<string, unknown>;
  stdout: string;
}

/** GET on the agent's unix socket. */
export function agentGet<T>(socketPath: string, path: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, method: "GET", timeout: 5000 }, (res) => {
      let body = "";
      res.on("data", (d: Buffer) => (body += d.toString()));
      res.on("end", () => {
        try {
          resolve(JSON.parse(body) as T);
        } catch (err) {
          reject(err as Error);
        }
      });
    });
    req.on("error", reject);
    req.end();
  });
}

export class TestAgent {
  child: ChildProcess | undefined;
  private stderr = "";
  readonly prefix: string;
  readonly socket: string;
  readonly stateDir: string;
  private readonly dir = tempDir("netplugin-agent-");

  constructor(
    readonly name: string,
    readonly netmasterUrl: string,
  ) {
    this.prefix = hostPrefix(name);
    this.socket = join(this.dir.path, "agent.sock");
    this.stateDir = join(this.dir.path, "state");
  }

  logs(): string {
    return this.stderr;
  }

  async start(): Promise<void> {
    const args = [NETPLUGIN_JS, "--netmaster", this.netmasterUrl, "--host", this.name, "--socket", this.socket, "--state-dir", this.stateDir, "--log-level", "warn"];
    const child = spawn(process.execPath, args, { stdio: ["ignore", "ignore", "pipe"] });
    this.child = child;
    running.add(child);
    child.once("exit", () => running.delete(child));
    child.stderr!.on("data", (d: Buffer) => (this.stderr += d.toString()));
    await waitUntil(async () => {
      if (child.exitCode !== null) throw new Error(`netplugin exited with ${child.exitCode}: ${this.stderr}`);
      const health = await agentGet<{ synced: boolean }>(this.socket, "/health").catch(() => undefined);
      return health?.synced === true;
    }, 20_000, () => `agent ${this.name} not ready: ${this.stderr}`);
  }

  private async end(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill(signal);
    await exited;
  }

  stop(): Promise<void> {
    return this.end("SIGTERM");
  }

  kill(): Promise<void> {
    return this.end("SIGKILL");
  }

  /** Stops the agent and removes every kernel object and record it made. */
  async destroy(): Promise<void> {
    await this.kill();
    await new Promise<void>((resolve) =>
      execFile(process.execPath, [NETPLUGIN_JS, "--cleanup", "--host", this.name, "--socket", this.socket, "--state-dir", this.stateDir], () => resolve()),
    );
    this.dir.remove();
  }

  /** Runs the real CNI executable against this agent. */
  cni(command: string, env: { containerId?: string; netns?: string; ifname?: string; args?: string }, config: Record<string, unknown>): Promise<CniRun> {
    const stdin = JSON.stringify({ cniVersion: "1.0.0", name: "netplugin-test", type: "netplugin", socket: this.socket, ...config });
    return runCni(command, env, stdin);
  }
}

export function runCni(command: string, env: { containerId?: string; netns?: string; ifname?: string; args?: string }, stdin: string): Promise<CniRun> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [CNI_JS],
      {
        env: {
          PATH: process.env.PATH ?? "/usr/bin:/bin",
          CNI_COMMAND: command,
          CNI_CONTAINERID: env.containerId ?? "",
          CNI_NETNS: env.netns ?? "",
          CNI_IFNAME: env.ifname ?? "eth0",
          CNI_ARGS: env.args ?? "",
          CNI_PATH: "/opt/cni/bin",
        },
        timeout: 90_000,
      },
      (err, stdout) => {
        const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
        let out: Record<string, unknown> = {};
        try {
          out = stdout.trim() ? (JSON.parse(stdout) as Record<string, unknown>) : {};
        } catch {
          out = { unparsable: stdout };
        }
        resolve({ code, out, stdout });
      },
    );
    child.stdin!.end(stdin);
  });
}
