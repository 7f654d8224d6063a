// netmaster's HTTP surface: Contiv's /api/v1 paths and JSON, the agent-facing
// endpoint calls, /version and /info. Errors become a status here and only
// here (400 invalid, 404 unknown, 405 wrong method, 409 conflict or in use,
// 413 too large, 503 no leader or store down), with the message as a
// plain-text body as Contiv clients expect; anything unexpected is logged and
// answered with a bare 500, never a stack trace.
//
// Contiv answered every error with a 500, and its Go client reads the message
// only from a 500 (a 404 on DELETE even counts as success there). The
// "contiv" error-status mode answers so for that client's sake; the agents'
// calls under /api/v1/agent/ keep their statuses in both modes, because our
// agents retry a 503, treat a 404 on delete as done and turn 404 and 409 into
// CNI error codes.

import { Hono, type Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { routePath } from "hono/route";
import { stream } from "hono/streaming";
import type { Logger } from "pino";
import { z } from "zod";
import { ConflictError, NotFoundError, UpstreamError, ValidationError } from "../lib/errors.js";
import { NetmasterFetch, type NetmasterRequest, type NetmasterResponse } from "../lib/netmaster-fetch.js";
import { serveMetrics } from "../lib/metrics.js";
import { allowedMethods } from "./allow.js";
import type { Netmaster } from "./master.js";
import { VERSION_INFO } from "../lib/version.js";
import { EPOCH_HEADER, WatchQuery } from "../contract/stream.js";

const MAX_BODY_BYTES = 1024 * 1024;

type Status = 400 | 404 | 405 | 409 | 413 | 500 | 503;

/** How errors are answered: "http" gives each its status, "contiv" answers all of them with a 500 (see above). */
export type ErrorStatusMode = "http" | "contiv";
export const ERROR_STATUS_MODES: readonly ErrorStatusMode[] = ["http", "contiv"];

export interface AppOptions {
  /** Default "http". */
  errorStatus?: ErrorStatusMode;
  /** How a follower reaches its leader (trusting the replicas' CA); default: trusting the system's CAs. */
  peers?: NetmasterFetch;
}

/** The agents' own protocol: never Contiv's, always answered with the proper status. */
const AGENT_PATH = /^\/api\/v1\/agent(\/|$)/;

function statusOf(err: unknown): Status {
  if (err instanceof ValidationError) return 400;
  if (err instanceof NotFoundError) return 404;
  if (err instanceof ConflictError) return 409;
  if (err instanceof UpstreamError) return 503;
  return 500;
}

/** A query string checked by its schema; the first problem is the 400's message. */
function parseQuery<T extends z.ZodType>(schema: T, query: Record<string, string>): z.infer<T> {
  const parsed = schema.safeParse(query);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  throw new ValidationError(`Invalid query: ${issue.path.join(".")}: ${issue.message}`);
}

async function readJson(c: Context): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim() === "") throw new ValidationError("Request body is empty: expected a JSON object");
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ValidationError(`Request body is not valid JSON: ${(err as Error).message}`, [], { cause: err });
  }
}

/** The caller's credentials, which the leader checks as if the caller had come to it. */
const FORWARDED_HEADERS = ["content-type", "x-auth-token", "authorization"];

/** Followers pass writes to the leader unchanged and relay its answer. */
async function forwardToLeader(c: Context, master: Netmaster, peers: NetmasterFetch): Promise<Response> {
  const leader = await master.leaderUrl();
  if (!leader) throw new UpstreamError("No netmaster leader is elected yet: try again in a few seconds");
  const url = new URL(c.req.url);
  const headers: Record<string, string> = { "content-type": "application/json" };
  for (const name of FORWARDED_HEADERS) {
    const value = c.req.header(name);
    if (value !== undefined) headers[name] = value;
  }
  const init: NetmasterRequest = { method: c.req.method, headers, signal: AbortSignal.timeout(30_000) };
  if (c.req.method !== "GET" && c.req.method !== "DELETE") init.body = await c.req.text();
  let res: NetmasterResponse;
  try {
    res = await peers.fetch(leader + url.pathname + url.search, init);
  } catch (err) {
    throw new UpstreamError(`Cannot reach the netmaster leader: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const answer: Record<string, string> = { "content-type": res.headers.get("content-type") ?? "text/plain" };
  const allow = res.headers.get("allow");
  if (allow !== null) answer["allow"] = allow;
  return new Response(await res.arrayBuffer(), { status: res.status, headers: answer });
}

export function createApp(master: Netmaster, log: Logger, options: AppOptions = {}): Hono {
  const app = new Hono({ strict: false });
  const contiv = options.errorStatus === "contiv";
  const peers = options.peers ?? new NetmasterFetch();
  const fail = (c: Context, status: Status, message: string, headers: Record<string, string> = {}): Response =>
    c.text(message, contiv && !AGENT_PATH.test(c.req.path) ? 500 : status, headers);

  app.onError((err, c) => {
    const status = statusOf(err);
    if (status === 500) {
      log.error({ err, method: c.req.method, path: c.req.path }, "request failed");
      return c.text("Internal server error", 500);
    }
    return fail(c, status, err.message);
  });

  // Timed by the route they matched (a pattern, so the label set stays small); the state stream lasts as
  // long as its agent and is counted apart.
  app.use("*", async (c, next) => {
    if (c.req.path === "/api/v1/agent/watch") return next();
    const done = master.metrics.requests.startTimer({ method: c.req.method });
    try {
      await next();
    } finally {
      done({ route: routePath(c), status: String(c.res.status) });
    }
  });

  app.use(
    "*",
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      // The rest of the body is never read: close the connection so it is not parsed as the next request.
      onError: (c) => fail(c, 413, `Request body too large: the limit is ${MAX_BODY_BYTES} bytes`, { connection: "close" }),
    }),
  );
  // Writes go to the leader; a follower relays them, and the reads that show what hosts report (rule
  // counters, BGP sessions, realization, the host list's last reports), which lives in the leader's memory.
  app.use("*", async (c, next) => {
    const write = c.req.method !== "GET" && c.req.method !== "HEAD";
    const leaderRead =
      ["/api/v1/inspect/policys/", "/api/v1/inspect/Bgps/", "/api/v1/inspect/endpoints/"].some((p) => c.req.path.startsWith(p)) ||
      c.req.path === "/api/v1/agent/hosts";
    if ((write || leaderRead) && !master.isLeader) return forwardToLeader(c, master, peers);
    await next();
  });

  app.get("/version", (c) => c.json(VERSION_INFO));
  app.get("/info", async (c) =>
    c.json({
      "local-ip": master.advertiseUrl,
      "leader-ip": (await master.leaderUrl()) ?? "",
      "current-state": master.isLeader ? "leader" : "follower",
    }),
  );
  app.get("/debug/state", (c) => c.json(master.dump()));
  app.get("/metrics", (c) => serveMetrics(c, master.metrics.registry));

  // Agent-facing: endpoints (addresses are allocated here).
  app.post("/api/v1/agent/endpoints", async (c) => c.json(await master.createEndpoint(await readJson(c))));
  app.delete("/api/v1/agent/endpoints/:id", async (c) => c.json(await master.deleteEndpoint(c.req.param("id")!)));
  app.put("/api/v1/agent/endpoints/:id/oper", async (c) =>
    c.json(await master.reportEndpointOper(c.req.param("id")!, await readJson(c))),
  );
  // Agent-facing: Docker's IPAM pools and addresses, networks and endpoints (docker/).
  app.post("/api/v1/agent/docker/pools", async (c) => c.json(await master.dockerRequestPool(await readJson(c))));
  app.delete("/api/v1/agent/docker/pools/:id", async (c) => {
    await master.dockerReleasePool(c.req.param("id")!);
    return c.json({});
  });
  app.post("/api/v1/agent/docker/pools/:id/addresses", async (c) => c.json(await master.dockerRequestAddress(c.req.param("id")!, await readJson(c))));
  app.post("/api/v1/agent/docker/pools/:id/release", async (c) => {
    await master.dockerReleaseAddress(c.req.param("id")!, await readJson(c));
    return c.json({});
  });
  app.post("/api/v1/agent/docker/networks", async (c) => c.json(await master.dockerCreateNetwork(await readJson(c))));
  app.post("/api/v1/agent/docker/endpoints", async (c) => c.json(await master.dockerCreateEndpoint(await readJson(c))));
  app.delete("/api/v1/agent/docker/endpoints/:id", async (c) => c.json(await master.dockerDeleteEndpoint(c.req.param("id")!)));
  app.put("/api/v1/agent/hosts/:name/bgp", async (c) => {
    master.reportBgp(c.req.param("name")!, await readJson(c));
    return c.json({});
  });
  app.put("/api/v1/agent/hosts/:name/counters", async (c) => {
    master.reportCounters(c.req.param("name")!, await readJson(c));
    return c.json({});
  });
  app.put("/api/v1/agent/hosts/:name/realized", async (c) => {
    await master.reportRealized(c.req.param("name")!, await readJson(c));
    return c.json({});
  });
  app.put("/api/v1/agent/hosts/:name", async (c) => c.json(await master.registerHost(c.req.param("name")!, await readJson(c))));
  app.get("/api/v1/agent/hosts", (c) => c.json(master.listHosts()));
  app.delete("/api/v1/agent/hosts/:name", async (c) => {
    const force = c.req.query("force") ?? "false";
    if (force !== "true" && force !== "false") throw new ValidationError(`Invalid force "${force}": expected true or false`);
    return c.json(await master.deregisterHost(c.req.param("name")!, { force: force === "true" }));
  });
  app.get("/api/v1/agent/watch", (c) => {
    const query = parseQuery(WatchQuery, c.req.query());
    c.header("content-type", "application/x-ndjson");
    c.header(EPOCH_HEADER, master.streamEpoch);
    return stream(c, async (out) => {
      master.metrics.streams.inc();
      try {
        await master.streamState(query, out);
      } finally {
        master.metrics.streams.dec();
      }
    });
  });

  app.get("/api/v1/inspect/endpoints/:id", (c) => c.json(master.inspectEndpoint(c.req.param("id")!)));
  app.get("/api/v1/inspect/:collection/:key", (c) => {
    const kind = master.kind(c.req.param("collection")!);
    return c.json(master.inspect(kind, c.req.param("key")!));
  });

  app.get("/api/v1/:collection", (c) => c.json(master.list(master.kind(c.req.param("collection")!))));
  app.get("/api/v1/:collection/:key", (c) => {
    const kind = master.kind(c.req.param("collection")!);
    return c.json(master.get(kind, c.req.param("key")!));
  });
  const upsert = async (c: Context) => {
    const kind = master.kind(c.req.param("collection")!);
    return c.json(await master.upsert(kind, c.req.param("key")!, await readJson(c)));
  };
  app.post("/api/v1/:collection/:key", upsert);
  app.put("/api/v1/:collection/:key", upsert);
  app.delete("/api/v1/:collection/:key", async (c) => {
    const kind = master.kind(c.req.param("collection")!);
    const key = c.req.param("key")!;
    await master.remove(kind, key);
    return c.json(key);
  });

  // Last: the lookup sees only the routes registered before it.
  const allowed = allowedMethods(app);
  app.notFound((c) => {
    const allow = allowed(c.req.path);
    if (allow.length === 0) return fail(c, 404, `Not found: ${c.req.method} ${c.req.path}`);
    return fail(c, 405, `Cannot ${c.req.method} ${c.req.path}: it allows ${allow.join(", ")}`, { allow: allow.join(", ") });
  });
  return app;
}
