import { kinds } from "./kinds.js";
import { type Case, formatCases, runCases } from "./testing/cases.js";

const base = {
  name: "global",
  networkInfraType: "default",
  fwdMode: "bridge",
  arpMode: "proxy",
  vlans: "1-4094",
  vxlans: "1-10000",
  pvtSubnet: "172.19.0.0/16",
};

const cases: Case[] = [
  { name: "full body", want: base },
  ...formatCases("name", ["global"], ["Global", "globals"]),
  { name: "name: missing (key global)", key: "global", unset: ["name"], error: "Invalid Key" },
  { name: "name: 65 bytes", set: { name: "g".repeat(65) }, error: "name string too long" },
  ...formatCases("arpMode", ["", "proxy", "flood"], ["Proxy", "broadcast"]),
  { name: "arpMode: 65 bytes", set: { arpMode: "p".repeat(65) }, error: "arpMode string too long" },
  ...formatCases("fwdMode", ["", "bridge", "routing"], ["routed", "Bridge"]),
  { name: "fwdMode: 65 bytes", set: { fwdMode: "b".repeat(65) }, error: "fwdMode string too long" },
  ...formatCases("networkInfraType", ["", "default", "aci", "aci-opflex"], ["ACI", "opflex"]),
  {
    name: "networkInfraType: 65 bytes",
    set: { networkInfraType: "d".repeat(65) },
    error: "networkInfraType string too long",
  },
  ...formatCases("pvtSubnet", ["172.19.0.0/16", "10.0.0.0/16", "169.254.0.0/16"], ["", "172.19.0.0/24", "172.19.0.0", "172.19.0/16"]),
  { name: "pvtSubnet: where a /16 starts", set: { pvtSubnet: "172.19.5.0/16" }, error: "pvtSubnet 172.19.5.0/16 is not where a /16 starts: give it as a.b.0.0/16" },
  { name: "pvtSubnet: not loopback", set: { pvtSubnet: "127.1.0.0/16" }, error: "pvtSubnet 127.1.0.0/16 overlaps the loopback block 127.0.0.0/8" },
  { name: "pvtSubnet: required", unset: ["pvtSubnet"], error: "pvtSubnet string invalid format" },
  ...formatCases("vlans", ["1-4094", "100-200", "0-0"], ["", "1", "1-4094,5000-5001", "12345-1", "1 - 2"]),
  { name: "vlans: required", unset: ["vlans"], error: "vlans string invalid format" },
  ...formatCases("vxlans", ["1-10000", "1-16000000"], ["", "1-123456789", "10000"]),
  { name: "vxlans: required", unset: ["vxlans"], error: "vxlans string invalid format" },
  {
    name: "arpMode is checked before fwdMode",
    set: { arpMode: "x", fwdMode: "y" },
    error: "arpMode string invalid format",
    paths: ["arpMode", "fwdMode"],
  },
];

runCases(kinds.global, base, cases);
