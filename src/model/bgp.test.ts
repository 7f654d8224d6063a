import { kinds } from "./kinds.js";
import { type Case, formatCases, nameCases, runCases } from "./testing/cases.js";

const base = { hostname: "host1", routerip: "65.1.1.1/24", as: "65002", "neighbor-as": "500", neighbor: "65.1.1.2" };

const cases: Case[] = [
  { name: "full body", want: base },
  ...nameCases("hostname", { struct: "Bgp", max: 256, pattern: "NAME" }),
  { name: "as: 65 bytes", set: { as: "1".repeat(65) }, error: "as string too long" },
  { name: "as: wrong JSON type", set: { as: 7 }, error: "json: cannot unmarshal number into Go struct field Bgp.as of type string" },
  ...["1", "65001", "4294967295"].map((as) => ({ name: `as: accepts ${as}`, set: { as, "neighbor-as": as }, want: { as, "neighbor-as": as } })),
  ...["", "abc", "0", "4294967296", "-1", "65 001", "1.5", "0x10"].flatMap((as) => [
    { name: `as: rejects ${JSON.stringify(as)}`, set: { as }, error: `as "${as}" is not an AS number (1-4294967295)`, paths: ["as"] },
    { name: `neighbor-as: rejects ${JSON.stringify(as)}`, set: { "neighbor-as": as }, error: `neighbor-as "${as}" is not an AS number (1-4294967295)`, paths: ["neighbor-as"] },
  ]),
  ...formatCases("neighbor", ["192.168.100.100"], ["192.168.1", "192.168.1.1/24", "host"]),
  { name: "neighbor: required", set: { neighbor: "" }, error: "neighbor is required: the address of the router this host peers with" },
  { name: "neighbor: not the host itself", set: { neighbor: "65.1.1.1" }, error: "neighbor 65.1.1.1 is this host's own routerip" },
  { name: "neighbor: not loopback", set: { neighbor: "127.0.0.1" }, error: "neighbor 127.0.0.1 is in the loopback block 127.0.0.0/8" },
  { name: "neighbor: 16 bytes", set: { neighbor: "1111.1111.1111.1" }, error: "neighbor string too long" },
  ...formatCases("routerip", ["65.1.1.1/24", "10.0.0.1/31"], ["", "65.1.1.1", "65.1.1.1/32", "65.1.1/24"]),
  { name: "routerip: the range form is one of Contiv's formats, but no host address", set: { routerip: "65.1.1.1-5/24" }, error: "routerip 65.1.1.1-5/24: give this host's own address as a.b.c.d/len (an address range is not one address)" },
  { name: "routerip: network address", set: { routerip: "65.1.1.0/24" }, error: "routerip 65.1.1.0/24 is the network or broadcast address of its subnet: give this host's own address" },
  { name: "routerip: broadcast address", set: { routerip: "65.1.1.255/24" }, error: "routerip 65.1.1.255/24 is the network or broadcast address of its subnet: give this host's own address" },
  { name: "routerip: multicast", set: { routerip: "224.1.1.1/24" }, error: "routerip 224.1.1.1/24 is in the multicast block 224.0.0.0/4" },
  { name: "routerip: required", unset: ["routerip"], error: "routerip string invalid format" },
];

runCases(kinds.Bgp, base, cases);
