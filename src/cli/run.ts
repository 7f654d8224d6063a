// netctl in-process: build the command tree, parse argv with commander, run one action and return its
// exit code. The binary passes process.env/stdout/stderr in as Io; of process.* only stdin is touched,
// by an action that reads input and was given no other stream (command.ts).
//
// Every failure is printed once, to stderr, as "Error: <message>" (a server error's message is the body
// the server wrote), optionally followed by the command's help, and maps to Contiv's exit codes:
// 0 ok, 1 usage (and "Error connecting to netmaster"), 2 version transport error, 3 server error, 4 I/O;
// and 130 for Ctrl-C at a password prompt.

import { Command, CommanderError, InvalidArgumentError, Option } from "commander";

import { appProfileCommand } from "./appProfile.js";
import { normalizeArgv } from "./argv.js";
import { authorizationCommand } from "./authorization.js";
import { bgpCommand } from "./bgp.js";
import { CommandContext, type CommandSpec, type FlagSpec, type GlobalOptions, type Io } from "./command.js";
import { DEFAULT_NETMASTER } from "./client.js";
import { CliError, ExitCode } from "./errors.js";
import { extContractsCommand } from "./extContracts.js";
import { aciGwCommand, globalCommand } from "./global.js";
import { endpointCommand, groupCommand } from "./group.js";
import { hostCommand } from "./host.js";
import { ldapCommand } from "./ldap.js";
import { loginCommand } from "./login.js";
import { netprofileCommand } from "./netprofile.js";
import { networkCommand } from "./network.js";
import { policyCommand } from "./policy.js";
import { serviceCommand } from "./service.js";
import { tenantCommand } from "./tenant.js";
import { flowsCommand } from "./flows.js";
import { traceCommand } from "./trace.js";
import { NETMASTER_CA_FILE } from "./trust.js";
import { userCommand } from "./user.js";
import { clientVersion, formatVersion, versionCommand } from "./version.js";

/** The whole command tree, in Contiv's alphabetical order. */
export function netctlSpec(): CommandSpec {
  return {
    name: "netctl",
    usage: "Contiv netplugin command line client",
    flags: [
      {
        name: "netmaster",
        kind: "string",
        value: "url",
        usage: `The URL of the netmaster (env NETMASTER, default ${DEFAULT_NETMASTER})`,
      },
      { name: "insecure", kind: "bool", usage: "if true, strict certificate checking will be disabled (env INSECURE)" },
      {
        name: "ca-file",
        kind: "string",
        value: "file",
        usage: `Trust only this CA (PEM) for an https netmaster (env NETMASTER_CA_FILE; default: ${NETMASTER_CA_FILE} if readable, with the system's CAs)`,
      },
    ],
    subcommands: [
      aciGwCommand,
      appProfileCommand,
      authorizationCommand,
      bgpCommand,
      endpointCommand,
      extContractsCommand,
      flowsCommand,
      globalCommand,
      groupCommand,
      hostCommand,
      ldapCommand,
      loginCommand,
      netprofileCommand,
      networkCommand,
      policyCommand,
      serviceCommand,
      tenantCommand,
      traceCommand,
      userCommand,
      versionCommand,
    ],
  };
}

function parseIntFlag(value: string): number {
  // Go's flag package parsed ints with strconv; we take plain decimal integers.
  if (!/^[+-]?[0-9]+$/.test(value.trim()) || !Number.isSafeInteger(Number(value))) {
    throw new InvalidArgumentError("Expected an integer.");
  }
  return Number(value);
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function toOption(f: FlagSpec): Option {
  const names = (f.short ? `-${f.short}, ` : "") + `--${f.name}`;
  const placeholder = f.kind === "bool" ? "" : ` <${f.value ?? "value"}>`;
  const also = f.aliases?.length ? ` (also ${f.aliases.map((a) => `-${a}`).join(", ")})` : "";
  const opt = new Option(names + placeholder, f.usage + also);
  if (f.kind === "int") opt.argParser(parseIntFlag);
  if (f.kind === "list") opt.argParser(collect);
  if (f.default !== undefined) opt.default(f.default);
  return opt;
}

interface RunState {
  exitCode: number;
}

function addCommand(parent: Command, spec: CommandSpec, io: Io, state: RunState, program: Command): void {
  const cmd = parent.command(spec.name).description(spec.usage);
  if (spec.aliases?.length) cmd.aliases(spec.aliases);
  for (const f of spec.flags ?? []) cmd.addOption(toOption(f));
  for (const sub of spec.subcommands ?? []) addCommand(cmd, sub, io, state, program);
  const action = spec.action;
  if (!action) return;
  cmd.usage(`[options]${spec.argsUsage ? " " + spec.argsUsage : ""}`);
  // Positional arguments are counted by the action, so it can give Contiv's messages.
  cmd.allowExcessArguments(true);
  cmd.action(async (_opts: unknown, self: Command) => {
    const ctx = new CommandContext([...self.args], self.opts(), program.opts<GlobalOptions>(), io);
    try {
      await action(ctx);
      state.exitCode = ExitCode.ok;
    } catch (err) {
      if (!(err instanceof CliError)) throw err;
      io.stderr.write(`Error: ${err.message}\n`);
      if (err.showHelp) io.stderr.write("\n" + self.helpInformation());
      state.exitCode = err.exitCode;
    } finally {
      ctx.close();
    }
  });
}

/** Build the commander program for one run; output goes to `io`, exits become exceptions. */
function buildProgram(spec: CommandSpec, io: Io, state: RunState = { exitCode: 0 }): Command {
  const program = new Command(spec.name)
    .description(spec.usage)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      outputError: (s, write) => write(s.replace(/^error: (.)/, (_, c: string) => `Error: ${c.toUpperCase()}`)),
      getOutHelpWidth: () => 100,
      getErrHelpWidth: () => 100,
      getOutHasColors: () => false,
      getErrHasColors: () => false,
    })
    // No -v: `global set -v` must reach its own flag (program options are matched anywhere in argv).
    .version(
      "netctl version\n" + formatVersion(clientVersion(io.env)).trimEnd(),
      "--version",
      "Print the client version",
    );
  for (const f of spec.flags ?? []) program.addOption(toOption(f));
  for (const sub of spec.subcommands ?? []) addCommand(program, sub, io, state, program);
  return program;
}

/** Run netctl with `argv` (the words after the program name) and return the exit code. */
export async function run(argv: readonly string[], io: Io): Promise<number> {
  const spec = netctlSpec();
  const state: RunState = { exitCode: 0 };
  const program = buildProgram(spec, io, state);
  if (argv.length === 0) {
    io.stdout.write(program.helpInformation());
    return ExitCode.ok;
  }
  try {
    await program.parseAsync(normalizeArgv(argv, spec), { from: "user" });
    return state.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    if (err instanceof CliError) {
      io.stderr.write(`Error: ${err.message}\n`);
      return err.exitCode;
    }
    // A bug in netctl, not a user or server problem: say so rather than dump a stack.
    io.stderr.write(`Error: internal error in netctl: ${err instanceof Error ? err.message : String(err)}\n`);
    return ExitCode.io;
  }
}
