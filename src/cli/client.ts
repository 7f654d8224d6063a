// The netmaster REST client netctl uses: Contiv's /api/v1 paths, JSON in and out, and one rule for
// errors — any non-2xx answer becomes a ServerError carrying the body the server wrote.
//
// node:http/https rather than global fetch, so that --insecure and --ca-file can set certificate checks
// for this client alone (fetch offers no per-request TLS options without an extra dependency).

import http from "node:http";
import https from "node:https";

import { ResponseError, ServerError, TransportError, UsageError } from "./errors.js";

export const DEFAULT_NETMASTER = "http://netmaster:9999";

/** Collection path segments exactly as Contiv spells them (note `policys` and `Bgps`). */
export type Collection =
  | "aciGws"
  | "appProfiles"
  | "Bgps"
  | "endpointGroups"
  | "endpoints"
  | "extContractsGroups"
  | "globals"
  | "netprofiles"
  | "networks"
  | "policys"
  | "rules"
  | "serviceLBs"
  | "tenants";

/** A configuration object as the server returns it: `key` plus Contiv's JSON fields. */
export type ApiObject = Record<string, unknown>;

export interface VersionInfo {
  GitCommit?: string;
  Version?: string;
  BuildTime?: string;
}

export interface ClientOptions {
  /** http(s)://host:port of netmaster, as returned by resolveNetmasterUrl. */
  baseUrl: string;
  /** Skip TLS certificate verification (https only). Default false. */
  insecure?: boolean;
  /** PEM certificates to verify an https netmaster against. Default: Node's roots. */
  ca?: string[];
  /** The file `ca` came from, named when verification fails. */
  caFile?: string;
  /** Give up on a request after this long. Default 30 000 ms. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * Pick the netmaster URL: the --netmaster flag, else $NETMASTER, else the default.
 * A bare `host:port` gets `http://` in front; anything else must start with http:// or https://.
 * Throws UsageError("Error connecting to netmaster: …") otherwise, as Contiv's netctl did (exit 1).
 */
export function resolveNetmasterUrl(flag: string | undefined, env: Record<string, string | undefined>): string {
  let url = (flag ?? env["NETMASTER"] ?? "").trim();
  if (url === "") url = DEFAULT_NETMASTER;
  if (!/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(url) && /^(\[[0-9a-fA-F:.]+\]|[a-zA-Z0-9.-]+)(:\d+)?\/?$/.test(url)) {
    url = "http://" + url;
  }
  if (!/^https?:\/\//.test(url)) {
    throw new UsageError(`Error connecting to netmaster: invalid URL "${url}": must begin with http:// or https://`);
  }
  try {
    new URL(url);
  } catch (err) {
    throw new UsageError(`Error connecting to netmaster: invalid URL "${url}"`, { cause: err });
  }
  return url.replace(/\/+$/, "");
}

interface RawResponse {
  status: number;
  statusText: string;
  body: string;
}

export class NetmasterClient {
  readonly baseUrl: string;
  private readonly insecure: boolean;
  private readonly ca: string[] | undefined;
  private readonly caFile: string | undefined;
  private readonly timeoutMs: number;
  private readonly signal: AbortSignal | undefined;

  constructor(opts: ClientOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, "");
    this.insecure = opts.insecure ?? false;
    this.ca = opts.ca;
    this.caFile = opts.caFile;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.signal = opts.signal;
  }

  /** GET /api/v1/<collection>/ — every object of a kind. */
  async list(collection: Collection): Promise<ApiObject[]> {
    const path = `/api/v1/${collection}/`;
    const data = await this.json("GET", path);
    if (!Array.isArray(data) || !data.every(isObject)) {
      throw new ResponseError(`Unexpected answer to GET ${path}: expected a JSON array of objects`);
    }
    return data;
  }

  /** GET /api/v1/<collection>/<key>/ */
  async get(collection: Collection, key: string): Promise<ApiObject> {
    const path = objectPath(collection, key);
    const data = await this.json("GET", path);
    if (!isObject(data)) throw new ResponseError(`Unexpected answer to GET ${path}: expected a JSON object`);
    return data;
  }

  /** POST /api/v1/<collection>/<key>/ — create or update. */
  async post(collection: Collection, key: string, body: ApiObject): Promise<void> {
    await this.send("POST", objectPath(collection, key), body);
  }

  /** DELETE /api/v1/<collection>/<key>/ */
  async delete(collection: Collection, key: string): Promise<void> {
    await this.send("DELETE", objectPath(collection, key));
  }

  /** GET /api/v1/inspect/<collection>/<key>/ — `{"Config":…,"Oper":…}`. */
  async inspect(collection: Collection, key: string): Promise<unknown> {
    return this.json("GET", `/api/v1/inspect/${collection}/${encodeKey(key)}/`);
  }

  /** GET /api/v1/agent/hosts/ — the hosts netmaster knows (ours: Contiv had no such call). */
  async hosts(): Promise<ApiObject[]> {
    const path = "/api/v1/agent/hosts/";
    const data = await this.json("GET", path);
    if (!Array.isArray(data) || !data.every(isObject)) {
      throw new ResponseError(`Unexpected answer to GET ${path}: expected a JSON array of objects`);
    }
    return data;
  }

  /** DELETE /api/v1/agent/hosts/<name>/ — a host gone for good, with all it held; `force` even while its agent reports. */
  async removeHost(name: string, options: { force?: boolean } = {}): Promise<ApiObject> {
    const path = `/api/v1/agent/hosts/${encodeURIComponent(name)}/${options.force ? "?force=true" : ""}`;
    const data = await this.json("DELETE", path);
    if (!isObject(data)) throw new ResponseError(`Unexpected answer to DELETE ${path}: expected a JSON object`);
    return data;
  }

  /** GET /version */
  async version(): Promise<VersionInfo> {
    const data = await this.json("GET", "/version");
    if (!isObject(data)) throw new ResponseError("Unexpected answer to GET /version: expected a JSON object");
    const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
    return { GitCommit: str(data["GitCommit"]), Version: str(data["Version"]), BuildTime: str(data["BuildTime"]) };
  }

  private async json(method: string, path: string, body?: unknown): Promise<unknown> {
    const res = await this.send(method, path, body);
    try {
      return JSON.parse(res.body) as unknown;
    } catch (err) {
      throw new ResponseError(`Cannot decode the answer to ${method} ${path}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  private async send(method: string, path: string, body?: unknown): Promise<RawResponse> {
    const res = await this.roundTrip(method, path, body);
    if (res.status < 200 || res.status > 299) {
      const text = errorText(res.body);
      throw new ServerError(text !== "" ? text : `${res.status} ${res.statusText}`.trim(), res.status);
    }
    return res;
  }

  private roundTrip(method: string, path: string, body?: unknown): Promise<RawResponse> {
    const url = new URL(this.baseUrl + path);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string> = { Accept: "application/json" };
    if (payload) {
      headers["Content-Type"] = "application/json";
      headers["Content-Length"] = String(payload.length);
    }
    const transport = url.protocol === "https:" ? https : http;
    return new Promise<RawResponse>((resolve, reject) => {
      const fail = (err: Error): void =>
        reject(new TransportError(`${method} ${url.href}: ${describe(err)}${this.trustHint(url, err)}`, { cause: err }));
      const req = transport.request(
        url,
        {
          method,
          headers,
          agent: false,
          timeout: this.timeoutMs,
          rejectUnauthorized: !this.insecure,
          ...(this.ca ? { ca: this.ca } : {}),
          ...(this.signal ? { signal: this.signal } : {}),
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("error", (err) =>
            reject(new ResponseError(`Cannot read the answer to ${method} ${path}: ${err.message}`, { cause: err })),
          );
          res.on("end", () =>
            resolve({
              status: res.statusCode ?? 0,
              statusText: res.statusMessage ?? "",
              body: Buffer.concat(chunks).toString("utf8"),
            }),
          );
        },
      );
      req.on("timeout", () => req.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
      req.on("error", fail);
      req.end(payload);
    });
  }

  /** What to try when netmaster's certificate was not trusted. */
  private trustHint(url: URL, err: Error): string {
    const code = (err as NodeJS.ErrnoException).code ?? "";
    if (url.protocol !== "https:" || !UNTRUSTED_CERT_CODES.has(code)) return "";
    return this.caFile
      ? ` (verified against the CA in ${this.caFile})`
      : " (netmaster's CA is ca.crt in its --state-dir: pass a copy with --ca-file, or skip checks with --insecure)";
  }
}

/** OpenSSL's verdicts that a CA file would change. */
const UNTRUSTED_CERT_CODES = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "CERT_UNTRUSTED",
]);

function objectPath(collection: Collection, key: string): string {
  return `/api/v1/${collection}/${encodeKey(key)}/`;
}

/** Keys are `a:b:c`; keep the colons readable but never let a name add path segments. */
function encodeKey(key: string): string {
  return encodeURIComponent(key).replace(/%3A/gi, ":");
}

/**
 * The message of an error answer. netmaster sends it as plain text; a JSON string, or an object with a
 * string `message`/`error`/`Err` field (what proxies and other servers tend to send), is unwrapped.
 */
export function errorText(body: string): string {
  const text = body.trim();
  if (!text.startsWith("{") && !text.startsWith('"')) return text;
  try {
    const v: unknown = JSON.parse(text);
    if (typeof v === "string") return v.trim();
    if (isObject(v)) {
      for (const k of ["message", "error", "Err"]) {
        const m = v[k];
        if (typeof m === "string" && m.trim() !== "") return m.trim();
      }
    }
  } catch {
    // not JSON after all: show it as it is
  }
  return text;
}

function isObject(v: unknown): v is ApiObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function describe(err: Error): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (err instanceof AggregateError && err.errors.length > 0) {
    return (err.errors as Error[]).map((e) => e.message).join("; ");
  }
  return err.message !== "" ? err.message : (code ?? "request failed");
}
