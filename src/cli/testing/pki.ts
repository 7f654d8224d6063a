// Test support: a throwaway CA and a server certificate it signed for 127.0.0.1 and localhost, as
// netmaster's generated CA would issue, plus an unrelated CA to show that trusting the wrong one fails.
// Made with openssl for each run; nothing is left on disk.

import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { must, run } from "../../lib/process.js";
import { tempDir } from "./tempDir.js";

export interface TestPki {
  caCert: string;
  serverKey: string;
  serverCert: string;
  /** A CA that signed nothing here. */
  otherCaCert: string;
}

const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

async function makeCa(dir: string, name: string): Promise<void> {
  await must(["openssl", "req", "-x509", ...EC, "-keyout", join(dir, `${name}.key`), "-out", join(dir, `${name}.crt`),
    "-days", "1", "-subj", `/CN=${name}`,
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
}

/** A fresh PKI, or undefined when openssl is not installed. */
export async function makeTestPki(): Promise<TestPki | undefined> {
  if ((await run(["openssl", "version"])).code !== 0) return undefined;
  const { path: dir, remove } = tempDir("netctl-pki-");
  try {
    await makeCa(dir, "test-ca");
    await makeCa(dir, "other-ca");
    await must(["openssl", "req", ...EC, "-keyout", join(dir, "server.key"), "-out", join(dir, "server.csr"), "-subj", "/CN=netmaster"]);
    writeFileSync(join(dir, "ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
    await must(["openssl", "x509", "-req", "-in", join(dir, "server.csr"), "-CA", join(dir, "test-ca.crt"),
      "-CAkey", join(dir, "test-ca.key"), "-set_serial", "2", "-days", "1", "-extfile", join(dir, "ext"),
      "-out", join(dir, "server.crt")]);
    const read = (f: string): string => readFileSync(join(dir, f), "utf8");
    return { caCert: read("test-ca.crt"), serverKey: read("server.key"), serverCert: read("server.crt"), otherCaCert: read("other-ca.crt") };
  } finally {
    remove();
  }
}
