// --ca-file: which CA netctl trusts for an https netmaster, unit by unit and against a real TLS server.

import assert from "node:assert/strict";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { rootCertificates } from "node:tls";
import { after, afterEach, before, beforeEach, describe, it } from "node:test";

import { ExitCode, FileError } from "./errors.js";
import { runNetctl } from "./testing/fakeNetmaster.js";
import { makeTestPki } from "./testing/pki.js";
import { tempDir } from "./testing/tempDir.js";
import { startSecureNetmaster, type SecureNetmaster } from "./testing/secureNetmaster.js";
import { certificateBlocks } from "../lib/pem.js";
import { NETMASTER_CA_FILE, resolveTrust } from "./trust.js";

const pki = await makeTestPki();

describe("resolveTrust", { skip: pki ? false : "openssl is not installed" }, () => {
  const dir = tempDir();
  const file = (name: string, text: string) => {
    const path = join(dir.path, name);
    writeFileSync(path, text);
    return path;
  };
  let ca = "";
  let other = "";
  let garbage = "";
  const missing = join(dir.path, "missing.crt");
  before(() => {
    ca = file("ca.crt", pki!.caCert);
    other = file("other.crt", `# two CAs\n${pki!.otherCaCert}\n${pki!.caCert}`);
    garbage = file("garbage.crt", "not a certificate\n");
  });
  after(() => dir.remove());

  it("--ca-file beats NETMASTER_CA_FILE, and either means that CA alone", () => {
    assert.deepEqual(resolveTrust(ca, { NETMASTER_CA_FILE: other }, missing), { ca: [pki!.caCert.trim()], caFile: ca });
    assert.deepEqual(resolveTrust(undefined, { NETMASTER_CA_FILE: other }, ca), {
      ca: [pki!.otherCaCert.trim(), pki!.caCert.trim()],
      caFile: other,
    });
  });

  it("without either, the host's netmaster CA if readable, next to the public roots", () => {
    const t = resolveTrust(undefined, {}, ca);
    assert.equal(t.caFile, ca);
    assert.deepEqual(t.ca, [...rootCertificates, pki!.caCert.trim()]);
  });

  it("else Node's default roots", () => {
    assert.deepEqual(resolveTrust(undefined, {}, missing), {});
    assert.deepEqual(resolveTrust(undefined, { NETMASTER_CA_FILE: "  " }, garbage), {});
    assert.deepEqual(resolveTrust("", {}, dir.path), {});
  });

  it("an explicit file that cannot be used is an I/O error naming it", () => {
    const cases: Array<[path: string, message: RegExp]> = [
      [missing, /^Cannot use CA file ".*missing\.crt": ENOENT/],
      [garbage, /^Cannot use CA file ".*garbage\.crt": no PEM certificate in it$/],
      [dir.path, /^Cannot use CA file ".*": EISDIR/],
    ];
    for (const [path, message] of cases) {
      assert.throws(() => resolveTrust(path, {}), (err: unknown) => {
        assert.ok(err instanceof FileError);
        assert.equal(err.exitCode, ExitCode.io);
        assert.match(err.message, message);
        return true;
      });
    }
  });

  it("certificateBlocks refuses a certificate block that does not parse", () => {
    assert.throws(() => certificateBlocks("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"));
    assert.deepEqual(certificateBlocks("no certificates"), []);
  });
});

describe("netctl --ca-file against an https netmaster", { skip: pki ? false : "openssl is not installed" }, () => {
  let nm: SecureNetmaster;
  let token = "";
  beforeEach(async () => {
    nm = await startSecureNetmaster(pki!, { "GET /api/v1/tenants/": { json: [{ tenantName: "default" }] } });
    token = nm.auth.issueToken("admin");
  });
  afterEach(() => nm.close());
  const ok = { code: 0, stdout: "default\n", stderr: "" };

  it("verifies netmaster's certificate with its CA from --ca-file or NETMASTER_CA_FILE", async () => {
    const env = nm.env({ NETMASTER_TOKEN: token });
    assert.deepEqual(await runNetctl(["tenant", "ls", "-q"], env), ok);
    const { NETMASTER_CA_FILE: _, ...withoutEnv } = env;
    assert.deepEqual(await runNetctl(["--ca-file", nm.caFile, "tenant", "ls", "-q"], withoutEnv), ok);
    assert.deepEqual(await runNetctl(["tenant", "ls", "-q", "--ca-file", nm.caFile], withoutEnv), ok);
  });

  it("fails without it (exit 1) and says where netmaster's CA is", async () => {
    const { NETMASTER_CA_FILE: _, ...env } = nm.env({ NETMASTER_TOKEN: token });
    const r = await runNetctl(["tenant", "ls"], env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^Error: Error connecting to netmaster: GET https:\/\/127\.0\.0\.1:\d+\/api\/v1\/tenants\/: .*certificate/);
    // On a host where netmaster made its CA, that one is trusted by default, and named instead.
    const hint = existsSync(NETMASTER_CA_FILE)
      ? / \(verified against the CA in \/var\/lib\/netplugin\/ca\.crt\)\n$/
      : /\(netmaster's CA is \/var\/lib\/netplugin\/ca\.crt on its host: pass a copy with --ca-file, or skip checks with --insecure\)\n$/;
    assert.match(r.stderr, hint);
    assert.deepEqual(nm.fake.calls(), []);
  });

  it("fails with another CA, naming the file it trusted", async () => {
    const dir = tempDir();
    try {
      const wrong = join(dir.path, "other.crt");
      writeFileSync(wrong, pki!.otherCaCert);
      const r = await runNetctl(["--ca-file", wrong, "tenant", "ls"], nm.env({ NETMASTER_TOKEN: token }));
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`certificate.* \\(verified against the CA in ${wrong.replace(/[.]/g, "\\.")}\\)\\n$`));
    } finally {
      dir.remove();
    }
  });

  it("--insecure still skips the check, and then no CA file is read", async () => {
    const { NETMASTER_CA_FILE: _, ...env } = nm.env({ NETMASTER_TOKEN: token });
    assert.deepEqual(await runNetctl(["--insecure", "tenant", "ls", "-q"], env), ok);
    assert.deepEqual(await runNetctl(["--insecure", "--ca-file", "/nonexistent", "tenant", "ls", "-q"], env), ok);
  });

  it("a --ca-file that cannot be read exits 4 before any request", async () => {
    const r = await runNetctl(["--ca-file", "/nonexistent/ca.crt", "tenant", "ls"], nm.env({ NETMASTER_TOKEN: token }));
    assert.equal(r.code, 4);
    assert.match(r.stderr, /^Error: Cannot use CA file "\/nonexistent\/ca\.crt": ENOENT/);
    assert.deepEqual(nm.fake.calls(), []);
  });

  it("login trusts the same CA", async () => {
    const r = await runNetctl(["login", "-u", "admin", "--password-stdin"], nm.env(), Readable.from(["admin-secret"]));
    assert.equal(r.code, 0, r.stderr);
  });

  it("plain http to a TLS port suggests https", async () => {
    const url = nm.fake.url.replace("https://", "http://");
    const r = await runNetctl(["tenant", "ls"], { NETMASTER: url, HOME: nm.home });
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`\\(if netmaster serves https, use --netmaster https://127\\.0\\.0\\.1:\\d+\\)\\n$`));
  });
});
