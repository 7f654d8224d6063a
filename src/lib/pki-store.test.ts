import assert from "node:assert/strict";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { createAuthority, issueServing } from "./pki.js";
import { loadOrCreateServing, readServingFiles } from "./pki-store.js";

const DAY_MS = 86_400_000;
const NAMES = ["node1", "localhost", "127.0.0.1", "::1"];

describe("loadOrCreateServing", () => {
  const root = mkdtempSync(join(tmpdir(), "pki-store-test-"));
  after(() => rmSync(root, { recursive: true, force: true }));
  let n = 0;
  const freshDir = () => join(root, `d${n++}`, "state");
  /** Every file of the directory and its content. */
  const snapshot = (dir: string) => Object.fromEntries(readdirSync(dir).sort().map((f) => [f, readFileSync(join(dir, f), "utf8")]));

  it("makes a CA and a serving certificate on first start: directory 0700, files 0600", async () => {
    const dir = freshDir();
    const got = await loadOrCreateServing({ dir, names: NAMES });
    assert.equal(got.action, "created");
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.equal(statSync(join(dir, "..")).mode & 0o777, 0o700, "a parent made with it is private too");
    assert.deepEqual(readdirSync(dir).sort(), ["ca.crt", "ca.key", "server.crt", "server.key"]);
    for (const f of readdirSync(dir)) assert.equal(statSync(join(dir, f)).mode & 0o777, 0o600, f);
    assert.equal(got.caFile, join(dir, "ca.crt"));
    assert.equal(got.ca, readFileSync(join(dir, "ca.crt"), "utf8"));
    const cert = new X509Certificate(got.cert);
    assert.ok(cert.verify(new X509Certificate(got.ca).publicKey));
    assert.ok(cert.checkPrivateKey(createPrivateKey(got.key)));
  });

  it("reuses every file on restart", async () => {
    const dir = freshDir();
    await loadOrCreateServing({ dir, names: NAMES });
    const before = snapshot(dir);
    const again = await loadOrCreateServing({ dir, names: ["localhost", "node1"] });
    assert.equal(again.action, "reused");
    assert.deepEqual(again.reasons, []);
    assert.deepEqual(snapshot(dir), before);
  });

  it("re-issues the serving certificate from the same CA when a name is missing", async () => {
    const dir = freshDir();
    await loadOrCreateServing({ dir, names: NAMES });
    const before = snapshot(dir);
    const got = await loadOrCreateServing({ dir, names: [...NAMES, "nm.example", "10.0.0.1"] });
    assert.equal(got.action, "issued");
    assert.deepEqual(got.reasons, ["names missing: nm.example, 10.0.0.1"]);
    const after = snapshot(dir);
    assert.equal(after["ca.crt"], before["ca.crt"]);
    assert.equal(after["ca.key"], before["ca.key"]);
    assert.notEqual(after["server.key"], before["server.key"]);
    const cert = new X509Certificate(after["server.crt"]!);
    assert.equal(cert.checkHost("nm.example"), "nm.example");
    assert.equal(cert.checkIP("10.0.0.1"), "10.0.0.1");
    assert.equal(cert.checkHost("node1"), "node1");
    assert.ok(cert.verify(new X509Certificate(after["ca.crt"]!).publicKey));
  });

  it("re-issues a certificate near its end, and one whose key is not its own", async () => {
    const dir = freshDir();
    await loadOrCreateServing({ dir, names: NAMES });
    const late = await loadOrCreateServing({ dir, names: NAMES, now: new Date(Date.now() + 340 * DAY_MS) });
    assert.equal(late.action, "issued");
    assert.match(late.reasons.join(), /^it expires /);
    writeFileSync(join(dir, "server.key"), (await createAuthority({ commonName: "x" })).key);
    const mismatched = await loadOrCreateServing({ dir, names: NAMES });
    assert.deepEqual(mismatched.reasons, ["the serving key does not match the certificate"]);
    assert.equal(statSync(join(dir, "server.key")).mode & 0o777, 0o600);
  });

  it("re-issues a certificate that another CA signed", async () => {
    const dir = freshDir();
    await loadOrCreateServing({ dir, names: NAMES });
    const stranger = await issueServing(await createAuthority({ commonName: "stranger" }), NAMES);
    writeFileSync(join(dir, "server.crt"), stranger.cert);
    writeFileSync(join(dir, "server.key"), stranger.key);
    const got = await loadOrCreateServing({ dir, names: NAMES });
    assert.deepEqual(got.reasons, ["the serving certificate is not signed by the CA"]);
  });

  it("serves from a CA certificate without its key while nothing needs issuing, and refuses, changing nothing, when something does", async () => {
    const dir = freshDir();
    await loadOrCreateServing({ dir, names: NAMES });
    unlinkSync(join(dir, "ca.key"));
    assert.equal((await loadOrCreateServing({ dir, names: NAMES })).action, "reused");
    const before = snapshot(dir);
    await assert.rejects(loadOrCreateServing({ dir, names: [...NAMES, "new.example"] }), (err: Error) => {
      assert.equal(err.message, `Cannot issue a serving certificate in ${dir} (names missing: new.example): ca.key is missing; put the CA's key there or give --tls-cert and --tls-key`);
      return true;
    });
    assert.deepEqual(snapshot(dir), before);
  });

  it("refuses a CA key without its certificate, and a CA key that is not the certificate's", async () => {
    const dir = freshDir();
    await loadOrCreateServing({ dir, names: NAMES });
    writeFileSync(join(dir, "ca.key"), (await createAuthority({ commonName: "x" })).key);
    const before = snapshot(dir);
    await assert.rejects(loadOrCreateServing({ dir, names: NAMES }), { message: `Cannot use the CA in ${dir}: ca.key does not match ca.crt` });
    assert.deepEqual(snapshot(dir), before);
    unlinkSync(join(dir, "ca.crt"));
    await assert.rejects(loadOrCreateServing({ dir, names: NAMES }), { message: `Cannot use the CA in ${dir}: ca.key is there without ca.crt` });
    assert.equal(readdirSync(dir).includes("ca.crt"), false);
  });

  it("refuses an expired CA", async () => {
    const dir = freshDir();
    await loadOrCreateServing({ dir, names: NAMES });
    await assert.rejects(loadOrCreateServing({ dir, names: NAMES, now: new Date(Date.now() + 3651 * DAY_MS) }), /^Error: Cannot use the CA in .*: it expired /);
  });
});

describe("readServingFiles", () => {
  const dir = mkdtempSync(join(tmpdir(), "pki-files-test-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string) => (writeFileSync(join(dir, name), text), join(dir, name));

  it("accepts a chain file whose leaf matches the key", async () => {
    const ca = await createAuthority({ commonName: "ca" });
    const serving = await issueServing(ca, ["localhost"]);
    const got = readServingFiles(file("chain.crt", serving.cert + ca.cert), file("good.key", serving.key));
    assert.equal(got.leaf.checkHost("localhost"), "localhost");
  });

  it("refuses, naming flag and file, what cannot be used", async () => {
    const ca = await createAuthority({ commonName: "ca" });
    const serving = await issueServing(ca, ["localhost"]);
    const cert = file("s.crt", serving.cert);
    const key = file("s.key", serving.key);
    const cases: [string, () => unknown, string][] = [
      ["missing cert", () => readServingFiles(join(dir, "nope.crt"), key), `Cannot read --tls-cert ${join(dir, "nope.crt")}: ENOENT`],
      ["missing key", () => readServingFiles(cert, join(dir, "nope.key")), `Cannot read --tls-key ${join(dir, "nope.key")}: ENOENT`],
      ["not a certificate", () => readServingFiles(key, key), `Cannot use --tls-cert ${key}: no PEM certificate in it`],
      ["not a key", () => readServingFiles(cert, cert), `Cannot use --tls-key ${cert}: not a PEM private key`],
      ["another key", () => readServingFiles(cert, file("ca.key", ca.key)), `Cannot use --tls-key ${join(dir, "ca.key")}: it is not the key of --tls-cert ${cert}`],
      ["expired", () => readServingFiles(cert, key, new Date(Date.now() + 400 * DAY_MS)), `Cannot use --tls-cert ${cert}: it expired `],
    ];
    for (const [name, call, message] of cases) assert.throws(call, (err: Error) => err.message.startsWith(message), name);
  });
});
