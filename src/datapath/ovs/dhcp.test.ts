// renderFlows for an endpoint waiting for its DHCP lease (DesiredEndpoint.ipv4 ""): its port carries its DHCP
// client's packets and its ARP requests as probes (sender address 0.0.0.0), nothing else of IPv4; no ARP is
// answered for it; once the lease is recorded its flows are the usual ones (MAC and address) and only its flows
// change, its DHCP client still let through from 0.0.0.0 (DesiredEndpoint.dhcp: it may ask again). checkOvs no
// longer refuses it.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { clusterHost, desiredHost } from "../testing/desired.js";
import type { DesiredHost } from "../types.js";
import { gatewayHostLink } from "../names.js";
import { TABLE } from "./layout.js";
import { checkOvs, renderFlows } from "./render.js";

const ofports = new Map([["ne0000000001", 1], ["ne0000000002", 2], ["npu0-vx", 9]]);
const render = (d: DesiredHost) => renderFlows(d, { ofports, policy: () => [] });
/** A flow without our cookie, the tenant's number (stable, not 1: numbers.ts) as T. */
const body = (f: string) => f.replace(/^cookie=0x6e70,/, "").replace(/set_field:\d+->reg6/, "set_field:T->reg6");

/** The host with endpoint 1 waiting for its lease: no IPv4 address, no IPv4 default route (the agent's desired state). */
function waiting(d: DesiredHost = desiredHost()): DesiredHost {
  const e = d.tenants[0]!.endpoints[0]!;
  e.ipv4 = "";
  e.gateway = "";
  e.dhcp = true;
  return d;
}

/** The host with endpoint 1's lease recorded: its address, its default route, still a DHCP client. */
function leased(): DesiredHost {
  const d = desiredHost();
  d.tenants[0]!.endpoints[0]!.dhcp = true;
  return d;
}

const from = "in_port=1,dl_src=02:00:00:00:00:01,vlan_tci=0x0000/0x1fff";
const regs = "set_field:T->reg6,set_field:1->reg7,set_field:0->reg8";

describe("renderFlows: an endpoint waiting for its DHCP lease", () => {
  it("is not refused", () => {
    assert.deepEqual(checkOvs(waiting()), []);
    assert.deepEqual(checkOvs(waiting(clusterHost())), []);
  });

  it("its port carries its DHCP client's packets and ARP requests as probes, nothing else of IPv4", () => {
    const classify = render(waiting()).map(body).filter((f) => f.startsWith(`table=${TABLE.CLASSIFY},`) && f.includes("in_port=1,"));
    const four = classify.filter((f) => !/ipv6|icmp6/.test(f));
    assert.deepEqual(four.sort(), [
      `table=0,priority=110,${from},arp,arp_op=1,arp_sha=02:00:00:00:00:01,actions=set_field:0.0.0.0->arp_spa,${regs},goto_table:${TABLE.LOCAL}`,
      `table=0,priority=110,${from},udp,tp_src=68,tp_dst=67,actions=${regs},goto_table:${TABLE.LOCAL}`,
    ].sort());
    // Its IPv6 is its own as before (a network may have both).
    assert.ok(classify.some((f) => f.includes("ipv6,ipv6_src=fd00:1::1,")));
  });

  it("an egress meter (a runtime's side: meters.ts endpointMeter) stays the first action of its flows", () => {
    const d = waiting();
    d.tenants[0]!.endpoints[0]!.qos = { egressBps: 1_000_000, ingressBps: 0, burstBytes: 0 };
    d.tenants[0]!.endpoints[0]!.containerSide = "runtime";
    const four = render(d).filter((f) => f.includes(`table=${TABLE.CLASSIFY},`) && f.includes("in_port=1,") && /,(udp|arp),/.test(f));
    assert.equal(four.length, 2);
    for (const f of four) assert.match(f, /actions=meter:\d+,/);
  });

  it("no ARP is answered for it, here or for the gateway namespace, and no flow names an empty address", () => {
    const d0 = waiting();
    const t = d0.tenants[0]!;
    const flows = renderFlows(d0, { ofports: new Map([...ofports, [gatewayHostLink(d0.prefix, t.name, t.networks[0]!.name), 5]]), policy: () => [] });
    assert.ok(flows.some((f) => f.includes("in_port=5,")), "the gateway namespace's port has its flows");
    assert.deepEqual(flows.filter((f) => /(arp_tpa|arp_spa|nw_src|nw_dst)=(,|$)/.test(f)), []);
    const local = flows.map(body).filter((f) => f.startsWith(`table=${TABLE.LOCAL},`) && f.includes("arp_tpa="));
    assert.ok(!local.some((f) => f.includes("set_field:02:00:00:00:00:01->arp_sha")), "nobody answers for the waiting endpoint's MAC");
    assert.ok(local.some((f) => f.includes("arp_tpa=198.18.1.2,")), "the other endpoint is still answered for");
    // A remote endpoint waiting for its lease (proxy mode): delivered to by its MAC, no ARP answered for it.
    const d = clusterHost();
    const remote = d.tenants[0]!.networks[0]!.vxlan!.remotes[0]!;
    remote.ipv4 = "";
    const remoteFlows = render(d);
    assert.deepEqual(remoteFlows.filter((f) => /arp_tpa=(,|$)/.test(f)), []);
    assert.ok(remoteFlows.some((f) => f.includes(`dl_dst=${remote.mac},`) && f.includes("output:9")), "its frames still go through the tunnel");
  });

  it("receives by its MAC like any endpoint (the server's unicast replies), and the network's broadcasts", () => {
    const flows = render(waiting()).map(body);
    assert.ok(flows.includes(`table=${TABLE.L2_FORWARD},priority=100,reg7=1,dl_dst=02:00:00:00:00:01,actions=output:1`));
    assert.match(flows.find((f) => f.startsWith(`table=${TABLE.L2_FORWARD},priority=50,`))!, /output:1,output:2/);
  });

  it("once the lease is recorded: the usual anti-spoofing by MAC and address, and only its flows changed", () => {
    const before = render(waiting());
    const after = render(leased());
    const removed = before.filter((f) => !after.includes(f));
    const added = after.filter((f) => !before.includes(f));
    assert.deepEqual(removed.map(body).sort(), [
      `table=0,priority=110,${from},arp,arp_op=1,arp_sha=02:00:00:00:00:01,actions=set_field:0.0.0.0->arp_spa,${regs},goto_table:${TABLE.LOCAL}`,
      `table=0,priority=110,${from},udp,tp_src=68,tp_dst=67,actions=${regs},goto_table:${TABLE.LOCAL}`,
    ].sort());
    // Its classification by address (and its DHCP client's asking again from 0.0.0.0, and its probes), and ARP
    // answered for its address (proxy mode without overlay: known endpoints).
    const local = after.map(body).filter((f) => f.startsWith(`table=${TABLE.LOCAL},`) && f.includes("arp_tpa=198.18.1.1,"));
    assert.equal(local.length, 1);
    assert.deepEqual(added.map(body).sort(), [
      `table=0,priority=110,${from},arp,arp_spa=198.18.1.1,arp_sha=02:00:00:00:00:01,actions=${regs},goto_table:${TABLE.LOCAL}`,
      `table=0,priority=110,${from},ip,nw_src=198.18.1.1,actions=${regs},goto_table:${TABLE.LOCAL}`,
      `table=0,priority=110,${from},udp,nw_src=0.0.0.0,tp_src=68,tp_dst=67,actions=${regs},goto_table:${TABLE.LOCAL}`,
      `table=0,priority=110,${from},arp,arp_op=1,arp_spa=0.0.0.0,arp_sha=02:00:00:00:00:01,actions=${regs},goto_table:${TABLE.LOCAL}`,
      ...local,
    ].sort());
    // Rendering again gives the same flows.
    assert.deepEqual(render(waiting()), before);
  });

  it("an endpoint whose address is not a lease gets no DHCP client flows from 0.0.0.0, nor probes", () => {
    const plain = render(desiredHost()).filter((f) => f.includes("in_port=1,"));
    assert.deepEqual(plain.filter((f) => f.includes("0.0.0.0") || f.includes("tp_src=68")), []);
    const dhcp = render(leased()).filter((f) => f.includes("in_port=1,"));
    assert.deepEqual(dhcp.filter((f) => !plain.includes(f)).length, 2);
    // Nothing else of it from 0.0.0.0: only UDP from port 68 to 67.
    assert.deepEqual(dhcp.filter((f) => f.includes("nw_src=0.0.0.0")).map((f) => /,(udp|ip|tcp)[^ ]*,actions/.exec(f)?.[0]), [",udp,nw_src=0.0.0.0,tp_src=68,tp_dst=67,actions"]);
  });
});
