// Spawns the built binary for the few things in-process tests cannot show: argv and exit codes of a
// real process. Everything else is tested in-process through run().

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";

import { run as runCommand, type RunResult } from "../lib/process.js";
import { fakeNetmaster, type FakeNetmaster } from "./testing/fakeNetmaster.js";
import { tempDir } from "./testing/tempDir.js";

const BIN = fileURLToPath(new URL("../bin/netctl.js", import.meta.url));

// The user's own HOME, token or CA must not leak into these runs: a token and an http URL exit 3.
const { NETMASTER_TOKEN: _token, NETMASTER_CA_FILE: _ca, ...parentEnv } = process.env;
const home = tempDir();

function netctl(argv: string[], env: Record<string, string>): Promise<RunResult> {
  return runCommand([process.execPath, BIN, ...argv], { env: { ...parentEnv, HOME: home.path, ...env } });
}

describe("netctl binary", () => {
  let fake: FakeNetmaster;
  before(async () => {
    fake = await fakeNetmaster({ "GET /api/v1/tenants/": { json: [{ tenantName: "default" }] } });
  });
  after(async () => {
    await fake.close();
    home.remove();
  });

  it("lists tenants and exits 0", async () => {
    const r = await netctl(["tenant", "ls"], { NETMASTER: fake.url });
    assert.equal(r.stderr, "");
    assert.equal(r.code, 0);
    assert.equal(r.stdout, "Name     \n------   \ndefault  \n");
  });

  it("exits 1 on a usage error and 3 on a server error", async () => {
    const usage = await netctl(["network", "create", "-s6", "fd00::/64", "n1"], { NETMASTER: fake.url });
    assert.equal(usage.code, 1);
    assert.match(usage.stderr, /^Error: Subnet is required\n/);
    fake.on("POST /api/v1/tenants/x/", { status: 409, text: 'tenant "x" exists' });
    const server = await netctl(["tenant", "create", "x"], { NETMASTER: fake.url });
    assert.equal(server.code, 3);
    assert.equal(server.stderr, 'Error: tenant "x" exists\n');
  });
});
