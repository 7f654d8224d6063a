// netctl ldap set|inspect|rm — the LDAP (or Active Directory) server netmaster checks LDAP users against
// (auth_proxy's ldap_configuration; ours: Contiv's netctl had none).
//
// `set` states the whole configuration each time, so a flag left out means false or missing, never
// "unchanged". The service account's password is the exception: netmaster never shows it, so leaving
// --service-account-password-stdin out keeps the stored one (PATCH) instead of making the user re-enter it.

import { AuthProxy, type LdapConfiguration } from "./authProxy.js";
import type { CommandContext, CommandSpec } from "./command.js";
import { ServerError, UsageError } from "./errors.js";
import { readNewPassword } from "./newPassword.js";

export interface LdapFlags {
  server: string;
  /** undefined when --port was not given. */
  port: number | undefined;
  baseDn: string;
  serviceAccountDn: string;
  startTls: boolean;
  insecureSkipVerify: boolean;
}

/** The configuration without its password; throws UsageError naming every missing or bad flag. */
export function ldapConfiguration(flags: LdapFlags): LdapConfiguration {
  const action = "Cannot set the LDAP configuration";
  const missing = [
    flags.server.trim() === "" ? "--server" : "",
    flags.port === undefined ? "--port" : "",
    flags.baseDn.trim() === "" ? "--base-dn" : "",
    flags.serviceAccountDn.trim() === "" ? "--service-account-dn" : "",
  ].filter((f) => f !== "");
  if (missing.length > 0) throw new UsageError(`${action}: missing ${missing.join(", ")}`, { showHelp: true });
  const port = flags.port ?? 0;
  if (port < 1 || port > 65535) throw new UsageError(`${action}: invalid port ${port}: want 1 to 65535`);
  return {
    server: flags.server.trim(),
    port,
    base_dn: flags.baseDn.trim(),
    service_account_dn: flags.serviceAccountDn.trim(),
    start_tls: flags.startTls,
    insecure_skip_verify: flags.insecureSkipVerify,
  };
}

async function setLdap(ctx: CommandContext): Promise<void> {
  ctx.requireNoArgs();
  const config = ldapConfiguration({
    server: ctx.str("server"),
    port: ctx.has("port") ? ctx.int("port") : undefined,
    baseDn: ctx.str("base-dn"),
    serviceAccountDn: ctx.str("service-account-dn"),
    startTls: ctx.bool("start-tls"),
    insecureSkipVerify: ctx.bool("insecure-skip-verify"),
  });
  if (ctx.bool("service-account-password-stdin")) {
    config.service_account_password = await readNewPassword(
      ctx,
      "service-account-password-stdin",
      "Cannot set the LDAP configuration",
      "Service account password",
    );
  }
  try {
    await new AuthProxy(ctx.client).setLdap(config);
  } catch (err) {
    // PATCH needs a stored configuration to keep the password of.
    if (err instanceof ServerError && err.status === 404 && config.service_account_password === undefined) {
      throw new ServerError(
        `Cannot set the LDAP configuration: netmaster has none yet, so the service account's password is needed: give --service-account-password-stdin (${err.message})`,
        err.status,
      );
    }
    throw err;
  }
  ctx.print(`Set the LDAP configuration: ${config.server}:${config.port}\n`);
}

async function inspectLdap(ctx: CommandContext): Promise<void> {
  ctx.requireNoArgs();
  ctx.printJson(await new AuthProxy(ctx.client).getLdap());
}

async function deleteLdap(ctx: CommandContext): Promise<void> {
  ctx.requireNoArgs();
  await new AuthProxy(ctx.client).deleteLdap();
  ctx.print("Deleted the LDAP configuration\n");
}

export const ldapCommand: CommandSpec = {
  name: "ldap",
  usage: "The LDAP server that LDAP users log in through (admin only)",
  subcommands: [
    { name: "inspect", aliases: ["get"], usage: "Show the LDAP configuration (never its password)", action: inspectLdap },
    { name: "rm", aliases: ["delete"], usage: "Delete the LDAP configuration", action: deleteLdap },
    {
      name: "set",
      usage: "Set the whole LDAP configuration; without a new password the stored one is kept",
      flags: [
        { name: "server", kind: "string", value: "host", usage: "LDAP server name or address" },
        { name: "port", kind: "int", value: "port", usage: "LDAP server port, e.g. 389 (netmaster speaks plain LDAP; add --start-tls to encrypt)" },
        { name: "base-dn", kind: "string", value: "dn", usage: "Where user and group searches start, e.g. dc=example,dc=com" },
        { name: "service-account-dn", kind: "string", value: "dn", usage: "The DN netmaster binds as to search" },
        {
          name: "service-account-password-stdin",
          kind: "bool",
          usage: "Read the service account's password from stdin; on a terminal, ask twice without echo",
        },
        { name: "start-tls", kind: "bool", usage: "Upgrade the connection with StartTLS" },
        { name: "insecure-skip-verify", kind: "bool", usage: "Do not verify the LDAP server's certificate" },
      ],
      action: setLdap,
    },
  ],
};
