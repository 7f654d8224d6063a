// Test support, not netmaster's auth_proxy: a small in-memory stand-in with the routes, statuses, field
// names and messages of netmaster's built-in auth_proxy (branch auth: src/master/http.ts,
// src/master/auth/{records,service,access}.ts), so that netctl's commands can be tested as flows — log
// in, use the token, be refused. Every request but /version, login/, health/ and version/ needs a valid
// X-Auth-Token; user, authorization and LDAP calls need the admin role (a user may read and change
// itself). Errors are plain text, like netmaster's. What it does not check (user name syntax, DNs, LDAP
// logins) netctl leaves to the server anyway.

import { randomBytes, randomUUID } from "node:crypto";


const BASE = "/api/v1/auth_proxy/";

export interface FakeUser {
  username: string;
  password: string;
  first_name: string;
  last_name: string;
  disable: boolean;
}

/** As netmaster answers it (records.ts AuthzRecord). */
export interface FakeAuthorization {
  AuthzUUID: string;
  principalName: string;
  local: boolean;
  role: string;
  /** "" for admin. */
  tenantName: string;
}

/** records.ts Password. */
const MIN_PASSWORD = 8;

const LDAP_FIELDS = ["server", "port", "base_dn", "service_account_dn", "service_account_password", "start_tls", "insecure_skip_verify"];
const LDAP_REQUIRED = ["server", "base_dn", "service_account_dn", "service_account_password"];
const LDAP_DEFAULTS = { port: 389, start_tls: false, insecure_skip_verify: false };

type Body = Record<string, unknown>;

/** What a fake route answers (the fake netmaster's routes and the auth proxy's alike). */
export interface CannedResponse {
  status?: number;
  /** Sent as application/json. */
  json?: unknown;
  /** Sent as text/plain (an error message, like the real server's errors). */
  text?: string;
  /** Sent as is, as application/json: for answers whose exact bytes matter. */
  raw?: string;
}

function text(status: number, message: string): CannedResponse {
  return { status, text: message };
}

function publicUser(u: FakeUser): Body {
  return { username: u.username, first_name: u.first_name, last_name: u.last_name, disable: u.disable };
}

export class FakeAuthProxy {
  readonly users = new Map<string, FakeUser>();
  readonly authorizations: FakeAuthorization[] = [];
  ldap: Body | undefined;
  /** The exact login answer for a new token; Go's json.Marshal by default. */
  loginBody: (token: string) => string = (token) => JSON.stringify({ token });
  private readonly tokens = new Map<string, { username: string; expired: boolean }>();

  /** Starts with one admin, as netmaster does. */
  constructor(admin: { username: string; password: string } = { username: "admin", password: "admin-secret" }) {
    this.addUser(admin.username, admin.password, "admin");
  }

  addUser(username: string, password: string, role?: "admin" | "ops", tenant = ""): this {
    this.users.set(username, { username, password, first_name: "", last_name: "", disable: false });
    if (role) this.authorizations.push({ AuthzUUID: randomUUID(), principalName: username, local: true, role, tenantName: tenant });
    return this;
  }

  /** Log a user in without HTTP, for tests that need a token to start with. */
  issueToken(username: string): string {
    const token = `fake.${randomBytes(12).toString("base64url")}`;
    this.tokens.set(token, { username, expired: false });
    return token;
  }

  expireTokens(): void {
    for (const t of this.tokens.values()) t.expired = true;
  }

  /** The answer to an auth_proxy call or a refused token; undefined lets the canned routes answer. */
  handle(method: string, path: string, body: unknown, token: string | undefined): CannedResponse | undefined {
    if (path === "/version") return undefined;
    if (!path.startsWith(BASE)) return this.check(token).refusal;
    const route = path.slice(BASE.length);
    if (method === "POST" && route === "login/") return this.login(body);
    if (method === "GET" && route === "health/") return { json: { status: "healthy" } };
    if (method === "GET" && route === "version/") return { json: { version: "fake" } };
    const { refusal, username } = this.check(token);
    if (refusal) return refusal;
    const admin = this.isAdmin(username ?? "");
    const self = /^local_users\/([^/]+)\/$/.exec(route);
    const selfService = self !== null && decodeURIComponent(self[1] ?? "") === username && (method === "GET" || method === "PATCH");
    if (!admin && !selfService) {
      return text(403, self !== null ? `User ${username} may not ${method} another user` : `User ${username} may not ${method} this path: it needs the admin role`);
    }
    const b = typeof body === "object" && body !== null ? (body as Body) : {};
    if (route.startsWith("local_users/")) return this.localUsers(method, route, b);
    if (route.startsWith("authorizations/")) return this.authz(method, route, b);
    if (route === "ldap_configuration/") return this.ldapConfiguration(method, b);
    return text(404, `fake auth_proxy: no route ${method} ${path}`);
  }

  private check(token: string | undefined): { refusal?: CannedResponse; username?: string } {
    if (token === undefined) return { refusal: text(401, "Authentication required: log in (netctl login) and send the token as X-Auth-Token") };
    const t = this.tokens.get(token);
    if (!t) return { refusal: text(401, "Invalid token: log in again (netctl login)") };
    if (t.expired) return { refusal: text(401, "Token expired: log in again (netctl login)") };
    if (!this.users.has(t.username)) return { refusal: text(401, `User ${t.username} no longer exists: log in again`) };
    return { username: t.username };
  }

  private isAdmin(username: string): boolean {
    return this.authorizations.some((a) => a.local && a.principalName === username && a.role === "admin");
  }

  private login(body: unknown): CannedResponse {
    const b = typeof body === "object" && body !== null ? (body as Body) : {};
    const { username, password } = b;
    if (typeof username !== "string" || typeof password !== "string" || username === "") {
      return text(400, "Invalid login: username: Too small: expected string to have >=1 characters");
    }
    const user = this.users.get(username);
    if (!user || user.password !== password || user.disable) return text(401, "Invalid username or password");
    if (!this.authorizations.some((a) => a.local && a.principalName === username)) {
      return text(403, `User ${username} has no authorization: an admin must give it a role`);
    }
    return { raw: this.loginBody(this.issueToken(username)) };
  }

  private localUsers(method: string, route: string, b: Body): CannedResponse {
    if (route === "local_users/") {
      if (method === "GET") return { json: [...this.users.values()].map(publicUser) };
      if (method !== "POST") return text(405, "method not allowed");
      const { username, password } = b;
      if (typeof username !== "string" || username === "") return text(400, "Invalid user: username: Invalid input: expected string");
      const weak = passwordProblem(password, "user");
      if (weak) return weak;
      if (this.users.has(username)) return text(409, `User ${username} already exists`);
      const user: FakeUser = {
        username,
        password: String(password),
        first_name: typeof b["first_name"] === "string" ? b["first_name"] : "",
        last_name: typeof b["last_name"] === "string" ? b["last_name"] : "",
        disable: b["disable"] === true,
      };
      this.users.set(username, user);
      return { status: 201, json: publicUser(user) };
    }
    const name = decodeURIComponent(route.slice("local_users/".length, -1));
    const user = this.users.get(name);
    if (!user) return text(404, `User ${name} not found`);
    if (method === "GET") return { json: publicUser(user) };
    if (method === "DELETE") {
      this.users.delete(name);
      for (let i = this.authorizations.length - 1; i >= 0; i--) {
        const a = this.authorizations[i];
        if (a?.local && a.principalName === name) this.authorizations.splice(i, 1);
      }
      return { status: 204 };
    }
    if (method !== "PATCH") return text(405, "method not allowed");
    if (b["password"] !== undefined) {
      const weak = passwordProblem(b["password"], "user update");
      if (weak) return weak;
    }
    for (const f of ["password", "first_name", "last_name"] as const) if (typeof b[f] === "string") user[f] = b[f];
    if (typeof b["disable"] === "boolean") user.disable = b["disable"];
    return { json: publicUser(user) };
  }

  private authz(method: string, route: string, b: Body): CannedResponse {
    if (route === "authorizations/") {
      if (method === "GET") return { json: this.authorizations };
      if (method !== "POST") return text(405, "method not allowed");
      const { principalName, local, role } = b;
      const tenantName = b["tenantName"] ?? "";
      if (typeof principalName !== "string" || principalName === "") return text(400, "Invalid authorization: principalName: Invalid input: expected string");
      if (typeof local !== "boolean") return text(400, "Invalid authorization: local: Invalid input: expected boolean");
      if (role !== "admin" && role !== "ops") return text(400, 'Invalid authorization: role: Invalid option: expected one of "admin"|"ops"');
      if (typeof tenantName !== "string") return text(400, "Invalid authorization: tenantName: Invalid input: expected string");
      if (role === "ops" && tenantName === "") return text(400, "Invalid authorization: tenantName: an ops authorization needs the tenant it covers");
      if (role === "admin" && tenantName !== "") {
        return text(400, "Invalid authorization: tenantName: an admin authorization covers every tenant: leave tenantName empty");
      }
      if (local && !this.users.has(principalName)) return text(404, `User ${principalName} not found`);
      const a: FakeAuthorization = { AuthzUUID: randomUUID(), principalName, local, role, tenantName };
      this.authorizations.push(a);
      return { status: 201, json: a };
    }
    const uuid = decodeURIComponent(route.slice("authorizations/".length, -1));
    const i = this.authorizations.findIndex((a) => a.AuthzUUID === uuid);
    if (i < 0) return text(404, `Authorization ${uuid} not found`);
    if (method === "GET") return { json: this.authorizations[i] };
    if (method !== "DELETE") return text(405, "method not allowed");
    this.authorizations.splice(i, 1);
    return { status: 204 };
  }

  private ldapConfiguration(method: string, b: Body): CannedResponse {
    const shown = (): Body => {
      const { service_account_password: _, ...rest } = this.ldap ?? {};
      return rest;
    };
    if (method === "PUT") {
      const missing = LDAP_REQUIRED.filter((f) => b[f] === undefined || b[f] === "");
      if (missing.length > 0) return text(400, `Invalid LDAP configuration: ${missing.map((f) => `${f}: ${f} is required`).join("; ")}`);
      this.ldap = { ...LDAP_DEFAULTS, ...Object.fromEntries(LDAP_FIELDS.filter((f) => b[f] !== undefined).map((f) => [f, b[f]])) };
      return { json: shown() };
    }
    if (!this.ldap) return text(404, method === "PATCH" ? "No LDAP configuration: PUT a whole one first" : "No LDAP configuration");
    if (method === "GET") return { json: shown() };
    if (method === "PATCH") {
      for (const f of LDAP_FIELDS) if (b[f] !== undefined) this.ldap[f] = b[f];
      return { json: shown() };
    }
    if (method === "DELETE") {
      this.ldap = undefined;
      return { status: 204 };
    }
    return text(405, "method not allowed");
  }
}

/** records.ts Password: 8 to 256 characters. */
function passwordProblem(password: unknown, what: string): CannedResponse | undefined {
  if (typeof password !== "string") return text(400, `Invalid ${what}: password: Invalid input: expected string`);
  if (password.length < MIN_PASSWORD) return text(400, `Invalid ${what}: password: must be at least ${MIN_PASSWORD} characters`);
  if (password.length > 256) return text(400, `Invalid ${what}: password: must be at most 256 characters`);
  return undefined;
}
