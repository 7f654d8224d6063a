import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { canonicalIp, formatIp, ipBytes, ipFromBytes, maskIp, parseIp } from "./ip.js";

describe("ip", () => {
  it("canonical text: IPv4 as is, IPv6 in RFC 5952 form; anything else (a zone too) is none", () => {
    const cases: [string, string | null][] = [
      ["198.18.0.1", "198.18.0.1"],
      ["FD00:0:0:0::1", "fd00::1"],
      ["2001:db8:0:1:0:0:0:1", "2001:db8:0:1::1"],
      ["::ffff:192.0.2.1", "::ffff:c000:201"],
      ["::", "::"],
      ["01.2.3.4", null],
      ["198.18.0.256", null],
      ["fe80::1%eth0", null],
      ["", null],
    ];
    for (const [text, want] of cases) assert.equal(canonicalIp(text), want, text);
  });

  it("masks to the first address of a prefix, both families", () => {
    const masked = (text: string, len: number) => {
      const ip = maskIp(parseIp(text)!, len);
      return formatIp(ip.family, ip.value);
    };
    assert.equal(masked("198.18.5.77", 24), "198.18.5.0");
    assert.equal(masked("198.18.5.77", 0), "0.0.0.0");
    assert.equal(masked("198.18.5.77", 32), "198.18.5.77");
    assert.equal(masked("fd00:1:2:3:4:5:6:7", 64), "fd00:1:2:3::");
    assert.equal(masked("fd00::7", 128), "fd00::7");
  });

  it("round-trips network order bytes and refuses other lengths", () => {
    for (const text of ["198.18.0.1", "fd00::1:2"]) {
      const ip = parseIp(text)!;
      const back = ipFromBytes(ipBytes(ip));
      assert.equal(formatIp(back.family, back.value), text);
    }
    assert.deepEqual([...ipBytes(parseIp("198.18.0.1")!)], [198, 18, 0, 1]);
    assert.throws(() => ipFromBytes(new Uint8Array(5)), /5 bytes/);
  });
});
