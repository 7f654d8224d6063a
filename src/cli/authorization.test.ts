import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";

import fc from "fast-check";

import { newAuthorization } from "./authorization.js";
import { UsageError } from "./errors.js";
import { runNetctl } from "./testing/fakeNetmaster.js";
import { makeTestPki } from "./testing/pki.js";
import { startSecureNetmaster, type SecureNetmaster } from "./testing/secureNetmaster.js";

const pki = await makeTestPki();
const AUTHZ = "/api/v1/auth_proxy/authorizations/";

describe("newAuthorization", () => {
  const flag = fc.option(fc.string(), { nil: undefined });
  it("property: a request comes out exactly for admin without --tenant and ops with a tenant", () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), fc.oneof(fc.constantFrom("admin", "ops", ""), fc.string()), flag, fc.boolean(), (principal, role, tenant, ldapGroup) => {
        const valid = (role === "admin" && tenant === undefined) || (role === "ops" && (tenant ?? "").trim() !== "");
        let request;
        try {
          request = newAuthorization(principal, { role, tenant, ldapGroup });
        } catch (err) {
          assert.ok(err instanceof UsageError);
          assert.ok(err.message.startsWith(`Cannot authorize "${principal}": `));
          assert.equal(valid, false);
          return;
        }
        assert.equal(valid, true);
        assert.deepEqual(request, {
          principalName: principal,
          local: !ldapGroup,
          role,
          ...(role === "ops" ? { tenantName: tenant?.trim() } : {}),
        });
      }),
    );
  });
});

describe("netctl authorization", { skip: pki ? false : "openssl is not installed" }, () => {
  let nm: SecureNetmaster;
  let admin = "";
  const netctl = (...argv: string[]) => runNetctl(["authorization", ...argv], nm.env({ NETMASTER_TOKEN: admin }));
  beforeEach(async () => {
    nm = await startSecureNetmaster(pki!);
    admin = nm.auth.issueToken("admin");
  });
  afterEach(() => nm.close());

  it("create: a local user as ops in a tenant; prints the new UUID", async () => {
    nm.auth.addUser("alice", "pw");
    const r = await netctl("create", "--role", "ops", "--tenant", "blue", "alice");
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(nm.fake.bodyOf(`POST ${AUTHZ}`), { principalName: "alice", local: true, role: "ops", tenantName: "blue" });
    const uuid = nm.auth.authorizations.at(-1)?.AuthzUUID;
    assert.equal(r.stdout, `Created authorization ${uuid}: local user "alice" is ops in tenant "blue"\n`);
  });

  it("create: an LDAP group as admin, -q for scripts", async () => {
    const r = await netctl("create", "-q", "-r", "admin", "--ldap-group", "cn=netadmins,dc=example,dc=com");
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(nm.fake.bodyOf(`POST ${AUTHZ}`), { principalName: "cn=netadmins,dc=example,dc=com", local: false, role: "admin" });
    assert.equal(r.stdout, `${nm.auth.authorizations.at(-1)?.AuthzUUID}\n`);
    assert.deepEqual(nm.auth.authorizations.at(-1), {
      AuthzUUID: r.stdout.trim(),
      principalName: "cn=netadmins,dc=example,dc=com",
      local: false,
      role: "admin",
      tenantName: "",
    });
  });

  it("ls: table, -q, -j; authz is an alias", async () => {
    await netctl("create", "--role", "ops", "-t", "blue", "--ldap-group", "ops-team");
    const [adminAuthz, ops] = nm.auth.authorizations;
    const table = (await runNetctl(["authz", "ls"], nm.env({ NETMASTER_TOKEN: admin }))).stdout;
    const uuidWidth = " ".repeat(36 - 4);
    assert.equal(
      table,
      `UUID${uuidWidth}  Principal  Type        Role   Tenant\n` +
        `----${uuidWidth}  ---------  ----        ----   ------\n` +
        `${adminAuthz?.AuthzUUID}  admin      local       admin  \n` +
        `${ops?.AuthzUUID}  ops-team   ldap-group  ops    blue\n`,
    );
    assert.equal((await netctl("ls", "-q")).stdout, `${adminAuthz?.AuthzUUID}\n${ops?.AuthzUUID}\n`);
    assert.deepEqual(JSON.parse((await netctl("list", "--json")).stdout), nm.auth.authorizations);
  });

  it("inspect and rm by UUID", async () => {
    nm.auth.addUser("alice", "password");
    const uuid = (await netctl("create", "-q", "--role", "admin", "alice")).stdout.trim();
    assert.equal((await netctl("inspect", uuid)).stdout, JSON.stringify(nm.auth.authorizations[1], null, 2) + "\n");
    assert.equal((await netctl("get", uuid)).stdout, JSON.stringify(nm.auth.authorizations[1], null, 2) + "\n");
    assert.deepEqual(await netctl("rm", uuid), { code: 0, stdout: `Deleted authorization ${uuid}\n`, stderr: "" });
    assert.deepEqual(await netctl("delete", uuid), { code: 3, stdout: "", stderr: `Error: Authorization ${uuid} not found\n` });
  });

  it("bad flags exit 1 and send nothing", async () => {
    const cases: Array<[argv: string[], message: string]> = [
      [["create", "alice"], 'Error: Cannot authorize "alice": --role is required: admin or ops'],
      [["create", "--role", "root", "alice"], 'Error: Cannot authorize "alice": invalid role "root": want admin or ops'],
      [["create", "--role", "ops", "alice"], 'Error: Cannot authorize "alice": --role ops needs --tenant: ops works within one tenant'],
      [["create", "--role", "ops", "--tenant", " ", "alice"], 'Error: Cannot authorize "alice": --role ops needs --tenant: ops works within one tenant'],
      [["create", "--role", "admin", "-t", "blue", "alice"], 'Error: Cannot authorize "alice": --tenant is for --role ops only: admin covers every tenant'],
      [["create", "--role", "admin"], "Error: Principal name required: a local user, or an LDAP group with --ldap-group"],
      [["rm"], "Error: Authorization UUID required"],
      [["inspect", ""], "Error: Authorization UUID required"],
    ];
    for (const [argv, message] of cases) {
      const r = await netctl(...argv);
      assert.equal(r.code, 1, argv.join(" "));
      assert.equal(r.stderr.split("\n")[0], message);
    }
    assert.deepEqual(nm.fake.calls(), []);
  });

  it("the server's refusals pass through (exit 3)", async () => {
    nm.auth.addUser("olivia", "pw", "ops", "blue");
    const r = await runNetctl(["authorization", "ls"], nm.env({ NETMASTER_TOKEN: nm.auth.issueToken("olivia") }));
    assert.deepEqual(r, { code: 3, stdout: "", stderr: "Error: User olivia may not GET this path: it needs the admin role\n" });
    const missing = await netctl("create", "--role", "ops", "--tenant", "blue", "nobody");
    assert.deepEqual(missing, { code: 3, stdout: "", stderr: "Error: User nobody not found\n" });
  });
});
