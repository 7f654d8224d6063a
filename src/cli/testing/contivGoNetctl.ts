// An imitation, not the real thing: Contiv's Go netctl's login and token use, step for step as its source
// does them (netctl/netctl.go login and getClient, netctl/config.go, contivmodel/client Login and
// SetAuthToken), so tests can show that our netctl and a config.json written by Contiv's work together.
//
// - login: https only; POST <netmaster>/api/v1/auth_proxy/login/ with Go's json.Marshal of
//   {"username","password"} and Content-Type application/json, no token; 200 → print "Login succeeded."
//   and write the body as is: os.Mkdir(~/.netctl, 0700) (an existing one is fine), then
//   ioutil.WriteFile(config.json, body, 0600).
// - every other call: if config.json exists, json.Unmarshal its "token" and add it as X-Auth-Token
//   (https only).
// Go trusted the system's CAs; here the test's CA stands in for one installed there.

import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import https from "node:https";
import { join } from "node:path";

export interface ContivGoOptions {
  /** e.g. https://127.0.0.1:9999 */
  netmaster: string;
  home: string;
  /** The CA the system would trust. */
  ca: string;
}

interface Answer {
  status: number;
  body: string;
}

function request(opts: ContivGoOptions, method: string, path: string, headers: Record<string, string>, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      new URL(opts.netmaster + path),
      { method, headers: { "User-Agent": "Go-http-client/1.1", ...headers }, ca: opts.ca, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

const configPath = (home: string) => join(home, ".netctl", "config.json");

/** `netctl login` as Contiv's did it; returns what it printed. */
export async function contivGoLogin(opts: ContivGoOptions, username: string, password: string): Promise<string> {
  if (!opts.netmaster.startsWith("https://")) return "login requires a https auth_proxy URL\n";
  const res = await request(opts, "POST", "/api/v1/auth_proxy/login/", { "Content-Type": "application/json" }, JSON.stringify({ username, password }));
  if (res.status !== 200) {
    return res.status === 401 ? "Login failed: Bad username or password.\n" : `Login failed: unexpected response code (${res.status})\n\n`;
  }
  try {
    mkdirSync(join(opts.home, ".netctl"), { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
  writeFileSync(configPath(opts.home), res.body, { mode: 0o600 });
  return "Login succeeded.\n";
}

/** A GET as Contiv's client sent it, with the token from config.json when there is one. */
export async function contivGoGet(opts: ContivGoOptions, path: string): Promise<Answer> {
  const headers: Record<string, string> = {};
  let data: string | undefined;
  try {
    data = readFileSync(configPath(opts.home), "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  if (data !== undefined) {
    const { token } = JSON.parse(data) as { token?: string };
    headers["X-Auth-Token"] = token ?? "";
  }
  return request(opts, "GET", path, headers);
}
