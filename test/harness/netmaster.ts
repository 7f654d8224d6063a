// Starts real netmaster processes for tests (the built dist/src/bin/netmaster.js)
// and stops them by PID, also when the test process exits early.

import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { StopWaiting, waitFor } from "../../src/lib/wait.js";
import { freePort } from "./ports.js";

const NETMASTER_JS = fileURLToPath(new URL("../../src/bin/netmaster.js", import.meta.url));

const running = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

export interface NetmasterProcess {
  url: string;
  port: number;
  child: ChildProcess;
  /** stderr so far, for failure messages. */
  logs(): string;
  /** SIGTERM and wait for exit. */
  stop(): Promise<void>;
  /** SIGKILL and wait for exit. */
  kill(): Promise<void>;
}

export async function startNetmaster(options: { store: string; args?: string[]; port?: number }): Promise<NetmasterProcess> {
  const port = options.port ?? (await freePort());
  const args = [NETMASTER_JS, "--listen-url", `127.0.0.1:${port}`, "--store", options.store, "--log-level", "warn", ...(options.args ?? [])];
  const child = spawn(process.execPath, args, { stdio: ["ignore", "ignore", "pipe"] });
  running.add(child);
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => (running.delete(child), resolve())));
  const url = `http://127.0.0.1:${port}`;

  const proc: NetmasterProcess = {
    url,
    port,
    child,
    logs: () => stderr,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
    },
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
  };
  await waitFor(async () => {
    if (child.exitCode !== null) throw new StopWaiting(`netmaster exited with ${child.exitCode}: ${stderr}`);
    const res = await fetch(`${url}/info`).catch(() => undefined);
    return res?.ok === true;
  }, { timeoutMs: 15_000, what: () => `netmaster did not come up: ${stderr}` });
  return proc;
}

/** Waits until the netmaster at url says it leads and has written its default objects. */
export async function waitForLeader(url: string, timeoutMs = 15_000): Promise<void> {
  await waitFor(async () => {
    const res = await fetch(`${url}/api/v1/globals/global/`).catch(() => undefined);
    const info = await fetch(`${url}/info`).then((r) => r.json() as Promise<Record<string, string>>).catch(() => undefined);
    return res?.ok === true && info?.["leader-ip"] !== "";
  }, { timeoutMs, what: () => `no leader at ${url}` });
}

/** A temp directory removed by the returned function. */
export function tempDir(prefix = "netplugin-test-"): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export function sqliteUrl(dir: string): string {
  return `sqlite://${join(dir, "state.db")}`;
}
