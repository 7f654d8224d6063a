// renderFlows' IPv6: a local endpoint's IPv6 and neighbour discovery classified without spoofing, the tunnel's
// IPv6 classified like its IPv4, the IPv6 gateway's ND and pings answered by flows, ND for known endpoints answered
// in proxy mode, and the ND_REPLY table that completes the advertisements. checkOvs no longer refuses IPv6.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { gatewayMac } from "../linux/addr.js";
import { clusterHost, desiredHost } from "../testing/desired.js";
import type { DesiredHost } from "../types.js";
import { TABLE } from "./layout.js";
import { checkOvs, renderFlows, snoopingVlans, uplinkOf, wantedPorts } from "./render.js";

const ofports = new Map([["ne0000000001", 1], ["ne0000000002", 2], ["npu0-vx", 9]]);
const render = (d: DesiredHost) => renderFlows(d, { ofports, policy: () => [] });
/** A flow without our cookie, the tenant's number (stable, not 1: numbers.ts) as T. */
const body = (f: string) => f.replace(/^cookie=0x6e70,/, "").replace(/set_field:\d+->reg6/, "set_field:T->reg6");
const MAC = gatewayMac("nb00000001");

describe("renderFlows: IPv6", () => {
  it("checkOvs passes a network with an IPv6 subnet", () => {
    assert.deepEqual(checkOvs(desiredHost()), []);
    assert.deepEqual(checkOvs(clusterHost()).filter((p) => /IPv6/.test(p.message)), []);
  });

  it("classifies an endpoint's IPv6 by its address, its ND only about itself (untagged only); the rest of its ND is dropped", () => {
    const classify = render(desiredHost()).filter((f) => f.includes(`table=${TABLE.CLASSIFY},`) && f.includes("in_port=1,")).map(body);
    const from = "in_port=1,dl_src=02:00:00:00:00:01,vlan_tci=0x0000/0x1fff";
    const to = `set_field:T->reg6,set_field:1->reg7,set_field:0->reg8,goto_table:${TABLE.LOCAL}`;
    const six = classify.filter((f) => f.includes("ipv6") || f.includes("icmp6"));
    assert.deepEqual(six.sort(), [
      `table=0,priority=110,${from},ipv6,ipv6_src=fd00:1::1,actions=${to}`,
      `table=0,priority=115,${from},icmp6,icmp_type=135,actions=drop`,
      `table=0,priority=115,${from},icmp6,icmp_type=136,actions=drop`,
      `table=0,priority=120,${from},icmp6,ipv6_src=fd00:1::1,icmp_type=135,nd_sll=00:00:00:00:00:00,actions=${to}`,
      `table=0,priority=120,${from},icmp6,ipv6_src=fd00:1::1,icmp_type=135,nd_sll=02:00:00:00:00:01,actions=${to}`,
      `table=0,priority=120,${from},icmp6,ipv6_src=fd00:1::1,icmp_type=136,nd_target=fd00:1::1,nd_tll=00:00:00:00:00:00,actions=${to}`,
      `table=0,priority=120,${from},icmp6,ipv6_src=fd00:1::1,icmp_type=136,nd_target=fd00:1::1,nd_tll=02:00:00:00:00:01,actions=${to}`,
    ].sort());
    // An endpoint without IPv6 gets none of them.
    const d = desiredHost();
    d.tenants[0]!.endpoints[0]!.ipv6 = "";
    assert.equal(render(d).filter((f) => f.includes("in_port=1,") && /ipv6|icmp6/.test(f)).length, 0);
  });

  it("classifies IPv6 from the tunnel like IPv4, to SERVICES", () => {
    const flows = render(clusterHost()).map(body);
    for (const proto of ["ip", "ipv6"]) {
      assert.ok(flows.includes(`table=0,priority=110,in_port=9,tun_id=100,vlan_tci=0x0000/0x1fff,${proto},actions=set_field:T->reg6,set_field:1->reg7,set_field:1->reg8,goto_table:${TABLE.SERVICES}`), proto);
    }
  });

  it("answers neighbour solicitations and pings for the IPv6 gateway (router flag), and in proxy mode ND for known endpoints", () => {
    const flows = render(clusterHost()).map(body);
    const local = flows.filter((f) => f.startsWith(`table=${TABLE.LOCAL},`));
    const gw = local.find((f) => f.includes("nd_target=fd00:1::fe"))!;
    assert.equal(
      gw,
      `table=${TABLE.LOCAL},priority=100,reg7=1,reg8=0/1,icmp6,icmp_type=135,nd_target=fd00:1::fe,actions=move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],set_field:${MAC}->eth_src,` +
        `move:NXM_NX_IPV6_SRC[]->NXM_NX_IPV6_DST[],set_field:fd00:1::fe->ipv6_src,set_field:136->icmpv6_type,set_field:3758096384->nd_reserved,set_field:2->nd_options_type,resubmit(,${TABLE.ND_REPLY})`,
    );
    assert.equal(
      local.find((f) => f.includes("icmp_type=128,ipv6_dst=fd00:1::fe")),
      `table=${TABLE.LOCAL},priority=100,reg7=1,reg8=0/1,icmp6,icmp_type=128,ipv6_dst=fd00:1::fe,actions=move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],set_field:${MAC}->eth_src,` +
        "move:NXM_NX_IPV6_SRC[]->NXM_NX_IPV6_DST[],set_field:fd00:1::fe->ipv6_src,set_field:129->icmpv6_type,IN_PORT",
    );
    // Known endpoints (local ep1, ep2 and the remote blue-21; blue-31 has no IPv6), without the router flag.
    const known = local.filter((f) => f.includes("priority=90,") && f.includes("icmp6"));
    assert.deepEqual(known.map((f) => /nd_target=([^,]+)/.exec(f)![1]).sort(), ["fd00:1::1", "fd00:1::2", "fd00:1::21"]);
    assert.match(known.find((f) => f.includes("nd_target=fd00:1::21"))!, /set_field:02:00:00:00:02:01->eth_src,.*set_field:1610612736->nd_reserved/);
    // Flood mode: the solicitations for remote endpoints are flooded, not answered; the gateway's still are.
    const d = clusterHost();
    d.tenants[0]!.networks[0]!.vxlan!.arpMode = "flood";
    const flood = render(d).filter((f) => f.includes(`table=${TABLE.LOCAL},`) && f.includes("icmp_type=135"));
    assert.deepEqual(flood.map((f) => /nd_target=([^,]+)/.exec(f)![1]), ["fd00:1::fe"]);
  });

  it("the rest of IPv6 goes on to SERVICES; ND_REPLY completes an advertisement and sends it back; IPv6 multicast is flooded", () => {
    const flows = render(clusterHost()).map(body);
    assert.ok(flows.includes(`table=${TABLE.LOCAL},priority=1,ipv6,actions=goto_table:${TABLE.SERVICES}`));
    assert.deepEqual(flows.filter((f) => f.startsWith(`table=${TABLE.ND_REPLY},`)).sort(), [
      `table=${TABLE.ND_REPLY},priority=0,actions=drop`,
      `table=${TABLE.ND_REPLY},priority=100,icmp6,icmp_type=136,actions=move:NXM_OF_ETH_SRC[]->NXM_NX_ND_TLL[],IN_PORT`,
    ]);
    // 33:33:… (IPv6 multicast, solicited-node addresses among them) has the multicast bit the flood flows match.
    const flood = flows.find((f) => f.startsWith(`table=${TABLE.L2_FORWARD},priority=50,`))!;
    assert.match(flood, /dl_dst=01:00:00:00:00:00\/01:00:00:00:00:00/);
    assert.equal(parseInt("33", 16) & 1, 1);
  });
});

describe("renderFlows: IPv6 on a trunk", () => {
  it("IPv6 from the trunk with the network's tag is untagged and classified like IPv4; the site's router answers ND for the gateway", () => {
    const d = desiredHost();
    d.tenants[0]!.networks[0]!.vlan = 100;
    d.host = { ...d.host, uplinkIf: "eth9" };
    const uplink = uplinkOf(d);
    assert.ok(uplink !== undefined);
    const flows = renderFlows(d, { ofports: new Map([...ofports, ["eth9", 7]]), uplink, policy: () => [] }).map(body);
    for (const proto of ["ip", "ipv6"]) {
      assert.ok(flows.includes(`table=0,priority=110,in_port=7,dl_vlan=100,${proto},actions=pop_vlan,set_field:T->reg6,set_field:1->reg7,set_field:1->reg8,goto_table:${TABLE.SERVICES}`), proto);
    }
    assert.equal(flows.filter((f) => f.includes("nd_target=fd00:1::fe")).length, 0, "no ND answered for the gateway: the site's router is it");
    assert.equal(flows.filter((f) => f.includes("icmp_type=128")).length, 0);
  });
});

describe("multicast snooping", () => {
  it("each network has its own VLAN inside the bridge, kept while others come; its ports carry it", () => {
    const d = desiredHost();
    const vlans = snoopingVlans(d);
    const blue = vlans.get("a/blue")!;
    assert.ok(blue >= 1 && blue <= 4093);
    d.tenants[0]!.networks.push({ ...d.tenants[0]!.networks[0]!, name: "red", bridge: "nb00000002" });
    assert.equal(snoopingVlans(d).get("a/blue"), blue);
    assert.notEqual(snoopingVlans(d).get("a/red"), blue);
    assert.ok(wantedPorts(d).every((w) => w.vlan === blue));
  });

  it("IPv4 multicast goes to the peers and to NORMAL (OVS's snooping); from a peer it gets the VLAN first; link-local and IGMP from peers are flooded", () => {
    const d = clusterHost();
    const vlan = snoopingVlans(d).get("a/blue")!;
    const flows = renderFlows(d, { ofports, policy: () => [] }).map(body);
    const at = (priority: number) => flows.filter((f) => f.startsWith(`table=${TABLE.L2_FORWARD},priority=${priority},`));
    assert.match(at(55)[0]!, /ip,nw_dst=224\.0\.0\.0\/4,actions=.*output:9.*,NORMAL$/);
    assert.match(at(57)[0]!, /ip,nw_proto=2,actions=NORMAL$/);
    assert.match(at(61)[0]!, new RegExp(`reg8=1/1,ip,nw_dst=224\\.0\\.0\\.0/4,actions=push_vlan:0x8100,set_field:${0x1000 + vlan}->vlan_vid,NORMAL$`));
    assert.equal(at(62).length, 2);
    for (const f of at(62)) assert.doesNotMatch(f, /NORMAL/);
  });
});
