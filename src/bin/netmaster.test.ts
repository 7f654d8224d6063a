// netmaster's flags are checked before it opens the store or makes a CA: a bad one is a message naming it and
// exit 22.

import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, describe, it } from "node:test";

import { run } from "../lib/process.js";

const NETMASTER = fileURLToPath(new URL("./netmaster.js", import.meta.url));

describe("netmaster flags", () => {
  const dir = mkdtempSync(join(tmpdir(), "netmaster-flags-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const bad: [string[], RegExp][] = [
    [["--error-status", "go"], /option '--error-status <mode>' argument 'go' is invalid\. Allowed choices are http, contiv/],
    [["--error-status"], /option '--error-status <mode>' argument missing/],
    [["--fwdmode", "bogus"], /option '--fwdmode <mode>' argument 'bogus' is invalid/],
    [["--leader-ttl", "0"], /--leader-ttl must be a positive number of seconds/],
    [["--token-ttl", "5"], /--token-ttl must be a whole number of seconds from 60/],
    [["--token-ttl", "1.5e9"], /--token-ttl must be a whole number of seconds from 60/],
    [["--initial-admin-password-file", "/nonexistent/pw"], /Cannot read --initial-admin-password-file \/nonexistent\/pw/],
    [["--ldap-ca-file", "/nonexistent/ca.pem"], /--ldap-ca-file/],
    [["--plain-http", "--listen-url", "0.0.0.0:9"], /Cannot serve plain HTTP on --listen-url host "0\.0\.0\.0": only on loopback/],
    [["--plain-http", "--control-url", "10.0.0.1:9"], /Cannot serve plain HTTP on --control-url host "10\.0\.0\.1": only on loopback/],
    [["--plain-http", "--tls-names", "nm.example"], /Give either --plain-http or --tls-names, not both/],
    [["--tls-cert", "/nonexistent/server.crt"], /Give both --tls-cert and --tls-key, or neither/],
    [["--ca-file", "/nonexistent/ca.crt"], /Cannot read --ca-file \/nonexistent\/ca\.crt/],
  ];
  for (const [args, message] of bad) {
    it(`refuses ${args.join(" ")}`, async () => {
      const r = await run([process.execPath, NETMASTER, "--listen-url", "127.0.0.1:9", "--store", `sqlite://${join(dir, "state.db")}`, "--state-dir", join(dir, "state"), ...args], { timeoutMs: 10_000 });
      assert.equal(r.code, 22, r.stderr);
      assert.match(r.stderr, message);
      assert.deepEqual(readdirSync(dir), [], "refused before the store was opened or a CA made");
    });
  }
});
