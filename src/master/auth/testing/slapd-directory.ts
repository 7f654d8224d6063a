// The directory testing/slapd.ts serves: a service account, users with passwords, and groups of each
// kind ldapLogin() reads (groupOfNames, groupOfUniqueNames, posixGroup, Active Directory's memberOf),
// written as LDIF for slapadd, plus the few Active Directory attribute types OpenLDAP lacks.

import { createHash, randomBytes } from "node:crypto";

import type { LdapConfig } from "../ldap-config.js";

export interface SlapdUser {
  /** The name to log in with. */
  username: string;
  password: string;
  /** The entry's DN as slapd returns it. */
  dn: string;
  /** The group DNs ldapLogin() should return, sorted. */
  groups: string[];
}

/**
 * alice: uid, in a groupOfNames (member), a posixGroup (memberUid) and a groupOfUniqueNames
 * (uniqueMember), found by searching. bob: uid, in no group. dave: Active Directory style, named by
 * sAMAccountName and carrying memberOf, one group of which lies outside the suffix (another domain of
 * a forest). meta: a uid made of LDAP filter metacharacters, "x*(y)\z", in a groupOfNames and a posixGroup.
 */
export type DirectoryUsers = Record<"alice" | "bob" | "dave" | "meta", SlapdUser>;

/** A name two entries answer to (uid on one, sAMAccountName on the other), with the password of both. */
export interface AmbiguousName {
  username: string;
  password: string;
}

export interface Directory {
  /** The directory's root: "dc=<prefix>,dc=test". */
  suffix: string;
  /** Plain LDAP to 127.0.0.1:389 as the service account, base_dn the suffix. */
  config: LdapConfig;
  users: DirectoryUsers;
  ambiguous: AmbiguousName;
  /** What slapadd loads. */
  entries: LdifEntry[];
}

/** [attribute, value] pairs in order; an attribute may repeat. */
export interface LdifEntry {
  dn: string;
  attributes: [string, string][];
}

export function planDirectory(prefix: string): Directory {
  const suffix = `dc=${prefix},dc=test`;
  const people = `ou=people,${suffix}`;
  const groups = `ou=groups,${suffix}`;
  const service = { dn: `cn=netmaster,${suffix}`, password: "service-secret" };
  const group = (cn: string) => `cn=${cn},${groups}`;
  const forestAdmins = "cn=forest-admins,ou=groups,dc=other,dc=test";

  const alice = { username: "alice", password: "alice-secret", dn: `uid=alice,${people}`, groups: [group("auditors"), group("devs"), group("netadmins")] };
  const bob = { username: "bob", password: "bob-secret", dn: `uid=bob,${people}`, groups: [] };
  const dave = { username: "dave", password: "dave-secret", dn: `cn=Dave Ad,${people}`, groups: [forestAdmins, group("ops")].sort() };
  // slapd returns an escaped backslash in a DN as "\5C", whatever the case it was added with.
  const meta = { username: "x*(y)\\z", password: "meta-secret", dn: `uid=x*(y)\\5Cz,${people}`, groups: [group("devs"), group("netadmins")] };
  const ambiguous = { username: "carol", password: "carol-secret" };

  const person = (dn: string, cn: string, password: string, uid: string): LdifEntry => ({
    dn,
    attributes: [["objectClass", "inetOrgPerson"], ["cn", cn], ["sn", cn], ["userPassword", ssha(password)], ["uid", uid]],
  });
  // slapadd wants all values of an attribute together, objectClass included.
  const adPerson = (dn: string, cn: string, password: string, samAccountName: string, memberOf: string[]): LdifEntry => ({
    dn,
    attributes: [
      ["objectClass", "inetOrgPerson"],
      ["objectClass", "netpluginTestAdUser"],
      ["cn", cn],
      ["sn", cn],
      ["userPassword", ssha(password)],
      ["sAMAccountName", samAccountName],
      ...memberOf.map((g): [string, string] => ["memberOf", g]),
    ],
  });
  const entries: LdifEntry[] = [
    { dn: suffix, attributes: [["objectClass", "dcObject"], ["objectClass", "organization"], ["dc", prefix], ["o", prefix]] },
    {
      dn: service.dn,
      attributes: [["objectClass", "organizationalRole"], ["objectClass", "simpleSecurityObject"], ["cn", "netmaster"], ["userPassword", ssha(service.password)]],
    },
    { dn: people, attributes: [["objectClass", "organizationalUnit"], ["ou", "people"]] },
    { dn: groups, attributes: [["objectClass", "organizationalUnit"], ["ou", "groups"]] },
    person(alice.dn, "Alice", alice.password, "alice"),
    person(bob.dn, "Bob", bob.password, "bob"),
    adPerson(dave.dn, "Dave Ad", dave.password, "dave", [group("ops"), forestAdmins]),
    person(meta.dn, "Meta", meta.password, meta.username),
    person(`uid=carol,${people}`, "Carol", ambiguous.password, "carol"),
    adPerson(`cn=Carol Ad,${people}`, "Carol Ad", ambiguous.password, "carol", []),
    { dn: group("netadmins"), attributes: [["objectClass", "groupOfNames"], ["cn", "netadmins"], ["member", alice.dn], ["member", meta.dn]] },
    { dn: group("devs"), attributes: [["objectClass", "posixGroup"], ["cn", "devs"], ["gidNumber", "5001"], ["memberUid", "alice"], ["memberUid", meta.username]] },
    { dn: group("auditors"), attributes: [["objectClass", "groupOfUniqueNames"], ["cn", "auditors"], ["uniqueMember", alice.dn]] },
    // In Active Directory the group lists its members too; memberOf on the user is the server's back-link.
    { dn: group("ops"), attributes: [["objectClass", "groupOfNames"], ["cn", "ops"], ["member", dave.dn]] },
  ];
  const config: LdapConfig = {
    server: "127.0.0.1",
    port: 389,
    base_dn: suffix,
    service_account_dn: service.dn,
    service_account_password: service.password,
    start_tls: false,
    insecure_skip_verify: false,
  };
  return { suffix, config, users: { alice, bob, dave, meta }, ambiguous, entries };
}

/** RFC 2307 salted SHA-1, the scheme slapd verifies without extra modules. */
function ssha(password: string): string {
  const salt = randomBytes(8);
  const digest = createHash("sha1").update(password).update(salt).digest();
  return `{SSHA}${Buffer.concat([digest, salt]).toString("base64")}`;
}

export function toLdif(entries: LdifEntry[]): string {
  // A SAFE-STRING of RFC 2849 is written as is; anything else in base64 ("attr:: ...").
  const line = (name: string, value: string) =>
    /^[^\0\n\r :<][^\0\n\r]*$/.test(value) && !value.endsWith(" ") ? `${name}: ${value}` : `${name}:: ${Buffer.from(value).toString("base64")}`;
  return entries.map((e) => [line("dn", e.dn), ...e.attributes.map(([name, value]) => line(name, value))].join("\n")).join("\n\n") + "\n";
}

// sAMAccountName and memberOf under Active Directory's OIDs, with the matching rules AD applies. The
// copy in OpenLDAP's msuser.schema has no EQUALITY rule, so no filter could match it.
export const AD_SCHEMA = `attributetype ( 1.2.840.113556.1.4.221 NAME 'sAMAccountName'
  EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.2.102 NAME 'memberOf'
  EQUALITY distinguishedNameMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 )
objectclass ( 1.3.6.1.4.1.4203.666.11.99.1 NAME 'netpluginTestAdUser' AUXILIARY
  MAY ( sAMAccountName $ memberOf ) )
`;
