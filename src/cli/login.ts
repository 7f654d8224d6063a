// netctl login: Contiv's flow (https only, "Username:" / "Password:" prompts, the login answer stored as
// ~/.netctl/config.json), plus --username and --password-stdin for scripts, as in docker login.

import { AuthProxy } from "./authProxy.js";
import { errorText } from "./client.js";
import type { CommandContext, CommandSpec } from "./command.js";
import { carriesTokens, tokenOf, writeConfig } from "./config.js";
import { CliError, ExitCode, ResponseError, ServerError, UsageError } from "./errors.js";

async function readCredentials(ctx: CommandContext): Promise<{ username: string; password: string }> {
  const input = ctx.input;
  const fromStdin = ctx.bool("password-stdin");
  // Checked before any prompt: with the password on stdin, nothing else may be read from it.
  if (fromStdin && !ctx.has("username")) {
    throw new UsageError("--password-stdin needs --username: stdin holds only the password", { showHelp: true });
  }
  if (!fromStdin && !input.isTerminal) {
    throw new UsageError("Cannot log in: stdin is not a terminal to ask for the password: give --username and --password-stdin");
  }
  const username = ctx.has("username") ? ctx.str("username").trim() : ((await input.line("Username: ")) ?? "").trim();
  if (username === "") throw new UsageError("Cannot log in: no username given");
  if (input.isTerminal) return { username, password: await input.secret("Password: ") };
  const password = await input.all();
  if (password === "") throw new UsageError("Cannot log in: no password on stdin");
  return { username, password };
}

async function login(ctx: CommandContext): Promise<void> {
  ctx.requireNoArgs();
  const baseUrl = ctx.netmasterUrl();
  // Before the prompts: asking for a password only to refuse it would be unkind.
  if (!carriesTokens(baseUrl)) {
    throw new CliError(`login requires an https netmaster URL (or http to this machine's loopback), not "${baseUrl}": give --netmaster https://…`, ExitCode.invalid);
  }
  const { username, password } = await readCredentials(ctx);
  const res = await new AuthProxy(ctx.connect(baseUrl)).login(username, password);
  if (res.status === 401) throw new ServerError("Login failed: Bad username or password.", res.status);
  if (res.status < 200 || res.status > 299) {
    throw new ServerError(`Login failed: ${errorText(res.body) || `${res.status} ${res.statusText}`.trim()}`, res.status);
  }
  const answer = tokenOf(res.body);
  if ("problem" in answer) {
    throw new ResponseError(`Unexpected answer to POST /api/v1/auth_proxy/login/: ${answer.problem}`);
  }
  writeConfig(ctx.io.env, res.body);
  ctx.print("Login succeeded.\n");
  if (ctx.io.env["NETMASTER_TOKEN"]?.trim()) {
    ctx.io.stderr.write("note: NETMASTER_TOKEN is set and is used instead of the token just stored\n");
  }
}

export const loginCommand: CommandSpec = {
  name: "login",
  usage: "Log in to netmaster and keep the token in ~/.netctl/config.json",
  flags: [
    { name: "username", short: "u", kind: "string", value: "name", usage: "The user name (default: ask)" },
    {
      name: "password-stdin",
      kind: "bool",
      usage: "Read the password from stdin (needs --username); on a terminal, ask without echo",
    },
  ],
  action: login,
};
