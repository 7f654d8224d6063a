import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { waitFor } from "../lib/wait.js";
import { AgentCredential, CREDENTIAL_FILE, loadOrJoin } from "./credential.js";
import { MasterClient } from "./master-client.js";
import { CredentialNetmaster, JOIN_TOKEN } from "./testing/credentialNetmaster.js";

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
    await withToken.load({ signal: AbortSignal.abort(), onRetry: () => assert.fail("joined at once") });
    const first = withToken.headers();
    assert.deepEqual(first, { "x-auth-token": "cred-1" });
    assert.equal(await withToken.renew(first), true);
    assert.deepEqual(withToken.headers(), { "x-auth-token": "cred-2" });
    // A call refused for cred-1, answered after the renewal, just tries cred-2: a join would void it.
    assert.equal(await withToken.renew(first), true);
    assert.deepEqual(withToken.headers(), { "x-auth-token": "cred-2" });

    const kept = new AgentCredential({ stateDir: join(dir, "agent-h3"), host: "h3", join: join_ });
    await kept.load({ signal: AbortSignal.abort(), onRetry: () => assert.fail("kept") });
    assert.deepEqual(kept.headers(), { "x-auth-token": "cred-2" });
    assert.equal(await kept.renew(kept.headers()), false);
    assert.deepEqual(kept.headers(), { "x-auth-token": "cred-2" });
  });
});

describe("the agent's first join", () => {
  const dir = mkdtempSync(join(tmpdir(), "np-first-join-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const tokenFile = join(dir, "join-token");
  writeFileSync(tokenFile, `${JOIN_TOKEN}\n`);

  /** An agent's credential and client as Agent.start wires them, netmaster's own retries cut short so the test is quick. */
  const agentOf = (url: string, stateDir: string, joinTokenFile = tokenFile) => {
    const credential = new AgentCredential({ stateDir, host: "h1", joinTokenFile, join: (host, token) => master.join(host, token) });
    const master: MasterClient = new MasterClient([url], { credential, retryForMs: 200 });
    return { credential, master };
  };

  it("is tried again while netmaster is down (not listening, then 502) and made once it is up, the agent starting meanwhile", async () => {
    const port = await CredentialNetmaster.reservePort();
    const stateDir = join(dir, "agent-down");
    const { credential, master } = agentOf(`http://127.0.0.1:${port}`, stateDir);
    const netmaster = new CredentialNetmaster();
    const retries: Error[] = [];
    const abort = new AbortController();
    try {
      await credential.load({ signal: abort.signal, onRetry: (err) => retries.push(err) });
      assert.deepEqual(credential.headers(), {}, "start goes on without a credential");
      await waitFor(() => retries.length >= 2, { what: () => "retries while netmaster is not listening" });
      assert.match(retries[0]!.message, /Cannot reach netmaster/);

      netmaster.down = true;
      await netmaster.listen(port);
      const before502 = retries.length;
      await waitFor(() => retries.slice(before502).some((e) => /502/.test(e.message)), { timeoutMs: 10_000, what: () => "a retry answered 502" });

      netmaster.down = false;
      await waitFor(() => credential.headers()["x-auth-token"], { timeoutMs: 15_000, what: () => "the join once netmaster is up" });
      assert.equal(netmaster.joinRequests, 1);
      assert.equal(readFileSync(join(stateDir, CREDENTIAL_FILE), "utf8"), `${netmaster.current}\n`);
      assert.deepEqual(await master.setEndpointLease("ep1", "198.18.0.7"), {});
      assert.equal(netmaster.joinRequests, 1);
    } finally {
      abort.abort();
      netmaster.close();
    }
  });

  it("stops the agent at start when netmaster refuses the join token", async () => {
    const netmaster = new CredentialNetmaster();
    const badToken = join(dir, "bad-token");
    writeFileSync(badToken, "not-the-join-token\n");
    try {
      const { credential } = agentOf(await netmaster.listen(), join(dir, "agent-refused"), badToken);
      const load = credential.load({ signal: AbortSignal.timeout(5000), onRetry: () => assert.fail("a refused join is not tried again") });
      await assert.rejects(load, { name: "UnauthenticatedError", message: "Invalid join token" });
      assert.equal(netmaster.joinRequests, 1);
    } finally {
      netmaster.close();
    }
  });

  it("needs no netmaster with a kept credential", async () => {
    const stateDir = join(dir, "agent-kept");
    await loadOrJoin({ stateDir, host: "h1", joinTokenFile: tokenFile, join: async () => "kept-cred" });
    const { credential } = agentOf(`http://127.0.0.1:${await CredentialNetmaster.reservePort()}`, stateDir);
    await credential.load({ signal: AbortSignal.timeout(5000), onRetry: () => assert.fail("nothing to join") });
    assert.deepEqual(credential.headers(), { "x-auth-token": "kept-cred" });
  });
});
