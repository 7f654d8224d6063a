import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";

import { dnKey, groupMatches, parseDn } from "./ldap-dn.js";

describe("parseDn", () => {
  const good: [text: string, want: [string, string][][]][] = [
    ["dc=example,dc=com", [[["dc", "example"]], [["dc", "com"]]]],
    ["CN=Net Admins, OU=Groups, DC=corp", [[["CN", "Net Admins"]], [["OU", "Groups"]], [["DC", "corp"]]]],
    ["cn = spaced , dc=x", [[["cn", "spaced"]], [["dc", "x"]]]],
    ["cn=a\\,b,dc=x", [[["cn", "a,b"]], [["dc", "x"]]]],
    ["cn=a\\2Cb,dc=x", [[["cn", "a,b"]], [["dc", "x"]]]],
    ["uid=x*(y)\\5Cz,dc=x", [[["uid", "x*(y)\\z"]], [["dc", "x"]]]],
    ["cn=caf\\C3\\A9", [[["cn", "café"]]]],
    ["cn=café", [[["cn", "café"]]]],
    ["cn=trailing\\ ", [[["cn", "trailing "]]]],
    ["cn=a=b", [[["cn", "a=b"]]]],
    ["cn=a+uid=b,dc=x", [[["cn", "a"], ["uid", "b"]], [["dc", "x"]]]],
    ["2.5.4.3=x", [[["2.5.4.3", "x"]]]],
    ["cn=#0403616263", [[["cn", "#0403616263"]]]],
  ];
  for (const [text, want] of good) {
    it(`parses ${JSON.stringify(text)}`, () => {
      assert.deepEqual(
        parseDn(text)?.map((rdn) => rdn.map((ava) => [ava.type, ava.value])),
        want,
      );
    });
  }

  const bad = ["", " ", "example", "dc=", "dc= ", "=x", "dc=x,", ",dc=x", "dc=x,,dc=y", "d c=x", "1dc=x", "2.5.=x", "cn=a\"b", "cn=a;b", "cn=a<b", "cn=a\\", "cn=a\\q", "cn=\\ff", "cn=#zz", "cn=#04 x", "cn=a+", "ldap://host/dc=x"];
  for (const text of bad) {
    it(`refuses ${JSON.stringify(text)}`, () => assert.equal(parseDn(text), undefined));
  }

  it("never throws, and whatever it accepts keeps a key", () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom("c", "n", "=", ",", "+", "\\", "2", "C", " ", "#", "é", "\"") }), (text) => {
        const rdns = parseDn(text);
        assert.equal(rdns === undefined, dnKey(text) === undefined);
      }),
      { numRuns: 5_000 },
    );
  });
});

describe("dnKey", () => {
  const same: [string, string][] = [
    ["CN=Net Admins,OU=Groups,DC=corp,DC=example", "cn=net admins, ou=groups, dc=corp, dc=example"],
    ["cn=a\\,b,dc=x", "cn=a\\2cb,dc=x"],
    ["cn=Net  Admins,dc=x", "cn=net admins,dc=x"],
    ["cn=a+uid=b,dc=x", "uid=b+cn=a,dc=x"],
  ];
  for (const [a, b] of same) it(`${JSON.stringify(a)} is ${JSON.stringify(b)}`, () => assert.equal(dnKey(a), dnKey(b)));

  const different: [string, string][] = [
    ["cn=admins,dc=x", "cn=admins,dc=y"],
    ["cn=admins,dc=x", "cn=admins"],
    ["cn=a\\,b,dc=x", "cn=a,cn=b,dc=x"],
    ["cn=a+uid=b,dc=x", "cn=a,uid=b,dc=x"],
    ["cn=admins,dc=x", "ou=admins,dc=x"],
  ];
  for (const [a, b] of different) it(`${JSON.stringify(a)} is not ${JSON.stringify(b)}`, () => assert.notEqual(dnKey(a), dnKey(b)));
});

describe("groupMatches", () => {
  const group = "CN=Net Admins,OU=Groups,DC=corp,DC=example";
  const cases: [principalName: string, groupDn: string, want: boolean][] = [
    // A DN names exactly one group, spelled any way.
    [group, group, true],
    ["cn=net admins,ou=groups,dc=corp,dc=example", group, true],
    ["cn=Net Admins, ou=Groups, dc=corp, dc=example", group, true],
    ["cn=Net Admins,ou=Other,dc=corp,dc=example", group, false],
    ["cn=Net Admins", group, false],
    ["ou=Groups,dc=corp,dc=example", group, false],
    // Any other name is the cn of the group's first RDN, without case.
    ["Net Admins", group, true],
    ["net admins", group, true],
    ["  Net Admins ", group, true],
    ["Net", group, false],
    ["Groups", group, false],
    ["corp", group, false],
    ["*", group, false],
    ["", group, false],
    ["ops", "cn=ops,ou=groups,dc=x", true],
    ["devs", "cn=devs,ou=groups,dc=x", true],
    ["a,b", "cn=a\\,b,dc=x", true],
    ["a\\,b", "cn=a\\,b,dc=x", false],
    ["groups", "ou=groups,dc=x", false],
    ["ops", "cn=ops+gidNumber=5,dc=x", true],
    ["ops", "not a dn", false],
    ["not a dn", "not a dn", false],
  ];
  for (const [principalName, groupDn, want] of cases) {
    it(`${JSON.stringify(principalName)} ${want ? "matches" : "does not match"} ${JSON.stringify(groupDn)}`, () =>
      assert.equal(groupMatches(principalName, groupDn), want));
  }
});
