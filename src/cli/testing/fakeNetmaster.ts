// Test support, not a netmaster: an HTTP server on 127.0.0.1 that records every request and answers
// from canned responses, so netctl tests can check the exact method, path and JSON body a command sends.
// End-to-end tests against the real netmaster live elsewhere.

import http from "node:http";
import type { AddressInfo } from "node:net";

import { run } from "../run.js";

export interface RecordedRequest {
  method: string;
  path: string;
  /** The parsed JSON body, or undefined when there was none. */
  body: unknown;
}

export interface CannedResponse {
  status?: number;
  /** Sent as application/json. */
  json?: unknown;
  /** Sent as text/plain (an error message, like the real server's errors). */
  text?: string;
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
  ) {}

  static async start(routes: Record<string, CannedResponse> = {}): Promise<FakeNetmaster> {
    let fake: FakeNetmaster | undefined;
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => fake?.answer(req, Buffer.concat(chunks).toString("utf8"), res));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    fake = new FakeNetmaster(server, `http://127.0.0.1:${port}`);
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
    this.requests.push({ method, path, body });
    const canned =
      this.routes.get(`${method} ${path}`) ??
      (method === "GET" ? { status: 404, text: `fake netmaster: nothing canned for ${method} ${path}` } : { json: {} });
    const status = canned.status ?? 200;
    if (canned.text !== undefined) {
      res.writeHead(status, { "Content-Type": "text/plain; charset=utf-8" });
      res.end(canned.text);
    } else {
      res.writeHead(status, { "Content-Type": "application/json" });
      res.end(canned.json === undefined ? "" : JSON.stringify(canned.json));
    }
  }
}

export async function fakeNetmaster(routes: Record<string, CannedResponse> = {}): Promise<FakeNetmaster> {
  return FakeNetmaster.start(routes);
}

export interface NetctlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run netctl in-process against `netmaster` (a URL), capturing its output. */
export async function runNetctl(argv: string[], env: Record<string, string | undefined> = {}): Promise<NetctlResult> {
  let stdout = "";
  let stderr = "";
  const code = await run(argv, {
    env,
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
  });
  return { code, stdout, stderr };
}
