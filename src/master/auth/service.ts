// Users, authorizations, logins and host credentials: the auth_proxy API's behaviour, on netmaster's own
// store (records.ts). Writes go through the leader's mutations like every other object; checks that need
// slow work (password hashes, LDAP) are done before the mutation, which re-checks what it depends on.

import { randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import { readFileSync, rmSync } from "node:fs";
import { writePrivateFile } from "../../lib/private-files.js";
import { join } from "node:path";
import type { Logger } from "pino";
import { z } from "zod";
import { ConflictError, ForbiddenError, NotFoundError, UnauthenticatedError, ValidationError } from "../../lib/errors.js";
import { AUTH_SECRETS_KEY, AUTHZ_PREFIX, authzKey, hostCredentialKey, LDAP_CONFIG_KEY, objectKey, USER_PREFIX, userKey } from "../../contract/keys.js";
import { HostName } from "../../contract/api.js";
import type { Tx } from "../tx.js";
import { burnPasswordCheck, hashPassword, verifyPassword } from "./passwords.js";
import { resolvePrincipal, rolesOf, type AuthView, type Principal } from "./principal.js";
import {
  AuthSecrets,
  AuthzCreate,
  AuthzRecord,
  HostCredential,
  JoinRequest,
  LoginRequest,
  Password,
  UserCreate,
  UserPatch,
  UserRecord,
  userView,
  type UserView,
} from "./records.js";
import { TokenSigner } from "./tokens.js";
import { ldapLogin } from "./ldap.js";
import { LdapConfig, LdapConfigPatch } from "./ldap-config.js";
import { groupMatches } from "./ldap-dn.js";

export const DEFAULT_TOKEN_TTL_SECONDS = 3600;
export const ADMIN_USER = "admin";

export interface AuthOptions {
  tokenTtlSeconds?: number;
  /** The first admin's password; without it a random one is written to <stateDir>/admin-password. */
  initialAdminPassword?: string;
  /** Where the admin password and the join token are written (0600); undefined: nowhere (in-process tests). */
  stateDir?: string;
  /** PEM of the CA the LDAP server's certificate must chain to (StartTLS); default: the system's. */
  ldapCa?: string;
}

const LOCAL_TOKEN_TTL_SECONDS = 60;

interface Deps {
  view(): Tx;
  mutate<R>(fn: (tx: Tx) => R): Promise<R>;
  log: Logger;
}

function parse<T extends z.ZodType>(schema: T, body: unknown, what: string): z.infer<T> {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const detail = parsed.error.issues.map((i) => (i.path.length ? `${i.path.join(".")}: ${i.message}` : i.message)).join("; ");
  throw new ValidationError(`Invalid ${what}: ${detail}`);
}

function secretsOf(tx: Tx): AuthSecrets | undefined {
  return tx.get<AuthSecrets>(AUTH_SECRETS_KEY);
}

function authView(tx: Tx): AuthView {
  return {
    user: (name) => tx.get<UserRecord>(userKey(name)),
    authorizations: () => tx.list<AuthzRecord>(AUTHZ_PREFIX).map(([, a]) => a),
    hostCredential: (host) => tx.get<HostCredential>(hostCredentialKey(host)),
  };
}

const exactly = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

export class AuthService {
  private signerCache: { key: string; signer: TokenSigner } | undefined;
  private readonly ttl: number;

  constructor(
    private readonly deps: Deps,
    private readonly options: AuthOptions = {},
  ) {
    this.ttl = options.tokenTtlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS;
  }

  /**
   * On the leader: the signing key and join token exist, and a store without users gets the user admin with
   * an admin authorization (its password from the options, else a random one written to the state dir).
   */
  async bootstrap(): Promise<void> {
    const view = this.deps.view();
    if (secretsOf(view) === undefined) {
      const secrets: AuthSecrets = { signingKey: randomBytes(32).toString("base64"), joinToken: randomBytes(24).toString("base64url") };
      await this.deps.mutate((tx) => {
        if (secretsOf(tx) === undefined) tx.put(AUTH_SECRETS_KEY, secrets);
      });
    }
    this.writeJoinToken();
    if (view.list(USER_PREFIX).length > 0) return;
    const given = this.options.initialAdminPassword;
    const password = given ?? randomBytes(18).toString("base64url");
    parse(Password, password, "initial admin password");
    const file = given === undefined && this.options.stateDir !== undefined ? join(this.options.stateDir, "admin-password") : undefined;
    if (file) writePrivateFile(file, `${password}\n`);
    const user: UserRecord = { username: ADMIN_USER, first_name: "", last_name: "", disable: false, passwordHash: await hashPassword(password), uid: randomUUID() };
    const made = await this.deps.mutate((tx) => {
      if (tx.list(USER_PREFIX).length > 0) return false;
      tx.put(userKey(ADMIN_USER), user);
      const authz: AuthzRecord = { AuthzUUID: randomUUID(), principalName: ADMIN_USER, local: true, role: "admin", tenantName: "" };
      tx.put(authzKey(authz.AuthzUUID), authz);
      return true;
    });
    if (!made) {
      if (file) rmSync(file, { force: true });
      return;
    }
    this.deps.log.warn(file ? { passwordFile: file } : {}, file ? "created user admin; its password is in the file" : "created user admin with the given password");
  }

  /** Every replica keeps <stateDir>/join-token current, for agents started on its machine. */
  writeJoinToken(): void {
    const secrets = secretsOf(this.deps.view());
    if (secrets === undefined || this.options.stateDir === undefined) return;
    const path = join(this.options.stateDir, "join-token");
    let current: string | undefined;
    try {
      current = readFileSync(path, "utf8");
    } catch {
      current = undefined;
    }
    if (current !== `${secrets.joinToken}\n`) writePrivateFile(path, `${secrets.joinToken}\n`);
  }

  private signer(tx: Tx): TokenSigner {
    const secrets = secretsOf(tx);
    if (secrets === undefined) throw new UnauthenticatedError("netmaster has no signing key yet: try again once a leader is elected");
    if (this.signerCache?.key !== secrets.signingKey) this.signerCache = { key: secrets.signingKey, signer: new TokenSigner(secrets.signingKey) };
    return this.signerCache.signer;
  }

  /** A token for root on this machine (the socket's callers), for a write forwarded to the leader: valid a minute. */
  localToken(): Promise<string> {
    return this.signer(this.deps.view()).sign({ kind: "local", sub: "root" }, LOCAL_TOKEN_TTL_SECONDS);
  }

  /** The principal a token stands for (401 when it is bad, expired or revoked). */
  async authenticate(token: string): Promise<Principal> {
    const tx = this.deps.view();
    const claims = await this.signer(tx).verify(token);
    return resolvePrincipal(claims, authView(tx), groupMatches);
  }

  /** auth_proxy's login: a local user first, else the LDAP directory if one is configured. */
  async login(body: unknown): Promise<{ token: string }> {
    const { username, password } = parse(LoginRequest, body, "login");
    const tx = this.deps.view();
    const bad = () => new UnauthenticatedError("Invalid username or password");
    const user = tx.get<UserRecord>(userKey(username));
    if (user !== undefined) {
      if (!(await verifyPassword(password, user.passwordHash)) || user.disable) throw bad();
      const roles = rolesOf(authView(tx).authorizations(), { local: username }, groupMatches);
      if (!roles.admin && roles.tenants.size === 0) throw new ForbiddenError(`User ${username} has no authorization: an admin must give it a role`);
      return { token: await this.signer(tx).sign({ kind: "user", sub: username, uid: user.uid, source: "local", groups: [] }, this.ttl) };
    }
    const ldap = tx.get<LdapConfig>(LDAP_CONFIG_KEY);
    if (ldap === undefined || password === "") {
      await burnPasswordCheck(password);
      throw bad();
    }
    const found = await ldapLogin(ldap, username, password, this.options.ldapCa === undefined ? {} : { ca: this.options.ldapCa });
    if (found === undefined) throw bad();
    const roles = rolesOf(authView(tx).authorizations(), { groups: found.groups }, groupMatches);
    if (!roles.admin && roles.tenants.size === 0) throw new ForbiddenError(`LDAP user ${username} is in no authorized group: an admin must authorize one of its groups`);
    return { token: await this.signer(tx).sign({ kind: "user", sub: username, uid: "", source: "ldap", groups: found.groups }, this.ttl) };
  }

  listUsers(): UserView[] {
    return this.deps.view().list<UserRecord>(USER_PREFIX).map(([, u]) => userView(u));
  }

  getUser(name: string): UserView {
    const user = this.deps.view().get<UserRecord>(userKey(name));
    if (user === undefined) throw new NotFoundError(`User ${name} not found`);
    return userView(user);
  }

  async createUser(body: unknown): Promise<UserView> {
    const req = parse(UserCreate, body, "user");
    const user: UserRecord = { ...req, passwordHash: await hashPassword(req.password), uid: randomUUID() };
    delete (user as { password?: string }).password;
    await this.deps.mutate((tx) => {
      if (tx.get(userKey(req.username))) throw new ConflictError(`User ${req.username} already exists`);
      tx.put(userKey(req.username), user);
    });
    return userView(user);
  }

  /** A user changes their own names and password; only an admin may disable or enable. */
  async patchUser(name: string, body: unknown, by: Principal): Promise<UserView> {
    const patch = parse(UserPatch, body, "user update");
    const admin = by.kind === "user" && by.admin;
    if (patch.disable !== undefined && !admin) throw new ForbiddenError("Only an admin may disable or enable a user");
    const passwordHash = patch.password === undefined ? undefined : await hashPassword(patch.password);
    return this.deps.mutate((tx) => {
      const old = tx.get<UserRecord>(userKey(name));
      if (old === undefined) throw new NotFoundError(`User ${name} not found`);
      const { password: _ignored, ...fields } = patch;
      const next: UserRecord = { ...old, ...fields, ...(passwordHash ? { passwordHash } : {}) };
      if (next.disable && !old.disable) this.keepAnAdmin(tx, { disabling: name });
      tx.put(userKey(name), next);
      return userView(next);
    });
  }

  /** Removes the user and its authorizations; its tokens stop working at once. */
  deleteUser(name: string): Promise<void> {
    return this.deps.mutate((tx) => {
      if (!tx.get(userKey(name))) throw new NotFoundError(`User ${name} not found`);
      this.keepAnAdmin(tx, { removingUser: name });
      for (const [key, a] of tx.list<AuthzRecord>(AUTHZ_PREFIX)) if (a.local && a.principalName === name) tx.delete(key);
      tx.delete(userKey(name));
    });
  }

  listAuthorizations(): AuthzRecord[] {
    return this.deps.view().list<AuthzRecord>(AUTHZ_PREFIX).map(([, a]) => a);
  }

  getAuthorization(uuid: string): AuthzRecord {
    const a = this.deps.view().get<AuthzRecord>(authzKey(uuid));
    if (a === undefined) throw new NotFoundError(`Authorization ${uuid} not found`);
    return a;
  }

  createAuthorization(body: unknown): Promise<AuthzRecord> {
    const req = parse(AuthzCreate, body, "authorization");
    return this.deps.mutate((tx) => {
      if (req.local && !tx.get(userKey(req.principalName))) throw new NotFoundError(`User ${req.principalName} not found`);
      if (req.role === "ops" && !tx.get(objectKey("tenant", req.tenantName))) throw new NotFoundError(`Tenant ${req.tenantName} not found`);
      const same = tx.list<AuthzRecord>(AUTHZ_PREFIX).find(([, a]) => a.principalName === req.principalName && a.local === req.local && a.role === req.role && a.tenantName === req.tenantName);
      if (same) throw new ConflictError(`Authorization ${same[1].AuthzUUID} gives ${req.principalName} that role already`);
      const authz: AuthzRecord = { AuthzUUID: randomUUID(), ...req };
      tx.put(authzKey(authz.AuthzUUID), authz);
      return authz;
    });
  }

  deleteAuthorization(uuid: string): Promise<void> {
    return this.deps.mutate((tx) => {
      if (!tx.get(authzKey(uuid))) throw new NotFoundError(`Authorization ${uuid} not found`);
      this.keepAnAdmin(tx, { removingAuthz: uuid });
      tx.delete(authzKey(uuid));
    });
  }

  /** Nobody could manage users and roles any more: at least one enabled local user keeps the admin role. */
  private keepAnAdmin(tx: Tx, change: { disabling?: string; removingUser?: string; removingAuthz?: string }): void {
    const admins = tx
      .list<AuthzRecord>(AUTHZ_PREFIX)
      .filter(([, a]) => a.local && a.role === "admin" && a.AuthzUUID !== change.removingAuthz && a.principalName !== change.removingUser && a.principalName !== change.disabling)
      .filter(([, a]) => tx.get<UserRecord>(userKey(a.principalName))?.disable === false);
    if (admins.length === 0) throw new ConflictError("Cannot do that: no enabled local user would keep the admin role");
  }

  /** The LDAP configuration as the API shows it: never the service account's password. */
  getLdap(): Omit<LdapConfig, "service_account_password"> {
    const config = this.deps.view().get<LdapConfig>(LDAP_CONFIG_KEY);
    if (config === undefined) throw new NotFoundError("No LDAP configuration");
    const { service_account_password: _secret, ...shown } = config;
    return shown;
  }

  async putLdap(body: unknown): Promise<Omit<LdapConfig, "service_account_password">> {
    const config = parse(LdapConfig, body, "LDAP configuration");
    await this.deps.mutate((tx) => tx.put(LDAP_CONFIG_KEY, config));
    return this.getLdap();
  }

  async patchLdap(body: unknown): Promise<Omit<LdapConfig, "service_account_password">> {
    const patch = parse(LdapConfigPatch, body, "LDAP configuration change");
    await this.deps.mutate((tx) => {
      const old = tx.get<LdapConfig>(LDAP_CONFIG_KEY);
      if (old === undefined) throw new NotFoundError("No LDAP configuration: PUT a whole one first");
      tx.put(LDAP_CONFIG_KEY, parse(LdapConfig, { ...old, ...patch }, "LDAP configuration"));
    });
    return this.getLdap();
  }

  deleteLdap(): Promise<void> {
    return this.deps.mutate((tx) => {
      if (!tx.get(LDAP_CONFIG_KEY)) throw new NotFoundError("No LDAP configuration");
      tx.delete(LDAP_CONFIG_KEY);
    });
  }

  /** A host's agent trades the cluster's join token for its own credential; a new join voids the host's old one. */
  async join(body: unknown): Promise<{ credential: string }> {
    const req = parse(JoinRequest, body, "join request");
    parse(HostName, req.host, "host name");
    const secrets = secretsOf(this.deps.view());
    if (secrets === undefined || !exactly(req.joinToken, secrets.joinToken)) throw new UnauthenticatedError("Invalid join token");
    const credential: HostCredential = { host: req.host, id: randomUUID() };
    await this.deps.mutate((tx) => tx.put(hostCredentialKey(req.host), credential));
    return { credential: await this.signer(this.deps.view()).sign({ kind: "host", sub: req.host, uid: credential.id }) };
  }
}
