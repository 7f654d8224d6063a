import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { clusterHost, desiredHost, endpoint, network } from "../testing/desired.js";
import { services } from "../linux/testing/services.js";
import { gatewayMac } from "../linux/addr.js";
import type { DesiredHost, DesiredService } from "../types.js";
import { groupMeaning, ourGroupIds } from "./groups.js";
import { GROUP_BASE, TABLE } from "./layout.js";
import { checkOvs, renderFlows } from "./render.js";
import { checkServices, serviceFlows, serviceGroups } from "./service-flows.js";

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
    assert.equal(groups[0]!.spec, `group_id=${groups[0]!.id},type=select,bucket=bucket_id:0,${ct("198.18.1.1", 8080)},bucket=bucket_id:1,${ct("198.18.1.21", 8080)}`);
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
      `service "web": provider ep1 (fd00:9::1) is on another network than the VIP's: the ovs datapath does not balance across networks yet (use --datapath linux)`,
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
    assert.equal(groupMeaning(six[0]!.spec).split(" ")[1]!.startsWith("[fd00:1::1]:"), true);
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
