// netctl user create|ls|inspect|update|rm — netmaster's local users (auth_proxy's local_users; ours:
// Contiv's netctl had no user commands, its UI did this).

import { AuthProxy, type LocalUserChanges } from "./authProxy.js";
import { fieldStr, jsonFlag, quietFlag, type CommandContext, type CommandSpec, type FlagSpec } from "./command.js";
import { UsageError } from "./errors.js";
import { printList } from "./listing.js";
import { readNewPassword } from "./newPassword.js";
import { TabWriter } from "./table.js";

/** The one positional argument, non-empty (an empty name would address the collection). */
export function requireName(ctx: CommandContext, message: string): string {
  ctx.requireArgs(1, message);
  const name = ctx.args[0] ?? "";
  if (name.trim() === "") throw new UsageError(message, { showHelp: true });
  return name;
}

async function createUser(ctx: CommandContext): Promise<void> {
  const name = requireName(ctx, "User name required");
  const password = await readNewPassword(ctx, "password-stdin", `Cannot create user "${name}"`);
  await new AuthProxy(ctx.client).createUser({
    username: name,
    password,
    first_name: ctx.str("first-name"),
    last_name: ctx.str("last-name"),
    disable: ctx.bool("disable"),
  });
  ctx.print(`Created user ${name}\n`);
}

async function listUsers(ctx: CommandContext): Promise<void> {
  ctx.requireNoArgs();
  const users = await new AuthProxy(ctx.client).listUsers();
  printList(ctx, users, "username", () => {
    const w = new TabWriter();
    w.write("Username\tFirst name\tLast name\tDisabled\n");
    w.write("--------\t----------\t---------\t--------\n");
    for (const u of users) w.row(fieldStr(u, "username"), fieldStr(u, "first_name"), fieldStr(u, "last_name"), u["disable"] === true);
    return w.flush();
  });
}

async function inspectUser(ctx: CommandContext): Promise<void> {
  const name = requireName(ctx, "User name required");
  ctx.printJson(await new AuthProxy(ctx.client).getUser(name));
}

async function updateUser(ctx: CommandContext): Promise<void> {
  const name = requireName(ctx, "User name required");
  const action = `Cannot update user "${name}"`;
  if (ctx.bool("disable") && ctx.bool("enable")) throw new UsageError(`${action}: --disable and --enable exclude each other`);
  const changes: LocalUserChanges = {};
  if (ctx.has("first-name")) changes.first_name = ctx.str("first-name");
  if (ctx.has("last-name")) changes.last_name = ctx.str("last-name");
  if (ctx.bool("disable")) changes.disable = true;
  if (ctx.bool("enable")) changes.disable = false;
  if (Object.keys(changes).length === 0 && !ctx.bool("password-stdin")) {
    throw new UsageError(`${action}: nothing to change: give --password-stdin, --first-name, --last-name, --disable or --enable`, {
      showHelp: true,
    });
  }
  if (ctx.bool("password-stdin")) changes.password = await readNewPassword(ctx, "password-stdin", action);
  await new AuthProxy(ctx.client).updateUser(name, changes);
  ctx.print(`Updated user ${name}\n`);
}

async function deleteUser(ctx: CommandContext): Promise<void> {
  const name = requireName(ctx, "User name required");
  await new AuthProxy(ctx.client).deleteUser(name);
  ctx.print(`Deleted user ${name}\n`);
}

const passwordStdinFlag: FlagSpec = {
  name: "password-stdin",
  kind: "bool",
  usage: "Read the password from stdin; on a terminal, ask twice without echo",
};
const firstNameFlag: FlagSpec = { name: "first-name", kind: "string", value: "name", usage: "First name" };
const lastNameFlag: FlagSpec = { name: "last-name", kind: "string", value: "name", usage: "Last name" };

export const userCommand: CommandSpec = {
  name: "user",
  usage: "netmaster's local users (admin only; a user may inspect and update itself)",
  subcommands: [
    {
      name: "create",
      usage: "Create a local user (asks for the password on a terminal)",
      argsUsage: "<username>",
      flags: [
        passwordStdinFlag,
        firstNameFlag,
        lastNameFlag,
        { name: "disable", kind: "bool", usage: "Create the user disabled: it cannot log in" },
      ],
      action: createUser,
    },
    { name: "inspect", aliases: ["get"], usage: "Inspect a local user", argsUsage: "<username>", action: inspectUser },
    { name: "ls", aliases: ["list"], usage: "List local users", flags: [quietFlag, jsonFlag], action: listUsers },
    { name: "rm", aliases: ["delete"], usage: "Delete a local user", argsUsage: "<username>", action: deleteUser },
    {
      name: "update",
      usage: "Change a local user's password, names or state",
      argsUsage: "<username>",
      flags: [
        { ...passwordStdinFlag, usage: "Set a new password, read from stdin; on a terminal, ask twice without echo" },
        firstNameFlag,
        lastNameFlag,
        { name: "disable", kind: "bool", usage: "Disable the user: it can no longer log in" },
        { name: "enable", kind: "bool", usage: "Enable a disabled user" },
      ],
      action: updateUser,
    },
  ],
};
