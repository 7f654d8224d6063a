// `netctl version`: the client's own version block, then the server's (GET /version).

import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import type { VersionInfo } from "./client.js";
import type { CommandContext, CommandSpec } from "./command.js";
import { CliError, ExitCode, ServerError, TransportError } from "./errors.js";

let cached: VersionInfo | undefined;

/**
 * The client's version: `version` from the nearest package.json above this file (src/ or dist/src/),
 * GitCommit and BuildTime from $NETPLUGIN_GIT_COMMIT / $NETPLUGIN_BUILD_TIME when a build sets them.
 */
export function clientVersion(env: Record<string, string | undefined> = process.env): VersionInfo {
  if (!cached) {
    let version = "unknown";
    let dir = dirname(fileURLToPath(import.meta.url));
    for (let i = 0; i < 5; i++) {
      try {
        const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name?: string; version?: string };
        if (pkg.name === "netplugin" && typeof pkg.version === "string") {
          version = pkg.version;
          break;
        }
      } catch {
        // not here; look one level up
      }
      dir = dirname(dir);
    }
    cached = { Version: version };
  }
  return {
    Version: cached.Version,
    GitCommit: env["NETPLUGIN_GIT_COMMIT"] ?? "unknown",
    BuildTime: env["NETPLUGIN_BUILD_TIME"] ?? "unknown",
  };
}

/** Go's version.StringFromInfo: three lines. */
export function formatVersion(v: VersionInfo): string {
  return `Version: ${v.Version ?? ""}\nGitCommit: ${v.GitCommit ?? ""}\nBuildTime: ${v.BuildTime ?? ""}\n`;
}

async function showVersion(ctx: CommandContext): Promise<void> {
  ctx.requireNoArgs();
  let server: VersionInfo;
  try {
    server = await ctx.client.version();
  } catch (err) {
    // Contiv: a transport failure of this command exits 2 ("HTTP transport error").
    if (err instanceof TransportError) {
      throw new CliError(`Unable to fetch version information: ${err.detail}`, ExitCode.request, { cause: err });
    }
    if (err instanceof ServerError) {
      throw new ServerError(`Unable to fetch version information: ${err.message}`, err.status);
    }
    throw err;
  }
  ctx.print("Client Version:\n" + formatVersion(clientVersion(ctx.io.env)) + "\n");
  ctx.print("Server Version:\n" + formatVersion(server));
}

export const versionCommand: CommandSpec = {
  name: "version",
  usage: "Version Information",
  action: showVersion,
};
