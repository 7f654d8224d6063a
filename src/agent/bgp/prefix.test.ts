import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { addressOfCidr, canonicalIp, canonicalPrefix, isLinkLocal, prefixFromRouteDst, unmapIpv4 } from "./prefix.js";

describe("canonicalPrefix", () => {
  const cases: [string, string | null][] = [
    ["10.1.1.5/32", "10.1.1.5/32"],
    ["10.1.1.5", "10.1.1.5/32"],
    ["10.1.1.5/24", "10.1.1.0/24"],
    ["0.0.0.0/0", "0.0.0.0/0"],
    ["FD00:60:0:0::5/128", "fd00:60::5/128"],
    ["fd00:60::5", "fd00:60::5/128"],
    ["fd00:60::5/64", "fd00:60::/64"],
    ["2001:db8:1:2:3:4:5:6/48", "2001:db8:1::/48"],
    ["10.1.1.5/33", null],
    ["10.1.1/32", null],
    ["fd00::1/129", null],
    ["10.1.1.5/", null],
    ["10.1.1.5/x", null],
    ["", null],
  ];
  for (const [input, want] of cases) {
    it(`${JSON.stringify(input)} → ${JSON.stringify(want)}`, () => assert.equal(canonicalPrefix(input), want));
  }
});

describe("address helpers", () => {
  it("takes the address of Contiv's routerip", () => {
    assert.equal(addressOfCidr("198.18.0.11/24"), "198.18.0.11");
    assert.equal(addressOfCidr("198.18.0.11"), "198.18.0.11");
    assert.equal(addressOfCidr("198.18.0.11/abc"), null);
  });
  it("canonicalises IPv6 and rejects junk", () => {
    assert.equal(canonicalIp("FE80:0:0:0:0:0:0:1"), "fe80::1");
    assert.equal(canonicalIp("300.1.1.1"), null);
  });
  it("reads ip -json dst fields", () => {
    assert.equal(prefixFromRouteDst("198.18.60.5", 4), "198.18.60.5/32");
    assert.equal(prefixFromRouteDst("10.0.0.0/8", 4), "10.0.0.0/8");
    assert.equal(prefixFromRouteDst("default", 6), "::/0");
  });
  it("recognises link-local and IPv4-mapped next hops", () => {
    assert.equal(isLinkLocal("fe80::5401:77ff:feb7:530a"), true);
    assert.equal(isLinkLocal("fd00::1"), false);
    assert.equal(isLinkLocal("10.0.0.1"), false);
    assert.equal(unmapIpv4("::ffff:198.18.50.11"), "198.18.50.11");
    assert.equal(unmapIpv4("::ffff:c612:320b"), "198.18.50.11");
    assert.equal(unmapIpv4("fd00::1"), null);
  });
});
