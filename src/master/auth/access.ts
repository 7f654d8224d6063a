// Who may call what: one rule per route (master/http.ts declares it with the route), pure functions of
// the principal, the request and a few lookups. A rule throws UnauthenticatedError (401: no or bad
// credential) or ForbiddenError (403: a credential that does not allow this); returning means allowed.
//
// admin: everything. ops: the objects of the tenants it is authorized for, read and write, global and
// aciGw read only, nothing of hosts, users or the raw state. A host (its agent's credential): only its
// own records: its host record and reports, its state stream, endpoints homed on it, its address blocks,
// its dockerd's pools and the networks its dockerd made.

import { ForbiddenError, UnauthenticatedError } from "../../lib/errors.js";
import { kindByCollection, type ModelObject, type ObjectKind } from "../../model/index.js";
import type { Principal } from "./principal.js";

export interface AccessRequest {
  method: string;
  param(name: string): string | undefined;
  query(name: string): string | undefined;
  /** The parsed JSON body, or undefined when it is not JSON (the handler refuses it then). */
  body(): Promise<unknown>;
}

/** Facts a rule may need about existing records; undefined: no such record. */
export interface AccessLookups {
  endpointHost(id: string): string | undefined;
  poolHost(poolId: string): string | undefined;
  /** The host whose dockerd made the network `tenant:name`. */
  dockerNetworkHost(key: string): string | undefined;
  /** The host holding the network's address block (cidr as the path gives it). */
  blockHost(networkKey: string, cidr: string): string | undefined;
}

export type AccessRule = (who: Principal | undefined, req: AccessRequest, look: AccessLookups) => void | Promise<void>;

function signedIn(who: Principal | undefined): Principal {
  if (who === undefined) throw new UnauthenticatedError("Authentication required: log in (netctl login) and send the token as X-Auth-Token");
  return who;
}

function isAdmin(who: Principal): boolean {
  return who.kind === "user" && who.admin;
}

function refuse(who: Principal, what: string): never {
  throw new ForbiddenError(`${who.kind === "user" ? `User ${who.name}` : `Host ${who.host}`} may not ${what}`);
}

/** Anyone, without a credential. */
export const open: AccessRule = () => undefined;

/** Any user or host. */
export const anyPrincipal: AccessRule = (who) => void signedIn(who);

/** Any user (not a host's agent). */
export const anyUser: AccessRule = (who, req) => {
  const p = signedIn(who);
  if (p.kind !== "user") refuse(p, `${req.method} this path`);
};

export const adminOnly: AccessRule = (who, req) => {
  const p = signedIn(who);
  if (!isAdmin(p)) refuse(p, `${req.method} this path: it needs the admin role`);
};

/** The user named by the path parameter, or an admin. */
export function selfOrAdmin(param: string): AccessRule {
  return (who, req) => {
    const p = signedIn(who);
    if (isAdmin(p) || (p.kind === "user" && p.name === req.param(param))) return;
    refuse(p, `${req.method} another user`);
  };
}

/** The tenant an object key belongs to, or undefined for kinds outside tenants (global, aciGw, Bgp). */
export function tenantOfKey(kind: ObjectKind, key: string): string | undefined {
  if (kind.keyFields[0] !== "tenantName") return undefined;
  return key.split(":")[0];
}

/** Which of a list an ops user sees: its tenants' objects, and global and aciGw. */
export function visibleTo(who: Principal, kind: ObjectKind, obj: ModelObject): boolean {
  if (isAdmin(who)) return true;
  if (who.kind !== "user") return false;
  if (kind.keyFields[0] === "tenantName") return who.tenants.has((obj as { tenantName: string }).tenantName);
  return kind.type === "global" || kind.type === "aciGw";
}

/** /api/v1/<collection>/<key> and its inspect: admin, or ops within its tenants (tenants themselves: read only). */
export const tenantObject: AccessRule = (who, req) => {
  const p = signedIn(who);
  if (isAdmin(p)) return;
  if (p.kind !== "user") refuse(p, "use the object API");
  const kind = kindByCollection(req.param("collection") ?? "");
  if (kind === undefined) return; // the handler answers 404
  const read = req.method === "GET" || req.method === "HEAD";
  const key = req.param("key") ?? "";
  const tenant = tenantOfKey(kind, key);
  if (tenant === undefined) {
    if (read && (kind.type === "global" || kind.type === "aciGw")) return;
    refuse(p, `${req.method} ${kind.type} objects: they need the admin role`);
  }
  if (!p.tenants.has(tenant)) refuse(p, `${req.method} objects of tenant ${tenant}`);
  if (kind.type === "tenant" && !read) refuse(p, `${req.method} tenant ${tenant}: creating and removing tenants needs the admin role`);
};

/** A list of a collection: any user (the handler shows only what visibleTo allows). */
export const objectList: AccessRule = anyUser;

function hostRule(what: string, ownerOf: (req: AccessRequest, look: AccessLookups) => string | undefined | Promise<string | undefined>, unknownAllowed = false): AccessRule {
  return async (who, req, look) => {
    const p = signedIn(who);
    if (isAdmin(p)) return;
    if (p.kind !== "host") refuse(p, `${what}: it is for hosts' agents and admins`);
    const owner = await ownerOf(req, look);
    if (owner === p.host || (owner === undefined && unknownAllowed)) return;
    refuse(p, `${what} of ${owner === undefined ? "an unknown host" : `host ${owner}`}`);
  };
}

/** The host named by the path parameter (its record, its reports). */
export function ownHostParam(param: string): AccessRule {
  return hostRule("write the host record or reports", (req) => req.param(param));
}

/** The host named in the body (an endpoint or pool it asks for). */
export function ownHostInBody(field: string): AccessRule {
  return hostRule("ask for an endpoint, pool or address", async (req) => {
    const body = await req.body();
    const host = body !== null && typeof body === "object" ? (body as Record<string, unknown>)[field] : undefined;
    return typeof host === "string" ? host : undefined;
  });
}

/** The state stream of the host in the query. */
export const ownStream: AccessRule = hostRule("follow the state", (req) => req.query("host"));

/** An endpoint homed on the host; one that does not exist is left to the handler (404). */
export function ownEndpoint(param: string): AccessRule {
  return hostRule("change an endpoint", (req, look) => look.endpointHost(req.param(param) ?? ""), true);
}

/** A pool its dockerd was given; one that does not exist is left to the handler (404). */
export function ownPool(param: string): AccessRule {
  return hostRule("use a pool", (req, look) => look.poolHost(req.param(param) ?? ""), true);
}

/** An address block of the host; one that does not exist is left to the handler (404). */
export function ownBlock(networkParam: string, cidrParam: string): AccessRule {
  return hostRule("release an address block", (req, look) => look.blockHost(req.param(networkParam) ?? "", req.param(cidrParam) ?? ""), true);
}

/** A network its dockerd made; one that does not exist is left to the handler (404). */
export function ownDockerNetwork(param: string): AccessRule {
  return hostRule("remove a network", (req, look) => look.dockerNetworkHost(req.param(param) ?? ""), true);
}
