import assert from "node:assert/strict";
import { describe, it } from "node:test";

import type { RibPath } from "./gobgpJson.js";
import {
  describeRoute,
  diffAnnouncements,
  diffKernelRoutes,
  parseKernelRoutes,
  renderAnnouncements,
  renderLearnedRoutes,
  renderRouteBatch,
} from "./routes.js";

const ours = (prefix: string, nextHop: string): RibPath => ({ prefix, nextHop, best: true, learned: false });
const learned = (prefix: string, nextHop: string | undefined, best = true): RibPath => ({
  prefix,
  nextHop,
  best,
  learned: true,
  neighbor: "198.18.50.1",
});

describe("renderAnnouncements", () => {
  it("gives IPv4 prefixes the router address and IPv6 ones the IPv6 next hop", () => {
    assert.deepEqual(renderAnnouncements(["10.1.1.5/32", "fd00::5/128"], { v4: "198.18.0.11", v6: "fd00:50::11" }), {
      wanted: [
        { prefix: "10.1.1.5/32", nextHop: "198.18.0.11" },
        { prefix: "fd00::5/128", nextHop: "fd00:50::11" },
      ],
      skipped: [],
    });
  });
  it("skips IPv6 prefixes without an IPv6 next hop", () => {
    assert.deepEqual(renderAnnouncements(["10.1.1.5/32", "fd00::5/128"], { v4: "198.18.0.11", v6: undefined }).skipped, ["fd00::5/128"]);
  });
});

describe("diffAnnouncements", () => {
  const wanted = [
    { prefix: "10.1.1.5/32", nextHop: "198.18.0.11" },
    { prefix: "10.1.1.6/32", nextHop: "198.18.0.11" },
  ];
  it("adds what is missing and withdraws what is extra, ignoring learned paths", () => {
    const rib = [ours("10.1.1.5/32", "198.18.0.11"), ours("10.1.1.9/32", "198.18.0.11"), learned("10.2.0.1/32", "198.18.0.1")];
    assert.deepEqual(diffAnnouncements(wanted, rib), { add: [wanted[1]], withdraw: ["10.1.1.9/32"] });
  });
  it("changes nothing when the RIB matches", () => {
    const rib = [ours("10.1.1.5/32", "198.18.0.11"), ours("10.1.1.6/32", "198.18.0.11")];
    assert.deepEqual(diffAnnouncements(wanted, rib), { add: [], withdraw: [] });
  });
  it("re-adds a prefix whose next hop changed", () => {
    const rib = [ours("10.1.1.5/32", "198.18.0.99"), ours("10.1.1.6/32", "198.18.0.11")];
    assert.deepEqual(diffAnnouncements(wanted, rib), { add: [wanted[0]], withdraw: [] });
  });
  it("withdraws everything for an empty list", () => {
    assert.deepEqual(diffAnnouncements([], [ours("10.1.1.5/32", "198.18.0.11")]), { add: [], withdraw: ["10.1.1.5/32"] });
  });
});

describe("renderLearnedRoutes", () => {
  const ctx = { announced: new Set(["10.1.1.5/32"]), ownAddresses: new Set(["198.18.0.11"]), underlayDev: "eth0" };
  it("installs best learned paths only", () => {
    const rib = [
      ours("10.1.1.6/32", "198.18.0.11"),
      learned("10.2.0.1/32", "198.18.0.12"),
      learned("10.2.0.2/32", "198.18.0.13", false),
      learned("10.2.0.2/32", "198.18.0.14"),
    ];
    assert.deepEqual(renderLearnedRoutes(rib, ctx), {
      routes: [
        { prefix: "10.2.0.1/32", via: "198.18.0.12" },
        { prefix: "10.2.0.2/32", via: "198.18.0.14" },
      ],
      skipped: [],
    });
  });
  it("gives link-local next hops the underlay device", () => {
    assert.deepEqual(renderLearnedRoutes([learned("fd00:61::7/128", "fe80::1")], ctx).routes, [
      { prefix: "fd00:61::7/128", via: "fe80::1", dev: "eth0" },
    ]);
  });
  const skips: [string, RibPath, string][] = [
    ["our own prefix reflected back", learned("10.1.1.5/32", "198.18.0.1"), ""],
    ["a route via ourselves", learned("10.2.0.9/32", "198.18.0.11"), "is this host"],
    ["an IPv4-mapped next hop", learned("fd00::9/128", "::ffff:c612:1"), "IPv4-mapped"],
    ["a next hop of the other family", learned("10.2.0.9/32", "fd00::1"), "other family"],
    ["no next hop", learned("10.2.0.9/32", undefined), "no next hop"],
  ];
  for (const [name, path, reason] of skips) {
    it(`skips ${name}`, () => {
      const result = renderLearnedRoutes([path], ctx);
      assert.deepEqual(result.routes, []);
      if (reason !== "") assert.match(result.skipped[0]?.reason ?? "", new RegExp(reason));
    });
  }
  it("skips a link-local next hop without an underlay device", () => {
    assert.deepEqual(renderLearnedRoutes([learned("fd00::9/128", "fe80::1")], { ...ctx, underlayDev: undefined }).routes, []);
  });
});

describe("kernel routes", () => {
  it("parses ip -json route output", () => {
    assert.deepEqual(parseKernelRoutes('[{"dst":"198.18.61.7","gateway":"198.18.50.12","dev":"eth0","flags":[]}]', 4), [
      { prefix: "198.18.61.7/32", via: "198.18.50.12", dev: "eth0" },
    ]);
    assert.deepEqual(
      parseKernelRoutes(
        '[{"dst":"fd00:61::7","gateway":"fe80::1","dev":"eth0","metric":1024,"flags":[],"pref":"medium"},{"dst":"fd00:62::/64","via":{"family":"inet","host":"198.18.50.1"},"dev":"eth0"}]',
        6,
      ),
      [
        { prefix: "fd00:61::7/128", via: "fe80::1", dev: "eth0" },
        { prefix: "fd00:62::/64", via: "198.18.50.1", dev: "eth0" },
      ],
    );
    assert.deepEqual(parseKernelRoutes("", 4), []);
    assert.throws(() => parseKernelRoutes("{", 4));
    assert.throws(() => parseKernelRoutes('[{"gateway":"1.1.1.1"}]', 4));
  });

  it("diffs and renders an ip -batch plan", () => {
    const wanted = [
      { prefix: "10.2.0.1/32", via: "198.18.0.12" },
      { prefix: "10.2.0.2/32", via: "198.18.0.14" },
      { prefix: "fd00::7/128", via: "fe80::1", dev: "eth0" },
    ];
    const current = [
      { prefix: "10.2.0.1/32", via: "198.18.0.12", dev: "eth0" },
      { prefix: "10.2.0.2/32", via: "198.18.0.13", dev: "eth0" },
      { prefix: "10.2.0.3/32", via: "198.18.0.13", dev: "eth0" },
      { prefix: "fd00::7/128", via: "fe80::1", dev: "eth1" },
    ];
    const plan = diffKernelRoutes(wanted, current);
    assert.deepEqual(plan, { replace: [wanted[1], wanted[2]], remove: [current[2]] });
    assert.equal(
      renderRouteBatch(plan, "bgp"),
      "route del 10.2.0.3/32 proto bgp\n" +
        "route replace 10.2.0.2/32 via 198.18.0.14 proto bgp\n" +
        "route replace fd00::7/128 via fe80::1 dev eth0 proto bgp\n",
    );
    assert.equal(renderRouteBatch(diffKernelRoutes(wanted.slice(0, 1), current.slice(0, 1)), "bgp"), "");
  });

  it("describes routes as Contiv's inspect does", () => {
    assert.equal(describeRoute({ prefix: "10.1.2.5/32", nextHop: "198.18.0.12" }), "10.1.2.5/32 via 198.18.0.12");
  });
});
