// A tiny client for tests: every call returns status and parsed body, never throws on 4xx.

export interface Reply<T = unknown> {
  status: number;
  body: T;
  text: string;
}

export class Api {
  constructor(readonly base: string) {}

  async call<T = unknown>(method: string, path: string, body?: unknown, raw?: string): Promise<Reply<T>> {
    const init: RequestInit = { method, headers: { "content-type": "application/json" } };
    if (raw !== undefined) init.body = raw;
    else if (body !== undefined) init.body = JSON.stringify(body);
    const res = await fetch(this.base + path, init);
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // plain-text error bodies stay text
    }
    return { status: res.status, body: parsed as T, text };
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
