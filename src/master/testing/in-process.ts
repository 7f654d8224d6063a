// A netmaster in the test's own process on a real SQLite file, its HTTP app called without a socket:
// for tests of the API's rules that need no other process.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { SqliteStore } from "../../store/index.js";
import { waitFor } from "../../lib/wait.js";
import { createApp } from "../http.js";
import { Netmaster } from "../master.js";
import type { AuthOptions } from "../auth/service.js";

export const TEST_HOST = "netmaster.test";
export const TEST_ADMIN_PASSWORD = "admin-password-1";

export interface Reply {
  status: number;
  body: unknown;
  text: string;
}

export interface Call {
  method: string;
  path: string;
  body?: unknown;
}

export class InProcessNetmaster {
  private constructor(
    readonly dir: string,
    readonly store: SqliteStore,
    readonly master: Netmaster,
    readonly app: ReturnType<typeof createApp>,
  ) {}

  /** Started, its first admin made (password TEST_ADMIN_PASSWORD unless auth says otherwise). */
  static async start(auth: AuthOptions = {}): Promise<InProcessNetmaster> {
    const dir = mkdtempSync(join(tmpdir(), "np-master-"));
    const store = new SqliteStore({ file: join(dir, "state.db") });
    const log = pino({ level: "silent" });
    const master = await Netmaster.start({
      store,
      settings: { fwdMode: "bridge", infra: "default" },
      advertiseUrl: "https://127.0.0.1:1",
      log,
      auth: { initialAdminPassword: TEST_ADMIN_PASSWORD, stateDir: dir, ...auth },
    });
    const nm = new InProcessNetmaster(dir, store, master, createApp(master, log, { isServerName: (host) => host === TEST_HOST }));
    await waitFor(async () => (await nm.store.list("/netplugin/auth/users/")).items.length > 0, { timeoutMs: 15_000, what: () => "the first admin was never created" });
    return nm;
  }

  async call(c: Call, token?: string, headers: Record<string, string> = {}): Promise<Reply> {
    const h: Record<string, string> = { host: TEST_HOST, ...headers };
    if (token !== undefined) h["x-auth-token"] = token;
    if (c.body !== undefined && h["content-type"] === undefined) h["content-type"] = "application/json";
    const res = await this.app.request(c.path, { method: c.method, headers: h, ...(c.body !== undefined ? { body: JSON.stringify(c.body) } : {}) });
    // The state stream never ends by itself: its status is all a caller needs here.
    if (res.headers.get("content-type")?.includes("ndjson")) {
      await res.body?.cancel();
      return { status: res.status, body: undefined, text: "" };
    }
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // plain-text errors
    }
    return { status: res.status, body, text };
  }

  /** A call that must succeed. */
  async must(c: Call, token: string): Promise<Reply> {
    const r = await this.call(c, token);
    if (r.status >= 300) throw new Error(`${c.method} ${c.path}: ${r.status} ${r.text}`);
    return r;
  }

  async login(username: string, password: string): Promise<string> {
    return ((await this.must({ method: "POST", path: "/api/v1/auth_proxy/login/", body: { username, password } }, "")).body as { token: string }).token;
  }

  async stop(): Promise<void> {
    await this.master.stop();
    await this.store.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
