import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { hostPrefix } from "../../datapath/names.js";
import { endpointKey, hostKey, networkStateKey, objectKey, tenantStateKey } from "../../contract/keys.js";
import type { EndpointState } from "../../contract/records.js";
import type { Attachment } from "../attachments.js";
import { recordProblem } from "../../contract/validate.js";
import { compileHost, netfilteredNetworks, type HostContext, type StateView } from "./compile.js";

/** A mirror's view of these records: each checked as the mirror checks what arrives. */
function view(entries: Record<string, unknown>): StateView {
  const map = new Map<string, unknown>();
  const malformed = new Map<string, string>();
  for (const [key, value] of Object.entries(entries)) {
    const problem = recordProblem(key, value);
    if (problem === undefined) map.set(key, value);
    else malformed.set(key, problem);
  }
  return {
    get: <T>(key: string) => map.get(key) as T | undefined,
    list: <T>(prefix: string) => [...map].filter(([k]) => k.startsWith(prefix)) as [string, T][],
    malformedRecords: () => malformed,
  };
}

function endpoint(id: string, host: string, ip: string, network = "net", extra: Partial<EndpointState> = {}): EndpointState {
  return {
    endpointID: id, tenantName: "t", networkName: network, groupName: "", containerID: id, containerName: id,
    ipAddress: ip, ipv6Address: "", macAddress: `02:02:${ip.split(".").map((o) => Number(o).toString(16).padStart(2, "0")).join(":")}`,
    homingHost: host, intfName: "", vtepIP: "", labels: {}, requestedIp: false, ...extra,
  };
}

function attachment(id: string, ifname = "eth0", containerId = id, portMappings: Attachment["portMappings"] = []): Attachment {
  return { endpointId: id, containerId, ifname, netns: `/var/run/netns/${id}`, containerSide: "ours", tenant: "t", network: "net", group: "", cniNetwork: "n", portMappings };
}

const base = {
  [objectKey("global", "global")]: { fwdMode: "bridge", arpMode: "proxy" },
  [objectKey("tenant", "t")]: { tenantName: "t" },
  [tenantStateKey("t")]: { index: 3 },
  [objectKey("network", "t:net")]: { key: "t:net", tenantName: "t", networkName: "net", encap: "vxlan", nwType: "data", subnet: "198.18.1.10-198.18.1.20/24", gateway: "198.18.1.254", ipv6Subnet: "", ipv6Gateway: "" },
  [networkStateKey("t:net")]: { pktTag: 1, extPktTag: 42, ipv4: {} },
  [hostKey("h1")]: { name: "h1", vtepIP: "198.18.0.11", mtu: 1450, agentVersion: "" },
  [hostKey("h2")]: { name: "h2", vtepIP: "198.18.0.12", mtu: 1450, agentVersion: "" },
};

const ctx = (vtepIP: string): HostContext => ({ host: "h1", prefix: hostPrefix("h1"), mtu: 1450, vtepIP, vxlanPort: 4789 });

describe("compileHost", () => {
  describe("a network with a direct attach mode", () => {
    const direct = (extra: object) => ({ ...(base[objectKey("network", "t:net")] as object), encap: "vlan", ...extra });
    const compile = (net: object, c: HostContext, a = attachment("a")) =>
      compileHost(view({ ...base, [objectKey("network", "t:net")]: net, [endpointKey("a")]: endpoint("a", "h1", "198.18.1.10") }), [a], new Map(), c);

    test("its endpoint is a direct attachment on the network's uplinkIf, which wins over the agent's --uplink-if; no bridge for it", () => {
      const out = compile(direct({ attachMode: "macvlan", uplinkIf: "eth7" }), { ...ctx("198.18.0.11"), uplinkIf: "eth1" });
      assert.deepEqual(out.failures, []);
      const [tenant] = out.desired.tenants;
      assert.deepEqual(tenant!.networks, []); // no bridge, no VXLAN device for a network on the host's segment
      assert.deepEqual(tenant!.policy.networks, []);
      const [e] = tenant!.endpoints;
      assert.deepEqual(e!.direct, { mode: "macvlan", hostIf: "eth7" });
      assert.equal(e!.mtu, 0); // the host interface's
      assert.equal(e!.ipv4, "198.18.1.10/24");
      assert.equal(e!.gateway, "198.18.1.254");
    });

    test("without an uplinkIf of its own, on the agent's --uplink-if; with neither, a failure of the endpoint naming both", () => {
      const net = direct({ attachMode: "macvlan" });
      assert.deepEqual(compile(net, { ...ctx(""), uplinkIf: "eth1" }).desired.tenants[0]!.endpoints[0]!.direct, { mode: "macvlan", hostIf: "eth1" });
      const out = compile(net, ctx(""));
      assert.deepEqual(out.desired.tenants.flatMap((t) => t.endpoints), []);
      assert.deepEqual(out.failures, [
        { owner: { tenant: "t", network: "net", endpoint: "a" }, message: "attachMode macvlan needs a host interface: the network's uplinkIf (netctl net create --uplink-if) or the agent's --uplink-if" },
      ]);
    });

    test("host-device moves the network's device in; published host ports are refused", () => {
      assert.deepEqual(compile(direct({ attachMode: "host-device", device: "vf3" }), { ...ctx(""), uplinkIf: "eth1" }).desired.tenants[0]!.endpoints[0]!.direct, { mode: "host-device", hostIf: "vf3" });
      const out = compile(direct({ attachMode: "macvlan", uplinkIf: "eth7" }), ctx(""), attachment("a", "eth0", "a", [{ protocol: "tcp", hostPort: 8080, containerPort: 80, hostIP: "" }]));
      assert.deepEqual(out.desired.tenants.flatMap((t) => t.endpoints), []);
      assert.match(out.failures[0]!.message, /attachMode macvlan cannot publish host ports/);
    });
  });

  test("a local endpoint becomes a tenant namespace with its network, endpoint and uplink", () => {
    const state = view({ ...base, [endpointKey("a")]: endpoint("a", "h1", "198.18.1.10") });
    const out = compileHost(state, [attachment("a")], new Map(), ctx(""));
    const [tenant] = out.desired.tenants;
    assert.equal(tenant!.namespace, `${hostPrefix("h1")}-t-t`);
    assert.equal(tenant!.networks[0]!.subnet, "198.18.1.0/24", "the range form becomes its CIDR");
    assert.equal(tenant!.networks[0]!.vxlan, undefined, "no VTEP: no overlay");
    assert.deepEqual(tenant!.endpoints.map((e) => [e.ipv4, e.gateway]), [["198.18.1.10/24", "198.18.1.254"]]);
    assert.equal(tenant!.uplink?.tenantAddr, "169.254.0.14/30", "tenant index 3 takes the fourth /30");
    assert.equal(out.desired.host.uplinkRange, "169.254.0.0/16");
    const moved = compileHost(view({ ...base, [objectKey("global", "global")]: { name: "global", fwdMode: "bridge", arpMode: "proxy", pvtSubnet: "10.250.0.0/16", vlans: "1-4094", vxlans: "1-10000" }, [endpointKey("a")]: endpoint("a", "h1", "198.18.1.10") }), [attachment("a")], new Map(), ctx(""));
    assert.equal(moved.desired.tenants[0]!.uplink?.tenantAddr, "10.250.0.14/30", "the global pvtSubnet is the uplinks' block");
    assert.equal(moved.desired.host.uplinkRange, "10.250.0.0/16");
    assert.equal(out.desired.host.natOutbound, true);
    assert.deepEqual(out.orphans, []);
  });

  test("in a cluster the network gets a VXLAN device with its peers and remote endpoints", () => {
    const state = view({
      ...base,
      [endpointKey("a")]: endpoint("a", "h1", "198.18.1.10"),
      [endpointKey("b")]: endpoint("b", "h2", "198.18.1.11"),
    });
    const vx = compileHost(state, [attachment("a")], new Map(), ctx("198.18.0.11")).desired.tenants[0]!.networks[0]!.vxlan!;
    assert.equal(vx.vni, 42);
    assert.deepEqual(vx.peers, ["198.18.0.12"]);
    assert.deepEqual(vx.remotes, [{ id: "b", mac: "02:02:c6:12:01:0b", ipv4: "198.18.1.11", ipv6: "", vtep: "198.18.0.12" }]);
    assert.equal(vx.arpMode, "proxy");
  });

  test("an attachment whose endpoint netmaster no longer has is an orphan; a pending one is not", () => {
    const pending = new Map([["p", endpoint("p", "h1", "198.18.1.12")]]);
    const out = compileHost(view(base), [attachment("gone"), attachment("p")], pending, ctx(""));
    assert.deepEqual(out.orphans.map((a) => a.endpointId), ["gone"]);
    assert.deepEqual(out.desired.tenants[0]!.endpoints.map((e) => e.id), ["p"]);
  });

  test("published ports go to a container's first interface; a clash left by old state goes to the first holder", () => {
    const web = { protocol: "tcp" as const, hostPort: 8080, containerPort: 80, hostIP: "" };
    const state = view({
      ...base,
      [endpointKey("c0")]: endpoint("c0", "h1", "198.18.1.13"),
      [endpointKey("c1")]: endpoint("c1", "h1", "198.18.1.14"),
      [endpointKey("d")]: endpoint("d", "h1", "198.18.1.15"),
    });
    const attachments = [attachment("c0", "eth0", "c", [web]), attachment("c1", "eth1", "c", [web]), attachment("d", "eth0", "d", [web])];
    const ports = compileHost(state, attachments, new Map(), ctx("")).desired.tenants[0]!.endpoints.map((e) => [e.id, e.portMappings]);
    assert.deepEqual(ports, [["c0", [web]], ["c1", []], ["d", []]]);
  });

  test("only a container's first interface gets default routes", () => {
    const state = view({
      ...base,
      [endpointKey("c0")]: endpoint("c0", "h1", "198.18.1.13"),
      [endpointKey("c1")]: endpoint("c1", "h1", "198.18.1.14"),
    });
    const eps = compileHost(state, [attachment("c1", "eth1", "c"), attachment("c0", "eth0", "c")], new Map(), ctx("")).desired.tenants[0]!.endpoints;
    assert.deepEqual(eps.map((e) => [e.ifname, e.gateway]).sort(), [["eth0", "198.18.1.254"], ["eth1", ""]]);
  });

  test("a Bgp object for the host routes its vlan networks and announces their containers", () => {
    const state = view({
      ...base,
      [objectKey("network", "t:net")]: { ...(base[objectKey("network", "t:net")] as object), encap: "vlan" },
      [objectKey("Bgp", "h1")]: { hostname: "h1", routerip: "198.18.0.11/24", as: "65001", neighbor: "198.18.0.200", "neighbor-as": "65000" },
      [endpointKey("a")]: endpoint("a", "h1", "198.18.1.10"),
    });
    const out = compileHost(state, [attachment("a")], new Map(), ctx("198.18.0.11"));
    const net = out.desired.tenants[0]!.networks[0]!;
    assert.equal(net.routed, true);
    assert.equal(net.vxlan, undefined);
    assert.deepEqual(out.bgp?.announce, ["198.18.1.10/32"]);
  });

  test("a routed network with IPv6 announces /128s, routes them over the uplink and proxies NDP for remote containers", () => {
    const state = view({
      ...base,
      [objectKey("network", "t:net")]: {
        ...(base[objectKey("network", "t:net")] as object), encap: "vlan", ipv6Subnet: "fd00:1::/64", ipv6Gateway: "fd00:1::fe",
      },
      [objectKey("Bgp", "h1")]: { hostname: "h1", routerip: "198.18.0.11/24", as: "65001", neighbor: "198.18.0.200", "neighbor-as": "65000" },
      [endpointKey("a")]: endpoint("a", "h1", "198.18.1.10", "net", { ipv6Address: "fd00:1::a" }),
      [endpointKey("b")]: endpoint("b", "h2", "198.18.1.11", "net", { ipv6Address: "fd00:1::b" }),
      [endpointKey("c")]: endpoint("c", "h2", "198.18.1.12"),
    });
    const out = compileHost(state, [attachment("a")], new Map(), ctx("198.18.0.11"));
    const tenant = out.desired.tenants[0]!;
    assert.deepEqual(tenant.networks[0]!.remoteIpv6, ["fd00:1::b"]);
    assert.deepEqual(tenant.uplink?.routes, ["198.18.1.10", "fd00:1::a"]);
    assert.deepEqual(out.bgp?.announce, ["198.18.1.10/32", "fd00:1::a/128"]);
  });

  test("without policy no bridge passes netfilter: a group with rules or DSCP switches on the bridges of its local endpoints", () => {
    const state = view({ ...base, [endpointKey("a")]: endpoint("a", "h1", "198.18.1.10") });
    assert.equal(compileHost(state, [attachment("a")], new Map(), ctx("")).desired.tenants[0]!.networks[0]!.netfilter, false);

    const group = (id: number, name: string, dscp = 0) => ({ id, name, ipv4: [], ipv6: [], dscp });
    const input = {
      fwdMode: "bridge" as const,
      networks: [],
      groups: [group(1, "web"), group(2, "db"), group(3, "voice", 46), group(4, "idle")],
      rules: [{ key: "t:p:1", groupId: 2, direction: "in" as const, priority: 1, action: "deny" as const, peerGroupId: 1 }],
    };
    const local = (network: string, groupName: string) => endpoint(`${network}-${groupName}`, "h1", "198.18.1.10", network, { groupName });
    assert.deepEqual(
      [...netfilteredNetworks(input, [local("n1", "web"), local("n2", "db"), local("n3", "voice"), local("n4", "idle"), local("n5", "")])].sort(),
      ["n2", "n3"],
      "rules protect db, voice sets DSCP; web, only the peer of a rule of db, is judged on the hosts of db",
    );
  });

  test("a local endpoint whose record is not an endpoint record fails, and is no orphan: its container keeps running", () => {
    const state = view({ ...base, [endpointKey("a")]: endpoint("a", "h1", "198.18.1.10"), [endpointKey("junk")]: { endpointID: 7 } });
    const out = compileHost(state, [attachment("a"), attachment("junk")], new Map(), ctx(""));
    assert.deepEqual(out.orphans, []);
    assert.deepEqual(out.failures, [{ owner: { tenant: "t", network: "net", endpoint: "junk" }, message: "netmaster's record of it cannot be read: endpointID: Invalid input: expected string, received number" }]);
    assert.deepEqual(out.desired.tenants[0]!.endpoints.map((e) => e.id), ["a"]);
  });

  test("a record that cannot be read or compiled fails its own unit only: its network, or its tenant", () => {
    const other = {
      [objectKey("tenant", "u")]: { tenantName: "u" },
      [objectKey("network", "u:net")]: { ...base[objectKey("network", "t:net")], key: "u:net", tenantName: "u", subnet: "198.18.2.0/24", gateway: "198.18.2.254" },
      [endpointKey("u1")]: endpoint("u1", "h1", "198.18.2.10", "net", { tenantName: "u" }),
    };
    const state = view({
      ...base,
      ...other,
      [objectKey("network", "t:bad")]: { key: "t:bad", tenantName: "t", networkName: "bad", encap: "vxlan", subnet: "not a subnet", gateway: "", ipv6Subnet: "", ipv6Gateway: "" },
      [objectKey("rule", "u:p:1")]: { tenantName: "u", policyName: "p", ruleId: "1", direction: "in", action: "deny", priority: "high" },
      [objectKey("rule", "x:p:1")]: { tenantName: "x", priority: "high" },
      [endpointKey("a")]: endpoint("a", "h1", "198.18.1.10"),
    });
    const attachments = [attachment("a"), attachment("u1")];
    const out = compileHost(state, attachments, new Map(), ctx(""));
    assert.deepEqual(out.failures, [
      { owner: { tenant: "t", network: "bad" }, message: "netmaster's record /netplugin/obj/network/t:bad cannot be read: subnet: subnet string invalid format" },
      { owner: { tenant: "u" }, message: "netmaster's record /netplugin/obj/rule/u:p:1 cannot be read: priority: json: cannot unmarshal string into Go struct field Rule.priority of type int" },
    ], "x is not on this host: its record is none of this host's business");
    assert.deepEqual(out.desired.tenants.map((t) => [t.name, t.networks.map((n) => n.name), t.endpoints.map((e) => e.id)]), [["t", ["net"], ["a"]], ["u", ["net"], ["u1"]]]);
  });

  test("an endpoint whose address is a DHCP lease on its interface (ipam dhcp, CNI dhcp) says so; others do not", () => {
    const eps = {
      [endpointKey("w")]: endpoint("w", "h1", "", "net", { ipamSource: "dhcp", macAddress: "02:02:c6:12:01:10" }),
      [endpointKey("l")]: endpoint("l", "h1", "198.18.1.11", "net", { ipamSource: "dhcp" }),
      [endpointKey("c")]: endpoint("c", "h1", "198.18.1.12", "net", { ipamSource: "cni:dhcp" }),
      [endpointKey("h")]: endpoint("h", "h1", "198.18.1.13", "net", { ipamSource: "cni:host-local" }),
      [endpointKey("n")]: endpoint("n", "h1", "198.18.1.14"),
    };
    const out = compileHost(view({ ...base, ...eps }), ["w", "l", "c", "h", "n"].map((id) => attachment(id)), new Map(), ctx("198.18.0.11"));
    assert.deepEqual(out.failures, []);
    const byId = new Map(out.desired.tenants[0]!.endpoints.map((e) => [e.id, e]));
    assert.deepEqual([...byId.keys()].sort(), ["c", "h", "l", "n", "w"]);
    assert.deepEqual(["w", "l", "c", "h", "n"].map((id) => byId.get(id)!.dhcp ?? false), [true, true, true, false, false]);
    // Waiting for its lease: no IPv4, no IPv4 default route.
    assert.equal(byId.get("w")!.ipv4, "");
    assert.equal(byId.get("w")!.gateway, "");
  });

  describe("the global sdnController", () => {
    const global = { name: "global", networkInfraType: "default", fwdMode: "bridge", arpMode: "proxy", vlans: "1-4094", vxlans: "1-10000", pvtSubnet: "169.254.0.0/16" };
    const compile = (g: object) => compileHost(view({ ...base, [objectKey("global", "global")]: g }), [], new Map(), ctx("198.18.0.11")).desired.host;

    test("reaches the host's desired state as it is set, and is absent when none", () => {
      assert.equal(compile({ ...global, sdnController: "ssl:[2001:db8::1]:6653" }).sdnController, "ssl:[2001:db8::1]:6653");
      assert.equal("sdnController" in compile({ ...global, sdnController: "" }), false);
      assert.equal("sdnController" in compile(global), false, "a global object from before the field");
    });

    test("a global record with a malformed one is set aside: no controller, rather than a target OVS cannot parse", () => {
      assert.equal("sdnController" in compile({ ...global, sdnController: "tcp:999.0.0.1:6653" }), false);
    });
  });
});
