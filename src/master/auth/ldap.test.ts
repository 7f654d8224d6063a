// ldapLogin() against a real OpenLDAP slapd in a namespace of its own (testing/slapd.ts): every login
// below is a real connection, bind and search; the directory emulates Active Directory where it differs
// (sAMAccountName, memberOf).

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import type { LdapUser } from "./ldap.js";
import { startSlapd, type NetnsLogin, type Slapd } from "./testing/slapd.js";

let slapd: Slapd;
before(async () => {
  slapd = await startSlapd();
});
after(() => slapd?.stop());

function user(outcome: NetnsLogin): LdapUser | undefined {
  assert.ok(outcome.ok, `ldapLogin threw: ${outcome.ok ? "" : `${outcome.error.name}: ${outcome.error.message}`}`);
  return outcome.user;
}

function upstreamMessage(outcome: NetnsLogin): string {
  assert.ok(!outcome.ok, `ldapLogin should throw, but returned ${JSON.stringify(outcome.ok && outcome.user)}`);
  assert.equal(outcome.error.name, "UpstreamError", outcome.error.message);
  return outcome.error.message;
}

describe("ldapLogin: good logins", () => {
  it("returns an OpenLDAP user's DN and the groups that list them by member, uniqueMember and memberUid", async () => {
    const { alice } = slapd.users;
    assert.deepEqual(user(await slapd.login(slapd.config, alice.username, alice.password)), { dn: alice.dn, groups: alice.groups });
  });

  it("returns no groups for a user in none", async () => {
    const { bob } = slapd.users;
    assert.deepEqual(user(await slapd.login(slapd.config, bob.username, bob.password)), { dn: bob.dn, groups: [] });
  });

  it("finds an Active Directory user by sAMAccountName, without case, and takes their groups from memberOf", async () => {
    const { dave } = slapd.users;
    // One of dave's groups lies outside base_dn, where only memberOf can name it.
    assert.ok(dave.groups.some((g) => !g.endsWith(slapd.suffix)));
    for (const username of ["dave", "DAVE", "Dave"]) {
      assert.deepEqual(user(await slapd.login(slapd.config, username, dave.password)), { dn: dave.dn, groups: dave.groups });
    }
  });
});

describe("ldapLogin: refused logins are undefined", () => {
  const cases: [what: string, username: () => string, password: () => string][] = [
    ["a wrong password", () => "alice", () => "alice-secre"],
    ["another user's password", () => "alice", () => slapd.users.bob.password],
    ["an unknown user", () => "mallory", () => slapd.users.alice.password],
    ["an empty password, which this slapd takes as an anonymous bind", () => "alice", () => ""],
    ["an empty username", () => "", () => slapd.users.alice.password],
    ["a name two entries answer to", () => slapd.ambiguous.username, () => slapd.ambiguous.password],
  ];
  for (const [what, username, password] of cases) {
    it(what, async () => assert.equal(user(await slapd.login(slapd.config, username(), password())), undefined));
  }
});

describe("ldapLogin: filter metacharacters in the username match only themselves", () => {
  const alicePassword = () => slapd.users.alice.password;
  const metaPassword = () => slapd.users.meta.password;
  const attempts: [username: string, password: () => string][] = [
    ["*", alicePassword],
    ["al*", alicePassword],
    ["*ice", alicePassword],
    ["alice)(uid=*", alicePassword],
    ["*)(|(uid=*", alicePassword],
    // Unescaped, "\69" would be the filter's way of writing "i".
    ["al\\69ce", alicePassword],
    ["x*", metaPassword],
    ["x\\2a(y)\\5cz", metaPassword],
  ];
  for (const [username, password] of attempts) {
    it(`${JSON.stringify(username)} logs nobody in`, async () => assert.equal(user(await slapd.login(slapd.config, username, password())), undefined));
  }

  it(`the user named ${JSON.stringify("x*(y)\\z")} logs in with exactly that name, and their DN and name find their groups`, async () => {
    const { meta } = slapd.users;
    assert.deepEqual(user(await slapd.login(slapd.config, meta.username, meta.password)), { dn: meta.dn, groups: meta.groups });
  });
});

describe("ldapLogin: a server that cannot be used is an UpstreamError", () => {
  it("names the service account when its password is wrong", async () => {
    const message = upstreamMessage(await slapd.login({ ...slapd.config, service_account_password: "wrong" }, "alice", slapd.users.alice.password));
    assert.equal(message, `Cannot bind to LDAP server "127.0.0.1:389" as service account "${slapd.config.service_account_dn}": invalid credentials (LDAP result 49)`);
  });

  it("names base_dn when it does not exist", async () => {
    const base = "dc=nowhere,dc=test";
    const message = upstreamMessage(await slapd.login({ ...slapd.config, base_dn: base }, "alice", slapd.users.alice.password));
    assert.match(message, new RegExp(`^Cannot search LDAP server "127\\.0\\.0\\.1:389" for user "alice" under "${base}": no such object \\(LDAP result 32\\)`));
  });

  it("says the server cannot be reached when nothing listens, at once", async () => {
    const outcome = await slapd.login({ ...slapd.config, port: 390 }, "alice", slapd.users.alice.password);
    // The refusal itself, not the login's 5 s timeout ("no answer within"), ended it.
    assert.match(upstreamMessage(outcome), /^Cannot reach LDAP server "127\.0\.0\.1:390": connect ECONNREFUSED 127\.0\.0\.1:390$/);
  });

  it("says an IPv6 server cannot be reached, written with brackets", async () => {
    const outcome = await slapd.login({ ...slapd.config, server: "::1", port: 390 }, "alice", slapd.users.alice.password);
    assert.match(upstreamMessage(outcome), /^Cannot reach LDAP server "\[::1\]:390": connect /);
  });

  it("says a server whose name does not resolve cannot be reached", async () => {
    const outcome = await slapd.login({ ...slapd.config, server: "no-such-host.invalid" }, "alice", slapd.users.alice.password);
    assert.match(upstreamMessage(outcome), /^Cannot reach LDAP server "no-such-host\.invalid:389": getaddrinfo /);
  });

  it("gives up on a server that accepts connections but never answers, within the timeout", async () => {
    slapd.pause();
    try {
      const outcome = await slapd.login(slapd.config, "alice", slapd.users.alice.password, { timeoutMs: 1_000 });
      assert.equal(upstreamMessage(outcome), 'Cannot log in through LDAP server "127.0.0.1:389": no answer within 1000 ms');
      // The message is the 1 s timer's own (the default is 5 s); timers fire late on a busy machine, never early.
      assert.ok(outcome.elapsedMs >= 999, `took ${outcome.elapsedMs} ms`);
    } finally {
      slapd.resume();
    }
    const { alice } = slapd.users;
    assert.deepEqual(user(await slapd.login(slapd.config, alice.username, alice.password)), { dn: alice.dn, groups: alice.groups });
  });
});

describe("ldapLogin: StartTLS", () => {
  const tls = () => ({ ...slapd.config, start_tls: true });

  it("logs in over TLS when the certificate verifies against the CA given", async () => {
    const { alice } = slapd.users;
    assert.deepEqual(user(await slapd.login(tls(), alice.username, alice.password, { ca: slapd.ca })), { dn: alice.dn, groups: alice.groups });
  });

  it("refuses a certificate that another CA signed", async () => {
    const message = upstreamMessage(await slapd.login(tls(), "alice", slapd.users.alice.password, { ca: slapd.otherCa }));
    assert.equal(message, 'Cannot start TLS with LDAP server "127.0.0.1:389": self-signed certificate in certificate chain');
  });

  it("refuses the certificate when no CA is given, as Node's trusted CAs did not sign it", async () => {
    const message = upstreamMessage(await slapd.login(tls(), "alice", slapd.users.alice.password));
    assert.match(message, /^Cannot start TLS with LDAP server "127\.0\.0\.1:389": /);
  });

  it("accepts any certificate with insecure_skip_verify", async () => {
    const { alice } = slapd.users;
    const config = { ...tls(), insecure_skip_verify: true };
    assert.deepEqual(user(await slapd.login(config, alice.username, alice.password, { ca: slapd.otherCa })), { dn: alice.dn, groups: alice.groups });
  });

  it("still checks the password over TLS", async () => {
    assert.equal(user(await slapd.login(tls(), "alice", "wrong", { ca: slapd.ca })), undefined);
  });
});
