// Bad input on every kind of endpoint gets a 4xx with a clear message, and
// leaves the stored state exactly as it was.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Api } from "../harness/api.js";
import { startNetmaster, tempDir, sqliteUrl, waitForLeader, type NetmasterProcess } from "../harness/netmaster.js";

interface Case {
  name: string;
  method: string;
  path: string;
  body?: unknown;
  raw?: string;
  status: number;
  message: RegExp | string;
}

const net = { tenantName: "t1", networkName: "n1", encap: "vxlan", subnet: "198.18.1.0/24", gateway: "198.18.1.254" };

const cases: Case[] = [
  { name: "malformed JSON", method: "POST", path: "/api/v1/tenants/x/", raw: "{not json", status: 400, message: /^Request body is not valid JSON/ },
  { name: "empty body", method: "POST", path: "/api/v1/tenants/x/", raw: "", status: 400, message: /^Request body is empty/ },
  { name: "huge body", method: "POST", path: "/api/v1/tenants/x/", raw: JSON.stringify({ tenantName: "x", pad: "a".repeat(2_000_000) }), status: 413, message: /too large/ },
  { name: "array body", method: "POST", path: "/api/v1/tenants/x/", body: [1, 2], status: 400, message: /cannot unmarshal array/ },
  { name: "wrong type", method: "POST", path: "/api/v1/networks/t1:n2/", body: { ...net, networkName: "n2", pktTag: "ten" }, status: 400, message: /pktTag/ },
  { name: "key mismatch", method: "POST", path: "/api/v1/networks/t1:other/", body: net, status: 400, message: "Invalid Key" },
  { name: "bad name", method: "POST", path: "/api/v1/tenants/bad_name/", body: { tenantName: "bad_name" }, status: 400, message: /tenantName/ },
  { name: "name too long", method: "POST", path: `/api/v1/tenants/${"a".repeat(65)}/`, body: { tenantName: "a".repeat(65) }, status: 400, message: /tenantName/ },
  { name: "macvlan over vxlan", method: "POST", path: "/api/v1/networks/t1:n4/", body: { ...net, networkName: "n4", subnet: "198.18.4.0/24", gateway: "", attachMode: "macvlan" }, status: 400, message: /attachMode macvlan cannot carry encap vxlan/ },
  { name: "unknown attach mode", method: "POST", path: "/api/v1/networks/t1:n4/", body: { ...net, networkName: "n4", encap: "vlan", subnet: "198.18.4.0/24", gateway: "", attachMode: "sriov" }, status: 400, message: /attachMode must be one of bridge, macvlan, ipvlan, host-device/ },
  { name: "bad subnet", method: "POST", path: "/api/v1/networks/t1:n3/", body: { ...net, networkName: "n3", subnet: "198.18.2.0/33" }, status: 400, message: /subnet/ },
  { name: "gateway outside subnet", method: "POST", path: "/api/v1/networks/t1:n3/", body: { ...net, networkName: "n3", subnet: "198.18.3.0/24", gateway: "198.18.4.1" }, status: 400, message: /198.18.4.1/ },
  { name: "priority out of range", method: "POST", path: "/api/v1/rules/t1:p1:1/", body: { tenantName: "t1", policyName: "p1", ruleId: "1", direction: "in", action: "allow", priority: 101 }, status: 400, message: /priority/ },
  { name: "a port on a protocol without ports", method: "POST", path: "/api/v1/rules/t1:p1:1/", body: { tenantName: "t1", policyName: "p1", ruleId: "1", direction: "in", action: "allow", protocol: "icmp", port: 80 }, status: 400, message: "can not specify port 80 with protocol icmp: only tcp, udp and sctp (132) have ports" },
  { name: "an incoming rule for one address", method: "POST", path: "/api/v1/rules/t1:p1:2/", body: { tenantName: "t1", policyName: "p1", ruleId: "2", direction: "in", action: "deny", toIpAddress: "198.18.1.1" }, status: 400, message: /can not specify toIpAddress 198.18.1.1 in an incoming rule/ },
  { name: "bad direction", method: "POST", path: "/api/v1/rules/t1:p1:1/", body: { tenantName: "t1", policyName: "p1", ruleId: "1", direction: "sideways", action: "allow" }, status: 400, message: /direction/ },
  { name: "bad service port", method: "POST", path: "/api/v1/serviceLBs/t1:s/", body: { tenantName: "t1", serviceName: "s", networkName: "n1", selectors: ["a=b"], ports: ["80"] }, status: 400, message: "Invalid Port maping . Port format is - Port:TargetPort:Protocol" },
  { name: "unknown collection", method: "GET", path: "/api/v1/widgets/", status: 404, message: /widgets/ },
  { name: "unknown object", method: "GET", path: "/api/v1/networks/t1:nope/", status: 404, message: "network not found" },
  { name: "delete unknown", method: "DELETE", path: "/api/v1/networks/t1:nope/", status: 404, message: "network not found" },
  { name: "missing tenant", method: "POST", path: "/api/v1/policys/zz:p/", body: { tenantName: "zz", policyName: "p" }, status: 404, message: "Tenant not found" },
  { name: "missing network", method: "POST", path: "/api/v1/endpointGroups/t1:g9/", body: { tenantName: "t1", groupName: "g9", networkName: "zz" }, status: 404, message: "Network zz not found" },
  { name: "missing netprofile", method: "POST", path: "/api/v1/endpointGroups/t1:g9/", body: { tenantName: "t1", groupName: "g9", networkName: "n1", netProfile: "zz" }, status: 404, message: "netprofile not found" },
  { name: "pool outside network", method: "POST", path: "/api/v1/endpointGroups/t1:g9/", body: { tenantName: "t1", groupName: "g9", networkName: "n1", ipPool: "198.18.9.1-198.18.9.5" }, status: 400, message: /ip-pool/ },
  { name: "tenant in use", method: "DELETE", path: "/api/v1/tenants/t1/", status: 409, message: "cannot delete t1 has 1 endpoint groups" },
  { name: "network in use", method: "DELETE", path: "/api/v1/networks/t1:n1/", status: 409, message: "cannot delete n1 has 1 endpoint groups" },
  { name: "group with endpoints", method: "DELETE", path: "/api/v1/endpointGroups/t1:g1/", status: 409, message: "Error: EPG g1 has active endpoints" },
  { name: "vlan range below use", method: "POST", path: "/api/v1/globals/global/", body: { name: "global", vlans: "1-4094", vxlans: "100-200", pvtSubnet: "169.254.0.0/16", fwdMode: "bridge", arpMode: "proxy", networkInfraType: "default" }, status: 409, message: /cannot update the vxlan range/ },
  { name: "endpoint without container", method: "POST", path: "/api/v1/agent/endpoints/", body: { tenantName: "t1", networkName: "n1", host: "h" }, status: 400, message: /containerID/ },
  { name: "endpoint on unknown network", method: "POST", path: "/api/v1/agent/endpoints/", body: { tenantName: "t1", networkName: "zz", containerID: "c", host: "h" }, status: 404, message: "Network zz not found" },
  { name: "endpoint address outside subnet", method: "POST", path: "/api/v1/agent/endpoints/", body: { tenantName: "t1", networkName: "n1", containerID: "c", host: "h", ipAddress: "198.18.9.9" }, status: 400, message: /198.18.9.9/ },
  { name: "endpoint address taken", method: "POST", path: "/api/v1/agent/endpoints/", body: { tenantName: "t1", networkName: "n1", containerID: "c", host: "h", ipAddress: "198.18.1.1" }, status: 409, message: /198.18.1.1/ },
  { name: "endpoint address not in group pool", method: "POST", path: "/api/v1/agent/endpoints/", body: { tenantName: "t1", groupName: "g1", containerID: "c", host: "h", ipAddress: "198.18.1.200" }, status: 400, message: /198.18.1.200/ },
  { name: "ipv6 gateway without an ipv6 subnet", method: "POST", path: "/api/v1/networks/t1:bad6/", body: { tenantName: "t1", networkName: "bad6", encap: "vxlan", subnet: "198.18.9.0/24", ipv6Gateway: "fd00:99::1" }, status: 400, message: "ipv6Gateway fd00:99::1 needs an ipv6Subnet that holds it" },
  { name: "ipv6 subnet that holds ::1", method: "POST", path: "/api/v1/networks/t1:bad6/", body: { tenantName: "t1", networkName: "bad6", encap: "vxlan", subnet: "198.18.9.0/24", ipv6Subnet: "::/1" }, status: 400, message: /unspecified address/ },
  { name: "multicast ipv6 subnet", method: "POST", path: "/api/v1/networks/t1:bad6/", body: { tenantName: "t1", networkName: "bad6", encap: "vxlan", subnet: "198.18.9.0/24", ipv6Subnet: "ff02::/64", ipv6Gateway: "ff02::" }, status: 400, message: /multicast block ff00::\/8/ },
  { name: "link-local ipv6 subnet", method: "POST", path: "/api/v1/networks/t1:bad6/", body: { tenantName: "t1", networkName: "bad6", encap: "vxlan", subnet: "198.18.9.0/24", ipv6Subnet: "fe80::/64" }, status: 400, message: /link-local/ },
  { name: "ipv6 gateway on the subnet-router anycast address", method: "POST", path: "/api/v1/networks/t1:bad6/", body: { tenantName: "t1", networkName: "bad6", encap: "vxlan", subnet: "198.18.9.0/24", ipv6Subnet: "fd00:99::/64", ipv6Gateway: "fd00:99::" }, status: 400, message: /subnet-router anycast/ },
  { name: "gateway on the network address", method: "POST", path: "/api/v1/networks/t1:bad4/", body: { ...net, networkName: "bad4", subnet: "198.18.9.0/24", gateway: "198.18.9.0" }, status: 400, message: /network address/ },
  { name: "gateway on the broadcast address", method: "POST", path: "/api/v1/networks/t1:bad4/", body: { ...net, networkName: "bad4", subnet: "198.18.9.0/24", gateway: "198.18.9.255" }, status: 400, message: /broadcast address/ },
  { name: "loopback subnet", method: "POST", path: "/api/v1/networks/t1:bad4/", body: { ...net, networkName: "bad4", subnet: "127.0.0.0/24", gateway: "" }, status: 400, message: /loopback/ },
  { name: "a body that names nothing", method: "POST", path: "/api/v1/tenants/newt/", body: { foo: 1 }, status: 400, message: "Invalid Key" },
  { name: "a body without its key fields", method: "POST", path: "/api/v1/networks/t1:n9/", body: { encap: "vxlan", subnet: "198.18.9.0/24" }, status: 400, message: "Invalid Key" },
  { name: "bgp AS that is not a number", method: "POST", path: "/api/v1/Bgps/h1/", body: { hostname: "h1", routerip: "198.18.9.1/24", as: "abc", "neighbor-as": "65000", neighbor: "198.18.9.2" }, status: 400, message: 'as "abc" is not an AS number (1-4294967295)' },
  { name: "bgp without a neighbor", method: "POST", path: "/api/v1/Bgps/h1/", body: { hostname: "h1", routerip: "198.18.9.1/24", as: "65001", "neighbor-as": "65000" }, status: 400, message: /neighbor is required/ },
  { name: "endpoint with a broadcast MAC", method: "POST", path: "/api/v1/agent/endpoints/", body: { tenantName: "t1", networkName: "n1", containerID: "c", host: "h", macAddress: "ff:ff:ff:ff:ff:ff" }, status: 400, message: /broadcast MAC address/ },
  { name: "endpoint with a multicast MAC", method: "POST", path: "/api/v1/agent/endpoints/", body: { tenantName: "t1", networkName: "n1", containerID: "c", host: "h", macAddress: "01:00:5e:00:00:01" }, status: 400, message: /multicast MAC address/ },
  { name: "endpoint with the all-zero MAC", method: "POST", path: "/api/v1/agent/endpoints/", body: { tenantName: "t1", networkName: "n1", containerID: "c", host: "h", macAddress: "00:00:00:00:00:00" }, status: 400, message: /all-zero/ },
  { name: "endpoint with a MAC another endpoint holds", method: "POST", path: "/api/v1/agent/endpoints/", body: { tenantName: "t1", networkName: "n1", containerID: "c", host: "h", macAddress: "02:02:C6:12:01:01" }, status: 409, message: "MAC address 02:02:c6:12:01:01 is already used by endpoint n1.t1-first on network n1" },
  { name: "endpoint with a v4-mapped ipv6 address", method: "POST", path: "/api/v1/agent/endpoints/", body: { tenantName: "t1", networkName: "n1", containerID: "c", host: "h", ipv6Address: "::ffff:198.18.1.5" }, status: 400, message: /no IPv6 subnet/ },
  { name: "docker pool in the multicast block", method: "POST", path: "/api/v1/agent/docker/pools/", body: { host: "h", v6: true, pool: "ff05::/64" }, status: 400, message: /multicast block ff00::\/8/ },
  { name: "docker pool in the loopback block", method: "POST", path: "/api/v1/agent/docker/pools/", body: { host: "h", pool: "127.1.0.0/16" }, status: 400, message: /loopback/ },
  { name: "endpoint group on other network", method: "POST", path: "/api/v1/agent/endpoints/", body: { tenantName: "t1", networkName: "n2", groupName: "g1", containerID: "c", host: "h" }, status: 400, message: /belongs to network "n1"/ },
];

describe("bad input leaves state untouched", () => {
  let nm: NetmasterProcess;
  let api: Api;
  const dir = tempDir();

  before(async () => {
    nm = await startNetmaster({ store: sqliteUrl(dir.path) });
    await waitForLeader(nm);
    api = nm.api();
    await api.create("/api/v1/tenants/t1/", { tenantName: "t1" });
    await api.create("/api/v1/networks/t1:n1/", net);
    await api.create("/api/v1/networks/t1:n2/", { ...net, networkName: "n2", subnet: "198.18.2.0/24", gateway: "" });
    await api.create("/api/v1/endpointGroups/t1:g1/", { tenantName: "t1", groupName: "g1", networkName: "n1", ipPool: "198.18.1.10-198.18.1.20" });
    await api.create("/api/v1/agent/endpoints/", { tenantName: "t1", networkName: "n1", containerID: "first", host: "h" });
    await api.create("/api/v1/agent/endpoints/", { tenantName: "t1", groupName: "g1", containerID: "pooled", host: "h" });
  });
  after(async () => {
    await nm?.stop();
    dir.remove();
  });

  for (const c of cases) {
    test(c.name, async () => {
      const before = await api.state();
      const r = await api.call(c.method, c.path, c.body, c.raw);
      assert.equal(r.status, c.status, r.text);
      if (typeof c.message === "string") assert.equal(r.text, c.message);
      else assert.match(r.text, c.message);
      assert.doesNotMatch(r.text, /\n\s+at /, "no stack trace in the body");
      assert.deepEqual(await api.state(), before);
    });
  }
});
