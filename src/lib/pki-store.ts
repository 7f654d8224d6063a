// netmaster's TLS files. Either the operator's (--tls-cert, --tls-key), checked before use, or generated in
// the state directory on first start and kept there, as etcd and k3s do:
//
//   ca.crt, ca.key          the CA that clients trust (made once, never replaced by netmaster)
//   server.crt, server.key  the serving certificate, re-issued from the same CA when a name it must carry
//                           is missing, when it nears its end, or when it does not match its key or the CA
//
// Clients keep trusting ca.crt across every re-issue. Replicas that share a CA (copied ca.crt and ca.key)
// each issue their own serving certificate for their own names. All files are 0600, the directory 0700.

import { readFileSync } from "node:fs";
import { createPrivateKey, X509Certificate, type KeyObject } from "node:crypto";
import { join } from "node:path";
import { createAuthority, issueServing, missingNames, parseCertificates, type CertAndKey } from "./pki.js";
import { makePrivateDir, writePrivateFile } from "./private-files.js";

export const CA_CERT_FILE = "ca.crt";
export const CA_KEY_FILE = "ca.key";
export const SERVING_CERT_FILE = "server.crt";
export const SERVING_KEY_FILE = "server.key";
/** A serving certificate this close to its end is re-issued (k3s renews within 90 days of a one-year life). */
export const RENEW_WITHIN_DAYS = 30;
const DAY_MS = 86_400_000;

export interface GeneratedServing extends CertAndKey {
  /** The CA clients trust, and its file. */
  ca: string;
  caFile: string;
  /** What was done: "created" (a new CA and certificate), "issued" (a new certificate), "reused". */
  action: "created" | "issued" | "reused";
  /** Why the certificate was issued; empty when reused. */
  reasons: string[];
}

function readIfExists(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new Error(`Cannot read ${path}: ${(err as Error).message}`);
  }
}

function readPem(path: string, what: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    throw new Error(`Cannot read ${what} ${path}: ${(err as Error).message}`);
  }
}

function parseKey(pem: string, path: string, what: string): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (err) {
    throw new Error(`Cannot use ${what} ${path}: not a PEM private key (${(err as Error).message})`);
  }
}

function firstCertificate(pem: string, path: string, what: string): X509Certificate {
  try {
    return parseCertificates(pem)[0]!;
  } catch (err) {
    throw new Error(`Cannot use ${what} ${path}: ${(err as Error).message}`);
  }
}

/** Why the serving certificate in hand cannot be kept; empty when it can. */
function reissueReasons(o: { cert?: string; key?: string; ca: X509Certificate; names: string[]; now: Date }): string[] {
  if (o.cert === undefined || o.key === undefined) return ["no serving certificate yet"];
  let cert: X509Certificate;
  let key: KeyObject;
  try {
    cert = new X509Certificate(o.cert);
    key = createPrivateKey(o.key);
  } catch (err) {
    return [`the serving certificate or key is unreadable: ${(err as Error).message}`];
  }
  const reasons: string[] = [];
  if (!cert.checkPrivateKey(key)) reasons.push("the serving key does not match the certificate");
  if (!cert.checkIssued(o.ca) || !cert.verify(o.ca.publicKey)) reasons.push("the serving certificate is not signed by the CA");
  const missing = missingNames(cert, o.names);
  if (missing.length > 0) reasons.push(`names missing: ${missing.join(", ")}`);
  if (new Date(cert.validTo).getTime() - o.now.getTime() < RENEW_WITHIN_DAYS * DAY_MS) reasons.push(`it expires ${new Date(cert.validTo).toISOString()}`);
  return reasons;
}

/**
 * The CA and serving certificate in `dir`, made or re-issued as needed (see the top of this file). Throws,
 * changing nothing, when the CA files are unusable: ca.key without ca.crt, a key that does not match, an
 * expired CA, or a certificate to issue with no ca.key.
 */
export async function loadOrCreateServing(o: { dir: string; names: string[]; now?: Date }): Promise<GeneratedServing> {
  const now = o.now ?? new Date();
  const path = (file: string) => join(o.dir, file);
  makePrivateDir(o.dir);
  let caCert = readIfExists(path(CA_CERT_FILE));
  let caKey = readIfExists(path(CA_KEY_FILE));
  let created = false;
  if (caCert === undefined) {
    if (caKey !== undefined) throw new Error(`Cannot use the CA in ${o.dir}: ${CA_KEY_FILE} is there without ${CA_CERT_FILE}`);
    ({ cert: caCert, key: caKey } = await createAuthority({ commonName: "netplugin netmaster CA", now }));
    // The key first: after a crash between the two, the next start refuses a key without its certificate
    // rather than hand out a CA certificate whose key is lost.
    writePrivateFile(path(CA_KEY_FILE), caKey);
    writePrivateFile(path(CA_CERT_FILE), caCert);
    created = true;
  }
  const ca = firstCertificate(caCert, path(CA_CERT_FILE), "the CA certificate");
  if (!ca.ca) throw new Error(`Cannot use the CA in ${o.dir}: ${CA_CERT_FILE} is not a CA certificate`);
  if (new Date(ca.validTo).getTime() <= now.getTime()) {
    throw new Error(`Cannot use the CA in ${o.dir}: it expired ${new Date(ca.validTo).toISOString()}; move ${CA_CERT_FILE} and ${CA_KEY_FILE} away for a new one (clients must then trust the new ${CA_CERT_FILE})`);
  }
  if (caKey !== undefined && !ca.checkPrivateKey(parseKey(caKey, path(CA_KEY_FILE), "the CA key"))) {
    throw new Error(`Cannot use the CA in ${o.dir}: ${CA_KEY_FILE} does not match ${CA_CERT_FILE}`);
  }

  const cert = readIfExists(path(SERVING_CERT_FILE));
  const key = readIfExists(path(SERVING_KEY_FILE));
  const reasons = reissueReasons({ cert, key, ca, names: o.names, now });
  if (reasons.length === 0) return { ca: caCert, caFile: path(CA_CERT_FILE), cert: cert!, key: key!, action: "reused", reasons };
  if (caKey === undefined) {
    throw new Error(`Cannot issue a serving certificate in ${o.dir} (${reasons.join("; ")}): ${CA_KEY_FILE} is missing; put the CA's key there or give --tls-cert and --tls-key`);
  }
  const issued = await issueServing({ cert: caCert, key: caKey }, o.names, { now });
  // The key first: a crash between the two leaves a pair that does not match, which the next start re-issues.
  writePrivateFile(path(SERVING_KEY_FILE), issued.key);
  writePrivateFile(path(SERVING_CERT_FILE), issued.cert);
  return { ca: caCert, caFile: path(CA_CERT_FILE), ...issued, action: created ? "created" : "issued", reasons };
}

/**
 * The operator's certificate (a chain file, the leaf first) and key, checked: both readable, the key the
 * leaf's, the leaf within its validity. Throws naming the flag and the file.
 */
export function readServingFiles(certFile: string, keyFile: string, now = new Date()): CertAndKey & { leaf: X509Certificate } {
  const cert = readPem(certFile, "--tls-cert");
  const key = readPem(keyFile, "--tls-key");
  const leaf = firstCertificate(cert, certFile, "--tls-cert");
  if (!leaf.checkPrivateKey(parseKey(key, keyFile, "--tls-key"))) throw new Error(`Cannot use --tls-key ${keyFile}: it is not the key of --tls-cert ${certFile}`);
  if (new Date(leaf.validTo).getTime() <= now.getTime()) throw new Error(`Cannot use --tls-cert ${certFile}: it expired ${new Date(leaf.validTo).toISOString()}`);
  if (new Date(leaf.validFrom).getTime() > now.getTime()) throw new Error(`Cannot use --tls-cert ${certFile}: it is valid only from ${new Date(leaf.validFrom).toISOString()}`);
  return { cert, key, leaf };
}
