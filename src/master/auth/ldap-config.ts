// The LDAP / Active Directory server netmaster logs users in through, as Contiv's auth_proxy spells it
// (ldap_configuration/): one schema for a whole configuration (PUT) and one for a change (PATCH). Every
// message names its field, so it reads well alone in a 400 response.

import { isIP } from "node:net";
import { z } from "zod";

import { parseDn } from "./ldap-dn.js";

const HOST_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/** A host name (RFC 1123, a final dot allowed) or an IPv4 or IPv6 address: no scheme, port, brackets or zone. */
export function isHostOrIp(text: string): boolean {
  if (isIP(text) !== 0) return !text.includes("%");
  const name = text.endsWith(".") ? text.slice(0, -1) : text;
  const labels = name.split(".");
  // An all-numeric last label is a mistyped IPv4 address ("10.0.0.300"), not a name.
  return name.length <= 253 && labels.every((l) => HOST_LABEL.test(l)) && !/^\d+$/.test(labels.at(-1) ?? "");
}

function text(field: string) {
  return z.string({ error: (issue) => (issue.input === undefined ? `${field} is required` : `${field} must be a string`) });
}

function nonEmpty(field: string) {
  return text(field).min(1, { error: `${field} must not be empty`, abort: true });
}

function dn(field: string) {
  return nonEmpty(field).refine((s) => parseDn(s) !== undefined, {
    error: (issue) => `${field} ${JSON.stringify(issue.input)} is not a DN: expected attribute=value pairs separated by commas, as in "dc=example,dc=com"`,
  });
}

function flag(field: string) {
  return z.boolean({ error: `${field} must be true or false` });
}

/** Each field without its default: the PATCH schema must leave out what a change does not name. */
const fields = {
  server: nonEmpty("server").refine(isHostOrIp, {
    error: (issue) => `server ${JSON.stringify(issue.input)} is not a host name or IP address (no scheme, and the port goes in "port")`,
  }),
  port: z
    .number({ error: "port must be a number" })
    .refine((n) => Number.isInteger(n) && n >= 1 && n <= 65535, { error: (issue) => `port must be an integer from 1 to 65535, not ${String(issue.input)}` }),
  base_dn: dn("base_dn"),
  service_account_dn: dn("service_account_dn"),
  // Many servers treat a bind with an empty password as anonymous, which would hide a missing password.
  service_account_password: nonEmpty("service_account_password"),
  start_tls: flag("start_tls"),
  insecure_skip_verify: flag("insecure_skip_verify"),
};

/** A whole LDAP configuration; port defaults to 389, start_tls and insecure_skip_verify to false. */
export const LdapConfig = z.object({
  ...fields,
  port: fields.port.default(389),
  start_tls: fields.start_tls.default(false),
  insecure_skip_verify: fields.insecure_skip_verify.default(false),
});
export type LdapConfig = z.infer<typeof LdapConfig>;

/** A change to an LDAP configuration: any of its fields, none defaulted. */
export const LdapConfigPatch = z.object(fields).partial();
export type LdapConfigPatch = z.infer<typeof LdapConfigPatch>;
