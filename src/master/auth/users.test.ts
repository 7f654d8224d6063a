// Users, authorizations, logins, tokens and host credentials through the auth_proxy API of an in-process
// netmaster on a real SQLite store.

import assert from "node:assert/strict";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { AUTH_PREFIX, ROOT } from "../../contract/keys.js";
import { waitFor } from "../../lib/wait.js";
import { InProcessNetmaster, TEST_ADMIN_PASSWORD } from "../testing/in-process.js";

const LOGIN = "/api/v1/auth_proxy/login/";
const USERS = "/api/v1/auth_proxy/local_users/";
const AUTHZ = "/api/v1/auth_proxy/authorizations/";

describe("users and authorizations", () => {
  let nm: InProcessNetmaster;
  let admin: string;

  before(async () => {
    nm = await InProcessNetmaster.start();
    admin = await nm.login("admin", TEST_ADMIN_PASSWORD);
    await nm.must({ method: "POST", path: "/api/v1/tenants/blue/", body: { tenantName: "blue" } }, admin);
  });
  after(() => nm?.stop());

  const addUser = async (username: string, tenant = "blue") => {
    await nm.must({ method: "POST", path: USERS, body: { username, password: `${username}-secret`, first_name: "A", last_name: "B" } }, admin);
    const a = await nm.must({ method: "POST", path: AUTHZ, body: { principalName: username, local: true, role: "ops", tenantName: tenant } }, admin);
    return (a.body as { AuthzUUID: string }).AuthzUUID;
  };
  const canRead = async (token: string) => (await nm.call({ method: "GET", path: "/api/v1/networks/" }, token)).status;

  it("keeps passwords only as slow hashes and never shows them", async () => {
    await addUser("ann");
    const shown = (await nm.must({ method: "GET", path: `${USERS}ann/` }, admin)).body;
    assert.deepEqual(shown, { username: "ann", first_name: "A", last_name: "B", disable: false });
    const stored = JSON.stringify((await nm.store.list(`${AUTH_PREFIX}users/`)).items);
    assert.ok(!stored.includes("ann-secret"));
    assert.match(stored, /scrypt\$32768\$8\$1\$/);
  });

  it("refuses a wrong password, an unknown user and a user without any authorization alike or clearly", async () => {
    assert.equal((await nm.call({ method: "POST", path: LOGIN, body: { username: "ann", password: "wrong-secret" } })).status, 401);
    assert.equal((await nm.call({ method: "POST", path: LOGIN, body: { username: "nobody", password: "whatever-1" } })).status, 401);
    await nm.must({ method: "POST", path: USERS, body: { username: "norole", password: "norole-secret" } }, admin);
    const r = await nm.call({ method: "POST", path: LOGIN, body: { username: "norole", password: "norole-secret" } });
    assert.equal(r.status, 403);
    assert.match(r.text, /no authorization/);
  });

  it("voids tokens when the user is disabled, loses its authorization or is deleted", async () => {
    const authz = await addUser("bob");
    let token = await nm.login("bob", "bob-secret");
    assert.equal(await canRead(token), 200);
    await nm.must({ method: "PATCH", path: `${USERS}bob/`, body: { disable: true } }, admin);
    assert.equal(await canRead(token), 401);
    assert.equal((await nm.call({ method: "POST", path: LOGIN, body: { username: "bob", password: "bob-secret" } })).status, 401);
    await nm.must({ method: "PATCH", path: `${USERS}bob/`, body: { disable: false } }, admin);
    token = await nm.login("bob", "bob-secret");
    await nm.must({ method: "DELETE", path: `${AUTHZ}${authz}/` }, admin);
    assert.equal(await canRead(token), 401);
    await nm.must({ method: "POST", path: AUTHZ, body: { principalName: "bob", local: true, role: "ops", tenantName: "blue" } }, admin);
    token = await nm.login("bob", "bob-secret");
    await nm.must({ method: "DELETE", path: `${USERS}bob/` }, admin);
    assert.equal(await canRead(token), 401);
    // A new user of the same name does not inherit the old one's tokens.
    await addUser("bob");
    assert.equal(await canRead(token), 401);
  });

  it("lets a user change its own password, not another's, and not disable itself", async () => {
    await addUser("cat");
    await addUser("dan");
    const cat = await nm.login("cat", "cat-secret");
    await nm.must({ method: "PATCH", path: `${USERS}cat/`, body: { password: "cat-secret-2" } }, cat);
    assert.equal((await nm.call({ method: "POST", path: LOGIN, body: { username: "cat", password: "cat-secret" } })).status, 401);
    const again = await nm.login("cat", "cat-secret-2");
    assert.equal((await nm.call({ method: "PATCH", path: `${USERS}dan/`, body: { password: "stolen-password" } }, again)).status, 403);
    assert.equal((await nm.call({ method: "PATCH", path: `${USERS}cat/`, body: { disable: true } }, again)).status, 403);
  });

  it("keeps an enabled local admin: the last one cannot be removed, disabled or deleted", async () => {
    const authzs = (await nm.must({ method: "GET", path: AUTHZ }, admin)).body as { AuthzUUID: string; principalName: string; role: string }[];
    const adminAuthz = authzs.find((a) => a.principalName === "admin" && a.role === "admin")!;
    for (const c of [
      { method: "DELETE", path: `${AUTHZ}${adminAuthz.AuthzUUID}/` },
      { method: "PATCH", path: `${USERS}admin/`, body: { disable: true } },
      { method: "DELETE", path: `${USERS}admin/` },
    ]) {
      const r = await nm.call(c, admin);
      assert.equal(r.status, 409, `${c.method} ${c.path}: ${r.text}`);
    }
    // With a second admin, the first may go.
    await nm.must({ method: "POST", path: USERS, body: { username: "root2", password: "root2-secret" } }, admin);
    await nm.must({ method: "POST", path: AUTHZ, body: { principalName: "root2", local: true, role: "admin" } }, admin);
    const root2 = await nm.login("root2", "root2-secret");
    await nm.must({ method: "DELETE", path: `${AUTHZ}${adminAuthz.AuthzUUID}/` }, root2);
    assert.equal(await canRead(admin), 401);
    await nm.must({ method: "POST", path: AUTHZ, body: { principalName: "admin", local: true, role: "admin" } }, root2);
    admin = await nm.login("admin", TEST_ADMIN_PASSWORD);
  });

  it("checks what an authorization names", async () => {
    const cases: [unknown, number][] = [
      [{ principalName: "ghost", local: true, role: "ops", tenantName: "blue" }, 404],
      [{ principalName: "ann", local: true, role: "ops", tenantName: "nosuch" }, 404],
      [{ principalName: "ann", local: true, role: "ops" }, 400],
      [{ principalName: "ann", local: true, role: "admin", tenantName: "blue" }, 400],
      [{ principalName: "ann", local: true, role: "root" }, 400],
      [{ principalName: "ann", local: true, role: "ops", tenantName: "blue" }, 409],
      [{ principalName: "ann", local: true, role: "ops", tenantName: "blue", extra: 1 }, 400],
    ];
    for (const [body, status] of cases) {
      const r = await nm.call({ method: "POST", path: AUTHZ, body }, admin);
      assert.equal(r.status, status, `${JSON.stringify(body)}: ${r.status} ${r.text}`);
    }
  });

  it("removes a tenant's ops authorizations with the tenant", async () => {
    await nm.must({ method: "POST", path: "/api/v1/tenants/red/", body: { tenantName: "red" } }, admin);
    await addUser("eve", "red");
    await nm.must({ method: "DELETE", path: "/api/v1/tenants/red/" }, admin);
    const left = (await nm.must({ method: "GET", path: AUTHZ }, admin)).body as { tenantName: string }[];
    assert.deepEqual(left.filter((a) => a.tenantName === "red"), []);
  });

});

describe("token lifetime", () => {
  it("expires tokens after the configured time", async () => {
    const nm = await InProcessNetmaster.start({ tokenTtlSeconds: 1 });
    try {
      const token = await nm.login("admin", TEST_ADMIN_PASSWORD);
      const read = () => nm.call({ method: "GET", path: "/api/v1/networks/" }, token);
      assert.equal((await read()).status, 200);
      await waitFor(async () => (await read()).status === 401, { timeoutMs: 5_000, what: () => "the token never expired" });
      assert.match((await read()).text, /expired/);
    } finally {
      await nm.stop();
    }
  });
});

describe("host credentials", () => {
  let nm: InProcessNetmaster;
  let admin: string;
  let joinToken: string;

  before(async () => {
    nm = await InProcessNetmaster.start();
    admin = await nm.login("admin", TEST_ADMIN_PASSWORD);
    joinToken = readFileSync(join(nm.dir, "join-token"), "utf8").trim();
  });
  after(() => nm?.stop());

  const joinHost = (host: string, token = joinToken) => nm.call({ method: "POST", path: "/api/v1/agent/join/", body: { host, joinToken: token } });
  const register = (credential: string, host: string) => nm.call({ method: "PUT", path: `/api/v1/agent/hosts/${host}/`, body: { vtepIP: "198.18.0.1", mtu: 1500 } }, credential);

  it("writes the join token for agents, readable by its owner only", () => {
    assert.equal(statSync(join(nm.dir, "join-token")).mode & 0o777, 0o600);
    assert.match(joinToken, /^[A-Za-z0-9_-]{32}$/);
  });

  it("trades the join token for a host's own credential; a wrong token or host name gets none", async () => {
    assert.equal((await joinHost("h1", "x".repeat(32))).status, 401);
    assert.equal((await joinHost("bad host")).status, 400);
    const before = JSON.stringify((await nm.store.list(ROOT)).items);
    assert.equal((await joinHost("h1", "")).status, 400);
    assert.equal(JSON.stringify((await nm.store.list(ROOT)).items), before);
    const r = await joinHost("h1");
    assert.equal(r.status, 200, r.text);
    const credential = (r.body as { credential: string }).credential;
    assert.equal((await register(credential, "h1")).status, 200);
    assert.equal((await register(credential, "h2")).status, 403);
    // The credential is an agent's: no user API.
    assert.equal((await nm.call({ method: "GET", path: "/api/v1/networks/" }, credential)).status, 403);
  });

  it("voids a host's old credential when it joins again, and every credential when the host is removed", async () => {
    const first = ((await joinHost("h5")).body as { credential: string }).credential;
    const second = ((await joinHost("h5")).body as { credential: string }).credential;
    assert.equal((await register(first, "h5")).status, 401);
    assert.equal((await register(second, "h5")).status, 200);
    await nm.must({ method: "DELETE", path: "/api/v1/agent/hosts/h5/?force=true" }, admin);
    assert.equal((await register(second, "h5")).status, 401);
  });
});

describe("root on netmaster's machine", () => {
  it("gets a token only netmaster mints, for forwarding its writes, that stands for an admin", async () => {
    const nm = await InProcessNetmaster.start();
    try {
      const token = await nm.master.auth.localToken();
      assert.deepEqual(await nm.master.auth.authenticate(token), { kind: "user", name: "root", admin: true, tenants: new Set() });
      assert.equal((await nm.call({ method: "POST", path: "/api/v1/tenants/red/", body: { tenantName: "red" } }, token)).status, 200);
      // No route hands one out: a login as "root" is an unknown user.
      assert.equal((await nm.call({ method: "POST", path: LOGIN, body: { username: "root", password: "whatever-it-is" } })).status, 401);
    } finally {
      await nm.stop();
    }
  });
});

describe("the first admin", () => {
  it("gets a random password in a file of its own when none is given", async () => {
    const nm = await InProcessNetmaster.start({ initialAdminPassword: undefined });
    try {
      const file = join(nm.dir, "admin-password");
      assert.equal(statSync(file).mode & 0o777, 0o600);
      const password = readFileSync(file, "utf8").trim();
      assert.ok(password.length >= 20);
      assert.equal((await nm.call({ method: "POST", path: LOGIN, body: { username: "admin", password: "admin-password-1" } })).status, 401);
      await nm.login("admin", password);
    } finally {
      await nm.stop();
    }
  });
});
