// LDAP logins end to end: a real netmaster process and a real slapd, alone in a namespace of their own
// (testing/slapd.ts). netmaster serves HTTPS inside it and its API on a unix socket, which this test uses
// from the root namespace. An admin points netmaster at the directory and authorizes a group; a member of it
// logs in with the directory's password and gets what the group's role gives, and no more; someone in no
// authorized group, or with a wrong password, does not get in; removing the authorization takes effect at
// once, on a token already issued.

import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { Agent, fetch } from "undici";
import { startSlapd, type Slapd } from "../../src/master/auth/testing/slapd.js";
import { StopWaiting, waitFor } from "../../src/lib/wait.js";

const NETMASTER_JS = fileURLToPath(new URL("../../src/bin/netmaster.js", import.meta.url));
const ADMIN_PASSWORD = "ldap-test-admin-password";

interface Reply {
  status: number;
  body: unknown;
  text: string;
}

describe("LDAP login through a netmaster process", () => {
  let slapd: Slapd;
  let netmaster: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let stderr = "";
  const dir = mkdtempSync(join(tmpdir(), "np-ldap-e2e-"));
  const socketPath = join(dir, "netmaster.sock");
  const dispatcher = new Agent({ connect: { socketPath } });

  const call = async (method: string, path: string, token: string, body?: unknown): Promise<Reply> => {
    const res = await fetch(`http://localhost${path}`, {
      method,
      dispatcher,
      headers: { "content-type": "application/json", ...(token ? { "x-auth-token": token } : {}) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // a plain-text error
    }
    return { status: res.status, body: parsed, text };
  };
  const must = async (method: string, path: string, token: string, body?: unknown): Promise<Reply> => {
    const r = await call(method, path, token, body);
    assert.ok(r.status < 300, `${method} ${path}: ${r.status} ${r.text}\n${stderr}`);
    return r;
  };
  const login = (username: string, password: string) => call("POST", "/api/v1/auth_proxy/login/", "", { username, password });
  const tokenOf = (r: Reply) => (r.body as { token: string }).token;

  before(async () => {
    slapd = await startSlapd();
    const passwordFile = join(dir, "admin-password");
    writeFileSync(passwordFile, `${ADMIN_PASSWORD}\n`, { mode: 0o600 });
    netmaster = spawn(
      "ip",
      ["netns", "exec", slapd.netns, process.execPath, NETMASTER_JS, "--listen-url", "127.0.0.1:9999", "--listen-socket", socketPath,
        "--state-dir", join(dir, "state"), "--initial-admin-password-file", passwordFile, "--log-level", "warn"],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    netmaster.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const child = netmaster;
    exited = new Promise((resolve) => child.once("exit", () => resolve()));
    await waitFor(async () => {
      if (child.exitCode !== null) throw new StopWaiting(`netmaster exited with ${child.exitCode}: ${stderr}`);
      return (await login("admin", ADMIN_PASSWORD).catch(() => undefined))?.status === 200;
    }, { timeoutMs: 20_000, what: () => `netmaster never let the admin log in: ${stderr}` });
  });

  after(async () => {
    if (netmaster && netmaster.exitCode === null && netmaster.signalCode === null) netmaster.kill("SIGTERM");
    await exited;
    await dispatcher.close();
    await slapd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("lets a member of an authorized group in with the directory's password, with that group's role only", async () => {
    const admin = tokenOf(await must("POST", "/api/v1/auth_proxy/login/", "", { username: "admin", password: ADMIN_PASSWORD }));
    const { alice, bob } = slapd.users;

    // Before any LDAP configuration, a directory user is unknown.
    assert.equal((await login(alice.username, alice.password)).status, 401);

    await must("PUT", "/api/v1/auth_proxy/ldap_configuration/", admin, slapd.config);
    const shown = (await must("GET", "/api/v1/auth_proxy/ldap_configuration/", admin)).text;
    assert.ok(!shown.includes(slapd.config.service_account_password), "the service account's password is never shown");

    await must("POST", "/api/v1/tenants/blue/", admin, { tenantName: "blue" });
    await must("POST", "/api/v1/networks/blue:front/", admin, { tenantName: "blue", networkName: "front", encap: "vxlan", subnet: "198.18.7.0/24" });
    // alice is in "devs"; the authorization names it by its cn.
    const authz = (await must("POST", "/api/v1/auth_proxy/authorizations/", admin, { principalName: "devs", local: false, role: "ops", tenantName: "blue" })).body as { AuthzUUID: string };

    assert.equal((await login(alice.username, "not-her-password")).status, 401, "a wrong password");
    const noRole = await login(bob.username, bob.password);
    assert.equal(noRole.status, 403, noRole.text);
    assert.match(noRole.text, /no authorized group/);

    const r = await login(alice.username, alice.password);
    assert.equal(r.status, 200, r.text);
    const token = tokenOf(r);
    assert.equal((await call("GET", "/api/v1/networks/blue:front/", token)).status, 200, "ops reads its tenant");
    assert.equal((await call("POST", "/api/v1/networks/blue:back/", token, { tenantName: "blue", networkName: "back", encap: "vxlan", subnet: "198.18.8.0/24" })).status, 200, "ops writes in its tenant");
    assert.equal((await call("POST", "/api/v1/tenants/green/", token, { tenantName: "green" })).status, 403, "ops makes no tenant");
    assert.equal((await call("GET", "/api/v1/auth_proxy/local_users/", token)).status, 403, "ops lists no users");
    assert.equal((await call("GET", "/api/v1/networks/default:none/", token)).status, 403, "ops sees no other tenant");

    // The token stays signed, but what it allows is looked up on every request.
    await must("DELETE", `/api/v1/auth_proxy/authorizations/${authz.AuthzUUID}/`, admin);
    assert.equal((await call("GET", "/api/v1/networks/blue:front/", token)).status, 401, "the authorization is gone");
    assert.equal((await login(alice.username, alice.password)).status, 403);
  });
});
