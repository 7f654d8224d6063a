// A tiny client for tests: every call returns status and parsed body, never throws on 4xx.
// The base is an https:// URL (trusting the CA given), an http:// one (netmaster --plain-http), or
// "unix:/path/to.sock" (netmaster's --listen-socket, plain HTTP, for clusters whose netmaster lives in a
// namespace the test process cannot route to).

import { request } from "node:http";
import { NetmasterFetch } from "../../src/lib/netmaster-fetch.js";

function viaSocket(socketPath: string, method: string, path: string, body: string | undefined): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, method, headers: { "content-type": "application/json" } }, (res) => {
      let text = "";
      res.on("data", (d: Buffer) => (text += d.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

export interface Reply<T = unknown> {
  status: number;
  body: T;
  text: string;
}

export interface ApiOptions {
  /** The PEM of the CA netmaster's certificate chains to (an https base); default: the system's CAs. */
  ca?: string;
  /** The token to send (X-Auth-Token); none over the unix socket, which takes every caller for the admin. */
  token?: () => Promise<string>;
}

export class Api {
  private readonly http: NetmasterFetch | undefined;
  private readonly token: (() => Promise<string>) | undefined;

  constructor(
    readonly base: string,
    options: ApiOptions = {},
  ) {
    if (!base.startsWith("unix:")) this.http = new NetmasterFetch(options.ca === undefined ? {} : { ca: options.ca });
    this.token = options.token;
  }

  async call<T = unknown>(method: string, path: string, body?: unknown, raw?: string): Promise<Reply<T>> {
    const payload = raw !== undefined ? raw : body !== undefined ? JSON.stringify(body) : undefined;
    let status: number;
    let text: string;
    if (this.http === undefined) {
      ({ status, text } = await viaSocket(this.base.slice("unix:".length), method, path, payload));
    } else {
      const headers: Record<string, string> = { "content-type": "application/json" };
      if (this.token) headers["x-auth-token"] = await this.token();
      const res = await this.http.fetch(this.base + path, { method, headers, ...(payload === undefined ? {} : { body: payload }) });
      status = res.status;
      text = await res.text();
    }
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // plain-text error bodies stay text
    }
    return { status, body: parsed as T, text };
  }

  get<T = unknown>(path: string) {
    return this.call<T>("GET", path);
  }
  post<T = unknown>(path: string, body: unknown) {
    return this.call<T>("POST", path, body);
  }
  del<T = unknown>(path: string) {
    return this.call<T>("DELETE", path);
  }

  /** POST that must succeed; returns the body. */
  async create<T = unknown>(path: string, body: unknown): Promise<T> {
    const r = await this.post<T>(path, body);
    if (r.status !== 200) throw new Error(`POST ${path} -> ${r.status}: ${r.text}`);
    return r.body;
  }

  async state(): Promise<Record<string, unknown>> {
    const r = await this.get<Record<string, unknown>>("/debug/state");
    if (r.status !== 200) throw new Error(`state dump failed: ${r.text}`);
    return r.body;
  }
}
