// The declarative shape of netctl's command tree, and the context an action runs with.
// Commands are plain data (CommandSpec) so that argv.ts can rewrite Go-style flags before commander
// parses them, and program.ts can build the commander tree from the same description.

import { NetmasterClient, resolveNetmasterUrl, type ApiObject } from "./client.js";
import { UsageError } from "./errors.js";
import { resolveTrust } from "./trust.js";

export type FlagKind = "string" | "int" | "bool" | "list";

export interface FlagSpec {
  /** Long name without dashes, e.g. "pkt-tag". */
  name: string;
  /** One-letter short name, e.g. "p". */
  short?: string;
  /** Extra Go-style names (Go accepted any of them with one or two dashes), e.g. "s6", "tag". */
  aliases?: string[];
  kind: FlagKind;
  default?: string | number;
  /** Placeholder shown in help, e.g. "cidr". */
  value?: string;
  usage: string;
}

export interface CommandSpec {
  name: string;
  aliases?: string[];
  usage: string;
  /** Positional arguments as shown in help, e.g. "<network> <group>". */
  argsUsage?: string;
  flags?: FlagSpec[];
  action?: (ctx: CommandContext) => Promise<void>;
  subcommands?: CommandSpec[];
}

/** Where netctl reads its environment and writes its output; process.* in the binary, buffers in tests. */
export interface Io {
  env: Record<string, string | undefined>;
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
}

export interface GlobalOptions {
  netmaster?: string;
  insecure?: boolean;
  caFile?: string;
}

// Shared flags, named and worded as in Contiv's netctl/commands.go.
export const tenantFlag: FlagSpec = {
  name: "tenant",
  short: "t",
  kind: "string",
  default: "default",
  value: "tenant",
  usage: "Name of the tenant",
};
export const allFlag: FlagSpec = { name: "all", short: "a", kind: "bool", usage: "List all items" };
export const jsonFlag: FlagSpec = { name: "json", short: "j", kind: "bool", usage: "Output list in JSON format" };
export const quietFlag: FlagSpec = { name: "quiet", short: "q", kind: "bool", usage: "Only display name field" };

/** What an action gets: its positional arguments, its flags by long name, output, and a client. */
export class CommandContext {
  private clientInstance: NetmasterClient | undefined;

  constructor(
    readonly args: string[],
    private readonly flags: Record<string, unknown>,
    private readonly globals: GlobalOptions,
    readonly io: Io,
  ) {}

  /**
   * The netmaster client; resolving the URL and the CA here means a bad one fails only the commands that talk
   * to netmaster. With --insecure, or for an http:// netmaster, no CA file is read.
   */
  get client(): NetmasterClient {
    if (!this.clientInstance) {
      const envInsecure = this.io.env["INSECURE"] ?? "";
      const baseUrl = resolveNetmasterUrl(this.globals.netmaster, this.io.env);
      const insecure = this.globals.insecure === true || /^(1|t|true)$/i.test(envInsecure.trim());
      const trust = !insecure && baseUrl.startsWith("https://") ? resolveTrust(this.globals.caFile, this.io.env) : {};
      this.clientInstance = new NetmasterClient({ baseUrl, insecure, ...trust });
    }
    return this.clientInstance;
  }

  /** A string flag; "" when not given and without default. */
  str(name: string): string {
    const v = this.flags[camel(name)];
    return typeof v === "string" ? v : typeof v === "number" ? String(v) : "";
  }

  /** An int flag (already checked by the parser); 0 when not given and without default. */
  int(name: string): number {
    const v = this.flags[camel(name)];
    return typeof v === "number" ? v : 0;
  }

  bool(name: string): boolean {
    return this.flags[camel(name)] === true;
  }

  /** A repeatable flag, in the order given. */
  list(name: string): string[] {
    const v = this.flags[camel(name)];
    return Array.isArray(v) ? v.map(String) : [];
  }

  /** Exactly `n` positional arguments, else a usage error with help (Contiv's wording in `message`). */
  requireArgs(n: number, message: string): void {
    if (this.args.length !== n) throw new UsageError(message, { showHelp: true });
  }

  /** No positional arguments. */
  requireNoArgs(): void {
    this.requireArgs(0, "More arguments than required");
  }

  print(s: string): void {
    this.io.stdout.write(s);
  }

  /**
   * The note every ACI command ends with: the objects are kept for Contiv's tools, but nothing here programs
   * an ACI fabric (that needs Cisco's APIC, which this system does not drive). On stderr: stdout stays Contiv's.
   */
  noteAci(): void {
    this.io.stderr.write("note: ACI objects are stored for Contiv compatibility only; this system does not program an ACI fabric\n");
  }

  /** Pretty JSON with a 2-space indent and a final newline, like Go's json.MarshalIndent + "\n". */
  printJson(v: unknown): void {
    this.io.stdout.write(JSON.stringify(v, null, 2) + "\n");
  }
}

/** commander stores `--pkt-tag` as `pktTag`. */
export function camel(name: string): string {
  return name.replace(/-([a-z0-9])/gi, (_, c: string) => c.toUpperCase());
}

// Field access on server objects, with Go's zero values for missing fields.

export function fieldStr(o: ApiObject, key: string): string {
  const v = o[key];
  if (v === undefined || v === null) return "";
  return typeof v === "string" ? v : String(v);
}

export function fieldInt(o: ApiObject, key: string): number | string {
  const v = o[key];
  if (v === undefined || v === null) return 0;
  return typeof v === "number" ? v : String(v);
}

export function fieldList(o: ApiObject, key: string): string[] {
  const v = o[key];
  return Array.isArray(v) ? v.map((x) => (typeof x === "string" ? x : JSON.stringify(x))) : [];
}

/** Drop "", 0, [] and undefined, as the Go client's `omitempty` tags did for every request body. */
export function omitEmpty(body: Record<string, unknown>): ApiObject {
  const out: ApiObject = {};
  for (const [k, v] of Object.entries(body)) {
    if (v === undefined || v === null || v === "" || v === 0) continue;
    if (Array.isArray(v) && v.length === 0) continue;
    out[k] = v;
  }
  return out;
}
