// X.509 for netmaster's HTTPS, as etcd and k3s generate theirs: a CA of its own and a serving certificate
// signed by it, both ECDSA P-256 with SHA-256. Generation uses @peculiar/x509 over Node's WebCrypto (Node
// has no certificate builder); reading and checking use node:crypto's X509Certificate.

import { createPrivateKey, randomBytes, webcrypto, X509Certificate, type KeyObject } from "node:crypto";
import { isIP } from "node:net";
import { x509 } from "./x509.js";

export { parseCertificates } from "./pem.js";

/** A certificate and its private key, both PEM. */
export interface CertAndKey {
  cert: string;
  key: string;
}

const DAY_MS = 86_400_000;
export const CA_VALIDITY_DAYS = 3650;
export const SERVING_VALIDITY_DAYS = 365;
/** Made an hour in the past, so that a client whose clock is a little behind accepts a certificate made now. */
const BACKDATE_MS = 3_600_000;

const P256 = { name: "ECDSA", namedCurve: "P-256" } as const;
const ECDSA_SHA256 = { name: "ECDSA", hash: "SHA-256" } as const;

const DNS_LABEL = "[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?";
const DNS_NAME = new RegExp(`^(\\*\\.)?${DNS_LABEL}(\\.${DNS_LABEL})*$`);

/** An IP address or a DNS name (a leading "*." allowed, a trailing dot dropped), as it goes into a certificate. */
export function parseServingName(name: string): { type: "ip" | "dns"; value: string } {
  if (isIP(name)) return { type: "ip", value: name };
  const dns = name.replace(/\.$/, "").toLowerCase();
  if (dns.length > 253 || !DNS_NAME.test(dns)) throw new Error(`Invalid name "${name}": expected a DNS name or an IP address`);
  return { type: "dns", value: dns };
}

/**
 * The names a serving certificate needs: where clients reach netmaster (the machine's name, loopback, the
 * listen and control addresses) and any extra ones. A wildcard listen address is no name; nor is a host name
 * that is not a valid DNS name (it could not be checked either).
 */
export function servingNames(o: { hostname: string; listenHost: string; controlHost?: string; extra?: string[] }): string[] {
  const out = new Set<string>();
  const add = (name: string | undefined) => {
    if (name === undefined || name === "" || name === "0.0.0.0" || name === "::") return;
    try {
      out.add(parseServingName(name).value);
    } catch {
      // a machine name like "my host" cannot be in a certificate; the others still are
    }
  };
  for (const name of [o.hostname, "localhost", "127.0.0.1", "::1", o.listenHost, o.controlHost]) add(name);
  for (const name of o.extra ?? []) out.add(parseServingName(name).value);
  return [...out];
}

function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x40; // positive, and a full 16 bytes
  return bytes.toString("hex");
}

function keyPem(key: ArrayBuffer): string {
  return createPrivateKey({ key: Buffer.from(key), format: "der", type: "pkcs8" }).export({ format: "pem", type: "pkcs8" }).toString();
}

/** A new self-signed CA that may sign serving certificates only (path length 0). */
export async function createAuthority(o: { commonName: string; now?: Date }): Promise<CertAndKey> {
  const now = o.now ?? new Date();
  const keys = await webcrypto.subtle.generateKey(P256, true, ["sign", "verify"]);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: [{ CN: [o.commonName] }, { O: ["netplugin"] }],
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(now.getTime() + CA_VALIDITY_DAYS * DAY_MS),
    keys: keys as CryptoKeyPair,
    signingAlgorithm: ECDSA_SHA256,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey as CryptoKey),
    ],
  });
  return { cert: cert.toString("pem"), key: keyPem(await webcrypto.subtle.exportKey("pkcs8", keys.privateKey as CryptoKey)) };
}

/** The CA's key for signing, with the signature it makes: ECDSA P-256 or P-384, or RSA (an operator's own CA). */
async function signerOf(key: KeyObject): Promise<{ key: CryptoKey; algorithm: Algorithm | EcdsaParams }> {
  const der = key.export({ format: "der", type: "pkcs8" });
  if (key.asymmetricKeyType === "ec") {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    const namedCurve = curve === "prime256v1" ? "P-256" : curve === "secp384r1" ? "P-384" : undefined;
    if (namedCurve === undefined) throw new Error(`its EC curve ${curve} is not supported: expected P-256 or P-384`);
    const hash = namedCurve === "P-384" ? "SHA-384" : "SHA-256";
    return { key: (await webcrypto.subtle.importKey("pkcs8", der, { name: "ECDSA", namedCurve }, false, ["sign"])) as CryptoKey, algorithm: { name: "ECDSA", hash } };
  }
  if (key.asymmetricKeyType === "rsa") {
    const algorithm = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
    return { key: (await webcrypto.subtle.importKey("pkcs8", der, algorithm, false, ["sign"])) as CryptoKey, algorithm };
  }
  throw new Error(`its key type ${key.asymmetricKeyType} is not supported: expected EC or RSA`);
}

/**
 * A serving certificate for `names` (parseServingName's), signed by `authority`, with a new key. It is valid
 * for SERVING_VALIDITY_DAYS, or until the CA expires if that is sooner. Throws when the CA cannot sign.
 */
export async function issueServing(authority: CertAndKey, names: string[], o: { now?: Date } = {}): Promise<CertAndKey> {
  if (names.length === 0) throw new Error("Cannot issue a serving certificate: no names given");
  const now = o.now ?? new Date();
  const ca = new x509.X509Certificate(authority.cert);
  const caKey = createPrivateKey(authority.key);
  if (!new X509Certificate(authority.cert).checkPrivateKey(caKey)) throw new Error("Cannot issue a serving certificate: the CA's key does not match its certificate");
  let signer;
  try {
    signer = await signerOf(caKey);
  } catch (err) {
    throw new Error(`Cannot issue a serving certificate with this CA: ${(err as Error).message}`);
  }
  const keys = await webcrypto.subtle.generateKey(P256, true, ["sign", "verify"]);
  const sans = names.map(parseServingName);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: [{ CN: [sans[0]!.value] }, { O: ["netplugin"] }],
    issuer: ca.subjectName,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(Math.min(now.getTime() + SERVING_VALIDITY_DAYS * DAY_MS, ca.notAfter.getTime())),
    publicKey: keys.publicKey as CryptoKey,
    signingKey: signer.key,
    signingAlgorithm: signer.algorithm,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(sans),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey as CryptoKey),
      await x509.AuthorityKeyIdentifierExtension.create(ca),
    ],
  });
  return { cert: cert.toString("pem"), key: keyPem(await webcrypto.subtle.exportKey("pkcs8", keys.privateKey as CryptoKey)) };
}

/** The names a client could not check `cert` against: those its subject alternative names do not cover. */
export function missingNames(cert: X509Certificate, names: string[]): string[] {
  return names.filter((name) => {
    const { type, value } = parseServingName(name);
    return type === "ip" ? cert.checkIP(value) === undefined : cert.checkHost(value, { subject: "never" }) === undefined;
  });
}

