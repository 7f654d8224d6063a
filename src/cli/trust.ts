// Which certificate authorities netctl trusts for an https netmaster: --ca-file, else $NETMASTER_CA_FILE,
// else Node's default roots. An explicit CA file is a statement of trust: that CA alone, as with curl's
// --cacert. netmaster makes its own CA when given no certificate (ca.crt in its --state-dir), so a copy of that
// file is what netctl is given.

import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";

import { FileError } from "./errors.js";

export interface Trust {
  /** PEM certificates to verify netmaster against; undefined means Node's default roots. */
  ca?: string[];
  /** The CA file in use, to name it when verification fails. */
  caFile?: string;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The certificates in a PEM file's text; throws if one does not parse, returns [] if there are none. */
export function pemCertificates(text: string): string[] {
  const certs = text.match(PEM_CERT) ?? [];
  for (const pem of certs) new X509Certificate(pem);
  return certs;
}

/**
 * The trust for an https netmaster: `flag` (--ca-file), else $NETMASTER_CA_FILE, else the default roots. A file
 * that cannot be read or holds no certificate is a FileError (exit 4).
 */
export function resolveTrust(flag: string | undefined, env: Record<string, string | undefined>): Trust {
  const explicit = flag?.trim() || env["NETMASTER_CA_FILE"]?.trim();
  if (!explicit) return {};
  let certs: string[];
  try {
    certs = pemCertificates(readFileSync(explicit, "utf8"));
  } catch (err) {
    throw new FileError(`Cannot use CA file "${explicit}": ${(err as Error).message}`, { cause: err });
  }
  if (certs.length === 0) throw new FileError(`Cannot use CA file "${explicit}": no PEM certificate in it`);
  return { ca: certs, caFile: explicit };
}
