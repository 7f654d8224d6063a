// The prompts on a real terminal: the built netctl runs under util-linux `script`, which gives it a
// pseudo-terminal, and the test types into it only once a prompt is on screen — so anything the terminal
// echoed would show in the output. An interactive session, so it spawns directly rather than through
// lib/process.ts, which runs commands to completion.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, it } from "node:test";

import { run } from "../lib/process.js";
import { makeTestPki } from "./testing/pki.js";
import { startSecureNetmaster, type SecureNetmaster } from "./testing/secureNetmaster.js";

const BIN = fileURLToPath(new URL("../bin/netctl.js", import.meta.url));
const pki = await makeTestPki();
const hasScript = (await run(["script", "--version"])).code === 0;

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** One terminal session: what it printed so far, typing, waiting for text, and its exit. */
class Session {
  output = "";
  private seen = 0;
  private readonly exited: Promise<number | null>;
  private readonly child;

  constructor(shellCommand: string, env: Record<string, string>) {
    this.child = spawn("script", ["-qec", shellCommand, "/dev/null"], { env, stdio: ["pipe", "pipe", "pipe"] });
    this.child.stdout.on("data", (c: Buffer) => (this.output += c.toString("utf8")));
    this.child.stderr.on("data", (c: Buffer) => (this.output += c.toString("utf8")));
    this.exited = new Promise((resolve) => this.child.on("close", (code) => resolve(code)));
  }

  /** Wait until `text` appears after what earlier waits consumed. */
  async waitFor(text: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const at = this.output.indexOf(text, this.seen);
      if (at >= 0) {
        this.seen = at + text.length;
        return;
      }
      if (Date.now() > deadline) throw new Error(`no ${JSON.stringify(text)} within ${timeoutMs} ms; output so far: ${JSON.stringify(this.output)}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  type(keys: string): void {
    this.child.stdin.write(keys);
  }

  async exit(timeoutMs = 10_000): Promise<number | null> {
    const timer = setTimeout(() => this.child.kill("SIGKILL"), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
      this.child.stdin.end();
    }
  }

  kill(): void {
    this.child.kill("SIGKILL");
  }
}

describe("netctl on a terminal", { skip: !pki ? "openssl is not installed" : !hasScript ? "util-linux script is not installed" : false }, () => {
  let nm: SecureNetmaster;
  let session: Session | undefined;
  const start = (argv: string[], extra: Record<string, string> = {}, after = "") => {
    const env = { PATH: process.env["PATH"] ?? "/usr/bin:/bin", SHELL: "/bin/sh", TERM: "dumb", ...nm.env(extra) };
    const command = [process.execPath, BIN, ...argv].map(quote).join(" ");
    session = new Session(after ? `${command}; echo "exit=$?"; ${after}` : command, env);
    return session;
  };
  beforeEach(async () => {
    nm = await startSecureNetmaster(pki!);
  });
  afterEach(async () => {
    session?.kill();
    session = undefined;
    await nm.close();
  });

  it("login asks for the user name with echo and the password without, and stores the token", async () => {
    const s = start(["login"]);
    await s.waitFor("Username: ");
    s.type("admin\r");
    await s.waitFor("admin");
    await s.waitFor("Password: ");
    s.type("admin-secret\r");
    assert.equal(await s.exit(), 0, s.output);
    assert.match(s.output, /^Username: admin\r\nPassword: \r\nLogin succeeded\.\r\n$/);
    assert.equal(s.output.includes("admin-secret"), false);
    const config = join(nm.home, ".netctl", "config.json");
    assert.match(readFileSync(config, "utf8"), /^\{"token":"fake\.[\w-]+"\}$/);
    assert.equal(statSync(config).mode & 0o777, 0o600);
    assert.equal(statSync(join(nm.home, ".netctl")).mode & 0o777, 0o700);
    assert.deepEqual(nm.fake.bodyOf("POST /api/v1/auth_proxy/login/"), { username: "admin", password: "admin-secret" });
  });

  it("Backspace edits the hidden password; --username skips the first prompt", async () => {
    const s = start(["login", "--username", "admin"]);
    await s.waitFor("Password: ");
    s.type("admin-secreX\x7ft\r");
    assert.equal(await s.exit(), 0, s.output);
    assert.equal(s.output, "Password: \r\nLogin succeeded.\r\n");
  });

  it("a wrong password: Contiv's message, exit 3, nothing stored", async () => {
    const s = start(["login", "-u", "admin"]);
    await s.waitFor("Password: ");
    s.type("guess\r");
    assert.equal(await s.exit(), 3, s.output);
    assert.equal(s.output, "Password: \r\nError: Login failed: Bad username or password.\r\n");
    assert.equal(existsSync(join(nm.home, ".netctl")), false);
  });

  it("Ctrl-C at the password prompt exits 130 and gives the terminal back with echo on", async () => {
    const s = start(["login", "-u", "admin"], {}, "stty -a");
    await s.waitFor("Password: ");
    s.type("half\x03");
    await s.waitFor("exit=130");
    assert.equal(await s.exit(), 0, s.output);
    assert.match(s.output, /^Password: \r\nError: Interrupted\r\nexit=130\r\n/);
    assert.match(s.output, /(^|\s)echo(\s|$)/m);
    assert.match(s.output, /(^|\s)icanon(\s|$)/m);
    assert.equal(s.output.includes("half"), false);
  });

  it("user create asks twice without echo; a mismatch is refused", async () => {
    const env = { NETMASTER_TOKEN: nm.auth.issueToken("admin") };
    const s = start(["user", "create", "alice"], env);
    await s.waitFor("Password: ");
    s.type("one\r");
    await s.waitFor("Repeat password: ");
    s.type("two\r");
    assert.equal(await s.exit(), 1, s.output);
    assert.equal(s.output, 'Password: \r\nRepeat password: \r\nError: Cannot create user "alice": the passwords do not match\r\n');

    const ok = start(["user", "create", "--password-stdin", "alice"], env);
    await ok.waitFor("Password: ");
    ok.type("wonderland\r");
    await ok.waitFor("Repeat password: ");
    ok.type("wonderland\r");
    assert.equal(await ok.exit(), 0, ok.output);
    assert.equal(ok.output, "Password: \r\nRepeat password: \r\nCreated user alice\r\n");
    assert.equal(nm.auth.users.get("alice")?.password, "wonderland");
  });
});
