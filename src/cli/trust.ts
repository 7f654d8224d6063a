// Which certificate authorities netctl trusts for an https netmaster.
//
// netmaster makes its own CA when none is given and keeps it at NETMASTER_CA_FILE on its host. An explicit
// --ca-file (or $NETMASTER_CA_FILE) is a statement of trust: that CA alone, as with curl's --cacert. The
// host's copy is only a convenience for netctl run next to netmaster, so it is trusted alongside the public
// roots: it must never stop netctl from reaching a netmaster behind a publicly trusted certificate.

import { certificateBlocks } from "../lib/pem.js";
import { readFileSync } from "node:fs";
import { rootCertificates } from "node:tls";

import { FileError } from "./errors.js";

export const NETMASTER_CA_FILE = "/var/lib/netplugin/ca.crt";

export interface Trust {
  /** PEM certificates to verify netmaster against; undefined means Node's default roots. */
  ca?: string[];
  /** The CA file in use, to name it when verification fails. */
  caFile?: string;
}

/**
 * The trust for an https netmaster: `flag` (--ca-file), else $NETMASTER_CA_FILE, else `hostCaFile` if it
 * is readable and holds a certificate, else the default roots. An explicit file that cannot be read or
 * holds no certificate is a FileError (exit 4).
 */
export function resolveTrust(
  flag: string | undefined,
  env: Record<string, string | undefined>,
  hostCaFile: string = NETMASTER_CA_FILE,
): Trust {
  const explicit = flag?.trim() || env["NETMASTER_CA_FILE"]?.trim();
  if (explicit) {
    let certs: string[];
    try {
      certs = certificateBlocks(readFileSync(explicit, "utf8"));
    } catch (err) {
      throw new FileError(`Cannot use CA file "${explicit}": ${(err as Error).message}`, { cause: err });
    }
    if (certs.length === 0) throw new FileError(`Cannot use CA file "${explicit}": no PEM certificate in it`);
    return { ca: certs, caFile: explicit };
  }
  try {
    const certs = certificateBlocks(readFileSync(hostCaFile, "utf8"));
    if (certs.length > 0) return { ca: [...rootCertificates, ...certs], caFile: hostCaFile };
  } catch {
    // absent, unreadable or not a certificate: this host is not netmaster's, use the default roots
  }
  return {};
}
