import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { kinds } from "./kinds.js";
import { normalizeBandwidth, parseBandwidth } from "./netprofile.js";
import { type Case, formatCases, intCases, nameCases, runCases } from "./testing/cases.js";

const base = { tenantName: "default", profileName: "gold", bandwidth: "10Mbps", DSCP: 10, burst: 100 };

const cases: Case[] = [
  { name: "minimal body: defaults", set: {}, unset: ["bandwidth", "DSCP", "burst"], want: { bandwidth: "", DSCP: 0, burst: 0 } },
  ...intCases("Netprofile", "DSCP", 0, 63),
  ...intCases("Netprofile", "burst", 0, 10486),
  { name: "dscp (lower case) is decoded into DSCP, as Go does", unset: ["DSCP"], set: { dscp: 7 }, want: { DSCP: 7 } },
  ...formatCases(
    "bandwidth",
    ["", "10Mbps", "10 Gbps", "10 Gb", "5Gb", "4g", "20mb", "1kbps", "100 mbps", "1gbps", "7K", "3 m",
      // The original's `[kmgKMG{1}]` class admits these; kept.
      "10 1bps", "10 {"],
    ["0 Gbps", " 10 Gbps", "Gbps", "10 ms", "10Tbps", "10  Gbps", "01Mbps", "10 Mbps ", "10GB", "-5Mbps"],
  ),
  { name: "bandwidth: 64 bytes", set: { bandwidth: `1${"0".repeat(59)}Mbps` } },
  { name: "bandwidth: 65 bytes", set: { bandwidth: `1${"0".repeat(60)}Mbps` }, error: "bandwidth string too long" },
  ...nameCases("profileName", { struct: "Netprofile", max: 64, pattern: "none" }),
  { name: "tenantName: no rule of its own", set: { tenantName: "under_score" } },
  {
    name: "DSCP is checked first (upper case sorts first)",
    set: { DSCP: 64, bandwidth: "x", burst: 99999 },
    error: "DSCP Value Out of bound",
    paths: ["DSCP", "bandwidth", "burst"],
  },
];

runCases(kinds.netprofile, base, cases);

describe("parseBandwidth", () => {
  const table: Array<[string, number | undefined]> = [
    ["", undefined],
    ["10Mbps", 10 * 1024 ** 2],
    ["10 Gbps", 10 * 1024 ** 3],
    ["5Gb", 5 * 1024 ** 3],
    ["4g", 4 * 1024 ** 3],
    ["20mb", 20 * 1024 ** 2],
    ["1kbps", 1024],
    ["100 Kb", 100 * 1024],
    ["7K", 7 * 1024],
    ["10 1bps", undefined],
  ];
  for (const [input, bits] of table) {
    it(`${JSON.stringify(input)} → ${String(bits)}`, () => assert.equal(parseBandwidth(input), bits));
  }
  it("matches the original's kbit/s for OVS (10Mbps → 10485)", () => {
    assert.equal(Math.floor((parseBandwidth("10Mbps") ?? 0) / 1000), 10485);
  });
});

describe("normalizeBandwidth", () => {
  const table: Array<[string, string]> = [
    ["", ""],
    ["10Mbps", "10Mbps"],
    ["10 gbps", "10Gbps"],
    ["5Gb", "5Gbps"],
    ["4g", "4Gbps"],
    ["20mb", "20Mbps"],
    ["100 kb", "100Kbps"],
    ["7K", "7Kbps"],
  ];
  for (const [input, want] of table) {
    it(`${JSON.stringify(input)} → ${JSON.stringify(want)}`, () => assert.equal(normalizeBandwidth(input), want));
  }
});
