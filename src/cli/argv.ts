// Go's flag package, which Contiv's netctl used, treats "-name" and "--name" alike and allows
// multi-letter short names ("-s6", "-g6", "-tag", "-ip"). commander only knows one-letter "-x" and
// "--long". So before commander sees argv, every flag we recognise in the scope of the command being
// invoked is rewritten to its "--long" form. Anything not recognised is left alone for commander to
// accept (combined "-aj", attached "-t1") or reject.

import type { CommandSpec, FlagSpec } from "./command.js";

const GO_TRUE = new Set(["1", "t", "true"]);
const GO_FALSE = new Set(["0", "f", "false"]);

function findFlag(scopes: CommandSpec[], name: string): FlagSpec | undefined {
  for (const scope of scopes) {
    for (const f of scope.flags ?? []) {
      if (f.name === name || f.short === name || f.aliases?.includes(name)) return f;
    }
  }
  return undefined;
}

/** Rewrite Go-style flags in `argv` (without node and script) to commander's forms. Pure. */
export function normalizeArgv(argv: readonly string[], root: CommandSpec): string[] {
  const out: string[] = [];
  // Innermost command first: its flags win over the program's global flags.
  const scopes: CommandSpec[] = [root];
  let cmd = root;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === "--") {
      out.push(...argv.slice(i));
      break;
    }
    const m = /^--?([^-=][^=]*)(?:=([\s\S]*))?$/.exec(arg);
    if (m) {
      const flag = findFlag(scopes, m[1] as string);
      const value = m[2];
      if (!flag) {
        out.push(arg);
        continue;
      }
      if (flag.kind === "bool") {
        const v = value?.toLowerCase();
        if (v === undefined || GO_TRUE.has(v)) out.push(`--${flag.name}`);
        else if (!GO_FALSE.has(v)) out.push(`--${flag.name}=${value}`); // commander rejects it
        continue;
      }
      if (value !== undefined) {
        out.push(`--${flag.name}=${value}`);
      } else if (i + 1 < argv.length) {
        // The next word is this flag's value even if it starts with a dash, as in Go.
        out.push(`--${flag.name}=${argv[++i] as string}`);
      } else {
        out.push(`--${flag.name}`); // commander reports the missing value
      }
      continue;
    }
    const sub = cmd.subcommands?.find((s) => s.name === arg || s.aliases?.includes(arg));
    if (sub) {
      cmd = sub;
      scopes.unshift(sub);
    }
    out.push(arg);
  }
  return out;
}
