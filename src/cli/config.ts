// netctl's token: ~/.netctl/config.json as Contiv's netctl wrote and read it, or $NETMASTER_TOKEN.
//
// The file is the body of auth_proxy's login answer, byte for byte (`{"token": "…"}`): Contiv's netctl
// wrote it that way and read only `token` back, so a file written by either netctl works with the other.
// A token is only ever sent over https, or plain http to this machine's loopback (where alone netmaster
// serves plain http); with a token and another http:// netmaster Contiv exited 3 ("error processing netctl
// config") rather than send it across a network in the clear, and so do we.

import { randomBytes } from "node:crypto";
import { chmodSync, closeSync, fchmodSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";

import { isLoopbackHost } from "../lib/host-port.js";
import { ConfigError, FileError } from "./errors.js";

/** A token and where it came from, to name the culprit when netmaster refuses it. */
export interface Token {
  value: string;
  /** "NETMASTER_TOKEN" or the config file's path. */
  from: string;
}

type Env = Record<string, string | undefined>;

/** $HOME/.netctl/config.json; the account's home directory when HOME is unset. */
export function configPath(env: Env): string {
  const home = env["HOME"]?.trim() || homedir();
  return join(home, ".netctl", "config.json");
}

// Node refuses header values with control characters by throwing inside the request; catching a bad
// token here names the file instead.
const HEADER_SAFE = /^[\x21-\x7e]+$/;

/** The `token` of a login answer or config file, or a reason why there is none. */
export function tokenOf(json: string): { token: string } | { problem: string } {
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch (err) {
    return { problem: `not JSON: ${(err as Error).message}` };
  }
  const token = typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>)["token"] : undefined;
  if (typeof token !== "string" || token === "") return { problem: 'no "token" string in it' };
  if (!HEADER_SAFE.test(token)) return { problem: "the token holds characters an HTTP header cannot carry" };
  return { token };
}

/** Whether a token may go to this netmaster: https, or http to a loopback address. */
export function carriesTokens(baseUrl: string): boolean {
  if (baseUrl.startsWith("https://")) return true;
  try {
    const url = new URL(baseUrl);
    return url.protocol === "http:" && isLoopbackHost(url.hostname.replace(/^\[|\]$/g, ""));
  } catch {
    return false;
  }
}

/**
 * The token to send to `baseUrl`: $NETMASTER_TOKEN if set, else the config file's, else none.
 * Throws ConfigError (exit 3) for an unreadable or malformed file, or any token with an http:// URL
 * that is not loopback.
 */
export function resolveToken(env: Env, baseUrl: string): Token | undefined {
  const fromEnv = env["NETMASTER_TOKEN"]?.trim();
  let token: Token;
  if (fromEnv) {
    if (!HEADER_SAFE.test(fromEnv)) {
      throw new ConfigError("Error processing NETMASTER_TOKEN: the token holds characters an HTTP header cannot carry");
    }
    token = { value: fromEnv, from: "NETMASTER_TOKEN" };
  } else {
    const path = configPath(env);
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw new ConfigError(`Error processing netctl config ${path}: cannot read it: ${(err as Error).message}`, { cause: err });
    }
    const parsed = tokenOf(text);
    if ("problem" in parsed) throw new ConfigError(`Error processing netctl config ${path}: ${parsed.problem}`);
    token = { value: parsed.token, from: path };
  }
  if (!carriesTokens(baseUrl)) {
    const what = token.from === "NETMASTER_TOKEN" ? "NETMASTER_TOKEN" : `netctl config ${token.from}`;
    throw new ConfigError(
      `Error processing ${what}: a token is only sent over https (or http to this machine's loopback), and the netmaster URL is "${baseUrl}" (use an https:// --netmaster)`,
    );
  }
  return token;
}

/**
 * Store a login answer as the config file, replacing any earlier one whole (a crash never leaves half a
 * token). The directory is made 0700 and the file 0600 whatever the umask. Returns the path; throws
 * FileError (exit 4).
 */
export function writeConfig(env: Env, body: string): string {
  const path = configPath(env);
  const dir = dirname(path);
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  let fd: number | undefined;
  let created = false;
  try {
    try {
      mkdirSync(dir, { mode: 0o700 });
      chmodSync(dir, 0o700);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    fd = openSync(tmp, "wx", 0o600);
    created = true;
    fchmodSync(fd, 0o600);
    writeSync(fd, body);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
    return path;
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    if (created) rmSync(tmp, { force: true });
    throw new FileError(`Cannot write netctl config ${path}: ${(err as Error).message}`, { cause: err });
  }
}
