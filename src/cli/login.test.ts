// netctl login in-process, with the password on stdin; the prompts on a real terminal are in loginTty.test.ts.

import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterEach, beforeEach, describe, it } from "node:test";

import { fakeNetmaster, runNetctl } from "./testing/fakeNetmaster.js";
import { makeTestPki } from "./testing/pki.js";
import { startSecureNetmaster, type SecureNetmaster } from "./testing/secureNetmaster.js";

const stdin = (s: string) => Readable.from([Buffer.from(s)]);
const LOGIN = "POST /api/v1/auth_proxy/login/";

const pki = await makeTestPki();

describe("netctl login", { skip: pki ? false : "openssl is not installed" }, () => {
  let nm: SecureNetmaster;
  const config = () => join(nm.home, ".netctl", "config.json");
  const login = (argv: string[], input = "", extra: Record<string, string> = {}) =>
    runNetctl(["login", ...argv], nm.env(extra), stdin(input));

  beforeEach(async () => {
    nm = await startSecureNetmaster(pki!);
  });
  afterEach(() => nm?.close());

  it("--username and --password-stdin: POSTs the credentials without a token and stores the answer byte for byte", async () => {
    nm.auth.loginBody = (token) => `{"token":  "${token}"}\n`;
    const r = await login(["--username", "admin", "--password-stdin"], "admin-secret\n", { NETMASTER_TOKEN: "" });
    assert.deepEqual(r, { code: 0, stdout: "Login succeeded.\n", stderr: "" });
    assert.deepEqual(nm.fake.bodyOf(LOGIN), { username: "admin", password: "admin-secret" });
    assert.equal(nm.fake.requests[0]?.token, undefined);
    const stored = readFileSync(config(), "utf8");
    assert.match(stored, /^\{"token": {2}"fake\.[\w-]+"\}\n$/);
    assert.equal(statSync(join(nm.home, ".netctl")).mode & 0o777, 0o700);
    assert.equal(statSync(config()).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(join(nm.home, ".netctl")), ["config.json"]);
  });

  it("the stored token goes with later commands", async () => {
    nm.fake.on("GET /api/v1/tenants/", { json: [{ tenantName: "default" }] });
    assert.equal((await login(["-u", "admin", "--password-stdin"], "admin-secret")).code, 0);
    const token = (JSON.parse(readFileSync(config(), "utf8")) as { token: string }).token;
    const ls = await runNetctl(["tenant", "ls", "-q"], nm.env());
    assert.equal(ls.stdout, "default\n", ls.stderr);
    assert.equal(nm.fake.requests.at(-1)?.token, token);
  });

  it("a second login replaces the config whole", async () => {
    assert.equal((await login(["-u", "admin", "--password-stdin"], "admin-secret")).code, 0);
    const first = readFileSync(config(), "utf8");
    assert.equal((await login(["-u", "admin", "--password-stdin"], "admin-secret")).code, 0);
    assert.notEqual(readFileSync(config(), "utf8"), first);
    assert.deepEqual(readdirSync(join(nm.home, ".netctl")), ["config.json"]);
  });

  it("keeps the password as given but for one line end (CRLF too)", async () => {
    nm.auth.addUser("bob", " spaced\tpass ", "ops", "blue");
    assert.equal((await login(["-u", "bob", "--password-stdin"], " spaced\tpass \r\n")).code, 0);
    assert.deepEqual(nm.fake.bodyOf(LOGIN), { username: "bob", password: " spaced\tpass " });
  });

  it("bad credentials: Contiv's message, exit 3, nothing stored (an old config stays)", async () => {
    mkdirSync(join(nm.home, ".netctl"), { mode: 0o700 });
    writeFileSync(config(), '{"token":"old"}', { mode: 0o600 });
    const r = await login(["-u", "admin", "--password-stdin"], "wrong");
    assert.deepEqual(r, { code: 3, stdout: "", stderr: "Error: Login failed: Bad username or password.\n" });
    assert.equal(readFileSync(config(), "utf8"), '{"token":"old"}');
  });

  it("a user without a role: netmaster's 403 message, exit 3", async () => {
    nm.auth.addUser("carol", "password");
    const r = await login(["-u", "carol", "--password-stdin"], "password");
    assert.deepEqual(r, { code: 3, stdout: "", stderr: "Error: Login failed: User carol has no authorization: an admin must give it a role\n" });
    assert.equal(existsSync(config()), false);
  });

  it("another refusal shows the server's message", async () => {
    const broken = await fakeNetmaster(
      { [LOGIN]: { status: 503, text: "auth store unavailable" } },
      { tls: { key: pki!.serverKey, cert: pki!.serverCert } },
    );
    try {
      const r = await login(["-u", "admin", "--password-stdin"], "admin-secret", { NETMASTER: broken.url });
      assert.deepEqual(r, { code: 3, stdout: "", stderr: "Error: Login failed: auth store unavailable\n" });
    } finally {
      await broken.close();
    }
  });

  it("an answer without a token is an I/O error and stores nothing", async () => {
    for (const body of ['{"token":""}', "[]", "<html>", '{"token":"a\\nb"}']) {
      nm.auth.loginBody = () => body;
      const r = await login(["-u", "admin", "--password-stdin"], "admin-secret");
      assert.equal(r.code, 4, body);
      assert.match(r.stderr, /^Error: Unexpected answer to POST \/api\/v1\/auth_proxy\/login\/: /);
      assert.equal(existsSync(config()), false);
    }
  });

  it("refuses an http netmaster but on loopback before asking anything (exit 3)", async () => {
    const r = await runNetctl(["login", "-u", "admin", "--password-stdin"], { HOME: nm.home, NETMASTER: "http://198.18.0.1:1" }, stdin("pw"));
    assert.equal(r.code, 3);
    assert.equal(r.stderr, 'Error: login requires an https netmaster URL (or http to this machine\'s loopback), not "http://198.18.0.1:1": give --netmaster https://…\n');
  });

  it("usage errors (exit 1) send nothing", async () => {
    const cases: Array<[argv: string[], input: string, message: RegExp]> = [
      [["--password-stdin"], "pw", /^Error: --password-stdin needs --username: stdin holds only the password\n/],
      [["-u", "admin"], "pw", /^Error: Cannot log in: stdin is not a terminal to ask for the password: give --username and --password-stdin\n$/],
      [[], "admin\npw", /^Error: Cannot log in: stdin is not a terminal/],
      [["-u", "", "--password-stdin"], "pw", /^Error: Cannot log in: no username given\n$/],
      [["-u", "admin", "--password-stdin"], "", /^Error: Cannot log in: no password on stdin\n$/],
      [["-u", "admin", "--password-stdin"], "\n", /^Error: Cannot log in: no password on stdin\n$/],
      [["extra"], "", /^Error: More arguments than required\n/],
    ];
    for (const [argv, input, message] of cases) {
      const r = await login(argv, input);
      assert.equal(r.code, 1, argv.join(" "));
      assert.match(r.stderr, message);
    }
    assert.deepEqual(nm.fake.calls(), []);
  });

  it("a HOME it cannot write to is an I/O error (exit 4)", async () => {
    // A file where the directory should be stops root as well as anyone.
    const home = join(nm.home, "not-a-directory");
    writeFileSync(home, "");
    const r = await login(["-u", "admin", "--password-stdin"], "admin-secret", { HOME: home });
    assert.equal(r.code, 4);
    assert.match(r.stderr, /^Error: Cannot write netctl config .*not-a-directory\/\.netctl\/config\.json: ENOTDIR/);
  });

  it("says when NETMASTER_TOKEN will shadow the token just stored", async () => {
    const r = await login(["-u", "admin", "--password-stdin"], "admin-secret", { NETMASTER_TOKEN: "t" });
    assert.equal(r.code, 0);
    assert.equal(r.stderr, "note: NETMASTER_TOKEN is set and is used instead of the token just stored\n");
  });
});
