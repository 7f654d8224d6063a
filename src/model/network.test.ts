import { kinds } from "./kinds.js";
import { type Case, formatCases, intCases, nameCases, runCases } from "./testutil.js";

const base = { tenantName: "default", networkName: "net1", encap: "vxlan", subnet: "10.1.1.0/24" };

const cases: Case[] = [
  { name: "minimal body: defaults", want: { nwType: "data", pktTag: 0, gateway: "", cfgdTag: "", ipv6Subnet: "" } },
  ...nameCases("tenantName", { struct: "Network", max: 64, pattern: "NAME" }),
  ...nameCases("networkName", { struct: "Network", max: 64, pattern: "NAME" }),
  ...nameCases("cfgdTag", { struct: "Network", max: 128, pattern: "EMPTY_OR_NAME" }),
  ...formatCases("encap", ["vlan", "vxlan"], ["", "VLAN", "gre", "vxlan "]),
  { name: "encap: required", unset: ["encap"], error: "encap string invalid format" },
  ...formatCases("nwType", ["infra", "data"], ["Data", "other"]),
  { name: "nwType: missing → data", unset: ["nwType"], want: { nwType: "data" } },
  { name: "nwType: empty → data", set: { nwType: "" }, want: { nwType: "data" } },
  ...intCases("Network", "pktTag", 0, 16777216),
  ...formatCases(
    "subnet",
    ["10.1.1.0/24", "10.0.0.0/8", "10.1.1.0/31", "10.0.0.0/1", "10.1.1.10-10.1.1.20/24", "0.0.0.0/16"],
    ["", "10.1.1.0", "10.1.1.0/32", "10.1.1.0/0", "10.1.1.0/024", "10.1.1.0/24/", "10.1.1.5-10.1.1.9",
      "256.1.1.0/24", "10.1.1.01/24", "10.1.1.0-20/24", " 10.1.1.0/24"],
  ),
  { name: "subnet: required", unset: ["subnet"], error: "subnet string invalid format" },
  ...formatCases("gateway", ["", "10.1.1.254", "0.0.0.0", "255.255.255.255"], ["10.1.1", "10.1.1.256", "10.1.1.1/24", "::1"]),
  ...formatCases(
    "ipv6Gateway",
    ["", "2001:db8::1", "fe80::", "::1", "::", "1:2:3:4:5:6:7:8", "ABCD:ef01::9"],
    ["2001:db8::g", "1:2:3:4:5:6:7:8:9", "10.1.1.1", "2001:db8::/64", "12345::1"],
  ),
  ...formatCases(
    "ipv6Subnet",
    ["", "2001:db8::/64", "2001:db8::/1", "2001:db8::/99", "2001:db8::/100", "2001:db8::/127",
      // The original rejected these five (regex bug); we accept them.
      "2001:db8::/108", "2001:db8::/109", "2001:db8::/118", "2001:db8::/119", "2001:db8::1/128"],
    ["2001:db8::", "2001:db8::/0", "2001:db8::/129", "2001:db8::/064", "2001:db8::/130", "10.1.1.0/24"],
  ),
  {
    name: "first failure in JSON-name order (cfgdTag before encap)",
    set: { cfgdTag: "-x", encap: "gre" },
    error: "cfgdTag string invalid format",
    paths: ["cfgdTag", "encap"],
  },
  {
    name: "length is reported before format",
    set: { networkName: "_".repeat(65) },
    error: "networkName string too long",
  },
];

runCases(kinds.network, base, cases);
