import assert from "node:assert/strict";
import { createPrivateKey, webcrypto, X509Certificate } from "node:crypto";
import { once } from "node:events";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { connect } from "node:tls";
import { after, before, describe, it } from "node:test";
import { x509 } from "./x509.js";
import { createAuthority, issueServing, missingNames, parseCertificates, parseServingName, servingNames, type CertAndKey } from "./pki.js";

/** Connects to 127.0.0.1:port as `servername` trusting `ca`; resolves with the TLS error code, or "ok". */
async function handshake(port: number, servername: string, ca: string | undefined): Promise<string> {
  const socket = connect({ host: "127.0.0.1", port, ...(ca ? { ca } : {}), ...(servername === "127.0.0.1" ? {} : { servername }) });
  try {
    await once(socket, "secureConnect");
    return "ok";
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? String(err);
  } finally {
    socket.destroy();
  }
}

describe("a generated CA and serving certificate", () => {
  let ca: CertAndKey;
  let serving: CertAndKey;
  let server: Server;
  let port = 0;

  before(async () => {
    ca = await createAuthority({ commonName: "test CA" });
    serving = await issueServing(ca, ["nm1.example", "localhost", "127.0.0.1", "::1", "198.18.0.1"]);
    server = createServer({ cert: serving.cert, key: serving.key }, (_req, res) => res.end("ok"));
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    port = (server.address() as AddressInfo).port;
  });
  after(() => server.close());

  it("is a CA that signed itself, with its key", () => {
    const cert = new X509Certificate(ca.cert);
    assert.equal(cert.ca, true);
    assert.ok(cert.verify(cert.publicKey));
    assert.ok(cert.checkPrivateKey(createPrivateKey(ca.key)));
    assert.match(cert.subject, /CN=test CA/);
  });

  it("issues a serving certificate that chains to the CA and carries every name", () => {
    const cert = new X509Certificate(serving.cert);
    const authority = new X509Certificate(ca.cert);
    assert.equal(cert.ca, false);
    assert.ok(cert.checkIssued(authority));
    assert.ok(cert.verify(authority.publicKey));
    assert.ok(cert.checkPrivateKey(createPrivateKey(serving.key)));
    assert.deepEqual(missingNames(cert, ["nm1.example", "localhost", "127.0.0.1", "::1", "0:0::1", "198.18.0.1"]), []);
    assert.deepEqual(missingNames(cert, ["nm2.example", "10.0.0.1"]), ["nm2.example", "10.0.0.1"]);
    assert.match(cert.keyUsage?.join(",") ?? "", /1\.3\.6\.1\.5\.5\.7\.3\.1/); // serverAuth
  });

  it("passes node:tls verification with the CA, by name and by IP, and fails without it or for another name", async () => {
    assert.equal(await handshake(port, "localhost", ca.cert), "ok");
    assert.equal(await handshake(port, "nm1.example", ca.cert), "ok");
    assert.equal(await handshake(port, "127.0.0.1", ca.cert), "ok");
    assert.equal(await handshake(port, "localhost", undefined), "UNABLE_TO_VERIFY_LEAF_SIGNATURE");
    assert.equal(await handshake(port, "other.example", ca.cert), "ERR_TLS_CERT_ALTNAME_INVALID");
    const stranger = await createAuthority({ commonName: "another CA" });
    assert.equal(await handshake(port, "localhost", stranger.cert), "UNABLE_TO_VERIFY_LEAF_SIGNATURE");
  });

  it("ends no later than its CA", async () => {
    const now = new Date();
    const shortCa = await createAuthority({ commonName: "old CA", now: new Date(now.getTime() - 3640 * 86_400_000) });
    const cert = new X509Certificate((await issueServing(shortCa, ["localhost"], { now })).cert);
    assert.equal(cert.validTo, new X509Certificate(shortCa.cert).validTo);
  });

  it("issues from an operator's RSA CA too", async () => {
    const algorithm = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256", publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 2048 };
    const keys = (await webcrypto.subtle.generateKey(algorithm, true, ["sign", "verify"])) as CryptoKeyPair;
    const caCert = await x509.X509CertificateGenerator.createSelfSigned({
      name: "CN=operator CA",
      keys,
      signingAlgorithm: algorithm,
      extensions: [new x509.BasicConstraintsExtension(true, undefined, true)],
    });
    const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", keys.privateKey));
    const rsaCa = { cert: caCert.toString("pem"), key: createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" }).export({ format: "pem", type: "pkcs8" }).toString() };
    const cert = new X509Certificate((await issueServing(rsaCa, ["localhost"])).cert);
    assert.ok(cert.verify(new X509Certificate(rsaCa.cert).publicKey));
  });

  it("refuses a CA whose key is not its own", async () => {
    const other = await createAuthority({ commonName: "other" });
    await assert.rejects(issueServing({ cert: ca.cert, key: other.key }, ["localhost"]), /the CA's key does not match its certificate/);
  });
});

describe("serving names", () => {
  const good: [string, string, string][] = [
    ["localhost", "dns", "localhost"],
    ["NM1.Example.", "dns", "nm1.example"],
    ["*.example", "dns", "*.example"],
    ["10.0.0.1", "ip", "10.0.0.1"],
    ["fd00::1", "ip", "fd00::1"],
  ];
  for (const [name, type, value] of good) {
    it(`reads "${name}" as ${type} ${value}`, () => assert.deepEqual(parseServingName(name), { type, value }));
  }
  for (const bad of ["", "a b", "-x.example", "x..example", "http://x", "a/b", "1.2.3.4:80", `${"a".repeat(64)}.example`]) {
    it(`refuses "${bad}"`, () => assert.throws(() => parseServingName(bad), /^Error: Invalid name/));
  }

  it("default to the machine, loopback, the listen and control addresses, and the extra ones", () => {
    assert.deepEqual(servingNames({ hostname: "node1", listenHost: "10.0.0.1", controlHost: "nm.example", extra: ["vip.example"] }), [
      "node1", "localhost", "127.0.0.1", "::1", "10.0.0.1", "nm.example", "vip.example",
    ]);
  });

  it("skip a wildcard listen address and a machine name no certificate can hold, but not a bad extra name", () => {
    assert.deepEqual(servingNames({ hostname: "my host", listenHost: "0.0.0.0" }), ["localhost", "127.0.0.1", "::1"]);
    assert.deepEqual(servingNames({ hostname: "h", listenHost: "::" }), ["h", "localhost", "127.0.0.1", "::1"]);
    assert.throws(() => servingNames({ hostname: "h", listenHost: "::", extra: ["a b"] }), /Invalid name "a b"/);
  });
});

describe("parseCertificates", () => {
  it("reads every certificate of a chain file and refuses text without one", async () => {
    const a = await createAuthority({ commonName: "a" });
    const b = await createAuthority({ commonName: "b" });
    assert.deepEqual(parseCertificates(`${a.cert}\n${b.cert}`).map((c) => c.subject.split("\n")[0]), ["CN=a", "CN=b"]);
    assert.throws(() => parseCertificates(a.key), /no PEM certificate/);
  });
});
