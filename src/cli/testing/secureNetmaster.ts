// Test support: the fake netmaster as the real one now runs — https with a certificate from its own CA,
// auth_proxy built in — with a temporary HOME and a copy of the CA for netctl to trust.

import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { FakeAuthProxy } from "./fakeAuthProxy.js";
import { fakeNetmaster, type CannedResponse, type FakeNetmaster } from "./fakeNetmaster.js";
import type { TestPki } from "./pki.js";
import { tempDir } from "./tempDir.js";

export interface SecureNetmaster {
  fake: FakeNetmaster;
  auth: FakeAuthProxy;
  /** netmaster's CA, as netctl's --ca-file. */
  caFile: string;
  /** A HOME of its own for netctl, empty at the start. */
  home: string;
  /** NETMASTER, NETMASTER_CA_FILE and HOME for netctl, plus `extra`. */
  env(extra?: Record<string, string>): Record<string, string>;
  close(): Promise<void>;
}

export async function startSecureNetmaster(pki: TestPki, routes: Record<string, CannedResponse> = {}): Promise<SecureNetmaster> {
  const dir = tempDir();
  try {
    const caFile = join(dir.path, "ca.crt");
    writeFileSync(caFile, pki.caCert);
    const home = join(dir.path, "home");
    mkdirSync(home);
    const auth = new FakeAuthProxy();
    const fake = await fakeNetmaster(routes, { tls: { key: pki.serverKey, cert: pki.serverCert }, auth });
    return {
      fake,
      auth,
      caFile,
      home,
      env: (extra = {}) => ({ NETMASTER: fake.url, NETMASTER_CA_FILE: caFile, HOME: home, ...extra }),
      close: async () => {
        try {
          await fake.close();
        } finally {
          dir.remove();
        }
      },
    };
  } catch (err) {
    dir.remove();
    throw err;
  }
}
