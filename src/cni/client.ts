// The CNI executable's one request: POST the call to the agent on its unix socket and classify what
// comes back. Loaded lazily by src/bin/netplugin-cni.ts (VERSION never needs it).
//
// HTTP/1.1 is spoken by hand over node:net rather than with node:http: loading and warming up
// node:http's client costs about 8 ms per run, paid on every container ADD and DEL. One request
// with "Connection: close" and a response read by Content-Length, chunked coding or EOF is all we need.
//
// Failure mapping (the runtime sees these codes):
//   socket missing / refused / reset, or no answer in time  → TryAgainLater (11); STATUS: PluginNotAvailable (50)
//   any other socket error (EACCES, ENOTSOCK, …)            → IoFailure (5);      STATUS: PluginNotAvailable (50)
//   answer that is not a CniResponse                       → AgentProtocol (101)
// DEL is not forgiven when the agent is down: we cannot know whether the endpoint still exists, and
// a failed DEL makes the runtime retry, which is what we want.

import net from "node:net";

import { CniErrorCode, cniEndpointPath, type CniErrorBody, type CniRequest } from "./wire.js";

/** Per-command default time to wait for the agent's answer, in milliseconds. */
export const AGENT_TIMEOUT_MS: Readonly<Record<CniRequest["command"], number>> = {
  ADD: 60_000,
  DEL: 60_000,
  CHECK: 30_000,
  STATUS: 10_000,
  GC: 120_000,
  VERSION: 5_000,
};

/** Largest answer accepted from the agent. */
const MAX_ANSWER_BYTES = 4 << 20;

export type AgentOutcome = { ok: true; result: Record<string, unknown> | null } | { ok: false; error: CniErrorBody; keepDelegation?: boolean };

export interface CallAgentOptions {
  socket: string;
  /** The JSON body, already serialised (the executable splices the raw stdin config into it). */
  body: string;
  command: CniRequest["command"];
  /** Default: AGENT_TIMEOUT_MS[command]. */
  timeoutMs?: number;
}

/** Send one call to the agent. Never throws: every failure becomes a CNI error body. */
export function callAgent(opts: CallAgentOptions): Promise<AgentOutcome> {
  const { socket, body, command } = opts;
  const timeoutMs = opts.timeoutMs ?? AGENT_TIMEOUT_MS[command];
  const unavailable = command === "STATUS" ? CniErrorCode.PluginNotAvailable : CniErrorCode.TryAgainLater;
  const where = `netplugin agent on "${socket}"`;

  return new Promise((resolve) => {
    let settled = false;
    const finish = (outcome: AgentOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      conn.destroy();
      resolve(outcome);
    };
    const fail = (code: number, msg: string, details?: string): void => {
      finish({ ok: false, error: details === undefined ? { code, msg } : { code, msg, details } });
    };

    const conn = net.createConnection({ path: socket });
    const timer = setTimeout(() => {
      fail(unavailable, `Cannot ${command}: ${where} did not answer within ${formatSeconds(timeoutMs)}`);
    }, timeoutMs);

    conn.on("connect", () => {
      const payload = Buffer.from(body, "utf8");
      conn.write(
        `POST ${cniEndpointPath(command)} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n` +
          `Accept: application/json\r\nContent-Length: ${payload.length}\r\nConnection: close\r\n\r\n`,
      );
      conn.write(payload);
    });

    conn.on("error", (err: NodeJS.ErrnoException) => {
      const errno = err.code ?? "";
      if (errno === "ENOENT" || errno === "ECONNREFUSED") {
        fail(unavailable, `Cannot ${command}: ${where} is not reachable (is the agent running?)`, err.message);
      } else if (errno === "ECONNRESET" || errno === "EPIPE") {
        fail(unavailable, `Cannot ${command}: ${where} closed the connection before answering`, err.message);
      } else {
        fail(command === "STATUS" ? unavailable : CniErrorCode.IoFailure, `Cannot ${command}: cannot talk to ${where}: ${err.message}`);
      }
    });

    let received = Buffer.alloc(0);
    const consider = (eof: boolean): void => {
      const parsed = parseHttpResponse(received, eof);
      if (!parsed.done) return;
      if ("error" in parsed) {
        if (parsed.beforeHeaders) fail(unavailable, `Cannot ${command}: ${where} closed the connection before answering`);
        else fail(CniErrorCode.AgentProtocol, `Cannot ${command}: ${where} sent a broken HTTP answer: ${parsed.error}`);
        return;
      }
      finish(classifyAnswer(command, where, parsed.status, parsed.body.toString("utf8")));
    };
    conn.on("data", (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length > MAX_ANSWER_BYTES) {
        fail(CniErrorCode.AgentProtocol, `Cannot ${command}: ${where} sent an answer larger than ${MAX_ANSWER_BYTES} bytes`);
        return;
      }
      consider(false);
    });
    conn.on("end", () => consider(true));
    conn.on("close", () => consider(true));
  });
}

export type HttpParse =
  | { done: false }
  | { done: true; status: number; body: Buffer }
  | { done: true; error: string; beforeHeaders: boolean };

/**
 * Read one HTTP/1.x response from the bytes received so far. `eof`: the peer closed, so a body
 * without length ends here. Skips interim 1xx responses; decodes chunked transfer coding.
 */
export function parseHttpResponse(buf: Buffer, eof: boolean): HttpParse {
  const headEnd = buf.indexOf("\r\n\r\n");
  if (headEnd < 0) {
    return eof ? { done: true, error: "the connection closed inside the headers", beforeHeaders: true } : { done: false };
  }
  const lines = buf.subarray(0, headEnd).toString("latin1").split("\r\n");
  const statusLine = /^HTTP\/1\.[01] (\d{3})(?: |$)/.exec(lines[0] ?? "");
  if (statusLine === null) return { done: true, error: `bad status line ${JSON.stringify(lines[0])}`, beforeHeaders: false };
  const status = Number(statusLine[1]);
  const rest = buf.subarray(headEnd + 4);
  if (status >= 100 && status < 200) return parseHttpResponse(rest, eof);

  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  if (status === 204 || status === 304) return { done: true, status, body: Buffer.alloc(0) };

  if (/\bchunked\b/i.test(headers.get("transfer-encoding") ?? "")) {
    const parts: Buffer[] = [];
    let pos = 0;
    for (;;) {
      const lineEnd = rest.indexOf("\r\n", pos);
      if (lineEnd < 0) break;
      const sizeText = rest.subarray(pos, lineEnd).toString("latin1").split(";")[0]!.trim();
      if (!/^[0-9a-fA-F]+$/.test(sizeText)) return { done: true, error: `bad chunk size ${JSON.stringify(sizeText)}`, beforeHeaders: false };
      const size = parseInt(sizeText, 16);
      if (size === 0) return { done: true, status, body: Buffer.concat(parts) };
      if (rest.length < lineEnd + 2 + size + 2) break;
      parts.push(rest.subarray(lineEnd + 2, lineEnd + 2 + size));
      pos = lineEnd + 2 + size + 2;
    }
    return eof ? { done: true, error: "the connection closed inside a chunked body", beforeHeaders: false } : { done: false };
  }

  const length = headers.get("content-length");
  if (length !== undefined) {
    if (!/^\d+$/.test(length)) return { done: true, error: `bad Content-Length ${JSON.stringify(length)}`, beforeHeaders: false };
    const n = Number(length);
    if (rest.length >= n) return { done: true, status, body: rest.subarray(0, n) };
    return eof ? { done: true, error: `the connection closed after ${rest.length} of ${n} body bytes`, beforeHeaders: false } : { done: false };
  }
  return eof ? { done: true, status, body: rest } : { done: false };
}

/** Decide what an HTTP answer from the agent means (see the contract in wire.ts). */
export function classifyAnswer(command: CniRequest["command"], where: string, status: number, text: string): AgentOutcome {
  const protocol = (why: string): AgentOutcome => ({
    ok: false,
    error: {
      code: CniErrorCode.AgentProtocol,
      msg: `Cannot ${command}: ${where} sent an unexpected answer: ${why}`,
      details: `HTTP ${status}: ${text.length > 300 ? text.slice(0, 300) + "…" : text}`,
    },
  });
  let answer: unknown;
  try {
    answer = JSON.parse(text);
  } catch {
    return protocol(`HTTP ${status} without a JSON body`);
  }
  if (typeof answer !== "object" || answer === null || Array.isArray(answer)) return protocol(`HTTP ${status}, body is not an object`);
  const { error, result, keepDelegation } = answer as { error?: unknown; result?: unknown; keepDelegation?: unknown };
  if (error !== undefined && error !== null) {
    const e = error as { code?: unknown; msg?: unknown; details?: unknown };
    if (typeof e !== "object" || typeof e.code !== "number" || !Number.isInteger(e.code) || typeof e.msg !== "string") {
      return protocol(`HTTP ${status}, "error" is not {code, msg}`);
    }
    const body: CniErrorBody = { code: e.code, msg: e.msg };
    if (typeof e.details === "string" && e.details !== "") body.details = e.details;
    return keepDelegation === true ? { ok: false, error: body, keepDelegation: true } : { ok: false, error: body };
  }
  if (status < 200 || status > 299) return protocol(`HTTP ${status} without an error`);
  if (result === undefined || result === null) {
    return command === "ADD" ? protocol(`HTTP ${status}, ADD answered without a result`) : { ok: true, result: null };
  }
  if (typeof result !== "object" || Array.isArray(result)) return protocol(`HTTP ${status}, "result" is not an object`);
  return { ok: true, result: result as Record<string, unknown> };
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
