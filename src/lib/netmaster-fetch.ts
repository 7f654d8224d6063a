// The one HTTP client of netmaster's API, for the agents and for replicas forwarding to their leader: fetch
// over undici with a dispatcher of its own, so that trusting netmaster's CA (or, for netctl's --insecure,
// nothing) changes this client alone and never the process's other connections. http:// URLs work too
// (netmaster --plain-http). A failed request says why in words: the TLS check that failed and what was
// trusted, or the connection error, instead of undici's bare "fetch failed".

import { readFileSync } from "node:fs";
import { Agent, fetch, type Response } from "undici";
import { parseCertificates } from "./pem.js";

export type NetmasterResponse = Response;

export interface NetmasterFetchOptions {
  /** A PEM file of the CA certificates to trust instead of the system's. */
  caFile?: string;
  /** PEM of the CA certificates to trust instead of the system's; wins over caFile. */
  ca?: string | string[];
  /** No certificate checks at all (netctl's --insecure). Default false. */
  insecure?: boolean;
}

export interface NetmasterRequest {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  signal?: AbortSignal;
}

/** The certificates of a CA file (PEM), checked to hold one; throws naming the flag and the file. */
export function readCaFile(file: string, flag = "--ca-file"): string {
  let pem: string;
  try {
    pem = readFileSync(file, "utf8");
  } catch (err) {
    throw new Error(`Cannot read ${flag} ${file}: ${(err as Error).message}`);
  }
  try {
    parseCertificates(pem);
  } catch (err) {
    throw new Error(`Cannot use ${flag} ${file}: ${(err as Error).message}`);
  }
  return pem;
}

/** undici's error for a failed certificate check (Node's TLS codes) or a TLS handshake that went wrong. */
const TLS_CODE = /CERT|SELF_SIGNED|UNABLE_TO_|ERR_TLS_|ERR_SSL_/;

export class NetmasterFetch {
  /** What this client trusts, in words, for error messages. */
  readonly trusts: string;
  private readonly dispatcher: Agent;

  /** Throws when caFile cannot be read or holds no certificate. */
  constructor(o: NetmasterFetchOptions = {}) {
    const ca = o.ca ?? (o.caFile === undefined ? undefined : readCaFile(o.caFile));
    this.trusts = o.insecure ? "nothing (insecure)" : o.ca !== undefined ? "the CA given" : o.caFile !== undefined ? `the CA in ${o.caFile}` : "the system's CAs";
    this.dispatcher = new Agent({ connect: { ...(ca === undefined ? {} : { ca }), ...(o.insecure ? { rejectUnauthorized: false } : {}) } });
  }

  /** undici's fetch through this client's trust; a failure to connect throws an Error saying why (see above). */
  async fetch(url: string, init: NetmasterRequest = {}): Promise<NetmasterResponse> {
    try {
      return await fetch(url, { ...init, dispatcher: this.dispatcher });
    } catch (err) {
      throw this.explain(err, url);
    }
  }

  /** Closes idle connections; requests after it fail. */
  close(): Promise<void> {
    return this.dispatcher.close();
  }

  private explain(err: unknown, url: string): unknown {
    if (!(err instanceof Error) || err.name === "AbortError" || err.name === "TimeoutError") return err;
    // OpenSSL's errors carry a short `reason` beside a message full of source locations.
    const cause = err.cause as { code?: string; message?: string; reason?: string } | undefined;
    const code = cause?.code ?? "";
    const detail = (cause?.reason ?? cause?.message ?? err.message).trim();
    const origin = URL.canParse(url) ? new URL(url).origin : url;
    let message = `${detail}${code && !detail.includes(code) ? ` (${code})` : ""}`;
    if (TLS_CODE.test(code) && !/WRONG_VERSION|PACKET_LENGTH/.test(code)) {
      message = `Cannot verify the TLS certificate of ${origin}: ${message}; trusted: ${this.trusts}`;
    } else if (/WRONG_VERSION|PACKET_LENGTH/.test(code)) {
      message = `${origin} does not speak TLS: ${message} (is it netmaster with --plain-http? then use http://)`;
    } else if (url.startsWith("http:") && code === "UND_ERR_SOCKET") {
      message = `${origin} closed the connection: ${message} (netmaster serves HTTPS unless --plain-http: use https://)`;
    } else {
      message = `Cannot reach ${origin}: ${message}`;
    }
    return new Error(message, { cause: err });
  }
}
