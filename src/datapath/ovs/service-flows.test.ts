import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { clusterHost, desiredHost, endpoint, network } from "../testing/desired.js";
import { services } from "../linux/testing/services.js";
import { gatewayMac } from "../linux/addr.js";
import type { DesiredHost, DesiredService } from "../types.js";
import { groupMeaning, ourGroupIds } from "./groups.js";
import { GROUP_BASE, TABLE } from "./layout.js";
import { checkOvs, renderFlows } from "./render.js";
import { gatewayHostLink } from "../names.js";
import { checkServices, ctFlushArgs, leftProviders, serviceFlows, serviceGroups } from "./service-flows.js";

/** The Linux driver's sample web service (ep1 here, net1.blue-21 behind the overlay), IPv4 only. */
const web = (overrides: Partial<DesiredService> = {}): DesiredService => ({ ...services()[0]!, vip6: "", ...overrides });

/** The sample cluster host's tenant a in bridge mode, IPv4 only (ep1, ep2 here; remotes on the overlay), with `list`. */
function host(list: DesiredService[]): DesiredHost {
  const d = desiredHost();
  const t = d.tenants[0]!;
  t.fwdMode = "bridge";
  t.networks = [network({ ipv6Subnet: "", ipv6Gateway: "", vxlan: clusterHost().tenants[0]!.networks[0]!.vxlan! })];
  t.endpoints = [endpoint(1, { ipv6: "" }), endpoint(2, { ipv6: "" })];
  t.services = list;
  return d;
}

const numbers = { tenants: new Map([["a", 5]]), networks: new Map([["a/blue", 1]]) };
const flowsOf = (d: DesiredHost) => serviceFlows(d, numbers.tenants, numbers.networks);
const inTable = (flows: string[], table: number) => flows.filter((f) => f.includes(`,table=${table},`));

describe("checkServices", () => {
  it("passes a good service, and checkOvs no longer refuses services", () => {
    assert.deepEqual(checkServices(host([web()]).tenants[0]!), []);
    assert.deepEqual(checkOvs(host([web()])), []);
  });

  it("names what is wrong: network, VIP, ports, a VIP port taken twice, a provider's address", () => {
    const messages = (s: DesiredService[]) => checkServices(host(s).tenants[0]!).map((p) => p.message);
    assert.deepEqual(messages([web({ network: "red" })]), ['service "web": unknown network "red"']);
    assert.deepEqual(messages([web({ vip: "198.18.2.1" })]), ['service "web": VIP 198.18.2.1 is outside the subnet "198.18.1.0/24" of network "blue"']);
    assert.deepEqual(messages([web({ vip: "198.18.1.254" })]), ['service "web": VIP 198.18.1.254 is the gateway of network "blue"']);
    assert.deepEqual(messages([web({ vip: "fd00:1::9" })]), ['service "web": invalid IPv4 VIP "fd00:1::9"']);
    assert.deepEqual(messages([web({ ports: [{ protocol: "tcp", port: 0, targetPort: 70000 }] })]), ['service "web": invalid port 0', 'service "web": invalid target port 70000']);
    assert.deepEqual(messages([web(), web({ name: "other", ports: [{ protocol: "tcp", port: 80, targetPort: 1 }] })]), [
      'service "other": 198.18.1.100 80/tcp is also a port of service "web"',
    ]);
    assert.deepEqual(messages([web({ providers: [{ endpoint: "ep1", ipv4: "x", ipv6: "" }] })]), ['service "web": provider ep1: invalid IPv4 address "x"']);
  });
});

describe("serviceGroups", () => {
  it("one select group per service port with providers, a bucket per provider committing the DNAT in the tenant's zone", () => {
    const groups = serviceGroups(host([web(), web({ name: "empty", vip: "198.18.1.101", providers: [] })]));
    const ids = groups.map((g) => g.id);
    assert.equal(new Set(ids).size, 2);
    for (const id of ids) assert.ok(id > GROUP_BASE && id <= GROUP_BASE + 0xffff, `${id} in our range`);
    const ct = (ip: string, port: number) => `actions=ct(commit,zone=NXM_NX_REG6[0..15],nat(dst=${ip}:${port}),table=${TABLE.SERVICE_CT})`;
    assert.equal(groups[0]!.spec, `group_id=${groups[0]!.id},type=select,selection_method=hash,fields(ip_src,ip_dst,tcp_src,tcp_dst),bucket=bucket_id:0,${ct("198.18.1.1", 8080)},bucket=bucket_id:1,${ct("198.18.1.21", 8080)}`);
    // Ids stay while other services come and go: a renumbered group would misroute new connections.
    const other = serviceGroups(host([web(), web({ name: "aaa", vip: "198.18.1.102" }), web({ name: "empty", vip: "198.18.1.101", providers: [] })]));
    for (const g of groups) assert.ok(other.some((o) => o.id === g.id && o.spec === g.spec), `group ${g.id} kept`);
    assert.match(groups[1]!.spec, /nat\(dst=198\.18\.1\.1:5353\)/);
  });

  it("leaves out providers whose MAC is unknown (not on the service's network); none left: no group", () => {
    const groups = serviceGroups(host([web({ providers: [{ endpoint: "elsewhere", ipv4: "198.18.7.7", ipv6: "" }] })]));
    assert.deepEqual(groups, []);
  });

  it("finds its own groups in a dump, not a controller's", () => {
    const dump = `OFPST_GROUP_DESC reply (OF1.5) (xid=0x2):\n group_id=${GROUP_BASE + 3},type=select,bucket=bucket_id:0,actions=drop\n group_id=7,type=all,bucket=bucket_id:0,actions=drop\n`;
    assert.deepEqual(ourGroupIds(dump), [GROUP_BASE + 3]);
    // A group as OVS prints it means what our spec means, whatever the order of ct's arguments.
    const printed = ` group_id=${GROUP_BASE + 3},type=select,bucket=bucket_id:0,actions=ct(commit,zone=NXM_NX_REG6[0..15],table=12,nat(dst=198.18.1.1:8080))`;
    const spec = `group_id=${GROUP_BASE + 3},type=select,bucket=bucket_id:0,actions=ct(commit,zone=NXM_NX_REG6[0..15],nat(dst=198.18.1.1:8080),table=12)`;
    assert.equal(groupMeaning(printed), groupMeaning(spec));
    assert.notEqual(groupMeaning(printed), groupMeaning(spec.replace("8080", "8081")));
    // The selection method and its fields count (OVS may print nw_src for ip_src, in its own order); an old
    // group hashed by the datapath is changed.
    const hashed = (fields: string) => ` group_id=${GROUP_BASE + 3},type=select,selection_method=hash,fields(${fields}),bucket=bucket_id:0,actions=ct(commit,table=12,zone=NXM_NX_REG6[0..15],nat(dst=198.18.1.1:8080))`;
    assert.equal(groupMeaning(hashed("nw_src,nw_dst,tcp_src,tcp_dst")), groupMeaning(hashed("ip_src,ip_dst,tcp_src,tcp_dst")));
    assert.notEqual(groupMeaning(hashed("ip_src,ip_dst,tcp_src,tcp_dst")), groupMeaning(printed));
  });
});

describe("serviceFlows", () => {
  it("sends new connections to a VIP's port to its group, before the controller's table and the policy", () => {
    const flows = flowsOf(host([web()]));
    const where = "reg6=5,reg7=1";
    assert.ok(flows.includes(`cookie=0x6e70,table=${TABLE.SERVICES},priority=100,${where},tcp,nw_dst=198.18.1.100,tp_dst=80,actions=ct(zone=NXM_NX_REG6[0..15],nat,table=${TABLE.SERVICE_CT})`));
    assert.ok(flows.includes(`cookie=0x6e70,table=${TABLE.SERVICE_CT},priority=100,${where},ct_state=+trk+new-inv,tcp,nw_dst=198.18.1.100,tp_dst=80,actions=group:${serviceGroups(host([web()]))[0]!.id}`));
    // The providers' replies are translated back, and get the VIP's MAC.
    assert.ok(flows.includes(`cookie=0x6e70,table=${TABLE.SERVICES},priority=90,${where},udp,nw_src=198.18.1.21,tp_src=5353,actions=ct(zone=NXM_NX_REG6[0..15],nat,table=${TABLE.SERVICE_CT})`));
    const mac = gatewayMac("nb00000001");
    assert.ok(flows.includes(`cookie=0x6e70,table=${TABLE.SERVICE_CT},priority=60,${where},ip,nw_src=198.18.1.100,actions=set_field:${mac}->eth_src,goto_table:${TABLE.PRE_HOOK}`));
    // Translated packets get the provider's MAC, the remote one's from the overlay.
    assert.ok(flows.includes(`cookie=0x6e70,table=${TABLE.SERVICE_CT},priority=50,${where},ip,nw_dst=198.18.1.21,actions=set_field:02:00:00:00:02:01->eth_dst,goto_table:${TABLE.PRE_HOOK}`));
    assert.ok(flows.includes(`cookie=0x6e70,table=${TABLE.SERVICE_CT},priority=50,${where},ip,nw_dst=198.18.1.1,actions=set_field:02:00:00:00:00:01->eth_dst,goto_table:${TABLE.PRE_HOOK}`));
    // Everything leaves for PRE_HOOK; nothing skips it.
    for (const f of flows.filter((f) => f.includes("goto_table:"))) assert.match(f, new RegExp(`goto_table:${TABLE.PRE_HOOK}$|table=${TABLE.SERVICES},.*goto_table`), f);
  });

  it("answers ARP and pings for the VIP on this host; drops what was not translated; no providers: dropped", () => {
    const flows = flowsOf(host([web({ providers: [] })]));
    const local = inTable(flows, TABLE.LOCAL);
    assert.equal(local.length, 2);
    assert.match(local.find((f) => f.includes("arp_tpa=198.18.1.100"))!, /reg8=0\/1,arp,arp_op=1,.*set_field:2->arp_op/);
    assert.match(local.find((f) => f.includes("icmp_type=8"))!, /nw_dst=198\.18\.1\.100,.*set_field:0->icmp_type/);
    assert.ok(flows.some((f) => f.includes("ct_state=+trk+new-inv,tcp,nw_dst=198.18.1.100,tp_dst=80,actions=drop")));
    assert.ok(flows.some((f) => f.includes("priority=40,reg6=5,reg7=1,ip,nw_dst=198.18.1.100,actions=drop")));
    assert.equal(flows.filter((f) => f.includes("group:")).length, 0);
  });

  it("is in the pipeline: IP from local ports and the tunnel crosses SERVICES; the groups used are the groups made", () => {
    const d = host([web()]);
    const ofports = new Map([["ne0000000001", 1], ["ne0000000002", 2], ["npu0-vx", 9]]);
    const flows = renderFlows(d, { ofports, policy: () => [] });
    assert.ok(flows.includes(`cookie=0x6e70,table=${TABLE.LOCAL},priority=1,ip,actions=goto_table:${TABLE.SERVICES}`));
    assert.ok(flows.some((f) => f.includes("in_port=9,tun_id=100,vlan_tci=0x0000/0x1fff,ip,") && f.endsWith(`goto_table:${TABLE.SERVICES}`)));
    const used = new Set(flows.flatMap((f) => [...f.matchAll(/group:(\d+)/g)].map((m) => Number(m[1]))));
    assert.deepEqual([...used].sort((a, b) => a - b), serviceGroups(d).map((g) => g.id).sort((a, b) => a - b));
  });
});

describe("IPv6 services", () => {
  /** The sample host with its IPv6 subnet (fd00:1::/64, gateway fd00:1::fe): ep1, ep2 and the remote blue-21 have IPv6. */
  function host6(list: DesiredService[]): DesiredHost {
    const d = desiredHost();
    const t = d.tenants[0]!;
    t.fwdMode = "bridge";
    t.networks = [network({ vxlan: clusterHost().tenants[0]!.networks[0]!.vxlan! })];
    t.services = list;
    return d;
  }
  const web6 = (overrides: Partial<DesiredService> = {}): DesiredService => ({ ...services()[0]!, ...overrides });

  it("checks the IPv6 VIP against the IPv6 subnet and gateway, and the providers' IPv6 addresses", () => {
    const messages = (s: DesiredService[]) => checkServices(host6(s).tenants[0]!).map((p) => p.message);
    assert.deepEqual(messages([web6()]), []);
    assert.deepEqual(checkOvs(host6([web6()])), [], "checkOvs no longer refuses IPv6");
    assert.deepEqual(messages([web6({ vip6: "fd00:2::1" })]), ['service "web": VIP fd00:2::1 is outside the IPv6 subnet "fd00:1::/64" of network "blue"']);
    assert.deepEqual(messages([web6({ vip6: "FD00:1::FE" })]), ['service "web": VIP fd00:1::fe is the IPv6 gateway of network "blue"']);
    assert.deepEqual(messages([web6({ vip6: "198.18.1.9" })]), ['service "web": invalid IPv6 VIP "198.18.1.9"']);
    assert.deepEqual(messages([web6({ providers: [{ endpoint: "ep1", ipv4: "198.18.1.1", ipv6: "fd00:9::1" }] })]), [
      `service "web": provider ep1 (fd00:9::1) is on no network of the tenant`,
    ]);
    assert.deepEqual(messages([web6(), web6({ name: "other", vip: "198.18.1.101", ports: [{ protocol: "tcp", port: 80, targetPort: 1 }] })]), [
      'service "other": fd00:1::100 80/tcp is also a port of service "web"',
    ]);
  });

  it("a group of its own per port for the IPv6 VIP, to the providers with IPv6 only, NAT targets in brackets; the IPv4 groups keep their ids", () => {
    const v4only = serviceGroups(host([web()]));
    const groups = serviceGroups(host6([web6()]));
    assert.equal(groups.length, 4, "tcp and udp, each family");
    for (const g of v4only) assert.ok(groups.some((o) => o.id === g.id && o.spec === g.spec), `IPv4 group ${g.id} kept`);
    const six = groups.filter((g) => !v4only.some((o) => o.id === g.id));
    assert.equal(six.length, 2);
    // Only ep1 has an IPv6 address among the providers (blue-21 is given without one).
    for (const g of six) assert.equal([...g.spec.matchAll(/bucket=/g)].length, 1, g.spec);
    assert.ok(six.some((g) => g.spec.endsWith(`bucket=bucket_id:0,actions=ct(commit,zone=NXM_NX_REG6[0..15],nat(dst=[fd00:1::1]:8080),table=${TABLE.SERVICE_CT})`)));
    assert.equal(groupMeaning(six[0]!.spec).split(" ")[3]!.startsWith("[fd00:1::1]:"), true);
    assert.match(six[0]!.spec, /selection_method=hash,fields\(ipv6_src,ipv6_dst,(tcp|udp)_src,(tcp|udp)_dst\)/);
  });

  it("balances the IPv6 VIP's ports with tcp6/udp6 flows, answers ND and pings for it, drops what was not translated", () => {
    const flows = flowsOf(host6([web6()]));
    const where = "reg6=5,reg7=1";
    const mac = gatewayMac("nb00000001");
    assert.ok(flows.includes(`cookie=0x6e70,table=${TABLE.SERVICES},priority=100,${where},tcp6,ipv6_dst=fd00:1::100,tp_dst=80,actions=ct(zone=NXM_NX_REG6[0..15],nat,table=${TABLE.SERVICE_CT})`));
    assert.ok(flows.some((f) => f.includes(`${where},ct_state=+trk+new-inv,udp6,ipv6_dst=fd00:1::100,tp_dst=53,actions=group:`)));
    assert.ok(flows.includes(`cookie=0x6e70,table=${TABLE.SERVICES},priority=90,${where},tcp6,ipv6_src=fd00:1::1,tp_src=8080,actions=ct(zone=NXM_NX_REG6[0..15],nat,table=${TABLE.SERVICE_CT})`));
    assert.ok(flows.includes(`cookie=0x6e70,table=${TABLE.SERVICE_CT},priority=50,${where},ipv6,ipv6_dst=fd00:1::1,actions=set_field:02:00:00:00:00:01->eth_dst,goto_table:${TABLE.PRE_HOOK}`));
    assert.ok(flows.includes(`cookie=0x6e70,table=${TABLE.SERVICE_CT},priority=60,${where},ipv6,ipv6_src=fd00:1::100,actions=set_field:${mac}->eth_src,goto_table:${TABLE.PRE_HOOK}`));
    assert.ok(flows.includes(`cookie=0x6e70,table=${TABLE.SERVICE_CT},priority=40,${where},ipv6,ipv6_dst=fd00:1::100,actions=drop`));
    const nd = flows.find((f) => f.includes("nd_target=fd00:1::100"))!;
    assert.match(nd, new RegExp(`table=${TABLE.LOCAL},priority=100,${where},reg8=0/1,icmp6,icmp_type=135,nd_target=fd00:1::100,actions=.*set_field:${mac}->eth_src,.*set_field:fd00:1::100->ipv6_src,set_field:136->icmpv6_type,set_field:1610612736->nd_reserved,.*resubmit\\(,${TABLE.ND_REPLY}\\)$`));
    assert.match(flows.find((f) => f.includes("icmp_type=128"))!, /ipv6_dst=fd00:1::100,.*set_field:129->icmpv6_type,IN_PORT$/);
    // The IPv6 provider-less port: dropped, as IPv4.
    const none = flowsOf(host6([web6({ providers: [{ endpoint: "net1.blue-21", ipv4: "198.18.1.21", ipv6: "" }] })]));
    assert.ok(none.some((f) => f.includes("ct_state=+trk+new-inv,tcp6,ipv6_dst=fd00:1::100,tp_dst=80,actions=drop")));
    assert.ok(none.some((f) => f.includes("ct_state=+trk+new-inv,tcp,nw_dst=198.18.1.100,tp_dst=80,actions=group:")));
  });
});

describe("refusal, hairpin and providers on other networks", () => {
  const where = "reg6=5,reg7=1";
  const gatewayPort = 7;
  const ofports = new Map([[gatewayHostLink("npu0", "a", "blue"), gatewayPort]]);
  const flowsWith = (d: DesiredHost, networks = numbers.networks) => serviceFlows(d, numbers.tenants, networks, ofports);

  it("with a gateway port: TCP and UDP to a VIP that were not translated pass the policy and go to the gateway namespace", () => {
    const flows = flowsWith(host([web({ providers: [] })]));
    assert.ok(flows.some((f) => f.includes(`ct_state=+trk+new-inv,tcp,nw_dst=198.18.1.100,tp_dst=80,actions=goto_table:${TABLE.PRE_HOOK}`)), "no provider: on to the policy");
    for (const proto of ["tcp", "udp"]) {
      assert.ok(flows.includes(`cookie=0x6e70,table=${TABLE.SERVICE_CT},priority=45,${where},${proto},nw_dst=198.18.1.100,actions=goto_table:${TABLE.PRE_HOOK}`), proto);
      assert.ok(flows.includes(`cookie=0x6e70,table=${TABLE.L2_FORWARD},priority=110,${where},reg8=0/1,${proto},nw_dst=198.18.1.100,actions=output:${gatewayPort}`), proto);
    }
    // Anything else to the VIP (not TCP, UDP or a ping) is still dropped.
    assert.ok(flows.includes(`cookie=0x6e70,table=${TABLE.SERVICE_CT},priority=40,${where},ip,nw_dst=198.18.1.100,actions=drop`));
    // No gateway in the family (an IPv4 VIP on a network without an IPv4 gateway): dropped as before.
    const d = host([web({ providers: [] })]);
    d.tenants[0]!.networks[0]!.gateway = "";
    const none = flowsWith(d);
    assert.ok(none.some((f) => f.includes("ct_state=+trk+new-inv,tcp,nw_dst=198.18.1.100,tp_dst=80,actions=drop")));
    assert.ok(!none.some((f) => f.includes(`output:${gatewayPort}`)));
  });

  it("hairpin for a local provider only: SNAT to the gateway after the policy, its reply translated back twice", () => {
    const flows = flowsWith(host([web()]));
    // ep1 (198.18.1.1) is local; net1.blue-21 (198.18.1.21) is remote and gets none.
    assert.ok(flows.includes(`cookie=0x6e70,table=${TABLE.L2_FORWARD},priority=110,${where},ip,nw_src=198.18.1.1,nw_dst=198.18.1.1,actions=ct_clear,ct(commit,zone=NXM_NX_REG6[0..15],nat(src=198.18.1.254),table=${TABLE.HAIRPIN})`));
    assert.ok(flows.includes(`cookie=0x6e70,table=${TABLE.SERVICES},priority=95,${where},tcp,nw_src=198.18.1.1,nw_dst=198.18.1.254,tp_src=8080,actions=ct(zone=NXM_NX_REG6[0..15],nat,table=${TABLE.HAIRPIN_REPLY})`));
    assert.ok(flows.includes(`cookie=0x6e70,table=${TABLE.HAIRPIN_REPLY},priority=100,${where},ip,nw_dst=198.18.1.1,actions=ct_clear,set_field:02:00:00:00:00:01->eth_dst,ct(zone=NXM_NX_REG6[0..15],nat,table=${TABLE.SERVICE_CT})`));
    const mac = gatewayMac("nb00000001");
    assert.ok(flows.includes(`cookie=0x6e70,table=${TABLE.HAIRPIN},priority=100,${where},actions=set_field:${mac}->eth_src,set_field:0->in_port,resubmit(,${TABLE.L2_FORWARD})`));
    assert.ok(flows.includes(`cookie=0x6e70,table=${TABLE.SERVICE_CT},priority=65,${where},ip,nw_src=198.18.1.100,nw_dst=198.18.1.1,actions=set_field:${mac}->eth_src,set_field:0->in_port,goto_table:${TABLE.PRE_HOOK}`));
    assert.ok(!flows.some((f) => f.includes("nw_src=198.18.1.21,nw_dst=198.18.1.21")), "no hairpin for the remote provider");
    // A network without a gateway: no address to translate to, no hairpin.
    const d = host([web()]);
    d.tenants[0]!.networks[0]!.gateway = "";
    assert.ok(!flowsWith(d).some((f) => f.includes(`table=${TABLE.HAIRPIN}`) || f.includes("nat(src=")));
  });

  it("a provider on another network: allowed in fwdMode routing only; the client's host routes to it; clients on any network", () => {
    const red = network({ name: "red", bridge: "nb00000002", subnet: "198.18.2.0/24", gateway: "198.18.2.254", ipv6Subnet: "", ipv6Gateway: "" });
    const d = host([web({ providers: [{ endpoint: "ep3", ipv4: "198.18.2.3", ipv6: "" }] })]);
    const t = d.tenants[0]!;
    t.networks.push(red);
    t.endpoints.push(endpoint(3, { network: "red", ipv4: "198.18.2.3/24", ipv6: "", gateway: "198.18.2.254", ipv6Gateway: "" }));
    assert.deepEqual(
      checkServices(t).map((p) => p.message),
      ['service "web": provider ep3 (198.18.2.3) is on network "red", not the VIP\'s: the ovs datapath balances across networks only in fwdMode routing (use --datapath linux)'],
    );
    t.fwdMode = "routing";
    assert.deepEqual(checkServices(t), []);
    const flows = flowsWith(d, new Map([["a/blue", 1], ["a/red", 2]]));
    const sct = (priority: number, match: string, actions: string) => `cookie=0x6e70,table=${TABLE.SERVICE_CT},priority=${priority},${match},actions=${actions}`;
    // Translated to ep3 on another network: routed by this host (red's number, from red's gateway MAC); on red already: its MAC only.
    assert.ok(flows.includes(sct(50, "reg6=5,ip,nw_dst=198.18.2.3", `set_field:${gatewayMac("nb00000002")}->eth_src,set_field:02:00:00:00:00:03->eth_dst,set_field:2->reg7,goto_table:${TABLE.PRE_HOOK}`)));
    assert.ok(flows.includes(sct(51, "reg6=5,reg7=2,ip,nw_dst=198.18.2.3", `set_field:02:00:00:00:00:03->eth_dst,goto_table:${TABLE.PRE_HOOK}`)));
    assert.match(serviceGroups(d)[0]!.spec, /nat\(dst=198\.18\.2\.3:8080\)/);
    // In fwdMode routing clients on every network are balanced (the VIP's port matched tenant-wide), and replies
    // are translated back wherever they reach the client's network, but not on their way to a gateway namespace
    // (its MAC): the namespace routes them first.
    assert.ok(flows.includes(`cookie=0x6e70,table=${TABLE.SERVICES},priority=100,reg6=5,tcp,nw_dst=198.18.1.100,tp_dst=80,actions=ct(zone=NXM_NX_REG6[0..15],nat,table=${TABLE.SERVICE_CT})`));
    assert.ok(flows.includes(`cookie=0x6e70,table=${TABLE.SERVICES},priority=90,reg6=5,tcp,nw_src=198.18.2.3,tp_src=8080,actions=ct(zone=NXM_NX_REG6[0..15],nat,table=${TABLE.SERVICE_CT})`));
    for (const [reg7, bridge] of [[1, "nb00000001"], [2, "nb00000002"]] as const) {
      assert.ok(flows.includes(`cookie=0x6e70,table=${TABLE.SERVICES},priority=92,reg6=5,reg7=${reg7},tcp,nw_src=198.18.2.3,tp_src=8080,dl_dst=${gatewayMac(bridge)},actions=goto_table:${TABLE.PRE_HOOK}`), bridge);
    }
    // The VIP's own flows (ARP, ping, refusal, replies' MAC) stay on its network.
    assert.ok(flows.some((f) => f.includes(`priority=60,${where},ip,nw_src=198.18.1.100,`)));
    // Bridge mode: the VIP's network only (unchanged).
    const bridged = flowsWith(host([web()]));
    assert.ok(bridged.some((f) => f.includes(`priority=100,${where},tcp,nw_dst=198.18.1.100,tp_dst=80,`)));
    assert.ok(!bridged.some((f) => f.includes("priority=92,")));
    // No hairpin across networks (its client would be on another network than the VIP's).
    assert.ok(!flows.some((f) => f.includes("nat(src=")));
  });

  it("leftProviders: a provider a group on the bridge still sends to; UDP always, TCP only once it is no endpoint any more", () => {
    const d = host([web()]);
    const [tcp, udp] = serviceGroups(d);
    const onBridge = (g: { id: number; spec: string }, extra: string) => new Map([[g.id, ` ${g.spec},bucket=bucket_id:2,actions=ct(commit,table=12,zone=NXM_NX_REG6[0..15],nat(dst=${extra}))`]]);
    assert.deepEqual(leftProviders(d, numbers.tenants, new Map([[tcp!.id, tcp!.spec], [udp!.id, udp!.spec]])), [], "nothing left");
    // 198.18.1.2 is ep2, still an endpoint: its TCP connections stay; its UDP flows go.
    assert.deepEqual(leftProviders(d, numbers.tenants, onBridge(tcp!, "198.18.1.2:8080")), []);
    assert.deepEqual(leftProviders(d, numbers.tenants, onBridge(udp!, "198.18.1.2:5353")), [{ zone: 5, protocol: "udp", vip: "198.18.1.100", port: 53, provider: "198.18.1.2", targetPort: 5353 }]);
    // 198.18.1.9 is gone.
    const gone = leftProviders(d, numbers.tenants, onBridge(tcp!, "198.18.1.9:8080"));
    assert.deepEqual(gone, [{ zone: 5, protocol: "tcp", vip: "198.18.1.100", port: 80, provider: "198.18.1.9", targetPort: 8080 }]);
    assert.deepEqual(ctFlushArgs(gone[0]!), ["zone=5", "ct_nw_dst=198.18.1.100,ct_nw_proto=6,ct_tp_dst=80", "ct_nw_src=198.18.1.9,ct_nw_proto=6,ct_tp_src=8080"]);
    assert.deepEqual(ctFlushArgs({ zone: 5, protocol: "udp", vip: "fd00:1::100", port: 53, provider: "fd00:1::9", targetPort: 5353 }), [
      "zone=5",
      "ct_ipv6_dst=fd00:1::100,ct_nw_proto=17,ct_tp_dst=53",
      "ct_ipv6_src=fd00:1::9,ct_nw_proto=17,ct_tp_src=5353",
    ]);
  });
});
