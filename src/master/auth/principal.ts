// Who a request comes from, and what their authorizations give them. Pure: the caller passes a view of
// the stored users, authorizations and host credentials.

import { UnauthenticatedError } from "../../lib/errors.js";
import type { AuthzRecord, HostCredential, UserRecord } from "./records.js";
import type { TokenClaims } from "./tokens.js";

export type Principal =
  | { kind: "user"; name: string; admin: boolean; tenants: ReadonlySet<string> }
  | { kind: "host"; host: string };

export interface AuthView {
  user(name: string): UserRecord | undefined;
  authorizations(): AuthzRecord[];
  hostCredential(host: string): HostCredential | undefined;
}

export type GroupMatcher = (principalName: string, group: string) => boolean;

/** What a local user's or an LDAP user's authorizations add up to: admin wins; ops collect tenants. */
export function rolesOf(authorizations: AuthzRecord[], who: { local: string } | { groups: string[] }, groupMatches: GroupMatcher): { admin: boolean; tenants: Set<string> } {
  let admin = false;
  const tenants = new Set<string>();
  for (const a of authorizations) {
    const applies = "local" in who ? a.local && a.principalName === who.local : !a.local && who.groups.some((g) => groupMatches(a.principalName, g));
    if (!applies) continue;
    if (a.role === "admin") admin = true;
    else tenants.add(a.tenantName);
  }
  return { admin, tenants };
}

/** Root on a netmaster's machine: a caller on its --listen-socket, which only root can open. */
export const LOCAL_ROOT: Principal = { kind: "user", name: "root", admin: true, tenants: new Set() };

/** The principal a verified token stands for now; a token whose holder is gone or disabled is refused. */
export function resolvePrincipal(claims: TokenClaims, view: AuthView, groupMatches: GroupMatcher): Principal {
  if (claims.kind === "local") return LOCAL_ROOT;
  if (claims.kind === "host") {
    if (view.hostCredential(claims.sub)?.id !== claims.uid) throw new UnauthenticatedError(`The credential of host ${claims.sub} was revoked: join the host again (netplugin --join-token-file)`);
    return { kind: "host", host: claims.sub };
  }
  if (claims.source === "local") {
    const user = view.user(claims.sub);
    if (user === undefined || user.uid !== claims.uid) throw new UnauthenticatedError(`User ${claims.sub} no longer exists: log in again`);
    if (user.disable) throw new UnauthenticatedError(`User ${claims.sub} is disabled`);
  }
  const who = claims.source === "local" ? { local: claims.sub } : { groups: claims.groups };
  const roles = rolesOf(view.authorizations(), who, groupMatches);
  // A token is void once its holder has no authorization left.
  if (!roles.admin && roles.tenants.size === 0) throw new UnauthenticatedError(`User ${claims.sub} has no authorization any more`);
  return { kind: "user", name: claims.sub, ...roles };
}
