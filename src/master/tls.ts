// How netmaster serves its API: HTTPS with the operator's certificate (--tls-cert, --tls-key), HTTPS with a
// certificate it makes and keeps in its state directory (lib/pki-store.ts), or plain HTTP, which only a
// loopback address may have. planServing decides from the flags alone and reads only the operator's files, so
// a bad flag is refused before anything is made; startServing then makes what the plan needs.
//
// Replicas forward writes to their leader over the same HTTPS, so they trust: --ca-file when given, else the
// generated CA, else (the operator's certificate) the system's CAs and the certificates of --tls-cert, which
// covers a self-signed certificate shared by every replica.

import type { X509Certificate } from "node:crypto";
import { rootCertificates } from "node:tls";
import { isLoopbackHost } from "../lib/host-port.js";
import { readCaFile } from "../lib/netmaster-fetch.js";
import { missingNames, parseCertificates, servingNames, type CertAndKey } from "../lib/pki.js";
import { loadOrCreateServing, readServingFiles } from "../lib/pki-store.js";

export interface TlsFlags {
  stateDir: string;
  tlsCert?: string;
  tlsKey?: string;
  /** The CA of the other replicas' certificates. */
  caFile?: string;
  /** Extra names for a generated certificate. */
  tlsNames: string[];
  plainHttp: boolean;
  listenHost: string;
  controlHost?: string;
  hostname: string;
}

export type ServingPlan =
  | { scheme: "http"; names: string[] }
  | { scheme: "https"; given: CertAndKey & { leaf: X509Certificate }; peerCa: string[] }
  | { scheme: "https"; generateIn: string; names: string[]; peerCa?: string };

/** Throws an Error naming the flag for flags that do not go together or files that cannot be used. */
export function planServing(f: TlsFlags): ServingPlan {
  if (f.plainHttp) {
    const tlsFlag = f.tlsCert !== undefined ? "--tls-cert" : f.tlsKey !== undefined ? "--tls-key" : f.caFile !== undefined ? "--ca-file" : f.tlsNames.length > 0 ? "--tls-names" : undefined;
    if (tlsFlag) throw new Error(`Give either --plain-http or ${tlsFlag}, not both`);
    for (const [flag, host] of [["--listen-url", f.listenHost], ["--control-url", f.controlHost]] as const) {
      if (host !== undefined && !isLoopbackHost(host)) {
        throw new Error(`Cannot serve plain HTTP on ${flag} host "${host}": only on loopback (127.0.0.0/8, ::1, localhost), since anyone on the network could read and change the cluster's state; leave out --plain-http for HTTPS`);
      }
    }
    return { scheme: "http", names: ["localhost", "127.0.0.1", "::1", f.listenHost, ...(f.controlHost ? [f.controlHost] : [])] };
  }
  const peerCa = f.caFile === undefined ? undefined : readCaFile(f.caFile);
  if ((f.tlsCert === undefined) !== (f.tlsKey === undefined)) throw new Error("Give both --tls-cert and --tls-key, or neither");
  if (f.tlsCert !== undefined && f.tlsKey !== undefined) {
    if (f.tlsNames.length > 0) throw new Error("Give --tls-names only without --tls-cert: it names the certificate netmaster makes");
    const given = readServingFiles(f.tlsCert, f.tlsKey);
    return { scheme: "https", given, peerCa: peerCa !== undefined ? [peerCa] : [...rootCertificates, ...parseCertificates(given.cert).map((c) => c.toString())] };
  }
  const names = servingNames({ hostname: f.hostname, listenHost: f.listenHost, ...(f.controlHost ? { controlHost: f.controlHost } : {}), extra: f.tlsNames });
  return { scheme: "https", generateIn: f.stateDir, names, ...(peerCa !== undefined ? { peerCa } : {}) };
}

export interface Serving {
  scheme: "http" | "https";
  /** The certificate and key to serve (https). */
  credentials?: CertAndKey;
  /** What replicas trust when they reach each other; undefined: the system's CAs. */
  peerCa?: string | string[];
  /** Whether a client may reach it by this name (a Host header's host): the names its certificate is for. */
  isServerName: (host: string) => boolean;
  /** Fields to log about it. */
  describe: Record<string, unknown>;
  /** A generated certificate only: checks it again, and returns new credentials when it was re-issued. */
  renew?: () => Promise<CertAndKey | undefined>;
}

/** Makes what the plan needs (a generated CA and certificate); throws when the state directory's CA is unusable. */
export async function startServing(plan: ServingPlan): Promise<Serving> {
  if (plan.scheme === "http") return { scheme: "http", isServerName: oneOf(plan.names), describe: { tls: "off (--plain-http)" } };
  if ("given" in plan) {
    const { leaf, cert, key } = plan.given;
    return { scheme: "https", credentials: { cert, key }, peerCa: plan.peerCa, isServerName: (host) => coversName(leaf, host), describe: { tls: "--tls-cert" } };
  }
  const load = () => loadOrCreateServing({ dir: plan.generateIn, names: plan.names });
  const first = await load();
  return {
    scheme: "https",
    credentials: { cert: first.cert, key: first.key },
    peerCa: plan.peerCa ?? first.ca,
    isServerName: oneOf(plan.names),
    describe: { tls: "generated", certificate: first.action, ...(first.reasons.length > 0 ? { why: first.reasons } : {}), ca: first.caFile, names: plan.names },
    renew: async () => {
      const again = await load();
      return again.action === "reused" ? undefined : { cert: again.cert, key: again.key };
    },
  };
}

function oneOf(names: string[]): (host: string) => boolean {
  const set = new Set(names.map((n) => n.toLowerCase()));
  return (host) => set.has(host);
}

function coversName(cert: X509Certificate, host: string): boolean {
  try {
    return missingNames(cert, [host]).length === 0;
  } catch {
    return false; // not a name a certificate could hold
  }
}
