import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isLoopbackHost, parseHostPort } from "./host-port.js";

describe("parseHostPort", () => {
  it("reads HOST:PORT, [IPv6]:PORT and URLs of them", () => {
    assert.deepEqual(parseHostPort("10.0.0.1:9999", "--x"), { host: "10.0.0.1", port: 9999 });
    assert.deepEqual(parseHostPort("[::1]:9999", "--x"), { host: "::1", port: 9999 });
    assert.deepEqual(parseHostPort("https://nm.example:443/", "--x"), { host: "nm.example", port: 443 });
  });
  it("refuses anything else naming the flag", () => {
    for (const bad of ["10.0.0.1", "::1:9999", "h:0", "h:65536", "ftp://h:1"]) assert.throws(() => parseHostPort(bad, "--x"), /^Error: Invalid --x/, bad);
  });
});

describe("isLoopbackHost", () => {
  const cases: [string, boolean][] = [
    ["localhost", true],
    ["LocalHost", true],
    ["127.0.0.1", true],
    ["127.1.2.3", true],
    ["::1", true],
    ["0:0:0:0:0:0:0:1", true],
    ["0.0.0.0", false],
    ["::", false],
    ["10.0.0.1", false],
    ["128.0.0.1", false],
    ["127.example.com", false],
    ["::ffff:127.0.0.1", false],
    ["localhost.example", false],
  ];
  for (const [host, loopback] of cases) it(`${host}: ${loopback}`, () => assert.equal(isLoopbackHost(host), loopback));
});
