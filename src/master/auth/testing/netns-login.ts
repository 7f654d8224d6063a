// Runs one ldapLogin() and prints its outcome as one JSON line, for slapd.ts: tests live in the root
// network namespace and slapd in its own, so the client side runs here, under `ip netns exec`.
// Reads { config, username, password, options } on stdin.

import { ldapLogin, type LdapLoginOptions } from "../ldap.js";
import type { LdapConfig } from "../ldap-config.js";

interface Request {
  config: LdapConfig;
  username: string;
  password: string;
  options: LdapLoginOptions;
}

const chunks: Buffer[] = [];
for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
const request = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Request;
const started = performance.now();
try {
  const user = await ldapLogin(request.config, request.username, request.password, request.options);
  console.log(JSON.stringify({ ok: true, user: user ?? null, elapsedMs: performance.now() - started }));
} catch (err) {
  const error = err instanceof Error ? { name: err.name, message: err.message } : { name: "unknown", message: String(err) };
  console.log(JSON.stringify({ ok: false, error, elapsedMs: performance.now() - started }));
}
