// netctl authorization create|ls|inspect|rm — who may do what: a local user or an LDAP group gets the
// admin role (everything) or the ops role in one tenant (auth_proxy's authorizations; ours: Contiv's
// netctl had none).

import { AuthProxy, ROLES, type NewAuthorization, type Role } from "./authProxy.js";
import { fieldStr, jsonFlag, quietFlag, type CommandContext, type CommandSpec } from "./command.js";
import { UsageError } from "./errors.js";
import { printList } from "./listing.js";
import { TabWriter } from "./table.js";
import { requireName } from "./user.js";

export interface AuthorizationFlags {
  role: string;
  /** undefined when --tenant was not given. */
  tenant: string | undefined;
  ldapGroup: boolean;
}

function isRole(s: string): s is Role {
  return (ROLES as readonly string[]).includes(s);
}

/** The request for `principal` from the command's flags; throws UsageError for a combination the server would refuse. */
export function newAuthorization(principal: string, flags: AuthorizationFlags): NewAuthorization {
  const action = `Cannot authorize "${principal}"`;
  if (flags.role === "") throw new UsageError(`${action}: --role is required: admin or ops`, { showHelp: true });
  if (!isRole(flags.role)) throw new UsageError(`${action}: invalid role "${flags.role}": want admin or ops`);
  const tenant = flags.tenant?.trim();
  if (flags.role === "ops" && !tenant) {
    throw new UsageError(`${action}: --role ops needs --tenant: ops works within one tenant`);
  }
  if (flags.role === "admin" && flags.tenant !== undefined) {
    throw new UsageError(`${action}: --tenant is for --role ops only: admin covers every tenant`);
  }
  return {
    principalName: principal,
    local: !flags.ldapGroup,
    role: flags.role,
    ...(flags.role === "ops" ? { tenantName: tenant } : {}),
  };
}

async function createAuthorization(ctx: CommandContext): Promise<void> {
  const name = requireName(ctx, "Principal name required: a local user, or an LDAP group with --ldap-group");
  const request = newAuthorization(name, {
    role: ctx.str("role"),
    tenant: ctx.has("tenant") ? ctx.str("tenant") : undefined,
    ldapGroup: ctx.bool("ldap-group"),
  });
  const created = await new AuthProxy(ctx.client).createAuthorization(request);
  const uuid = fieldStr(created, "AuthzUUID");
  if (ctx.bool("quiet")) return ctx.print(`${uuid}\n`);
  const scope = request.role === "ops" ? ` in tenant "${request.tenantName ?? ""}"` : "";
  ctx.print(`Created authorization ${uuid}: ${request.local ? "local user" : "LDAP group"} "${name}" is ${request.role}${scope}\n`);
}

async function listAuthorizations(ctx: CommandContext): Promise<void> {
  ctx.requireNoArgs();
  const authorizations = await new AuthProxy(ctx.client).listAuthorizations();
  printList(ctx, authorizations, "AuthzUUID", () => {
    const w = new TabWriter();
    w.write("UUID\tPrincipal\tType\tRole\tTenant\n");
    w.write("----\t---------\t----\t----\t------\n");
    for (const a of authorizations) {
      w.row(
        fieldStr(a, "AuthzUUID"),
        fieldStr(a, "principalName"),
        a["local"] === false ? "ldap-group" : "local",
        fieldStr(a, "role"),
        fieldStr(a, "tenantName"),
      );
    }
    return w.flush();
  });
}

async function inspectAuthorization(ctx: CommandContext): Promise<void> {
  const uuid = requireName(ctx, "Authorization UUID required");
  ctx.printJson(await new AuthProxy(ctx.client).getAuthorization(uuid));
}

async function deleteAuthorization(ctx: CommandContext): Promise<void> {
  const uuid = requireName(ctx, "Authorization UUID required");
  await new AuthProxy(ctx.client).deleteAuthorization(uuid);
  ctx.print(`Deleted authorization ${uuid}\n`);
}

export const authorizationCommand: CommandSpec = {
  name: "authorization",
  aliases: ["authz"],
  usage: "Who may do what: admin, or ops in one tenant (admin only)",
  subcommands: [
    {
      name: "create",
      usage: "Give a local user (or an LDAP group) a role",
      argsUsage: "<principal>",
      flags: [
        { name: "role", short: "r", kind: "string", value: "role", usage: "admin (everything) or ops (one tenant)" },
        { name: "tenant", short: "t", kind: "string", value: "tenant", usage: "The tenant of an ops authorization" },
        { name: "ldap-group", kind: "bool", usage: "The principal is an LDAP group, not a local user" },
        { ...quietFlag, usage: "Only display the new authorization's UUID" },
      ],
      action: createAuthorization,
    },
    { name: "inspect", aliases: ["get"], usage: "Inspect an authorization", argsUsage: "<uuid>", action: inspectAuthorization },
    { name: "ls", aliases: ["list"], usage: "List authorizations", flags: [quietFlag, jsonFlag], action: listAuthorizations },
    { name: "rm", aliases: ["delete"], usage: "Delete an authorization", argsUsage: "<uuid>", action: deleteAuthorization },
  ],
};
