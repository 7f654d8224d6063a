// --insecure against a real TLS server with a self-signed certificate made by openssl for this run.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";

import { runNetctl } from "./testing/fakeNetmaster.js";

function selfSigned(): { key: Buffer; cert: Buffer } | undefined {
  const dir = mkdtempSync(join(tmpdir(), "netctl-tls-"));
  try {
    execFileSync(
      "openssl",
      ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
        "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem")],
      { stdio: "ignore" },
    );
    return { key: readFileSync(join(dir, "key.pem")), cert: readFileSync(join(dir, "cert.pem")) };
  } catch {
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const creds = selfSigned();

describe("netctl over https", { skip: creds ? false : "openssl is not installed" }, () => {
  let server: https.Server;
  let url = "";
  before(async () => {
    server = https.createServer({ key: creds?.key, cert: creds?.cert }, (_req, res) => {
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end('[{"tenantName":"default"}]');
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("refuses a self-signed certificate by default", async () => {
    const r = await runNetctl(["tenant", "ls", "-q"], { NETMASTER: url });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^Error: Error connecting to netmaster: GET https:.*certificate/);
  });

  it("accepts it with --insecure or INSECURE=true", async () => {
    assert.deepEqual(await runNetctl(["--insecure", "tenant", "ls", "-q"], { NETMASTER: url }), {
      code: 0,
      stdout: "default\n",
      stderr: "",
    });
    assert.equal((await runNetctl(["tenant", "ls", "-q"], { NETMASTER: url, INSECURE: "true" })).code, 0);
  });
});
