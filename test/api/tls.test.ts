// netmaster's transport as a client meets it: HTTPS with the CA it makes in --state-dir, the same CA after a
// restart, and plain HTTP only when asked for (--plain-http, loopback).

import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { NetmasterFetch } from "../../src/lib/netmaster-fetch.js";
import { Api } from "../harness/api.js";
import { startNetmaster, sqliteUrl, tempDir } from "../harness/netmaster.js";

/** The status of a GET over a unix socket with this token. */
function statusOver(socketPath: string, path: string, token: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, headers: { "x-auth-token": token } }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("netmaster's TLS", () => {
  const dir = tempDir();
  after(() => dir.remove());

  test("serves HTTPS with a CA it keeps in --state-dir, root's alone; a client without the CA is refused", async () => {
    const stateDir = join(dir.path, "state");
    const nm = await startNetmaster({ store: sqliteUrl(dir.path), stateDir });
    const stranger = new NetmasterFetch();
    try {
      assert.match(nm.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      assert.equal((await nm.api().get("/info")).status, 200);
      await assert.rejects(stranger.fetch(`${nm.url}/version`), /^Error: Cannot verify the TLS certificate of https:\/\/127\.0\.0\.1:\d+: .*; trusted: the system's CAs$/);
      assert.deepEqual(readdirSync(stateDir).sort(), ["ca.crt", "ca.key", "join-token", "server.crt", "server.key"]);
      assert.equal(statSync(stateDir).mode & 0o777, 0o700);
      for (const f of readdirSync(stateDir)) assert.equal(statSync(join(stateDir, f)).mode & 0o777, 0o600, f);

      // A restart on the same state directory keeps the CA: what clients were given still works.
      const ca = readFileSync(nm.caFile, "utf8");
      const client = new NetmasterFetch({ caFile: nm.caFile });
      await nm.stop();
      const again = await startNetmaster({ store: sqliteUrl(dir.path), stateDir, port: nm.port });
      try {
        assert.equal(readFileSync(again.caFile, "utf8"), ca);
        assert.equal((await client.fetch(`${again.url}/version`)).status, 200);
      } finally {
        await client.close();
        await again.stop();
      }
    } finally {
      await stranger.close();
      await nm.stop();
    }
  });

  test("--plain-http serves plain HTTP on loopback, and an https:// client is told so", async () => {
    const nm = await startNetmaster({ store: sqliteUrl(join(dir.path, "plain")), args: ["--plain-http"] });
    const client = new NetmasterFetch();
    try {
      assert.match(nm.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.equal((await client.fetch(`${nm.url}/version`)).status, 200);
      await assert.rejects(client.fetch(`${nm.url.replace("http:", "https:")}/version`), /does not speak TLS: .*then use http:\/\//);
    } finally {
      await client.close();
      await nm.stop();
    }
  });

  test("--listen-socket is root's alone and takes a caller without a token for the admin, one with a token for its holder", async () => {
    const socket = join(dir.path, "nm.sock");
    const nm = await startNetmaster({ store: sqliteUrl(join(dir.path, "socket")), args: ["--listen-socket", socket] });
    try {
      assert.equal(statSync(socket).mode & 0o777, 0o600);
      const api = new Api(`unix:${socket}`);
      assert.equal((await api.get("/debug/state")).status, 200, "no token: the admin");
      assert.equal(await statusOver(socket, "/debug/state", "not-a-token"), 401, "a token is checked, even here");
      assert.equal(await statusOver(socket, "/debug/state", await nm.adminToken()), 200);
    } finally {
      await nm.stop();
    }
  });
});
