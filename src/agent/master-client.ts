// The agent's calls to netmaster. Any replica answers (followers forward
// writes), so a list of URLs is tried in turn; 503 (no leader yet, store
// down) and connection failures are retried for a while before giving up.
// Every request goes through one NetmasterFetch: HTTPS trusting netmaster's CA.
// Every request carries the host's credential; one netmaster refuses (401: the
// host was removed and added again, the store is new) is renewed and the request
// sent once more, here, so that no caller has to know.

import { ConflictError, ForbiddenError, NotFoundError, UnauthenticatedError, UpstreamError, ValidationError } from "../lib/errors.js";
import { NetmasterFetch, type NetmasterRequest, type NetmasterResponse } from "../lib/netmaster-fetch.js";
import type { EndpointReply } from "../contract/api.js";
import type { HostRecord } from "../contract/records.js";
import type { EndpointState } from "../contract/records.js";
import type { EndpointOperReport, EndpointRequest } from "../contract/api.js";
import type { z } from "zod";

/** An endpoint request as the agent sends it (fields with defaults may be left out). */
export type CreateEndpointRequest = z.input<typeof EndpointRequest>;

/** What the agent proves itself with (credential.ts): sent with every request, renewed when netmaster refuses it. */
export interface ClientCredential {
  headers(): Record<string, string>;
  /** A new credential after netmaster refused `refused` (what headers() gave that request); false when none can be had. */
  renew(refused: Record<string, string>): Promise<boolean>;
}

export interface MasterClientOptions {
  /** Default: a client that trusts the system's CAs. */
  http?: NetmasterFetch;
  /** Default: none, requests go without one. */
  credential?: ClientCredential;
  /** How long 503s and connection failures are retried; default 15 s. */
  retryForMs?: number;
}

export class MasterClient {
  private current = 0;
  private readonly http: NetmasterFetch;
  private readonly credential: ClientCredential | undefined;
  private readonly retryForMs: number;

  constructor(
    readonly urls: string[],
    o: MasterClientOptions = {},
  ) {
    if (urls.length === 0) throw new ValidationError("At least one netmaster URL is required");
    this.http = o.http ?? new NetmasterFetch();
    this.credential = o.credential;
    this.retryForMs = o.retryForMs ?? 15_000;
  }

  get url(): string {
    return this.urls[this.current % this.urls.length]!;
  }

  /** Moves on to the next replica after a connection failure. */
  rotate(): void {
    this.current++;
  }

  /** `renew: false`: a 401 is final (the join's own refusal is of the join token, not of a credential). */
  /** `retryForMs`: this request's own budget for 503s and connection failures (the client's by default). */
  async request<T>(method: string, path: string, body?: unknown, options: { signal?: AbortSignal; renew?: boolean; retryForMs?: number } = {}): Promise<T> {
    const deadline = Date.now() + (options.retryForMs ?? this.retryForMs);
    // Once per request: a credential refused again right after renewing is not renewed in a loop.
    let renewable = options.renew ?? true;
    for (let attempt = 0; ; attempt++) {
      let res: NetmasterResponse;
      const sent = this.credential?.headers() ?? {};
      try {
        const init: NetmasterRequest = { method, headers: { ...sent, "content-type": "application/json" }, signal: options.signal ?? AbortSignal.timeout(30_000) };
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
      if (res.status === 401 && renewable) {
        renewable = false;
        await this.renewed(sent, text);
        continue;
      }
      if (res.status === 401) throw new UnauthenticatedError(text);
      if (res.status === 403) throw new ForbiddenError(text);
      if (res.status === 404) throw new NotFoundError(text);
      if (res.status === 409) throw new ConflictError(text);
      throw new UpstreamError(`netmaster answered ${res.status}: ${text}`);
    }
  }

  /** A GET of the current replica as it is, for a stream; no retries (the caller has its own) but the one after renewing a refused credential. */
  async open(path: string, signal: AbortSignal): Promise<NetmasterResponse> {
    const sent = this.credential?.headers() ?? {};
    const res = await this.http.fetch(this.url + path, { signal, headers: sent });
    if (res.status !== 401) return res;
    return this.http.fetch(this.url + path, { signal, headers: await this.renewed(sent, await res.text()) });
  }

  /** After netmaster refused the credential `sent`: the headers of a new one, else the refusal as an UnauthenticatedError. */
  private async renewed(sent: Record<string, string>, refusal: string): Promise<Record<string, string>> {
    if (this.credential === undefined) throw new UnauthenticatedError(refusal);
    let renewed: boolean;
    try {
      renewed = await this.credential.renew(sent);
    } catch (err) {
      throw new UnauthenticatedError(`${refusal} (joining again failed: ${(err as Error).message})`, { cause: err });
    }
    if (!renewed) throw new UnauthenticatedError(refusal);
    return this.credential.headers();
  }

  /** Trades the cluster's join token for this host's credential. */
  async join(host: string, joinToken: string): Promise<string> {
    const reply = await this.request<{ credential: string }>("POST", "/api/v1/agent/join", { host, joinToken }, { renew: false });
    return reply.credential;
  }

  registerHost(name: string, reg: { vtepIP: string; mtu: number; agentVersion: string }): Promise<HostRecord> {
    return this.request("PUT", `/api/v1/agent/hosts/${encodeURIComponent(name)}/`, reg);
  }

  /** `retryForMs`: as request's (0: one try, for a caller that retries itself). */
  createEndpoint(req: CreateEndpointRequest, options: { retryForMs?: number } = {}): Promise<EndpointReply> {
    return this.request("POST", "/api/v1/agent/endpoints/", req, options);
  }

  /** Idempotent: an endpoint netmaster no longer knows counts as deleted. */
  async deleteEndpoint(id: string, options: { retryForMs?: number } = {}): Promise<void> {
    try {
      await this.request<EndpointState>("DELETE", `/api/v1/agent/endpoints/${encodeURIComponent(id)}/`, undefined, options);
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

/** Calls `attempt` until it succeeds or `signal` aborts, telling `onError` of each failure and waiting 0.5 s, doubling to 10 s, before the next try. */
export async function retryUntilDone(attempt: () => Promise<unknown>, onError: (err: Error) => void, signal: AbortSignal): Promise<void> {
  for (let n = 0; !signal.aborted; n++) {
    try {
      await attempt();
      return;
    } catch (err) {
      onError(err as Error);
      await sleep(Math.min(10_000, 500 * 2 ** n), signal);
    }
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => (clearTimeout(t), resolve()), { once: true });
  });
}
