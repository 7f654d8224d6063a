import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { afterEach, beforeEach, describe, it } from "node:test";

import fc from "fast-check";

import { UsageError } from "./errors.js";
import { ldapConfiguration } from "./ldap.js";
import { runNetctl } from "./testing/fakeNetmaster.js";
import { makeTestPki } from "./testing/pki.js";
import { startSecureNetmaster, type SecureNetmaster } from "./testing/secureNetmaster.js";

const pki = await makeTestPki();
const LDAP = "/api/v1/auth_proxy/ldap_configuration/";
const FLAGS = ["--server", "ad.example.com", "--port", "636", "--base-dn", "dc=example,dc=com", "--service-account-dn", "cn=svc,dc=example,dc=com"];

describe("ldapConfiguration", () => {
  const base = { server: "s", port: 389, baseDn: "b", serviceAccountDn: "d", startTls: false, insecureSkipVerify: false };

  it("property: any port from 1 to 65535 is taken, any other integer refused", () => {
    fc.assert(
      fc.property(fc.integer(), (port) => {
        const valid = port >= 1 && port <= 65535;
        if (valid) assert.equal(ldapConfiguration({ ...base, port }).port, port);
        else assert.throws(() => ldapConfiguration({ ...base, port }), new UsageError(`Cannot set the LDAP configuration: invalid port ${port}: want 1 to 65535`));
      }),
    );
  });

  it("property: every missing flag is named, in order", () => {
    fc.assert(
      fc.property(fc.boolean(), fc.boolean(), fc.boolean(), fc.boolean(), (server, port, baseDn, dn) => {
        const missing = [!server && "--server", !port && "--port", !baseDn && "--base-dn", !dn && "--service-account-dn"].filter(Boolean);
        const flags = { ...base, server: server ? "s" : " ", port: port ? 389 : undefined, baseDn: baseDn ? "b" : "", serviceAccountDn: dn ? "d" : "" };
        if (missing.length === 0) return void ldapConfiguration(flags);
        assert.throws(() => ldapConfiguration(flags), { message: `Cannot set the LDAP configuration: missing ${missing.join(", ")}` });
      }),
    );
  });
});

describe("netctl ldap", { skip: pki ? false : "openssl is not installed" }, () => {
  let nm: SecureNetmaster;
  let admin = "";
  const netctl = (argv: string[], stdin = "") => runNetctl(["ldap", ...argv], nm.env({ NETMASTER_TOKEN: admin }), Readable.from([stdin]));
  beforeEach(async () => {
    nm = await startSecureNetmaster(pki!);
    admin = nm.auth.issueToken("admin");
  });
  afterEach(() => nm.close());

  it("set with the service account's password PUTs the whole configuration", async () => {
    const r = await netctl(["set", ...FLAGS, "--service-account-password-stdin", "--start-tls"], "bind-pw\n");
    assert.deepEqual(r, { code: 0, stdout: "Set the LDAP configuration: ad.example.com:636\n", stderr: "" });
    assert.deepEqual(nm.fake.bodyOf(`PUT ${LDAP}`), {
      server: "ad.example.com",
      port: 636,
      base_dn: "dc=example,dc=com",
      service_account_dn: "cn=svc,dc=example,dc=com",
      start_tls: true,
      insecure_skip_verify: false,
      service_account_password: "bind-pw",
    });
  });

  it("set without it PATCHes everything else, keeping the stored password", async () => {
    assert.equal((await netctl(["set", ...FLAGS, "--service-account-password-stdin"], "bind-pw")).code, 0);
    const r = await netctl(["set", ...FLAGS, "--insecure-skip-verify"]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(nm.fake.bodyOf(`PATCH ${LDAP}`), {
      server: "ad.example.com",
      port: 636,
      base_dn: "dc=example,dc=com",
      service_account_dn: "cn=svc,dc=example,dc=com",
      start_tls: false,
      insecure_skip_verify: true,
    });
    assert.equal(nm.auth.ldap?.["service_account_password"], "bind-pw");
  });

  it("set without a password and without a configuration: says the password is needed", async () => {
    assert.deepEqual(await netctl(["set", ...FLAGS]), {
      code: 3,
      stdout: "",
      stderr:
        "Error: Cannot set the LDAP configuration: netmaster has none yet, so the service account's password is needed: " +
        "give --service-account-password-stdin (No LDAP configuration: PUT a whole one first)\n",
    });
  });

  it("inspect shows it without the password; rm deletes it", async () => {
    assert.equal((await netctl(["set", ...FLAGS, "--service-account-password-stdin"], "bind-pw")).code, 0);
    const shown = JSON.parse((await netctl(["inspect"])).stdout) as Record<string, unknown>;
    assert.equal(shown["server"], "ad.example.com");
    assert.equal("service_account_password" in shown, false);
    assert.deepEqual(await netctl(["rm"]), { code: 0, stdout: "Deleted the LDAP configuration\n", stderr: "" });
    assert.deepEqual(await netctl(["get"]), { code: 3, stdout: "", stderr: "Error: No LDAP configuration\n" });
    assert.deepEqual(await netctl(["rm"]), { code: 3, stdout: "", stderr: "Error: No LDAP configuration\n" });
  });

  it("bad flags exit 1 and send nothing", async () => {
    const cases: Array<[argv: string[], stdin: string, message: string]> = [
      [["set"], "", "Error: Cannot set the LDAP configuration: missing --server, --port, --base-dn, --service-account-dn"],
      [["set", "--server", "a", "--port", "389"], "", "Error: Cannot set the LDAP configuration: missing --base-dn, --service-account-dn"],
      [["set", ...FLAGS.slice(0, 2), "--port", "0", ...FLAGS.slice(4)], "", "Error: Cannot set the LDAP configuration: invalid port 0: want 1 to 65535"],
      [["set", ...FLAGS.slice(0, 2), "--port", "x", ...FLAGS.slice(4)], "", "Error: Option '--port <port>' argument 'x' is invalid. Expected an integer."],
      [["set", ...FLAGS, "--service-account-password-stdin"], "", "Error: Cannot set the LDAP configuration: no password on stdin"],
      [["inspect", "x"], "", "Error: More arguments than required"],
    ];
    for (const [argv, stdin, message] of cases) {
      const r = await netctl(argv, stdin);
      assert.equal(r.code, 1, argv.join(" "));
      assert.equal(r.stderr.split("\n")[0], message);
    }
    assert.deepEqual(nm.fake.calls(), []);
  });
});
