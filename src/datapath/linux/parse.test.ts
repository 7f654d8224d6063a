// Unit tests of parsing what the tools print, for the parsers observe.test.ts does not cover through observeHost.

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { ProcessError } from "../../lib/process.js";
import { parseLbBackends } from "./parse.js";
import type { ServiceBackend } from "./state.js";
import { dnatRule, LB_OBJECT, servicesMap } from "./testing/services.js";

const ARGV = ["nft", "-j", "list", "table", "inet", "netplugin_lb"];
const T = LB_OBJECT;

/** What else the table holds (trimmed from nft 1.0.6): other maps, the lookups, DNS interception. */
const OTHERS = [
  { metainfo: { version: "1.0.6", release_name: "Lester Gooch #5", json_schema_version: 1 } },
  { table: { family: "inet", name: "netplugin_lb", handle: 7 } },
  { set: { ...T, name: "vips4", type: "ipv4_addr", handle: 1, elem: ["198.18.1.100"] } },
  { map: { ...T, name: "hairpin4", type: ["ipv4_addr", "ipv4_addr"], handle: 11, map: "ipv4_addr", elem: [[{ concat: ["198.18.1.1", "198.18.1.1"] }, "198.18.1.254"]] } },
  { map: { ...T, name: "dns4", type: "ifname", handle: 13, map: "ipv4_addr", elem: [["nb00000001", "198.18.1.254"]] } },
  { chain: { ...T, name: "svc1_tcp_80", handle: 29, comment: "web" } },
  {
    rule: {
      ...T, chain: "prerouting", handle: 14,
      expr: [{ vmap: { key: { concat: [{ payload: { protocol: "ip", field: "daddr" } }, { meta: { key: "l4proto" } }, { payload: { protocol: "th", field: "dport" } }] }, data: "@services4" } }],
    },
  },
  { rule: { ...T, chain: "prerouting", handle: 17, expr: [{ dnat: { family: "ip", addr: { map: { key: { meta: { key: "iifname" } }, data: "@dns4" } } } }] } },
  { rule: { ...T, chain: "postrouting", handle: 18, expr: [{ snat: { family: "ip", addr: { map: { key: { concat: [] }, data: "@hairpin4" } } } }] } },
];

const text = (...objects: object[]): string => JSON.stringify({ nftables: [...OTHERS, ...objects] });
const backend = (vip: string, protocol: "tcp" | "udp", port: number, address: string, targetPort: number): ServiceBackend => ({ vip, protocol, port, address, targetPort });
const sorted = (list: ServiceBackend[]): string[] => list.map((b) => `${b.vip} ${b.port}/${b.protocol} ${b.address} ${b.targetPort}`).sort();

describe("parseLbBackends", () => {
  const cases: Array<[string, string, ServiceBackend[]]> = [
    [
      "joins each VIP, protocol and port with the providers of its chain in the VIP's family",
      text(
        servicesMap(4, [["198.18.1.100", "udp", 53, "svc1_udp_53"], ["198.18.1.100", "tcp", 80, "svc1_tcp_80"]]),
        servicesMap(6, [["fd00:1::100", "tcp", 80, "svc1_tcp_80"]]),
        dnatRule("svc1_tcp_80", 4, "tcp", [["198.18.1.1", 8080], ["198.18.1.21", 8080]]),
        dnatRule("svc1_tcp_80", 6, "tcp", [["fd00:1::1", 8080]]),
        dnatRule("svc1_udp_53", 4, "udp", [["198.18.1.1", 5353]]),
      ),
      [
        backend("198.18.1.100", "tcp", 80, "198.18.1.1", 8080),
        backend("198.18.1.100", "tcp", 80, "198.18.1.21", 8080),
        backend("198.18.1.100", "udp", 53, "198.18.1.1", 5353),
        backend("fd00:1::100", "tcp", 80, "fd00:1::1", 8080),
      ],
    ],
    [
      "writes addresses canonically",
      text(servicesMap(6, [["fd00:1:0::100", "udp", 81, "svc0_udp_81"]]), dnatRule("svc0_udp_81", 6, "udp", [["FD00:1::0:7", 7007]])),
      [backend("fd00:1::100", "udp", 81, "fd00:1::7", 7007)],
    ],
    [
      "gives nothing for a port whose chain has no provider of its family, or is not there",
      text(
        servicesMap(4, [["198.18.1.100", "tcp", 80, "svc1_tcp_80"], ["198.18.1.101", "tcp", 80, "svc2_tcp_80"]]),
        dnatRule("svc1_tcp_80", 6, "tcp", [["fd00:1::1", 8080]]),
      ),
      [],
    ],
    ["gives nothing for empty maps (printed without elem)", text(servicesMap(4, []), servicesMap(6, [])), []],
    ["gives nothing for a table with DNS interception only", text(), []],
    [
      "skips elements and statements of other shapes (a table of another version)",
      text(
        { map: { ...T, name: "services4", handle: 9, map: "verdict", elem: [[{ concat: ["198.18.1.100", "sctp", 80] }, { goto: { target: "svc1_tcp_80" } }], "junk"] } },
        { rule: { ...T, chain: "svc1_tcp_80", handle: 30, expr: [{ dnat: { family: "ip", addr: "198.18.1.1", port: 8080 } }] } },
      ),
      [],
    ],
  ];
  for (const [name, input, want] of cases) {
    it(name, () => {
      assert.deepEqual(sorted(parseLbBackends(input, ARGV)), sorted(want));
    });
  }

  const bad: Array<[string, string, RegExp]> = [
    ["not JSON", "Error: No such file or directory", /not JSON/],
    ["no nftables list", JSON.stringify({ tables: [] }), /nftables/],
    ["objects that are not objects", JSON.stringify({ nftables: [1, 2] }), /nftables\.0/],
  ];
  for (const [name, input, message] of bad) {
    it(`rejects ${name} as unexpected output of the command`, () => {
      assert.throws(
        () => parseLbBackends(input, ARGV),
        (error: unknown) => error instanceof ProcessError && message.test(error.message) && error.message.includes(ARGV.join(" ")),
      );
    });
  }
});
