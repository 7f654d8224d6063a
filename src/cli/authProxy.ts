// netmaster's auth_proxy API (Contiv's auth_proxy, now built into netmaster): its paths and the shapes
// netctl sends, with the field names of netmaster's records (branch auth: src/master/auth/records.ts,
// ldap-config.ts): users with snake_case fields and never a password, authorizations as AuthzUUID,
// principalName, local, role, tenantName. Writes answer 200, 201 or 204, with or without a body.

import { expectObject, expectObjects, type ApiObject, type NetmasterClient, type RawResponse } from "./client.js";

const BASE = "/api/v1/auth_proxy";

export const ROLES = ["admin", "ops"] as const;
export type Role = (typeof ROLES)[number];

export interface NewLocalUser {
  username: string;
  password: string;
  first_name: string;
  last_name: string;
  disable: boolean;
}

/** PATCH local_users/<name>/: only the fields to change. */
export interface LocalUserChanges {
  password?: string;
  first_name?: string;
  last_name?: string;
  disable?: boolean;
}

export interface NewAuthorization {
  principalName: string;
  /** false: principalName is an LDAP group. */
  local: boolean;
  role: Role;
  /** ops only. */
  tenantName?: string;
}

export interface LdapConfiguration {
  server: string;
  port: number;
  base_dn: string;
  service_account_dn: string;
  /** Absent in a PATCH that keeps the stored password. */
  service_account_password?: string;
  start_tls: boolean;
  insecure_skip_verify: boolean;
}

export class AuthProxy {
  constructor(private readonly client: NetmasterClient) {}

  /** POST login/ without any token: the raw answer, since a 401 is an answer here and the body is stored as is. */
  login(username: string, password: string): Promise<RawResponse> {
    return this.client.exchange("POST", `${BASE}/login/`, { username, password });
  }

  async listUsers(): Promise<ApiObject[]> {
    return expectObjects(await this.client.callJson("GET", `${BASE}/local_users/`), `GET ${BASE}/local_users/`);
  }

  async getUser(name: string): Promise<ApiObject> {
    const path = userPath(name);
    return expectObject(await this.client.callJson("GET", path), `GET ${path}`);
  }

  async createUser(user: NewLocalUser): Promise<void> {
    await this.client.call("POST", `${BASE}/local_users/`, user);
  }

  async updateUser(name: string, changes: LocalUserChanges): Promise<void> {
    await this.client.call("PATCH", userPath(name), changes);
  }

  async deleteUser(name: string): Promise<void> {
    await this.client.call("DELETE", userPath(name));
  }

  async listAuthorizations(): Promise<ApiObject[]> {
    return expectObjects(await this.client.callJson("GET", `${BASE}/authorizations/`), `GET ${BASE}/authorizations/`);
  }

  async getAuthorization(uuid: string): Promise<ApiObject> {
    const path = authorizationPath(uuid);
    return expectObject(await this.client.callJson("GET", path), `GET ${path}`);
  }

  /** The new authorization, which carries the AuthzUUID that `rm` needs. */
  async createAuthorization(authz: NewAuthorization): Promise<ApiObject> {
    const path = `${BASE}/authorizations/`;
    return expectObject(await this.client.callJson("POST", path, authz), `POST ${path}`);
  }

  async deleteAuthorization(uuid: string): Promise<void> {
    await this.client.call("DELETE", authorizationPath(uuid));
  }

  async getLdap(): Promise<ApiObject> {
    const path = `${BASE}/ldap_configuration/`;
    return expectObject(await this.client.callJson("GET", path), `GET ${path}`);
  }

  /** PUT replaces the whole configuration; PATCH (no password) keeps the stored password. */
  async setLdap(config: LdapConfiguration): Promise<void> {
    const method = config.service_account_password === undefined ? "PATCH" : "PUT";
    await this.client.call(method, `${BASE}/ldap_configuration/`, config);
  }

  async deleteLdap(): Promise<void> {
    await this.client.call("DELETE", `${BASE}/ldap_configuration/`);
  }
}

function userPath(name: string): string {
  return `${BASE}/local_users/${encodeURIComponent(name)}/`;
}

function authorizationPath(uuid: string): string {
  return `${BASE}/authorizations/${encodeURIComponent(uuid)}/`;
}
