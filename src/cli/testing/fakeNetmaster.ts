// Test support, not a netmaster: an HTTP server on 127.0.0.1 that records every request and answers
// from canned responses, so netctl tests can check the exact method, path, token and JSON body a command
// sends. With `tls` it serves https; with `auth` a FakeAuthProxy answers auth_proxy's routes and refuses
// requests without a valid token before the canned routes are consulted. End-to-end tests against the
// real netmaster live elsewhere.

import { randomBytes } from "node:crypto";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";

import type { InputStream } from "../prompt.js";
import { run } from "../run.js";
import type { CannedResponse, FakeAuthProxy } from "./fakeAuthProxy.js";

export type { CannedResponse };

export interface RecordedRequest {
  method: string;
  path: string;
  /** The parsed JSON body, or undefined when there was none. */
  body: unknown;
  /** The X-Auth-Token header, if sent. */
  token?: string;
}


export interface FakeNetmasterOptions {
  /** Serve https with this key and certificate (PEM). */
  tls?: { key: string; cert: string };
  auth?: FakeAuthProxy;
}

/**
 * Routes are "METHOD /path" → response. Unrouted POST, PUT and DELETE answer 200 `{}`
 * (Contiv echoes the object); unrouted GETs answer 404 with a message.
 */
export class FakeNetmaster {
  readonly requests: RecordedRequest[] = [];
  private readonly routes = new Map<string, CannedResponse>();

  private constructor(
    private readonly server: http.Server,
    readonly url: string,
    private readonly auth: FakeAuthProxy | undefined,
  ) {}

  static async start(routes: Record<string, CannedResponse> = {}, options: FakeNetmasterOptions = {}): Promise<FakeNetmaster> {
    let fake: FakeNetmaster | undefined;
    const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => fake?.answer(req, Buffer.concat(chunks).toString("utf8"), res));
    };
    const server = options.tls ? https.createServer({ key: options.tls.key, cert: options.tls.cert }, handler) : http.createServer(handler);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    fake = new FakeNetmaster(server, `${options.tls ? "https" : "http"}://127.0.0.1:${port}`, options.auth);
    for (const [route, response] of Object.entries(routes)) fake.on(route, response);
    return fake;
  }

  on(route: string, response: CannedResponse): this {
    this.routes.set(route, response);
    return this;
  }

  /** Requests as "METHOD /path" strings, for compact assertions. */
  calls(): string[] {
    return this.requests.map((r) => `${r.method} ${r.path}`);
  }

  /** The body of the only request with this method and path. */
  bodyOf(route: string): unknown {
    const matches = this.requests.filter((r) => `${r.method} ${r.path}` === route);
    if (matches.length !== 1) {
      throw new Error(`expected one ${route}, got ${matches.length}: ${this.calls().join(", ")}`);
    }
    return matches[0]?.body;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private answer(req: http.IncomingMessage, raw: string, res: http.ServerResponse): void {
    const method = req.method ?? "";
    const path = req.url ?? "";
    let body: unknown;
    if (raw !== "") {
      try {
        body = JSON.parse(raw);
      } catch {
        body = raw;
      }
    }
    const header = req.headers["x-auth-token"];
    const token = typeof header === "string" ? header : undefined;
    this.requests.push({ method, path, body, ...(token !== undefined ? { token } : {}) });
    const canned =
      this.auth?.handle(method, path, body, token) ??
      this.routes.get(`${method} ${path}`) ??
      (method === "GET" ? { status: 404, text: `fake netmaster: nothing canned for ${method} ${path}` } : { json: {} });
    const status = canned.status ?? 200;
    if (canned.raw !== undefined) {
      res.writeHead(status, { "Content-Type": "application/json" });
      res.end(canned.raw);
    } else if (canned.text !== undefined) {
      res.writeHead(status, { "Content-Type": "text/plain; charset=utf-8" });
      res.end(canned.text);
    } else {
      res.writeHead(status, { "Content-Type": "application/json" });
      res.end(canned.json === undefined ? "" : JSON.stringify(canned.json));
    }
  }
}

export async function fakeNetmaster(
  routes: Record<string, CannedResponse> = {},
  options: FakeNetmasterOptions = {},
): Promise<FakeNetmaster> {
  return FakeNetmaster.start(routes, options);
}

export interface NetctlResult {
  code: number;
  stdout: string;
  stderr: string;
}

// A home that never exists, so that a test which does not choose its own HOME never reads or writes the
// real ~/.netctl.
const NO_HOME = join(tmpdir(), `netctl-test-no-home-${process.pid}-${randomBytes(6).toString("hex")}`);

/**
 * Run netctl in-process, capturing its output. `env` is its whole environment (HOME defaults to a
 * directory that does not exist); `stdin` is what it reads (default: nothing, not a terminal).
 */
export async function runNetctl(
  argv: string[],
  env: Record<string, string | undefined> = {},
  stdin: InputStream = Readable.from([]),
): Promise<NetctlResult> {
  let stdout = "";
  let stderr = "";
  const code = await run(argv, {
    env: { HOME: NO_HOME, ...env },
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    stdin,
  });
  return { code, stdout, stderr };
}
