import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { DNS_TTL, lookup, MAX_ANSWERS, RecordIndex, type LookupResult, type TenantRecords } from "./records.js";

const tenDotTwelve = Array.from({ length: 12 }, (_, i) => `10.1.2.${i + 1}`);

const records: TenantRecords = {
  services: [
    { name: "web", ipv4: ["10.254.0.1"], ipv6: [] },
    { name: "shared", ipv4: ["10.254.0.2"], ipv6: [] },
  ],
  groups: [
    { name: "web", ipv4: ["10.1.0.1"], ipv6: ["2001:db8::1"] },
    { name: "db", ipv4: tenDotTwelve, ipv6: ["2001:db8::2", "2001:db8::3"] },
    { name: "shared", ipv4: ["10.1.0.9"], ipv6: ["2001:db8::9"] },
    { name: "v6only", ipv4: [], ipv6: ["2001:db8::6"] },
  ],
  endpoints: [
    { name: "/app1", ipv4: ["10.1.3.1"], ipv6: ["2001:db8::31"] },
    { name: "app2", ipv4: ["10.1.3.2", "not-an-address"], ipv6: [] },
    { name: "/twin", ipv4: ["10.1.3.3"], ipv6: [] },
    { name: "/twin", ipv4: ["10.1.3.4"], ipv6: [] },
    { name: "db", ipv4: ["10.1.3.5"], ipv6: [] },
    { name: "noaddr", ipv4: [], ipv6: [] },
    { name: "/", ipv4: ["10.1.3.99"], ipv6: [] },
  ],
  domain: "Blue.Example.",
};

function a(...addresses: string[]): LookupResult {
  return { status: "found", answers: addresses.map((address) => ({ type: "A" as const, address })) };
}
function aaaa(...addresses: string[]): LookupResult {
  return { status: "found", answers: addresses.map((address) => ({ type: "AAAA" as const, address })) };
}

describe("lookup", () => {
  const cases: [string, string, number, LookupResult][] = [
    // [case, qname, qtype, expected]
    ["A: the service LB name wins over a group of that name", "web", 1, a("10.254.0.1")],
    ["A: group name, at most 10 endpoint addresses", "db", 1, a(...tenDotTwelve.slice(0, 10))],
    ["A: container name, leading / stripped", "app1", 1, a("10.1.3.1")],
    ["A: container name given with its /", "/app1", 1, { status: "unknown", inDomain: false }],
    ["A: unparsable addresses are skipped", "app2", 1, a("10.1.3.2")],
    ["A: a container name on two hosts answers both", "twin", 1, a("10.1.3.3", "10.1.3.4")],
    ["A: case-insensitive, trailing dot", "APP1.", 1, a("10.1.3.1")],
    ["A: qualified with the tenant domain", "App1.blue.example.", 1, a("10.1.3.1")],
    ["A: a name that exists only with IPv6 is NOERROR-empty", "v6only", 1, { status: "empty" }],
    ["A: a name without addresses is NOERROR-empty", "noaddr", 1, { status: "empty" }],
    ["AAAA: a service with no IPv6 falls through to the group", "web", 28, aaaa("2001:db8::1")],
    ["AAAA: group first", "shared", 28, aaaa("2001:db8::9")],
    ["AAAA: container name", "app1", 28, aaaa("2001:db8::31")],
    ["AAAA: name with only A is NOERROR-empty", "app2", 28, { status: "empty" }],
    ["AAAA: container with only IPv4 is NOERROR-empty", "twin", 28, { status: "empty" }],
    [
      "ANY: A then AAAA, 10 at most",
      "db",
      255,
      { status: "found", answers: tenDotTwelve.slice(0, 10).map((address) => ({ type: "A" as const, address })) },
    ],
    [
      "ANY: A then AAAA",
      "app1",
      255,
      { status: "found", answers: [{ type: "A", address: "10.1.3.1" }, { type: "AAAA", address: "2001:db8::31" }] },
    ],
    ["MX for a known name is NOERROR-empty", "web", 15, { status: "empty" }],
    ["unknown name outside the domain is forwarded", "example.org", 1, { status: "unknown", inDomain: false }],
    ["unknown name under the domain is ours: NXDOMAIN", "nope.blue.example", 1, { status: "unknown", inDomain: true }],
    ["the domain itself is ours", "blue.example", 1, { status: "unknown", inDomain: true }],
    ["no prefix match", "ap", 1, { status: "unknown", inDomain: false }],
    ["no suffix match", "app1.other", 1, { status: "unknown", inDomain: false }],
    ["empty container name after the / is no record", "", 1, { status: "unknown", inDomain: false }],
  ];
  for (const [name, qname, qtype, expected] of cases) {
    it(name, () => assert.deepEqual(lookup(records, qname, qtype), expected));
  }

  it("accepts a prebuilt index and the kind names", () => {
    const index = new RecordIndex(records);
    assert.deepEqual(lookup(index, "app1", "AAAA"), aaaa("2001:db8::31"));
    assert.equal(index.domain, "blue.example");
  });

  it("without a domain, qualified names are unknown", () => {
    assert.deepEqual(lookup({ ...records, domain: undefined }, "app1.blue.example", 1), { status: "unknown", inDomain: false });
  });

  it("caps answers and keeps Contiv's TTL", () => {
    assert.equal(MAX_ANSWERS, 10);
    assert.equal(DNS_TTL, 120);
  });
});
