// Logging a user in through LDAP or Active Directory, as Contiv's auth_proxy did: the service account
// finds the user's entry, a bind as that entry checks the password, and the user's groups come back as
// DNs for groupMatches() to compare with authorizations' principalNames.
//
// One connection does it all, in this order: StartTLS (when configured), bind as the service account,
// search for the user, bind as the user, and, only when the entry has no memberOf (OpenLDAP without the
// memberof overlay), bind as the service account again to search for the groups that list the user
// (the user's own rights may not reach the groups). Failures split in two: the server said no to these
// credentials (undefined) or the server could not be used (UpstreamError, which becomes a 503), so a
// broken directory never looks like a wrong password.

import { isIP } from "node:net";
import type { ConnectionOptions } from "node:tls";
import { Client, ResultCodeError, escapeFilter, type Entry } from "ldapts";

import { UpstreamError, errorMessage } from "../../lib/errors.js";
import type { LdapConfig } from "./ldap-config.js";

export interface LdapLoginOptions {
  /** PEM certificates of the CAs that may sign the server's certificate under start_tls; default Node's trusted CAs. */
  ca?: string;
  /** Give up on the whole login (connection, binds and searches) after this long; default 5000 ms. */
  timeoutMs?: number;
}

export interface LdapUser {
  /** The DN of the user's entry. */
  dn: string;
  /** DNs of the user's groups, as the server spells them, sorted and without repeats. */
  groups: string[];
}

/** Result codes of the user's bind that mean "these credentials do not log in", not a broken server. */
const REFUSED = new Set([
  48, // inappropriateAuthentication
  49, // invalidCredentials: also Active Directory's answer for a locked, disabled or expired account
  53, // unwillingToPerform: OpenLDAP's answer for a DN without a password
]);

/**
 * Logs `username` in with `password`: their entry's DN and groups, or undefined when the user is
 * unknown, ambiguous (two entries answer to the name) or the password is wrong or empty. Throws
 * UpstreamError when the server cannot be reached, StartTLS or the service account's bind fails, a
 * search fails, or the whole login takes longer than options.timeoutMs. Always closes its connection.
 */
export async function ldapLogin(config: LdapConfig, username: string, password: string, options: LdapLoginOptions = {}): Promise<LdapUser | undefined> {
  // Many servers take a bind with a DN and an empty password as an anonymous bind, and report success.
  if (username === "" || password === "") return undefined;
  const timeoutMs = options.timeoutMs ?? 5_000;
  // No tlsOptions here: with them ldapts would speak TLS from the first byte (ldaps://), not StartTLS.
  // Its own per-message timeout never fires before the deadline below; it bounds the unbind after it.
  const client = new Client({ url: ldapUrl(config), timeout: timeoutMs });
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(
      () => reject(new UpstreamError(`Cannot log in through LDAP server "${serverName(config)}": no answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([session(client, config, username, password, options.ca), deadline]);
  } finally {
    clearTimeout(timer);
    // Also ends a connection still waiting for the server when the deadline passed.
    await client.unbind().catch(() => undefined);
  }
}

async function session(client: Client, config: LdapConfig, username: string, password: string, ca: string | undefined): Promise<LdapUser | undefined> {
  const server = serverName(config);
  if (config.start_tls) await upstream(config, `Cannot start TLS with LDAP server "${server}"`, () => client.startTLS(tlsOptions(config, ca)));
  const bindService = () =>
    upstream(config, `Cannot bind to LDAP server "${server}" as service account "${config.service_account_dn}"`, () =>
      client.bind(config.service_account_dn, config.service_account_password),
    );
  await bindService();

  const found = await upstream(config, `Cannot search LDAP server "${server}" for user "${username}" under "${config.base_dn}"`, () =>
    client.search(config.base_dn, {
      scope: "sub",
      filter: escapeFilter`(|(sAMAccountName=${username})(uid=${username}))`,
      attributes: ["memberOf", "uid", "sAMAccountName"],
      // Two are enough to see that the name is ambiguous.
      sizeLimit: 2,
    }),
  );
  const entry = found.searchEntries.length === 1 ? found.searchEntries[0] : undefined;
  if (entry === undefined) return undefined;

  try {
    await client.bind(entry.dn, password);
  } catch (err) {
    if (err instanceof ResultCodeError && REFUSED.has(err.code)) return undefined;
    throw upstreamError(config, `Cannot bind to LDAP server "${server}" as user "${entry.dn}"`, err);
  }

  const memberOf = values(entry, "memberOf");
  if (memberOf.length > 0) return { dn: entry.dn, groups: sortedUnique(memberOf) };
  await bindService();
  // The entry matched the filter on one of these, so there is at least one; memberUid holds the login name.
  const logins = [...values(entry, "uid"), ...values(entry, "sAMAccountName")];
  const filter = `(|${escapeFilter`(member=${entry.dn})(uniqueMember=${entry.dn})`}${logins.map((name) => escapeFilter`(memberUid=${name})`).join("")})`;
  const groups = await upstream(config, `Cannot search LDAP server "${server}" for the groups of "${entry.dn}" under "${config.base_dn}"`, () =>
    client.search(config.base_dn, { scope: "sub", filter, attributes: ["1.1"] }),
  );
  return { dn: entry.dn, groups: sortedUnique(groups.searchEntries.map((g) => g.dn)) };
}

function ldapUrl(config: LdapConfig): string {
  return `ldap://${isIP(config.server) === 6 ? `[${config.server}]` : config.server}:${config.port}`;
}

function serverName(config: LdapConfig): string {
  return isIP(config.server) === 6 ? `[${config.server}]:${config.port}` : `${config.server}:${config.port}`;
}

function tlsOptions(config: LdapConfig, ca: string | undefined): ConnectionOptions {
  return {
    // Over an existing socket Node checks the certificate against `host`, else against "localhost".
    host: config.server,
    // SNI carries host names only (RFC 6066); an address is checked against the certificate's IP SANs.
    ...(isIP(config.server) === 0 ? { servername: config.server } : {}),
    ...(config.insecure_skip_verify ? { rejectUnauthorized: false } : ca === undefined ? {} : { ca }),
  };
}

/** Runs one step; any failure becomes an UpstreamError saying what failed. */
async function upstream<T>(config: LdapConfig, what: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    throw upstreamError(config, what, err);
  }
}

function upstreamError(config: LdapConfig, what: string, err: unknown): UpstreamError {
  const syscall = (err as { syscall?: unknown }).syscall;
  // A refused connection or an unknown host shows up in whichever step connects first: name it as such.
  if (syscall === "connect" || syscall === "getaddrinfo") {
    return new UpstreamError(`Cannot reach LDAP server "${serverName(config)}": ${errorMessage(err)}`, { cause: err });
  }
  return new UpstreamError(`${what}: ${describe(err)}`, { cause: err });
}

/** A result code's name and number, then the server's diagnostic text when it sent one. */
function describe(err: unknown): string {
  if (!(err instanceof ResultCodeError)) return errorMessage(err);
  // "InvalidCredentialsError" → "invalid credentials"
  const name = err.name.replace(/Error$/, "").replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase();
  // ldapts appends " Code: 0x31" to the server's text, which is often empty.
  const text = err.message.replace(/\s*Code: 0x[0-9a-f]+$/, "").trim();
  return text === "" ? `${name} (LDAP result ${err.code})` : `${name} (LDAP result ${err.code}): ${text}`;
}

/** An attribute's values as strings; the server may spell the name in any case. */
function values(entry: Entry, attribute: string): string[] {
  const key = Object.keys(entry).find((k) => k.toLowerCase() === attribute.toLowerCase());
  const value = key === undefined ? undefined : entry[key];
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).map((v) => (typeof v === "string" ? v : v.toString("utf8")));
}

function sortedUnique(items: string[]): string[] {
  return [...new Set(items)].sort();
}
