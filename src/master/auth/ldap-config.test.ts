import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";

import { LdapConfig, LdapConfigPatch, isHostOrIp } from "./ldap-config.js";

const VALID = {
  server: "ad01.corp.example",
  port: 636,
  base_dn: "DC=corp,DC=example",
  service_account_dn: "CN=netmaster,CN=Users,DC=corp,DC=example",
  service_account_password: "secret",
  start_tls: true,
  insecure_skip_verify: false,
};

/** The messages of a failed parse, each with its path. */
function problems(result: { success: boolean; error?: { issues: { path: PropertyKey[]; message: string }[] } }): string[] {
  assert.equal(result.success, false, "the parse should fail");
  return result.error!.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
}

describe("isHostOrIp", () => {
  const cases: [string, boolean][] = [
    ["ldap.example.com", true],
    ["ad01", true],
    ["ldap.example.com.", true],
    ["xn--bcher-kva.example", true],
    ["10.0.0.1", true],
    ["::1", true],
    ["2001:db8::10", true],
    ["", false],
    ["ldap://ldap.example.com", false],
    ["ldap.example.com:389", false],
    ["[::1]", false],
    ["fe80::1%eth0", false],
    ["10.0.0.300", false],
    ["a_b.example", false],
    ["-ldap.example", false],
    ["ldap-.example", false],
    ["a..b", false],
    [" ldap", false],
    [`${"a".repeat(64)}.example`, false],
    [`${"a.".repeat(127)}a`, false],
  ];
  for (const [text, want] of cases) it(`${JSON.stringify(text)} → ${want}`, () => assert.equal(isHostOrIp(text), want));
});

describe("LdapConfig", () => {
  it("accepts Contiv's fields and keeps them", () => assert.deepEqual(LdapConfig.parse(VALID), VALID));

  it("defaults port to 389 and both flags to false", () => {
    const { port: _port, start_tls: _startTls, insecure_skip_verify: _skip, ...rest } = VALID;
    assert.deepEqual(LdapConfig.parse(rest), { ...rest, port: 389, start_tls: false, insecure_skip_verify: false });
  });

  it("drops fields it does not know, as Contiv's Go decoder did", () => assert.deepEqual(LdapConfig.parse({ ...VALID, colour: "blue" }), VALID));

  const bad: [field: string, value: unknown, message: string][] = [
    ["server", undefined, "server: server is required"],
    ["server", 5, "server: server must be a string"],
    ["server", "", "server: server must not be empty"],
    ["server", "ldap://ad01", 'server: server "ldap://ad01" is not a host name or IP address (no scheme, and the port goes in "port")'],
    ["port", 0, "port: port must be an integer from 1 to 65535, not 0"],
    ["port", 65536, "port: port must be an integer from 1 to 65535, not 65536"],
    ["port", 389.5, "port: port must be an integer from 1 to 65535, not 389.5"],
    ["port", "389", "port: port must be a number"],
    ["base_dn", "", "base_dn: base_dn must not be empty"],
    ["base_dn", "corp.example", 'base_dn: base_dn "corp.example" is not a DN: expected attribute=value pairs separated by commas, as in "dc=example,dc=com"'],
    ["service_account_dn", "netmaster", 'service_account_dn: service_account_dn "netmaster" is not a DN: expected attribute=value pairs separated by commas, as in "dc=example,dc=com"'],
    ["service_account_dn", null, "service_account_dn: service_account_dn must be a string"],
    ["service_account_password", "", "service_account_password: service_account_password must not be empty"],
    ["service_account_password", undefined, "service_account_password: service_account_password is required"],
    ["start_tls", "true", "start_tls: start_tls must be true or false"],
    ["insecure_skip_verify", 1, "insecure_skip_verify: insecure_skip_verify must be true or false"],
  ];
  for (const [field, value, message] of bad) {
    it(`refuses ${field} ${JSON.stringify(value) ?? "missing"} with one message naming it`, () => {
      assert.deepEqual(problems(LdapConfig.safeParse({ ...VALID, [field]: value })), [message]);
    });
  }

  it("refuses what is not an object", () => {
    assert.equal(LdapConfig.safeParse(null).success, false);
    assert.equal(LdapConfig.safeParse("server=x").success, false);
  });
});

describe("LdapConfig, generated", () => {
  const value = fc
    .string({ unit: fc.constantFrom(..."abcXYZ019 -_.éü&".split("")), minLength: 1, maxLength: 12 })
    .filter((v) => v.trim() !== "" && v === v.trim());
  const dnArb = fc
    .array(fc.tuple(fc.constantFrom("cn", "ou", "dc", "uid", "CN", "O"), value), { minLength: 1, maxLength: 5 })
    .map((rdns) => rdns.map(([type, v]) => `${type}=${v}`).join(","));
  const validConfig = fc.record({
    server: fc.oneof(fc.domain(), fc.ipV4(), fc.ipV6()),
    port: fc.integer({ min: 1, max: 65535 }),
    base_dn: dnArb,
    service_account_dn: dnArb,
    service_account_password: fc.string({ minLength: 1 }),
    start_tls: fc.boolean(),
    insecure_skip_verify: fc.boolean(),
  });

  it("accepts every well-formed configuration unchanged", () => {
    fc.assert(
      fc.property(validConfig, (config) => {
        assert.deepEqual(LdapConfig.parse(config), { ...config });
      }),
      { numRuns: 2_000 },
    );
  });

  const badValues: Record<keyof typeof VALID, fc.Arbitrary<unknown>> = {
    server: fc.oneof(
      fc.domain().map((d) => `ldap://${d}`),
      fc.tuple(fc.domain(), fc.integer({ min: 1, max: 65535 })).map(([d, p]) => `${d}:${p}`),
      fc.ipV6().map((ip) => `[${ip}]`),
      fc.constantFrom("", " ", "a_b", "x..y", "300.1.1.1"),
      fc.integer(),
    ),
    port: fc.oneof(fc.integer({ max: 0 }), fc.integer({ min: 65536 }), fc.double({ min: 1.01, max: 65534.99, noInteger: true }), fc.string()),
    base_dn: fc.oneof(fc.constantFrom("", "example.com", "dc=", "=x", "dc=x,"), fc.string().filter((s) => !s.includes("="))),
    service_account_dn: fc.oneof(fc.constantFrom("", "netmaster", "cn=a;b"), fc.boolean()),
    service_account_password: fc.oneof(fc.constant(""), fc.integer(), fc.constant(null)),
    start_tls: fc.oneof(fc.string(), fc.integer(), fc.constant(null)),
    insecure_skip_verify: fc.oneof(fc.string(), fc.integer(), fc.constant(null)),
  };

  it("refuses one bad field with messages that name it, and only it", () => {
    const fields = Object.keys(badValues) as (keyof typeof VALID)[];
    const badConfig = fc
      .constantFrom(...fields)
      .chain((field) => fc.tuple(fc.constant(field), validConfig, badValues[field]));
    fc.assert(
      fc.property(badConfig, ([field, config, bad]) => {
        const found = problems(LdapConfig.safeParse({ ...config, [field]: bad }));
        assert.ok(found.length >= 1);
        for (const problem of found) assert.ok(problem.startsWith(`${field}: ${field} `), problem);
      }),
      { numRuns: 2_000 },
    );
  });
});

describe("LdapConfigPatch", () => {
  it("takes any subset of the fields and adds no defaults", () => {
    assert.deepEqual(LdapConfigPatch.parse({}), {});
    assert.deepEqual(LdapConfigPatch.parse({ port: 636 }), { port: 636 });
    assert.deepEqual(LdapConfigPatch.parse({ start_tls: true, server: "10.1.1.1" }), { start_tls: true, server: "10.1.1.1" });
  });

  it("checks the fields it is given like LdapConfig", () => {
    assert.deepEqual(problems(LdapConfigPatch.safeParse({ port: 0 })), ["port: port must be an integer from 1 to 65535, not 0"]);
    assert.deepEqual(problems(LdapConfigPatch.safeParse({ base_dn: "" })), ["base_dn: base_dn must not be empty"]);
    assert.deepEqual(problems(LdapConfigPatch.safeParse({ server: "ldap://x" })), [
      'server: server "ldap://x" is not a host name or IP address (no scheme, and the port goes in "port")',
    ]);
  });
});
