// Our netctl next to an imitation of Contiv's Go netctl (testing/contivGoNetctl.ts): both log in the same
// way, and each uses the config.json the other wrote.

import assert from "node:assert/strict";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterEach, beforeEach, describe, it } from "node:test";

import { contivGoGet, contivGoLogin, type ContivGoOptions } from "./testing/contivGoNetctl.js";
import { runNetctl } from "./testing/fakeNetmaster.js";
import { makeTestPki } from "./testing/pki.js";
import { startSecureNetmaster, type SecureNetmaster } from "./testing/secureNetmaster.js";

const pki = await makeTestPki();

describe("Contiv's Go netctl (imitated) and ours", { skip: pki ? false : "openssl is not installed" }, () => {
  let nm: SecureNetmaster;
  let contiv: ContivGoOptions;
  beforeEach(async () => {
    nm = await startSecureNetmaster(pki!, { "GET /api/v1/tenants/": { json: [{ tenantName: "default" }] } });
    contiv = { netmaster: nm.fake.url, home: nm.home, ca: pki!.caCert };
  });
  afterEach(() => nm.close());
  const config = () => join(nm.home, ".netctl", "config.json");

  it("log in with the same request", async () => {
    assert.equal(await contivGoLogin(contiv, "admin", "admin-secret"), "Login succeeded.\n");
    const theirs = nm.fake.requests.at(-1);
    assert.equal((await runNetctl(["login", "-u", "admin", "--password-stdin"], nm.env(), Readable.from(["admin-secret"]))).code, 0);
    const ours = nm.fake.requests.at(-1);
    assert.deepEqual(ours, theirs);
    assert.deepEqual(ours, { method: "POST", path: "/api/v1/auth_proxy/login/", body: { username: "admin", password: "admin-secret" } });
    assert.equal(await contivGoLogin(contiv, "admin", "wrong"), "Login failed: Bad username or password.\n");
  });

  it("ours uses the config.json Contiv's wrote, and sends its token", async () => {
    assert.equal(await contivGoLogin(contiv, "admin", "admin-secret"), "Login succeeded.\n");
    const written = readFileSync(config(), "utf8");
    const { token } = JSON.parse(written) as { token: string };
    const theirs = await contivGoGet(contiv, "/api/v1/tenants/");
    assert.equal(theirs.status, 200);
    const r = await runNetctl(["tenant", "ls", "-q"], nm.env());
    assert.deepEqual(r, { code: 0, stdout: "default\n", stderr: "" });
    assert.deepEqual(
      nm.fake.requests.filter((q) => q.path === "/api/v1/tenants/").map((q) => q.token),
      [token, token],
    );
  });

  it("Contiv's uses the config.json ours wrote: same file, same modes", async () => {
    assert.equal((await runNetctl(["login", "-u", "admin", "--password-stdin"], nm.env(), Readable.from(["admin-secret"]))).code, 0);
    const ours = readFileSync(config(), "utf8");
    const res = await contivGoGet(contiv, "/api/v1/tenants/");
    assert.equal(res.status, 200, res.body);
    assert.equal(nm.fake.requests.at(-1)?.token, (JSON.parse(ours) as { token: string }).token);
    assert.equal(statSync(config()).mode & 0o777, 0o600);

    // And a login by Contiv's over ours replaces the token ours then reads.
    assert.equal(await contivGoLogin(contiv, "admin", "admin-secret"), "Login succeeded.\n");
    assert.notEqual(readFileSync(config(), "utf8"), ours);
    assert.equal((await runNetctl(["tenant", "ls", "-q"], nm.env())).code, 0);
    assert.equal(nm.fake.requests.at(-1)?.token, (JSON.parse(readFileSync(config(), "utf8")) as { token: string }).token);
  });

  it("without a login both are refused alike", async () => {
    assert.equal((await contivGoGet(contiv, "/api/v1/tenants/")).status, 401);
    assert.equal((await runNetctl(["tenant", "ls"], nm.env())).code, 3);
    assert.deepEqual(nm.fake.calls(), ["GET /api/v1/tenants/", "GET /api/v1/tenants/"]);
  });
});
