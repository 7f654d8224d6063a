// A new secret (a user's password, the LDAP service account's) for the commands that set one: asked twice
// without echo on a terminal, else read from stdin when the command's --…-stdin flag allows it.

import type { CommandContext } from "./command.js";
import { UsageError } from "./errors.js";

/**
 * `stdinFlag` names the flag that allows reading stdin; `action` starts every message
 * ("Cannot create user \"alice\""); `label` is what the prompts ask for. Throws UsageError for
 * mismatched, empty or unavailable input.
 */
export async function readNewPassword(ctx: CommandContext, stdinFlag: string, action: string, label = "Password"): Promise<string> {
  const input = ctx.input;
  if (input.isTerminal) {
    const first = await input.secret(`${label}: `);
    const again = await input.secret(`Repeat ${label.toLowerCase()}: `);
    if (first !== again) throw new UsageError(`${action}: the passwords do not match`);
    if (first === "") throw new UsageError(`${action}: the password is empty`);
    return first;
  }
  if (!ctx.bool(stdinFlag)) {
    throw new UsageError(`${action}: stdin is not a terminal to ask for the password: give --${stdinFlag}`);
  }
  const password = await input.all();
  if (password === "") throw new UsageError(`${action}: no password on stdin`);
  return password;
}
