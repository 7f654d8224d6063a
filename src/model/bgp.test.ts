import { kinds } from "./kinds.js";
import { type Case, formatCases, nameCases, runCases } from "./testutil.js";

const base = { hostname: "host1", routerip: "65.1.1.1/24", as: "65002", "neighbor-as": "500", neighbor: "65.1.1.2" };

const cases: Case[] = [
  { name: "full body", want: base },
  ...nameCases("hostname", { struct: "Bgp", max: 256, pattern: "NAME" }),
  ...nameCases("as", { struct: "Bgp", max: 64, pattern: "none" }),
  ...nameCases("neighbor-as", { struct: "Bgp", max: 64, pattern: "none" }),
  { name: "neighbor-as and as may be empty", unset: ["as", "neighbor-as"], want: { as: "", "neighbor-as": "" } },
  ...formatCases("neighbor", ["", "192.168.100.100"], ["192.168.1", "192.168.1.1/24", "host"]),
  { name: "neighbor: 16 bytes", set: { neighbor: "1111.1111.1111.1" }, error: "neighbor string too long" },
  ...formatCases("routerip", ["65.1.1.1/24", "65.1.1.1-5/24", "10.0.0.1/31"], ["", "65.1.1.1", "65.1.1.1/32", "65.1.1/24"]),
  { name: "routerip: required", unset: ["routerip"], error: "routerip string invalid format" },
];

runCases(kinds.Bgp, base, cases);
