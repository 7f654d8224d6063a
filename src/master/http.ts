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

import { Hono, type Context, type Handler, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { routePath } from "hono/route";
import { stream } from "hono/streaming";
import type { Logger } from "pino";
import { z } from "zod";
import { ConflictError, ForbiddenError, NotFoundError, UnauthenticatedError, UpstreamError, ValidationError } from "../lib/errors.js";
import {
  adminOnly,
  anyPrincipal,
  anyUser,
  objectList,
  open,
  ownDockerNetwork,
  ownEndpoint,
  ownHostInBody,
  ownHostParam,
  ownBlock,
  ownPool,
  ownStream,
  selfOrAdmin,
  tenantObject,
  visibleTo,
  type AccessRequest,
  type AccessRule,
} from "./auth/access.js";
import type { Principal } from "./auth/principal.js";
import { tenantInQuery } from "./auth/tenant-query.js";
import { NetmasterFetch, type NetmasterRequest, type NetmasterResponse } from "../lib/netmaster-fetch.js";
import { serveMetrics } from "../lib/metrics.js";
import { allowedMethods } from "./allow.js";
import type { Netmaster } from "./master.js";
import { VERSION_INFO } from "../lib/version.js";
import { EPOCH_HEADER, WatchQuery } from "../contract/stream.js";
import { uiHandler } from "./ui.js";

const MAX_BODY_BYTES = 1024 * 1024;

type Status = 400 | 401 | 403 | 404 | 405 | 409 | 413 | 415 | 500 | 503;

type Env = { Variables: { principal: Principal | undefined } };
type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/** A route and who may call it, for tests that go through every route. */
export interface DeclaredRoute {
  method: Method;
  path: string;
  rule: AccessRule;
}
const routesOf = new WeakMap<Hono<Env>, DeclaredRoute[]>();

export function declaredRoutes(app: Hono<Env>): DeclaredRoute[] {
  return routesOf.get(app) ?? [];
}

/** How errors are answered: "http" gives each its status, "contiv" answers all of them with a 500 (see above). */
export type ErrorStatusMode = "http" | "contiv";
export const ERROR_STATUS_MODES: readonly ErrorStatusMode[] = ["http", "contiv"];

export interface AppOptions {
  /** Default "http". */
  errorStatus?: ErrorStatusMode;
  /**
   * Whether clients may name this netmaster so (the host part of a Host or Origin header, lower case,
   * without brackets): a request naming anything else is refused (DNS rebinding, cross-site requests).
   * "localhost" is always a name. Undefined: not checked.
   */
  isServerName?: (host: string) => boolean;
  /**
   * Who a request's token stands for; default: the token verified and resolved by master.auth. The
   * root-only unix socket takes everyone for the admin (bin/netmaster.ts); bench/auth.ts does, to measure
   * what authentication costs.
   */
  authenticate?: (token: string | undefined) => Promise<Principal | undefined>;
  /** The token a forwarded request carries when it has none of its own (the socket's callers). */
  forwardToken?: () => Promise<string>;
  /** How a follower reaches its leader (trusting the replicas' CA); default: trusting the system's CAs. */
  peers?: NetmasterFetch;
}

/** The agents' own protocol: never Contiv's, always answered with the proper status. */
const AGENT_PATH = /^\/api\/v1\/agent(\/|$)/;

function statusOf(err: unknown): Status {
  if (err instanceof ValidationError) return 400;
  if (err instanceof UnauthenticatedError) return 401;
  if (err instanceof ForbiddenError) return 403;
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
async function forwardToLeader(c: Context, master: Netmaster, peers: NetmasterFetch, forwardToken?: () => Promise<string>): Promise<Response> {
  const leader = await master.leaderUrl();
  if (!leader) throw new UpstreamError("No netmaster leader is elected yet: try again in a few seconds");
  const url = new URL(c.req.url);
  const headers: Record<string, string> = { "content-type": "application/json" };
  for (const name of FORWARDED_HEADERS) {
    const value = c.req.header(name);
    if (value !== undefined) headers[name] = value;
  }
  if (forwardToken && headers["x-auth-token"] === undefined && headers["authorization"] === undefined) headers["x-auth-token"] = await forwardToken();
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

/** The host name of a Host header value ("name", "name:port", "[v6]:port"), lower case. */
function hostOfHeader(value: string): string {
  const v = value.trim().toLowerCase();
  if (v.startsWith("[")) return v.slice(1, v.indexOf("]") > 0 ? v.indexOf("]") : undefined);
  const colon = v.lastIndexOf(":");
  return colon > 0 && v.indexOf(":") === colon ? v.slice(0, colon) : v;
}

/** Refuses what a browser could be made to send: another site's Origin, a Host this server is not (rebinding). */
function checkBrowserSafety(c: Context, isServerName: (host: string) => boolean): void {
  const host = c.req.header("host");
  if (host === undefined || !isServerName(hostOfHeader(host))) throw new ForbiddenError(`Host ${JSON.stringify(host ?? "")} is not a name of this netmaster`);
  const origin = c.req.header("origin");
  if (origin === undefined) return;
  let originHost: string;
  try {
    originHost = hostOfHeader(new URL(origin).host);
  } catch {
    throw new ForbiddenError(`Cross-origin request refused: origin ${JSON.stringify(origin)}`);
  }
  if (!isServerName(originHost)) throw new ForbiddenError(`Cross-origin request refused: origin ${JSON.stringify(origin)}`);
}

/** What a write must carry: JSON, which a browser cannot send to another site without asking first (CORS). */
function checkJsonBody(c: Context): void {
  if (c.req.method !== "POST" && c.req.method !== "PUT" && c.req.method !== "PATCH") return;
  const type = (c.req.header("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
  if (type !== "application/json") throw new UnsupportedMediaType(`A ${c.req.method} needs Content-Type: application/json, not ${JSON.stringify(type)}`);
}

class UnsupportedMediaType extends Error {}

function accessRequest(c: Context<Env>): AccessRequest {
  return {
    method: c.req.method,
    param: (name) => c.req.param(name),
    query: (name) => c.req.query(name),
    body: async () => {
      try {
        return JSON.parse(await c.req.text()) as unknown;
      } catch {
        return undefined;
      }
    },
  };
}

export function createApp(master: Netmaster, log: Logger, options: AppOptions = {}): Hono<Env> {
  const app = new Hono<Env>({ strict: false });
  const given = options.isServerName;
  const isServerName = given === undefined ? undefined : (host: string) => host === "localhost" || given(host);
  const contiv = options.errorStatus === "contiv";
  const peers = options.peers ?? new NetmasterFetch();
  const fail = (c: Context, status: Status, message: string, headers: Record<string, string> = {}): Response =>
    c.text(message, contiv && !AGENT_PATH.test(c.req.path) ? 500 : status, headers);

  app.onError((err, c) => {
    if (err instanceof UnsupportedMediaType) return fail(c, 415, err.message);
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
  app.use("*", async (c, next) => {
    if (isServerName !== undefined) checkBrowserSafety(c, isServerName);
    checkJsonBody(c);
    await next();
  });
  // Writes go to the leader; a follower relays them, and the reads that show what hosts report (rule
  // counters, BGP sessions, realization, the host list's last reports), which lives in the leader's memory.
  app.use("*", async (c, next) => {
    const write = c.req.method !== "GET" && c.req.method !== "HEAD";
    const leaderRead =
      ["/api/v1/inspect/policys/", "/api/v1/inspect/Bgps/", "/api/v1/inspect/endpoints/"].some((p) => c.req.path.startsWith(p)) ||
      c.req.path === "/api/v1/agent/hosts" ||
      c.req.path.replace(/\/$/, "") === "/api/v1/trace" ||
      c.req.path.replace(/\/$/, "") === "/api/v1/flows";
    if ((write || leaderRead) && !master.isLeader) return forwardToLeader(c, master, peers, options.forwardToken);
    await next();
  });

  // Every route is declared with the rule that says who may call it (auth/access.ts).
  const declared: DeclaredRoute[] = [];
  const route = (method: Method, path: string, rule: AccessRule, handler: Handler<Env>) => {
    declared.push({ method, path, rule });
    app.on(method, path, guard(rule), handler);
  };
  const guard =
    (rule: AccessRule): MiddlewareHandler<Env> =>
    async (c, next) => {
      const principal = rule === open ? undefined : await authenticate(c);
      c.set("principal", principal);
      await rule(principal, accessRequest(c), master.accessLookups());
      await next();
    };
  const verify = options.authenticate ?? (async (token) => (token === undefined || token === "" ? undefined : master.auth.authenticate(token)));
  const authenticate = (c: Context<Env>): Promise<Principal | undefined> =>
    verify(c.req.header("x-auth-token") ?? c.req.header("authorization")?.replace(/^Bearer\s+/i, ""));
  const principal = (c: Context<Env>): Principal => c.get("principal")!;

  route("GET", "/version", open, (c) => c.json(VERSION_INFO));
  route("GET", "/info", anyPrincipal, async (c) =>
    c.json({
      "local-ip": master.advertiseUrl,
      "leader-ip": (await master.leaderUrl()) ?? "",
      "current-state": master.isLeader ? "leader" : "follower",
    }),
  );
  route("GET", "/debug/state", adminOnly, (c) => c.json(master.dump()));
  route("GET", "/ui/*", open, uiHandler()); // the web UI's files: open, as a login page is; its API calls carry the token
  route("GET", "/metrics", anyPrincipal, (c) => serveMetrics(c, master.metrics.registry));

  // Contiv's auth_proxy, built in.
  const AUTH = "/api/v1/auth_proxy";
  route("POST", `${AUTH}/login`, open, async (c) => c.json(await master.auth.login(await readJson(c))));
  route("GET", `${AUTH}/health`, open, (c) => c.json({ status: "ok", leader: master.isLeader }));
  route("GET", `${AUTH}/version`, open, (c) => c.json(VERSION_INFO));
  route("GET", `${AUTH}/local_users`, adminOnly, (c) => c.json(master.auth.listUsers()));
  route("POST", `${AUTH}/local_users`, adminOnly, async (c) => c.json(await master.auth.createUser(await readJson(c)), 201));
  route("GET", `${AUTH}/local_users/:name`, selfOrAdmin("name"), (c) => c.json(master.auth.getUser(c.req.param("name")!)));
  route("PATCH", `${AUTH}/local_users/:name`, selfOrAdmin("name"), async (c) =>
    c.json(await master.auth.patchUser(c.req.param("name")!, await readJson(c), principal(c))),
  );
  route("DELETE", `${AUTH}/local_users/:name`, adminOnly, async (c) => {
    await master.auth.deleteUser(c.req.param("name")!);
    return c.body(null, 204);
  });
  route("GET", `${AUTH}/authorizations`, adminOnly, (c) => c.json(master.auth.listAuthorizations()));
  route("POST", `${AUTH}/authorizations`, adminOnly, async (c) => c.json(await master.auth.createAuthorization(await readJson(c)), 201));
  route("GET", `${AUTH}/authorizations/:uuid`, adminOnly, (c) => c.json(master.auth.getAuthorization(c.req.param("uuid")!)));
  route("DELETE", `${AUTH}/authorizations/:uuid`, adminOnly, async (c) => {
    await master.auth.deleteAuthorization(c.req.param("uuid")!);
    return c.body(null, 204);
  });

  route("GET", `${AUTH}/ldap_configuration`, adminOnly, (c) => c.json(master.auth.getLdap()));
  route("PUT", `${AUTH}/ldap_configuration`, adminOnly, async (c) => c.json(await master.auth.putLdap(await readJson(c))));
  route("PATCH", `${AUTH}/ldap_configuration`, adminOnly, async (c) => c.json(await master.auth.patchLdap(await readJson(c))));
  route("DELETE", `${AUTH}/ldap_configuration`, adminOnly, async (c) => {
    await master.auth.deleteLdap();
    return c.body(null, 204);
  });

  // Agent-facing: a host trades the join token for its credential; then each host writes only its own records.
  route("POST", "/api/v1/agent/join", open, async (c) => c.json(await master.auth.join(await readJson(c))));
  route("POST", "/api/v1/agent/endpoints", ownHostInBody("host"), async (c) => c.json(await master.createEndpoint(await readJson(c))));
  route("DELETE", "/api/v1/agent/endpoints/:id", ownEndpoint("id"), async (c) => c.json(await master.deleteEndpoint(c.req.param("id")!)));
  route("PUT", "/api/v1/agent/endpoints/:id/lease", ownEndpoint("id"), async (c) => c.json(await master.setEndpointLease(c.req.param("id")!, await readJson(c))));
  route("PUT", "/api/v1/agent/endpoints/:id/oper", ownEndpoint("id"), async (c) =>
    c.json(await master.reportEndpointOper(c.req.param("id")!, await readJson(c))),
  );
  // Agent-facing: a host's blocks of a network's addresses, which its agent assigns itself (blocks.ts).
  route("POST", "/api/v1/agent/blocks", ownHostInBody("host"), async (c) => c.json(await master.grantBlock(await readJson(c))));
  route("DELETE", "/api/v1/agent/blocks/:network/:cidr", ownBlock("network", "cidr"), async (c) => {
    const who = principal(c);
    const host = who.kind === "host" ? who.host : undefined;
    return c.json(await master.releaseBlock(c.req.param("network")!, c.req.param("cidr")!, host));
  });
  // Agent-facing: Docker's IPAM pools and addresses, networks and endpoints (docker/).
  route("POST", "/api/v1/agent/docker/pools", ownHostInBody("host"), async (c) => c.json(await master.dockerRequestPool(await readJson(c))));
  route("DELETE", "/api/v1/agent/docker/pools/:id", ownPool("id"), async (c) => {
    await master.dockerReleasePool(c.req.param("id")!);
    return c.json({});
  });
  route("POST", "/api/v1/agent/docker/pools/:id/addresses", ownPool("id"), async (c) =>
    c.json(await master.dockerRequestAddress(c.req.param("id")!, await readJson(c))),
  );
  route("POST", "/api/v1/agent/docker/pools/:id/release", ownPool("id"), async (c) => {
    await master.dockerReleaseAddress(c.req.param("id")!, await readJson(c));
    return c.json({});
  });
  route("POST", "/api/v1/agent/docker/networks", ownHostInBody("host"), async (c) => c.json(await master.dockerCreateNetwork(await readJson(c))));
  route("DELETE", "/api/v1/agent/docker/networks/:key", ownDockerNetwork("key"), async (c) => {
    await master.dockerDeleteNetwork(c.req.param("key")!);
    return c.json({});
  });
  route("POST", "/api/v1/agent/docker/endpoints", ownHostInBody("host"), async (c) => c.json(await master.dockerCreateEndpoint(await readJson(c))));
  route("DELETE", "/api/v1/agent/docker/endpoints/:id", ownEndpoint("id"), async (c) => c.json(await master.dockerDeleteEndpoint(c.req.param("id")!)));
  route("PUT", "/api/v1/agent/hosts/:name/bgp", ownHostParam("name"), async (c) => {
    master.reportBgp(c.req.param("name")!, await readJson(c));
    return c.json({});
  });
  route("PUT", "/api/v1/agent/hosts/:name/counters", ownHostParam("name"), async (c) => {
    master.reportCounters(c.req.param("name")!, await readJson(c));
    return c.json({});
  });
  route("PUT", "/api/v1/agent/hosts/:name/flows", ownHostParam("name"), async (c) => {
    master.reportFlows(c.req.param("name")!, await readJson(c));
    return c.json({});
  });
  route("PUT", "/api/v1/agent/hosts/:name/realized", ownHostParam("name"), async (c) => {
    await master.reportRealized(c.req.param("name")!, await readJson(c));
    return c.json({});
  });
  route("PUT", "/api/v1/agent/hosts/:name", ownHostParam("name"), async (c) => c.json(await master.registerHost(c.req.param("name")!, await readJson(c))));
  route("GET", "/api/v1/agent/hosts", adminOnly, (c) => c.json(master.listHosts()));
  route("DELETE", "/api/v1/agent/hosts/:name", adminOnly, async (c) => {
    const force = c.req.query("force") ?? "false";
    if (force !== "true" && force !== "false") throw new ValidationError(`Invalid force "${force}": expected true or false`);
    return c.json(await master.deregisterHost(c.req.param("name")!, { force: force === "true" }));
  });
  route("GET", "/api/v1/agent/watch", ownStream, (c) => {
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

  route("GET", "/api/v1/inspect/endpoints/:id", anyUser, (c) => {
    const { inspect, tenant } = master.inspectEndpoint(c.req.param("id")!);
    const who = principal(c);
    if (who.kind === "user" && !who.admin && !who.tenants.has(tenant)) throw new ForbiddenError(`User ${who.name} may not inspect endpoints of tenant ${tenant}`);
    return c.json(inspect);
  });
  route("GET", "/api/v1/inspect/:collection/:key", tenantObject, (c) => {
    const kind = master.kind(c.req.param("collection")!);
    return c.json(master.inspect(kind, c.req.param("key")!));
  });

  // Before the collections: "trace" is no collection.
  route("GET", "/api/v1/trace", tenantInQuery("tenant"), (c) => c.json(master.trace(c.req.query())));
  route("GET", "/api/v1/flows", tenantInQuery("tenant"), (c) => c.json(master.flows(c.req.query())));
  route("GET", "/api/v1/:collection", objectList, (c) => {
    const kind = master.kind(c.req.param("collection")!);
    const who = principal(c);
    return c.json(master.list(kind).filter((obj) => visibleTo(who, kind, obj)));
  });
  route("GET", "/api/v1/:collection/:key", tenantObject, (c) => {
    const kind = master.kind(c.req.param("collection")!);
    return c.json(master.get(kind, c.req.param("key")!));
  });
  const upsert = async (c: Context<Env>) => {
    const kind = master.kind(c.req.param("collection")!);
    return c.json(await master.upsert(kind, c.req.param("key")!, await readJson(c)));
  };
  route("POST", "/api/v1/:collection/:key", tenantObject, upsert);
  route("PUT", "/api/v1/:collection/:key", tenantObject, upsert);
  route("DELETE", "/api/v1/:collection/:key", tenantObject, async (c) => {
    const kind = master.kind(c.req.param("collection")!);
    const key = c.req.param("key")!;
    await master.remove(kind, key);
    return c.json(key);
  });
  routesOf.set(app, declared);

  // Last: the lookup sees only the routes registered before it.
  const allowed = allowedMethods(app);
  app.notFound((c) => {
    const allow = allowed(c.req.path);
    if (allow.length === 0) return fail(c, 404, `Not found: ${c.req.method} ${c.req.path}`);
    return fail(c, 405, `Cannot ${c.req.method} ${c.req.path}: it allows ${allow.join(", ")}`, { allow: allow.join(", ") });
  });
  return app;
}
