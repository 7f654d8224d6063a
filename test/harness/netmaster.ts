// Starts real netmaster processes for tests (the built dist/src/bin/netmaster.js)
// and stops them by PID, also when the test process exits early. Each serves
// HTTPS with the CA it generates in a temp --state-dir (removed when it stops);
// tests reach it with nm.fetch or nm.api(), which trust that CA. With
// "--plain-http" among the args, it serves plain HTTP on loopback instead.

import { spawn, type ChildProcess } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { NetmasterFetch, type NetmasterRequest, type NetmasterResponse } from "../../src/lib/netmaster-fetch.js";
import { StopWaiting, waitFor } from "../../src/lib/wait.js";
import { Api } from "./api.js";
import { onFreePort, PortTaken } from "./ports.js";

const NETMASTER_JS = fileURLToPath(new URL("../../src/bin/netmaster.js", import.meta.url));

/** The first admin's password of every netmaster the harness starts (--initial-admin-password-file). */
export const TEST_ADMIN_PASSWORD = "harness-admin-password";

const running = new Set<ChildProcess>();
const ownedDirs = new Set<string>();
let passwordFile: string | undefined;
function adminPasswordFile(): string {
  if (passwordFile === undefined) {
    const dir = mkdtempSync(join(tmpdir(), "netmaster-harness-"));
    ownedDirs.add(dir);
    passwordFile = join(dir, "admin-password");
    writeFileSync(passwordFile, `${TEST_ADMIN_PASSWORD}\n`, { mode: 0o600 });
  }
  return passwordFile;
}
process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL");
  for (const dir of ownedDirs) rmSync(dir, { recursive: true, force: true });
});

export interface NetmasterProcess {
  /** https://127.0.0.1:PORT (http:// with --plain-http). */
  url: string;
  port: number;
  child: ChildProcess;
  /** Its --state-dir: the generated CA and certificate are there. */
  stateDir: string;
  /** The CA this netmaster's certificate chains to: file and PEM ("" with --plain-http). */
  caFile: string;
  ca: string;
  /** A request to this netmaster (a path, or a whole URL), trusting its CA. */
  fetch(pathOrUrl: string, init?: NetmasterRequest): Promise<NetmasterResponse>;
  /** The first admin's token (logged in with TEST_ADMIN_PASSWORD once, when first asked for). */
  adminToken(): Promise<string>;
  /** The test client on this netmaster, trusting its CA, as the admin. */
  api(): Api;
  /** stderr so far, for failure messages. */
  logs(): string;
  /** SIGTERM and wait for exit; removes the state directory the harness made. */
  stop(): Promise<void>;
  /** SIGKILL and wait for exit; removes the state directory the harness made. */
  kill(): Promise<void>;
}

export interface StartNetmasterOptions {
  store: string;
  args?: string[];
  port?: number;
  /** Its --state-dir, kept at stop; default: a temp directory removed at stop. */
  stateDir?: string;
  /** Serve with the CA of this netmaster (its ca.crt and ca.key copied), as HA replicas must. */
  shareCaWith?: NetmasterProcess;
}

export function startNetmaster(options: StartNetmasterOptions): Promise<NetmasterProcess> {
  return options.port === undefined ? onFreePort((port) => startOn(options, port)) : startOn(options, options.port);
}

async function startOn(options: StartNetmasterOptions, port: number): Promise<NetmasterProcess> {
  const plain = options.args?.includes("--plain-http") === true;
  const ownsDir = options.stateDir === undefined;
  const stateDir = options.stateDir ?? mkdtempSync(join(tmpdir(), "netmaster-state-"));
  if (ownsDir) ownedDirs.add(stateDir);
  if (options.shareCaWith) {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    for (const f of ["ca.crt", "ca.key"]) copyFileSync(join(options.shareCaWith.stateDir, f), join(stateDir, f));
  }
  const args = [NETMASTER_JS, "--listen-url", `127.0.0.1:${port}`, "--store", options.store, "--state-dir", stateDir, "--initial-admin-password-file", adminPasswordFile(), "--log-level", "warn", ...(options.args ?? [])];
  const child = spawn(process.execPath, args, { stdio: ["ignore", "ignore", "pipe"] });
  running.add(child);
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  // "close": after the exit, once stderr has been read to its end.
  const exited = new Promise<void>((resolve) => child.once("close", () => (running.delete(child), resolve())));
  const url = `${plain ? "http" : "https"}://127.0.0.1:${port}`;
  const caFile = plain ? "" : join(stateDir, "ca.crt");
  let client: NetmasterFetch | undefined;
  // Once, however often stop() and kill() are called (a test kills, its after() stops).
  let ending: Promise<void> | undefined;
  const ended = () =>
    (ending ??= (async () => {
      await exited;
      const closing = client;
      client = undefined;
      await closing?.close();
      if (ownsDir) {
        rmSync(stateDir, { recursive: true, force: true });
        ownedDirs.delete(stateDir);
      }
    })());

  const raw = (pathOrUrl: string, init?: NetmasterRequest) => {
    client ??= new NetmasterFetch(plain ? {} : { ca: proc.ca });
    return client.fetch(/^https?:/.test(pathOrUrl) ? pathOrUrl : url + pathOrUrl, init);
  };
  // The admin's token, logged in for once the first time a request needs it (again after a failed login).
  // A netmaster that has just started may not have made its first admin yet: that is waited for.
  let token: Promise<string> | undefined;
  const login = async (): Promise<string> => {
    let refused = "";
    let value = "";
    await waitFor(async () => {
      const res = await raw("/api/v1/auth_proxy/login/", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: "admin", password: TEST_ADMIN_PASSWORD }) });
      const text = await res.text();
      if (res.ok) value = (JSON.parse(text) as { token: string }).token;
      else refused = `${res.status} ${text}`;
      return res.ok;
    }, { timeoutMs: 15_000, what: () => `admin login: ${refused}` });
    return value;
  };
  const adminToken = (): Promise<string> =>
    (token ??= login()).catch((err: unknown) => {
      token = undefined;
      throw err;
    });

  const proc: NetmasterProcess = {
    url,
    port,
    child,
    stateDir,
    caFile,
    ca: "",
    fetch: async (pathOrUrl, init = {}) => raw(pathOrUrl, { ...init, headers: { "x-auth-token": await adminToken(), ...init.headers } }),
    adminToken,
    api: () => new Api(url, { ...(plain ? {} : { ca: proc.ca }), token: adminToken }),
    logs: () => stderr,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await ended();
    },
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await ended();
    },
  };
  try {
    await waitFor(async () => {
      if (child.exitCode !== null) throw new StopWaiting(`netmaster exited with ${child.exitCode}: ${stderr}`);
      // The CA is written before netmaster listens.
      if (!plain && proc.ca === "") proc.ca = readIfThere(caFile);
      if (!plain && proc.ca === "") return false;
      return ok(await raw("/version").catch(() => undefined));
    }, { timeoutMs: 15_000, what: () => `netmaster did not come up: ${stderr}` });
  } catch (err) {
    await proc.kill();
    if (/EADDRINUSE/.test(stderr)) throw new PortTaken(`netmaster cannot listen on 127.0.0.1:${port}: in use`, { cause: err });
    throw err;
  }
  return proc;
}

/** Whether a response is a 2xx; reads the body, which undici needs before it can reuse the connection. */
async function ok(res: NetmasterResponse | undefined): Promise<boolean> {
  await res?.arrayBuffer().catch(() => undefined);
  return res?.ok === true;
}

function readIfThere(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return "";
  }
}

/** Waits until the netmaster says it leads and has written its default objects. */
export async function waitForLeader(nm: Pick<NetmasterProcess, "fetch" | "url">, timeoutMs = 15_000): Promise<void> {
  await waitFor(async () => {
    const defaults = await ok(await nm.fetch("/api/v1/globals/global/").catch(() => undefined));
    const info = await nm.fetch("/info").then((r) => r.json() as Promise<Record<string, string>>).catch(() => undefined);
    return defaults && info !== undefined && info["leader-ip"] !== "";
  }, { timeoutMs, what: () => `no leader at ${nm.url}` });
}

/** A temp directory removed by the returned function. */
export function tempDir(prefix = "netplugin-test-"): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export function sqliteUrl(dir: string): string {
  return `sqlite://${join(dir, "state.db")}`;
}
