// NetmasterFetch against real HTTPS and HTTP servers on loopback, with a CA made for the run.

import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer, type IncomingHttpHeaders, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { NetmasterFetch } from "./netmaster-fetch.js";
import { createAuthority, issueServing, type CertAndKey } from "./pki.js";

async function listen(server: Server): Promise<number> {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return (server.address() as AddressInfo).port;
}

describe("NetmasterFetch", () => {
  const dir = mkdtempSync(join(tmpdir(), "netmaster-fetch-test-"));
  let ca: CertAndKey;
  let https: Server;
  let http: Server;
  let httpsUrl = "";
  let httpUrl = "";
  let seen: IncomingHttpHeaders = {};
  const clients: NetmasterFetch[] = [];
  const client = (o: ConstructorParameters<typeof NetmasterFetch>[0]) => {
    const c = new NetmasterFetch(o);
    clients.push(c);
    return c;
  };

  before(async () => {
    ca = await createAuthority({ commonName: "fetch test CA" });
    const serving = await issueServing(ca, ["localhost", "127.0.0.1"]);
    const handler = (req: { headers: IncomingHttpHeaders }, res: { end: (s: string) => void }) => {
      seen = req.headers;
      res.end("ok");
    };
    https = createHttpsServer({ cert: serving.cert, key: serving.key }, handler);
    http = createHttpServer(handler);
    httpsUrl = `https://127.0.0.1:${await listen(https)}`;
    httpUrl = `http://127.0.0.1:${await listen(http)}`;
  });
  after(async () => {
    for (const c of clients) await c.close();
    https.close();
    http.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("trusts the CA it is given, in PEM or in a file, and sends the request's headers", async () => {
    const caFile = join(dir, "ca.crt");
    writeFileSync(caFile, ca.cert);
    const res = await client({ caFile }).fetch(`${httpsUrl}/info`, { headers: { "x-auth-token": "t1" } });
    assert.equal(await res.text(), "ok");
    assert.equal(seen["x-auth-token"], "t1");
    assert.equal((await client({ ca: ca.cert }).fetch(`${httpsUrl}/`)).status, 200);
  });

  it("refuses a server its trust does not cover, saying what it trusted", async () => {
    const stranger = await createAuthority({ commonName: "stranger" });
    await assert.rejects(client({ ca: stranger.cert }).fetch(`${httpsUrl}/`), {
      message: `Cannot verify the TLS certificate of ${httpsUrl}: unable to verify the first certificate (UNABLE_TO_VERIFY_LEAF_SIGNATURE); trusted: the CA given`,
    });
    await assert.rejects(client({}).fetch(`${httpsUrl}/`), /^Error: Cannot verify the TLS certificate .*; trusted: the system's CAs$/);
  });

  it("checks nothing when insecure", async () => {
    assert.equal((await client({ insecure: true }).fetch(`${httpsUrl}/`)).status, 200);
  });

  it("speaks plain HTTP to an http:// URL, and says which scheme is wrong when it does not match", async () => {
    assert.equal(await (await client({ ca: ca.cert }).fetch(`${httpUrl}/`)).text(), "ok");
    await assert.rejects(client({ ca: ca.cert }).fetch(`${httpUrl.replace("http:", "https:")}/`), /does not speak TLS: .*then use http:\/\//);
    await assert.rejects(client({ ca: ca.cert }).fetch(`${httpsUrl.replace("https:", "http:")}/`), /netmaster serves HTTPS unless --plain-http: use https:\/\//);
  });

  it("lets an abort through as it is", async () => {
    await assert.rejects(client({ ca: ca.cert }).fetch(`${httpsUrl}/`, { signal: AbortSignal.abort() }), { name: "AbortError" });
  });

  it("refuses a CA file it cannot read or that holds no certificate", () => {
    assert.throws(() => new NetmasterFetch({ caFile: join(dir, "nope.crt") }), /^Error: Cannot read --ca-file .*nope\.crt: ENOENT/);
    const notPem = join(dir, "key.pem");
    writeFileSync(notPem, ca.key);
    assert.throws(() => new NetmasterFetch({ caFile: notPem }), { message: `Cannot use --ca-file ${notPem}: no PEM certificate in it` });
    // A broken certificate after a good one is refused at once, not later inside a TLS handshake.
    const brokenSecond = join(dir, "chain.pem");
    writeFileSync(brokenSecond, `${ca.cert}-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n`);
    assert.throws(() => new NetmasterFetch({ caFile: brokenSecond }), new RegExp(`^Error: Cannot use --ca-file ${brokenSecond.replace(/[.]/g, "\\.")}: `));
  });
});
