// The agent's calls against a stand-in netmaster that refuses stale credentials: any call netmaster
// refuses is renewed (a join) and sent again, once, with the real AgentCredential behind it.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, describe, it } from "node:test";
import { UnauthenticatedError } from "../lib/errors.js";
import { AgentCredential, CREDENTIAL_FILE } from "./credential.js";
import { MasterClient } from "./master-client.js";
import { CredentialNetmaster, JOIN_TOKEN } from "./testing/credentialNetmaster.js";

describe("MasterClient with a credential netmaster refuses", () => {
  const dir = mkdtempSync(join(tmpdir(), "np-master-client-"));
  const tokenFile = join(dir, "join-token");
  const netmaster = new CredentialNetmaster();
  let url: string;
  let credential: AgentCredential;
  let master: MasterClient;

  before(async () => (url = await netmaster.listen()));
  after(() => (netmaster.close(), rmSync(dir, { recursive: true, force: true })));
  // Each test starts from an agent whose kept credential netmaster no longer takes (a new store).
  beforeEach(async () => {
    writeFileSync(tokenFile, `${JOIN_TOKEN}\n`);
    const stateDir = mkdtempSync(join(dir, "agent-"));
    writeFileSync(join(stateDir, CREDENTIAL_FILE), "stale\n");
    credential = new AgentCredential({ stateDir, host: "h1", joinTokenFile: tokenFile, join: (host, token) => master.join(host, token) });
    master = new MasterClient([url], { credential });
    await credential.load({ signal: AbortSignal.abort(), onRetry: () => assert.fail("a kept credential needs no join") });
    netmaster.joinRequests = 0;
    netmaster.refuseAll = false;
    netmaster.joinDelayMs = 0;
    netmaster.seen.length = 0;
  });

  it("joins again once and sends any refused call again with the new credential", async () => {
    assert.deepEqual(await master.setEndpointLease("ep1", "198.18.0.7"), {});
    assert.equal(netmaster.joinRequests, 1);
    assert.deepEqual(netmaster.seen, ["stale", netmaster.current]);
    assert.deepEqual(await master.reportOper("ep1", { intfName: "eth0" }), {});
    assert.equal(netmaster.joinRequests, 1, "the new credential is kept");
  });

  it("fails with the 401 when the call is refused again after joining, without joining again", async () => {
    netmaster.refuseAll = true;
    await assert.rejects(master.registerHost("h1", { vtepIP: "192.0.2.1", mtu: 1500, agentVersion: "test" }), UnauthenticatedError);
    assert.equal(netmaster.joinRequests, 1);
    assert.deepEqual(netmaster.seen, ["stale", netmaster.current]);
  });

  it("joins once for calls refused together", async () => {
    netmaster.joinDelayMs = 100;
    const calls = ["a", "b", "c", "d", "e"].map((id) => master.setEndpointLease(id, "198.18.0.7"));
    assert.deepEqual(await Promise.all(calls), [{}, {}, {}, {}, {}]);
    assert.equal(netmaster.joinRequests, 1);
    assert.equal(netmaster.seen.filter((t) => t === netmaster.current).length, 5);
  });

  it("does not renew for the join's own 401 (a refused join token)", async () => {
    writeFileSync(tokenFile, "not-the-join-token\n");
    await assert.rejects(master.setEndpointLease("ep1", "198.18.0.7"), { name: "UnauthenticatedError", message: /credential refused \(joining again failed: Invalid join token\)/ });
    assert.equal(netmaster.joinRequests, 1);
    await assert.rejects(master.join("h1", "not-the-join-token"), { name: "UnauthenticatedError", message: "Invalid join token" });
    assert.equal(netmaster.joinRequests, 2);
    assert.deepEqual(netmaster.seen, ["stale"]);
  });

  it("opens a refused state stream again after joining", async () => {
    const res = await master.open("/api/v1/agent/watch?host=h1", AbortSignal.timeout(5000));
    assert.equal(res.status, 200);
    await res.text();
    assert.equal(netmaster.joinRequests, 1);
    assert.deepEqual(netmaster.seen, ["stale", netmaster.current]);
  });
});
