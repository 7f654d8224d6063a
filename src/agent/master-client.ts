// The agent's calls to netmaster. Any replica answers (followers forward
// writes), so a list of URLs is tried in turn; 503 (no leader yet, store
// down) and connection failures are retried for a while before giving up.
// Every request goes through one NetmasterFetch: HTTPS trusting netmaster's CA.

import { ConflictError, ForbiddenError, NotFoundError, UnauthenticatedError, UpstreamError, ValidationError } from "../lib/errors.js";
import { NetmasterFetch, type NetmasterRequest, type NetmasterResponse } from "../lib/netmaster-fetch.js";
import type { EndpointReply } from "../contract/api.js";
import type { HostRecord } from "../contract/records.js";
import type { EndpointState } from "../contract/records.js";
import type { EndpointOperReport, EndpointRequest } from "../contract/api.js";
import type { z } from "zod";

/** An endpoint request as the agent sends it (fields with defaults may be left out). */
export type CreateEndpointRequest = z.input<typeof EndpointRequest>;

const RETRY_FOR_MS = 15_000;

export class MasterClient {
  private current = 0;

  /** `http` defaults to a client that trusts the system's CAs. */
  constructor(
    readonly urls: string[],
    private readonly http: NetmasterFetch = new NetmasterFetch(),
  ) {
    if (urls.length === 0) throw new ValidationError("At least one netmaster URL is required");
  }

  get url(): string {
    return this.urls[this.current % this.urls.length]!;
  }

  /** Moves on to the next replica after a connection failure. */
  rotate(): void {
    this.current++;
  }

  async request<T>(method: string, path: string, body?: unknown, options: { signal?: AbortSignal } = {}): Promise<T> {
    const deadline = Date.now() + RETRY_FOR_MS;
    for (let attempt = 0; ; attempt++) {
      let res: NetmasterResponse;
      try {
        const init: NetmasterRequest = { method, headers: { "content-type": "application/json" }, signal: options.signal ?? AbortSignal.timeout(30_000) };
        if (body !== undefined) init.body = JSON.stringify(body);
        res = await this.http.fetch(this.url + path, init);
      } catch (err) {
        this.rotate();
        if (Date.now() > deadline || options.signal?.aborted) {
          throw new UpstreamError(`Cannot reach netmaster: ${(err as Error).message}`, { cause: err });
        }
        await sleep(Math.min(1000, 100 * 2 ** attempt));
        continue;
      }
      const text = await res.text();
      if (res.ok) return (text ? JSON.parse(text) : undefined) as T;
      if (res.status === 503 && Date.now() < deadline) {
        await sleep(Math.min(1000, 100 * 2 ** attempt));
        continue;
      }
      if (res.status === 400) throw new ValidationError(text);
      if (res.status === 401) throw new UnauthenticatedError(text);
      if (res.status === 403) throw new ForbiddenError(text);
      if (res.status === 404) throw new NotFoundError(text);
      if (res.status === 409) throw new ConflictError(text);
      throw new UpstreamError(`netmaster answered ${res.status}: ${text}`);
    }
  }

  /** A GET of the current replica as it is, for a stream; no retries (the caller has its own). */
  open(path: string, signal: AbortSignal): Promise<NetmasterResponse> {
    return this.http.fetch(this.url + path, { signal });
  }

  /** Trades the cluster's join token for this host's credential. */
  async join(host: string, joinToken: string): Promise<string> {
    const reply = await this.request<{ credential: string }>("POST", "/api/v1/agent/join", { host, joinToken });
    return reply.credential;
  }

  registerHost(name: string, reg: { vtepIP: string; mtu: number; agentVersion: string }): Promise<HostRecord> {
    return this.request("PUT", `/api/v1/agent/hosts/${encodeURIComponent(name)}/`, reg);
  }

  createEndpoint(req: CreateEndpointRequest): Promise<EndpointReply> {
    return this.request("POST", "/api/v1/agent/endpoints/", req);
  }

  /** Idempotent: an endpoint netmaster no longer knows counts as deleted. */
  async deleteEndpoint(id: string): Promise<void> {
    try {
      await this.request<EndpointState>("DELETE", `/api/v1/agent/endpoints/${encodeURIComponent(id)}/`);
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
    }
  }

  /** Records the DHCP lease the agent holds for an endpoint of an ipam dhcp network; the reply is the endpoint with it. */
  setEndpointLease(id: string, ipAddress: string): Promise<EndpointReply> {
    return this.request("PUT", `/api/v1/agent/endpoints/${encodeURIComponent(id)}/lease`, { ipAddress });
  }

  reportOper(id: string, report: z.input<typeof EndpointOperReport>): Promise<EndpointState> {
    return this.request("PUT", `/api/v1/agent/endpoints/${encodeURIComponent(id)}/oper`, report);
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => (clearTimeout(t), resolve()), { once: true });
  });
}
