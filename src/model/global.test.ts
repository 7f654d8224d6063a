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
  { name: "sdnController: absent is none", want: { sdnController: "" } },
  ...["tcp:192.0.2.7:6653", "ssl:10.0.0.1:1", "tcp:[2001:db8::1]:65535", "ssl:[::1]:6633", ""].map((v) => ({ name: `sdnController: ${JSON.stringify(v)}`, set: { sdnController: v }, want: { sdnController: v } })),
  ...(
    [
      ["192.0.2.7:6653", "expected tcp:IP:PORT or ssl:IP:PORT (an IPv6 address in brackets)"],
      ["udp:192.0.2.7:6653", 'protocol "udp" is not tcp or ssl'],
      ["TCP:192.0.2.7:6653", 'protocol "TCP" is not tcp or ssl'],
      ["tcp:192.0.2.7:0", 'port "0" is not 1-65535'],
      ["tcp:192.0.2.7:65536", 'port "65536" is not 1-65535'],
      ["tcp:192.0.2.7:", 'port "" is not 1-65535'],
      ["tcp:192.0.2.256:6653", '"192.0.2.256" is not an IPv4 address (an IPv6 address goes in brackets)'],
      ["tcp:controller.example:6653", '"controller.example" is not an IPv4 address (an IPv6 address goes in brackets)'],
      ["tcp:2001:db8::1:6653", "expected tcp:IP:PORT or ssl:IP:PORT (an IPv6 address in brackets)"],
      ["tcp:[2001:db8::g]:6653", '"2001:db8::g" is not an IPv6 address'],
      ["tcp:[192.0.2.7]:6653", '"192.0.2.7" is not an IPv6 address'],
      ["tcp:192.0.2.7:6653 ", 'port "6653 " is not 1-65535'],
    ] as const
  ).map(([v, why]) => ({ name: `sdnController: ${JSON.stringify(v)} refused`, set: { sdnController: v }, error: `sdnController "${v}" is invalid: ${why}`, paths: ["sdnController"] })),
  { name: "sdnController: 257 bytes", set: { sdnController: `tcp:${"1".repeat(253)}` }, error: "sdnController string too long" },
  { name: "sdnController: not a string", set: { sdnController: 6653 }, error: "json: cannot unmarshal number into Go struct field Global.sdnController of type string" },
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
