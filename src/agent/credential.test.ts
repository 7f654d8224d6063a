import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { CREDENTIAL_FILE, loadOrJoin } from "./credential.js";

describe("the agent's credential", () => {
  const dir = mkdtempSync(join(tmpdir(), "np-cred-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const tokenFile = join(dir, "join-token");
  writeFileSync(tokenFile, "the-join-token\n");

  it("is traded once for the join token and kept 0600 in a 0700 state dir", async () => {
    const stateDir = join(dir, "agent-h1");
    const asked: string[] = [];
    const source = { stateDir, host: "h1", joinTokenFile: tokenFile, join: async (host: string, token: string) => (asked.push(`${host}:${token}`), `cred-${asked.length}`) };
    assert.equal(await loadOrJoin(source), "cred-1");
    assert.equal(await loadOrJoin(source), "cred-1");
    assert.deepEqual(asked, ["h1:the-join-token"]);
    assert.equal(statSync(join(stateDir, CREDENTIAL_FILE)).mode & 0o777, 0o600);
    assert.equal(statSync(stateDir).mode & 0o777, 0o700);
    assert.equal(await loadOrJoin(source, { fresh: true }), "cred-2");
    assert.equal(readFileSync(join(stateDir, CREDENTIAL_FILE), "utf8"), "cred-2\n");
  });

  it("says what is missing without a kept credential or a join token", async () => {
    const join_ = async () => "never";
    await assert.rejects(loadOrJoin({ stateDir: join(dir, "agent-h2"), host: "h2", join: join_ }), /--join-token-file/);
    await assert.rejects(loadOrJoin({ stateDir: join(dir, "agent-h2"), host: "h2", joinTokenFile: join(dir, "nope"), join: join_ }), /missing or empty/);
  });
});
