import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { CniError } from "./errors.js";
import { formatResult, parseResult, type CniResult } from "./result.js";

// What Debian's bridge + host-local (containernetworking-plugins 1.1.1) printed for a dual-stack ADD,
// compacted; our output must match it byte for byte (key order included).
const BRIDGE_031 =
  '{"cniVersion":"0.3.1","interfaces":[{"name":"cnitbr0","mac":"86:a4:b2:7f:2a:7a"},{"name":"veth56b0d936","mac":"de:69:c5:31:be:4c"},' +
  '{"name":"eth031","mac":"02:00:00:00:00:00","sandbox":"/run/netns/cnitest1"}],' +
  '"ips":[{"version":"4","interface":2,"address":"198.18.240.2/24","gateway":"198.18.240.1"},' +
  '{"version":"6","interface":2,"address":"fd00:1::2/64","gateway":"fd00:1::1"}],' +
  '"routes":[{"dst":"0.0.0.0/0"}],"dns":{"nameservers":["198.18.240.1"],"search":["a.b"]}}';
const BRIDGE_100 =
  '{"cniVersion":"1.0.0","interfaces":[{"name":"cnitbr0","mac":"86:a4:b2:7f:2a:7a"},{"name":"veth91196a63","mac":"52:35:7e:de:db:8d"},' +
  '{"name":"eth100","mac":"02:00:00:00:00:01","sandbox":"/run/netns/cnitest1"}],' +
  '"ips":[{"interface":2,"address":"198.18.240.3/24","gateway":"198.18.240.1"},' +
  '{"interface":2,"address":"fd00:1::3/64","gateway":"fd00:1::1"}],' +
  '"routes":[{"dst":"0.0.0.0/0"}],"dns":{"nameservers":["198.18.240.1"],"search":["a.b"]}}';

function sample(): CniResult {
  return {
    interfaces: [
      { name: "nph1a2b3c", mac: "02:02:00:00:00:01" },
      { name: "eth0", mac: "02:02:c6:12:05:02", sandbox: "/run/netns/c1", mtu: 1450, socketPath: "/x.sock", pciID: "0000:00:01.0" },
    ],
    ips: [
      { address: "198.18.5.2/24", gateway: "198.18.5.1", interface: 1 },
      { address: "fd00:5::2/64", gateway: "fd00:5::1", interface: 1 },
    ],
    routes: [
      { dst: "0.0.0.0/0", gw: "198.18.5.1", mtu: 1400, advmss: 1360, priority: 10, table: 100, scope: 0 },
      { dst: "::/0" },
    ],
    dns: { nameservers: ["198.18.5.1"], domain: "blue.default", search: ["blue.default"], options: ["ndots:2"] },
  };
}

describe("formatResult", () => {
  it("reproduces the bridge plugin's 0.3.1 and 1.0.0 output exactly", () => {
    for (const golden of [BRIDGE_031, BRIDGE_100]) {
      const parsed = parseResult(JSON.parse(golden));
      const version = (JSON.parse(golden) as { cniVersion: "0.3.1" | "1.0.0" }).cniVersion;
      assert.equal(JSON.stringify(formatResult(version, parsed)), golden);
    }
  });

  const golden: Record<string, string> = {
    "0.3.0":
      '{"cniVersion":"0.3.0","interfaces":[{"name":"nph1a2b3c","mac":"02:02:00:00:00:01"},{"name":"eth0","mac":"02:02:c6:12:05:02","sandbox":"/run/netns/c1"}],' +
      '"ips":[{"version":"4","interface":1,"address":"198.18.5.2/24","gateway":"198.18.5.1"},{"version":"6","interface":1,"address":"fd00:5::2/64","gateway":"fd00:5::1"}],' +
      '"routes":[{"dst":"0.0.0.0/0","gw":"198.18.5.1"},{"dst":"::/0"}],' +
      '"dns":{"nameservers":["198.18.5.1"],"domain":"blue.default","search":["blue.default"],"options":["ndots:2"]}}',
    "1.0.0":
      '{"cniVersion":"1.0.0","interfaces":[{"name":"nph1a2b3c","mac":"02:02:00:00:00:01"},{"name":"eth0","mac":"02:02:c6:12:05:02","sandbox":"/run/netns/c1"}],' +
      '"ips":[{"interface":1,"address":"198.18.5.2/24","gateway":"198.18.5.1"},{"interface":1,"address":"fd00:5::2/64","gateway":"fd00:5::1"}],' +
      '"routes":[{"dst":"0.0.0.0/0","gw":"198.18.5.1"},{"dst":"::/0"}],' +
      '"dns":{"nameservers":["198.18.5.1"],"domain":"blue.default","search":["blue.default"],"options":["ndots:2"]}}',
    "1.1.0":
      '{"cniVersion":"1.1.0","interfaces":[{"name":"nph1a2b3c","mac":"02:02:00:00:00:01"},' +
      '{"name":"eth0","mac":"02:02:c6:12:05:02","mtu":1450,"sandbox":"/run/netns/c1","socketPath":"/x.sock","pciID":"0000:00:01.0"}],' +
      '"ips":[{"interface":1,"address":"198.18.5.2/24","gateway":"198.18.5.1"},{"interface":1,"address":"fd00:5::2/64","gateway":"fd00:5::1"}],' +
      '"routes":[{"dst":"0.0.0.0/0","gw":"198.18.5.1","mtu":1400,"advmss":1360,"priority":10,"table":100,"scope":0},{"dst":"::/0"}],' +
      '"dns":{"nameservers":["198.18.5.1"],"domain":"blue.default","search":["blue.default"],"options":["ndots:2"]}}',
  };
  golden["0.3.1"] = golden["0.3.0"]!.replace('"0.3.0"', '"0.3.1"');
  golden["0.4.0"] = golden["0.3.0"]!.replace('"0.3.0"', '"0.4.0"');

  for (const [version, want] of Object.entries(golden)) {
    it(`prints the ${version} result shape`, () => {
      assert.equal(JSON.stringify(formatResult(version as "1.1.0", sample())), want);
    });
  }

  it("leaves empty lists out and always prints dns", () => {
    const r: CniResult = { interfaces: [], ips: [], routes: [], dns: {} };
    assert.equal(JSON.stringify(formatResult("1.0.0", r)), '{"cniVersion":"1.0.0","dns":{}}');
  });

  it("does not share arrays with its input", () => {
    const r = sample();
    const out = formatResult("1.1.0", r) as { dns: { search: string[] } };
    out.dns.search.push("x");
    assert.deepEqual(r.dns.search, ["blue.default"]);
  });

  const broken: { name: string; edit: (r: CniResult) => void; msg: RegExp }[] = [
    { name: "an address without prefix", edit: (r) => (r.ips[0]!.address = "198.18.5.2"), msg: /ips\[0\].address: "198.18.5.2" is not an address with prefix length/ },
    { name: "a gateway of the other family", edit: (r) => (r.ips[1]!.gateway = "198.18.5.1"), msg: /ips\[1\].gateway: "198.18.5.1" is not an IPv6 address/ },
    { name: "an interface index out of range", edit: (r) => (r.ips[0]!.interface = 2), msg: /ips\[0\].interface: 2 is not an index into 2 interfaces/ },
    { name: "a bad MAC", edit: (r) => (r.interfaces[1]!.mac = "zz"), msg: /interfaces\[1\].mac/ },
    { name: "an empty interface name", edit: (r) => (r.interfaces[0]!.name = ""), msg: /interfaces\[0\].name: is empty/ },
    { name: "a bad route", edit: (r) => (r.routes[1]!.dst = "::"), msg: /routes\[1\].dst: "::" is not a prefix/ },
  ];
  for (const c of broken) {
    it(`refuses ${c.name} with code 100`, () => {
      const r = sample();
      c.edit(r);
      assert.throws(
        () => formatResult("1.0.0", r),
        (err: unknown) => err instanceof CniError && err.code === 100 && c.msg.test(err.message),
      );
    });
  }
});

describe("parseResult", () => {
  it("reads 0.3.1 and 1.0.0 results into the same shape", () => {
    const a = parseResult(JSON.parse(BRIDGE_031));
    const b = parseResult(JSON.parse(BRIDGE_100));
    assert.equal(a.interfaces[2]?.sandbox, "/run/netns/cnitest1");
    assert.deepEqual(a.ips[1], { address: "fd00:1::2/64", gateway: "fd00:1::1", interface: 2 });
    assert.deepEqual(b.ips[0], { address: "198.18.240.3/24", gateway: "198.18.240.1", interface: 2 });
    assert.deepEqual(a.routes, [{ dst: "0.0.0.0/0" }]);
    assert.deepEqual(b.dns, { nameservers: ["198.18.240.1"], search: ["a.b"] });
  });

  it("round-trips a 1.1.0 result", () => {
    const out = formatResult("1.1.0", sample());
    assert.deepEqual(formatResult("1.1.0", parseResult(out)), out);
  });

  it("accepts a minimal result (an IPAM-style one without interfaces)", () => {
    assert.deepEqual(parseResult({ cniVersion: "0.4.0", ips: [{ version: "4", address: "10.0.0.2/24" }] }), {
      interfaces: [],
      ips: [{ address: "10.0.0.2/24" }],
      routes: [],
      dns: {},
    });
  });

  const bad: { name: string; json: unknown; msg: RegExp }[] = [
    { name: "a non-object", json: "x", msg: /prevResult: must be an object/ },
    { name: "ips that are not a list", json: { ips: {} }, msg: /prevResult.ips: must be a list/ },
    { name: "an address without prefix", json: { ips: [{ address: "10.0.0.2" }] }, msg: /prevResult.ips\[0\].address/ },
    { name: "an interface without a name", json: { interfaces: [{ mac: "02:00:00:00:00:01" }] }, msg: /prevResult.interfaces\[0\]/ },
    { name: "a bad interface index", json: { ips: [{ address: "10.0.0.2/24", interface: -1 }] }, msg: /prevResult.ips\[0\].interface/ },
    { name: "a route without dst", json: { routes: [{ gw: "10.0.0.1" }] }, msg: /prevResult.routes\[0\].dst/ },
    { name: "bad dns", json: { dns: { nameservers: "10.0.0.1" } }, msg: /prevResult.dns.nameservers: must be a list of strings/ },
  ];
  for (const c of bad) {
    it(`rejects ${c.name} with code 7`, () => {
      assert.throws(
        () => parseResult(c.json),
        (err: unknown) => err instanceof CniError && err.code === 7 && c.msg.test(err.message),
      );
    });
  }
});
