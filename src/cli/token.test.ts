// The token on every request: from ~/.netctl/config.json or $NETMASTER_TOKEN, never over http, and what
// netctl says when netmaster refuses it (401) or the role does not allow the call (403).

import assert from "node:assert/strict";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";

import { fakeNetmaster, runNetctl } from "./testing/fakeNetmaster.js";
import { makeTestPki } from "./testing/pki.js";
import { startSecureNetmaster, type SecureNetmaster } from "./testing/secureNetmaster.js";

const pki = await makeTestPki();

describe("netctl's token", { skip: pki ? false : "openssl is not installed" }, () => {
  let nm: SecureNetmaster;
  const writeConfig = (body: string) => {
    mkdirSync(join(nm.home, ".netctl"), { recursive: true, mode: 0o700 });
    writeFileSync(join(nm.home, ".netctl", "config.json"), body, { mode: 0o600 });
  };
  beforeEach(async () => {
    nm = await startSecureNetmaster(pki!, {
      "GET /api/v1/tenants/": { json: [{ tenantName: "default" }] },
      "GET /version": { json: { Version: "1.0.0", GitCommit: "abc", BuildTime: "now" } },
      "GET /api/v1/inspect/tenants/default/": { json: { Config: { tenantName: "default" } } },
    });
  });
  afterEach(() => nm.close());

  it("goes as X-Auth-Token with every request of every command", async () => {
    const token = nm.auth.issueToken("admin");
    writeConfig(JSON.stringify({ token }));
    const commands = [
      ["tenant", "ls"],
      ["tenant", "inspect", "default"],
      ["tenant", "create", "blue"],
      ["tenant", "rm", "blue"],
      ["version"],
      ["user", "ls"],
      ["authorization", "ls"],
    ];
    for (const argv of commands) {
      const r = await runNetctl(argv, nm.env());
      assert.equal(r.code, 0, `${argv.join(" ")}: ${r.stderr}`);
    }
    assert.ok(nm.fake.requests.length >= commands.length);
    for (const req of nm.fake.requests) assert.equal(req.token, token, `${req.method} ${req.path}`);
  });

  it("reads a file Contiv's netctl wrote, whatever its layout, and ignores other fields", async () => {
    const token = nm.auth.issueToken("admin");
    writeConfig(`{\n  "other": 1,\n  "token": "${token}"\n}\n`);
    assert.equal((await runNetctl(["tenant", "ls", "-q"], nm.env())).stdout, "default\n");
    assert.equal(nm.fake.requests[0]?.token, token);
  });

  it("NETMASTER_TOKEN wins over the file, even a broken one", async () => {
    const token = nm.auth.issueToken("admin");
    writeConfig("not json");
    const r = await runNetctl(["tenant", "ls", "-q"], nm.env({ NETMASTER_TOKEN: token }));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(nm.fake.requests[0]?.token, token);
  });

  it("is never sent over http but to loopback: exit 3, 'Error processing netctl config', nothing sent", async () => {
    writeConfig('{"token":"t"}');
    const file = join(nm.home, ".netctl", "config.json");
    const http = "http://198.18.0.1:1";
    const r = await runNetctl(["tenant", "ls"], nm.env({ NETMASTER: http }));
    assert.equal(r.code, 3);
    assert.equal(
      r.stderr,
      `Error: Error processing netctl config ${file}: a token is only sent over https (or http to this machine's loopback), and the netmaster URL is "${http}" (use an https:// --netmaster)\n`,
    );
    const env = await runNetctl(["version"], { NETMASTER: http, NETMASTER_TOKEN: "t" });
    assert.equal(env.code, 3);
    assert.match(env.stderr, /^Error: Error processing NETMASTER_TOKEN: a token is only sent over https/);
  });

  it("a broken config file is exit 3 and names the file", async () => {
    const file = join(nm.home, ".netctl", "config.json");
    const cases: Array<[body: string, problem: RegExp]> = [
      ["not json", /: not JSON: /],
      ['{"token": 5}', /: no "token" string in it$/],
      ['{"token": ""}', /: no "token" string in it$/],
      ["[]", /: no "token" string in it$/],
      ['{"token": "a b"}', /: the token holds characters an HTTP header cannot carry$/],
    ];
    for (const [body, problem] of cases) {
      writeConfig(body);
      const r = await runNetctl(["tenant", "ls"], nm.env());
      assert.equal(r.code, 3, body);
      assert.ok(r.stderr.startsWith(`Error: Error processing netctl config ${file}: `), r.stderr);
      assert.match(r.stderr.trimEnd(), problem);
    }
    rmSync(file);
    mkdirSync(file);
    const unreadable = await runNetctl(["tenant", "ls"], nm.env());
    assert.equal(unreadable.code, 3);
    assert.equal(unreadable.stderr, `Error: Error processing netctl config ${file}: cannot read it: EISDIR: illegal operation on a directory, read\n`);
    assert.deepEqual(nm.fake.calls(), []);
  });

  it("401 without a token: netmaster's message, which says to log in", async () => {
    const r = await runNetctl(["tenant", "ls"], nm.env());
    assert.deepEqual(r, { code: 3, stdout: "", stderr: "Error: Authentication required: log in (netctl login) and send the token as X-Auth-Token\n" });
  });

  it("401 with a refused token: netmaster's message and where the token came from", async () => {
    writeConfig(JSON.stringify({ token: nm.auth.issueToken("admin") }));
    nm.auth.expireTokens();
    const file = join(nm.home, ".netctl", "config.json");
    const r = await runNetctl(["tenant", "ls"], nm.env());
    assert.equal(r.code, 3);
    assert.equal(r.stderr, `Error: Token expired: log in again (netctl login) (the refused token came from ${file})\n`);
    const env = await runNetctl(["tenant", "ls"], nm.env({ NETMASTER_TOKEN: "forged" }));
    assert.equal(env.stderr, "Error: Invalid token: log in again (netctl login) (the refused token came from NETMASTER_TOKEN)\n");
  });

  it("401 from a server that does not say how to log in: netctl says it", async () => {
    const other = await fakeNetmaster({ "GET /api/v1/tenants/": { status: 401, text: "Unauthorized" } }, { tls: { key: pki!.serverKey, cert: pki!.serverCert } });
    try {
      const none = await runNetctl(["tenant", "ls"], nm.env({ NETMASTER: other.url }));
      assert.deepEqual(none, { code: 3, stdout: "", stderr: 'Error: Unauthorized (not logged in: run "netctl login" first)\n' });
      const refused = await runNetctl(["tenant", "ls"], nm.env({ NETMASTER: other.url, NETMASTER_TOKEN: "t" }));
      assert.equal(refused.stderr, 'Error: Unauthorized (the token from NETMASTER_TOKEN was refused, it may have expired: run "netctl login" again)\n');
    } finally {
      await other.close();
    }
  });

  it("403: the server's message, exit 3", async () => {
    nm.auth.addUser("olivia", "password", "ops", "blue");
    const r = await runNetctl(["user", "ls"], nm.env({ NETMASTER_TOKEN: nm.auth.issueToken("olivia") }));
    assert.deepEqual(r, { code: 3, stdout: "", stderr: "Error: User olivia may not GET this path: it needs the admin role\n" });
  });

  it("version and login need none", async () => {
    const r = await runNetctl(["version"], nm.env());
    assert.equal(r.code, 0, r.stderr);
    assert.equal(nm.fake.requests[0]?.token, undefined);
  });
});
