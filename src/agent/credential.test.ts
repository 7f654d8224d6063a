import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { AgentCredential, CREDENTIAL_FILE, loadOrJoin } from "./credential.js";

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

  it("is sent as X-Auth-Token, and joined again when refused only with a join token at hand", async () => {
    let n = 0;
    const join_ = async () => `cred-${++n}`;
    const withToken = new AgentCredential({ stateDir: join(dir, "agent-h3"), host: "h3", joinTokenFile: tokenFile, join: join_ });
    assert.deepEqual(withToken.headers(), {});
    await withToken.load();
    assert.deepEqual(withToken.headers(), { "x-auth-token": "cred-1" });
    assert.equal(await withToken.renew(), true);
    assert.deepEqual(withToken.headers(), { "x-auth-token": "cred-2" });

    const kept = new AgentCredential({ stateDir: join(dir, "agent-h3"), host: "h3", join: join_ });
    await kept.load();
    assert.deepEqual(kept.headers(), { "x-auth-token": "cred-2" });
    assert.equal(await kept.renew(), false);
    assert.deepEqual(kept.headers(), { "x-auth-token": "cred-2" });
  });
});
