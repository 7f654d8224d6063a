import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { ValidationError } from "../../lib/errors.js";
import { parseBgpConfig, renderGobgpdConfig } from "./config.js";

const good = {
  routerIp: "198.18.50.11/24",
  as: "65001",
  neighbor: "198.18.50.1",
  neighborAs: "65000",
  announce: ["198.18.60.5/32", "198.18.60.5", "fd00:60:0::5/128", "10.9.9.9"],
};

describe("parseBgpConfig", () => {
  it("makes the config canonical", () => {
    assert.deepEqual(parseBgpConfig(good), {
      routerId: "198.18.50.11",
      localAs: 65001,
      neighbor: "198.18.50.1",
      neighborAs: 65000,
      announce: ["10.9.9.9/32", "198.18.60.5/32", "fd00:60::5/128"],
    });
  });

  it("keeps routerIp6", () => {
    assert.equal(parseBgpConfig({ ...good, routerIp6: "FD00:50::11" }).routerIp6, "fd00:50::11");
  });

  const bad: [string, unknown, string[]][] = [
    ["routerip not IPv4", { ...good, routerIp: "fd00::1/64" }, ["routerIp"]],
    ["routerip junk", { ...good, routerIp: "1.2.3/24" }, ["routerIp"]],
    ["as not a number", { ...good, as: "65a" }, ["as"]],
    ["as zero", { ...good, as: "0" }, ["as"]],
    ["as too big", { ...good, neighborAs: "4294967296" }, ["neighborAs"]],
    ["neighbor junk", { ...good, neighbor: "router" }, ["neighbor"]],
    ["bad prefix", { ...good, announce: ["10.1.1.1/32", "10.1.1.1/40"] }, ["announce.1"]],
    ["routerIp6 IPv4", { ...good, routerIp6: "1.2.3.4" }, ["routerIp6"]],
    ["missing field", { routerIp: "1.2.3.4/24", as: "1", neighbor: "1.2.3.1", announce: [] }, ["neighborAs"]],
    ["several", { ...good, as: "x", neighbor: "y" }, ["neighbor", "as"]],
  ];
  for (const [name, input, paths] of bad) {
    it(`rejects ${name}`, () => {
      assert.throws(
        () => parseBgpConfig(input),
        (err: unknown) => err instanceof ValidationError && JSON.stringify(err.issues.map((i) => i.path)) === JSON.stringify(paths),
      );
    });
  }
});

describe("renderGobgpdConfig", () => {
  it("renders global, one neighbor and both families", () => {
    const text = renderGobgpdConfig(parseBgpConfig(good), { listenPort: 179, connectRetrySec: 5 });
    assert.equal(
      text,
      `# Written by the netplugin agent (routing mode); rewritten and gobgpd restarted when it changes.
[global.config]
  as = 65001
  router-id = "198.18.50.11"
  port = 179

[[neighbors]]
  [neighbors.config]
    neighbor-address = "198.18.50.1"
    peer-as = 65000
  [neighbors.timers.config]
    connect-retry = 5
  [neighbors.transport.config]
    local-address = "198.18.50.11"
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv6-unicast"
`,
    );
  });

  it("does not depend on the announced prefixes (they never restart gobgpd)", () => {
    const d = { listenPort: 179, connectRetrySec: 5 };
    assert.equal(renderGobgpdConfig(parseBgpConfig(good), d), renderGobgpdConfig(parseBgpConfig({ ...good, announce: [] }), d));
  });
});
