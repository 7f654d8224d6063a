import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, it } from "node:test";

import { fakeNetmaster, runNetctl, type FakeNetmaster } from "./testing/fakeNetmaster.js";

/** A port on 127.0.0.1 that nothing listens on. */
async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("netctl run", () => {
  let fake: FakeNetmaster;
  const tenants = [{ tenantName: "default" }];
  beforeEach(async () => {
    fake = await fakeNetmaster({ "GET /api/v1/tenants/": { json: tenants } });
  });
  afterEach(() => fake.close());

  it("without arguments prints help and exits 0", async () => {
    const r = await runNetctl([]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^Usage: netctl \[options\] \[command\]/);
    assert.match(r.stdout, /network\|net/);
  });

  it("--help exits 0; a group without a subcommand shows its help and exits 1", async () => {
    const help = await runNetctl(["policy", "rule-add", "--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /-P, --port <port>/);
    const group = await runNetctl(["policy"]);
    assert.equal(group.code, 1);
    assert.match(group.stderr, /rule-add/);
  });

  it("unknown commands and options are usage errors", async () => {
    const cmd = await runNetctl(["bogus"]);
    assert.equal(cmd.code, 1);
    assert.equal(cmd.stderr, "Error: Unknown command 'bogus'\n");
    const opt = await runNetctl(["tenant", "ls", "--bogus"], { NETMASTER: fake.url });
    assert.equal(opt.code, 1);
    assert.match(opt.stderr, /^Error: Unknown option '--bogus'/);
    assert.deepEqual(fake.calls(), []);
  });

  it("--netmaster beats $NETMASTER; a bare host:port gets http://", async () => {
    const port = await closedPort();
    const viaFlag = await runNetctl(["--netmaster", fake.url, "tenant", "ls", "-q"], { NETMASTER: `http://127.0.0.1:${port}` });
    assert.equal(viaFlag.code, 0, viaFlag.stderr);
    assert.equal(viaFlag.stdout, "default\n");
    const bare = await runNetctl(["tenant", "ls", "-q"], { NETMASTER: fake.url.replace("http://", "") });
    assert.equal(bare.code, 0, bare.stderr);
    const after = await runNetctl(["tenant", "ls", "-q", "--netmaster", fake.url]);
    assert.equal(after.code, 0, after.stderr);
  });

  it("a URL that is not http(s) is refused before any request (exit 1)", async () => {
    const r = await runNetctl(["tenant", "ls"], { NETMASTER: "ftp://netmaster:9999" });
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'Error: Error connecting to netmaster: invalid URL "ftp://netmaster:9999": must begin with http:// or https://\n');
  });

  it("connection refused: 'Error connecting to netmaster', exit 1", async () => {
    const port = await closedPort();
    const r = await runNetctl(["tenant", "ls"], { NETMASTER: `http://127.0.0.1:${port}` });
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "");
    assert.equal(
      r.stderr,
      `Error: Error connecting to netmaster: GET http://127.0.0.1:${port}/api/v1/tenants/: connect ECONNREFUSED 127.0.0.1:${port}\n`,
    );
  });

  it("a server error exits 3 and prints the server's message as it came", async () => {
    fake.on("POST /api/v1/tenants/bad_name/", { status: 400, text: 'Invalid tenant name "bad_name"\n' });
    const r = await runNetctl(["tenant", "create", "bad_name"], { NETMASTER: fake.url });
    assert.equal(r.code, 3);
    assert.equal(r.stdout, "");
    assert.equal(r.stderr, 'Error: Invalid tenant name "bad_name"\n');
  });

  it("every error status is a server error; an empty body gives the status line", async () => {
    for (const status of [400, 404, 409, 500, 503]) {
      fake.on("DELETE /api/v1/tenants/t/", { status, text: "" });
      const r = await runNetctl(["tenant", "rm", "t"], { NETMASTER: fake.url });
      assert.equal(r.code, 3);
      assert.equal(r.stderr, `Error: ${status} ${http.STATUS_CODES[status]}\n`);
    }
  });

  it("an answer that is not JSON exits 4", async () => {
    fake.on("GET /api/v1/tenants/", { text: "<html>proxy error</html>" });
    const r = await runNetctl(["tenant", "ls"], { NETMASTER: fake.url });
    assert.equal(r.code, 4);
    assert.match(r.stderr, /^Error: Cannot decode the answer to GET \/api\/v1\/tenants\/: /);
    fake.on("GET /api/v1/tenants/", { json: { not: "a list" } });
    const wrong = await runNetctl(["tenant", "ls"], { NETMASTER: fake.url });
    assert.equal(wrong.code, 4);
    assert.equal(wrong.stderr, "Error: Unexpected answer to GET /api/v1/tenants/: expected a JSON array of objects\n");
  });

  it("--insecure and $INSECURE are accepted", async () => {
    assert.equal((await runNetctl(["--insecure", "tenant", "ls"], { NETMASTER: fake.url })).code, 0);
    assert.equal((await runNetctl(["tenant", "ls"], { NETMASTER: fake.url, INSECURE: "true" })).code, 0);
  });

  it("the trust commands are in the tree, in Contiv's alphabetical order", async () => {
    const help = (await runNetctl(["--help"])).stdout;
    const section = help.slice(help.indexOf("Commands:"));
    const commands = [...section.matchAll(/^ {2}([a-z-]+)/gm)].map((m) => m[1]).filter((c) => c !== "help");
    assert.deepEqual(commands.filter((c) => ["authorization", "ldap", "login", "user"].includes(c ?? "")), ["authorization", "ldap", "login", "user"]);
    assert.deepEqual([...commands].sort(), commands);
    assert.match(help, /--ca-file <file>/);
  });

  it("--version prints the client version", async () => {
    const r = await runNetctl(["--version"]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^netctl version\nVersion: \S+\nGitCommit: \S+\nBuildTime: \S+\n$/);
  });
});
