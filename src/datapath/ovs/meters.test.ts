import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { emptyPolicy, endpoint, network, PREFIX } from "../testing/desired.js";
import type { DesiredEndpoint, DesiredHost } from "../types.js";
import { METER_BASE, METER_LAST } from "./layout.js";
import { diffMeters, endpointMeters, isOurMeter, meterBurstBytes, meterId, meterSpec, parseMeters } from "./meters.js";
import { checkOvs, renderFlows, renderMeters, tenantNumbers } from "./render.js";

function host(endpoints: DesiredEndpoint[]): DesiredHost {
  return {
    prefix: PREFIX,
    tenants: [
      {
        name: "a",
        namespace: `${PREFIX}-t-a`,
        fwdMode: "bridge",
        networks: [network({ ipv6Subnet: "", ipv6Gateway: "" })],
        endpoints,
        policy: { ...emptyPolicy(), fwdMode: "bridge" },
        hostEndpoints: [],
      },
    ],
    host: { natOutbound: false },
  };
}

const limited = endpoint(1, { ipv6: "", ipv6Gateway: "", qos: { egressBps: 20_000_000, ingressBps: 10_000_000, burstBytes: 0 } });
const free = endpoint(2, { ipv6: "", ipv6Gateway: "" });
const ofports = new Map([
  [limited.hostLink, 3],
  [free.hostLink, 4],
]);

describe("meters of bandwidth limits", () => {
  it("derives ids from the port's OpenFlow number, per direction, inside our range", () => {
    assert.equal(meterId(3, "egress"), METER_BASE + 6);
    assert.equal(meterId(3, "ingress"), METER_BASE + 7);
    assert.equal(meterId(0xff00, "ingress"), METER_LAST);
    assert.ok(isOurMeter(METER_BASE) && isOurMeter(METER_LAST) && !isOurMeter(1) && !isOurMeter(METER_LAST + 1));
  });

  it("converts rate and burst to kbit; the default bucket is 250 ms at the rate, at least the shaper's", () => {
    assert.deepEqual(endpointMeters(limited, 3), {
      egress: { id: METER_BASE + 6, kbps: 20_000, burstKb: 5_000 },
      ingress: { id: METER_BASE + 7, kbps: 10_000, burstKb: 2_500 },
    });
    assert.equal(meterBurstBytes(125, 1500), 4 * 1514);
    const given = { ...limited, qos: { egressBps: 1_500, ingressBps: 0, burstBytes: 10_001 } };
    assert.deepEqual(endpointMeters(given, 3), { egress: { id: METER_BASE + 6, kbps: 2, burstKb: 81 } });
    assert.deepEqual(endpointMeters(free, 4), {});
    assert.equal(meterSpec({ id: 65542, kbps: 20_000, burstKb: 5_000 }), "meter=65542,kbps,burst,stats,band=type=drop,rate=20000,burst_size=5000");
  });

  it("are no longer refused; the limited endpoint's flows use them (egress first on CLASSIFY, ingress on its delivery)", () => {
    const desired = host([limited, free]);
    assert.deepEqual(checkOvs(desired), []);
    assert.deepEqual(
      renderMeters(desired, ofports).map((w) => [w.meter.id, w.direction, w.port.endpoint.id]),
      [
        [METER_BASE + 6, "egress", "ep1"],
        [METER_BASE + 7, "ingress", "ep1"],
      ],
    );
    const flows = renderFlows(desired, { ofports, policy: () => [] });
    const metered = flows.filter((f) => f.includes("meter:"));
    const tn = tenantNumbers(["a"]).get("a")!;
    assert.deepEqual(metered, [
      `cookie=0x6e70,table=0,priority=110,in_port=3,dl_src=${limited.mac},vlan_tci=0x0000/0x1fff,arp,arp_spa=198.18.1.1,arp_sha=${limited.mac},actions=meter:65542,set_field:${tn}->reg6,set_field:1->reg7,set_field:0->reg8,goto_table:10`,
      `cookie=0x6e70,table=0,priority=110,in_port=3,dl_src=${limited.mac},vlan_tci=0x0000/0x1fff,ip,nw_src=198.18.1.1,actions=meter:65542,set_field:${tn}->reg6,set_field:1->reg7,set_field:0->reg8,goto_table:10`,
      `cookie=0x6e70,table=45,priority=100,reg7=1,dl_dst=${limited.mac},actions=meter:65543,output:3`,
    ]);
    // The flood flow delivers to both ports unmetered; the unlimited endpoint has no meter anywhere.
    assert.ok(flows.some((f) => f.includes("table=45,priority=50,") && f.endsWith("actions=output:3,output:4")));
    assert.ok(flows.some((f) => f.endsWith(`dl_dst=${free.mac},actions=output:4`)));
    // An endpoint without a port yet has no meters.
    assert.deepEqual(renderMeters(desired, new Map([[free.hostLink, 4]])), []);
  });

  it("reads dump-meters; a meter not of our shape reads as differing", () => {
    const dump = [
      "OFPST_METER_CONFIG reply (OF1.5) (xid=0x2):",
      "meter=65542 kbps burst stats bands=",
      "type=drop rate=20000 burst_size=5000",
      "",
      "meter=65543 pktps burst stats bands=",
      "type=drop rate=100 burst_size=10",
      "",
      "meter=7 kbps bands=",
      "type=drop rate=1000",
      "",
    ].join("\n");
    assert.deepEqual(parseMeters(dump), [
      { id: 65542, kbps: 20_000, burstKb: 5_000 },
      { id: 65543, kbps: -1, burstKb: -1 },
      { id: 7, kbps: -1, burstKb: -1 },
    ]);
    assert.deepEqual(parseMeters("OFPST_METER_CONFIG reply (OF1.5) (xid=0x2):\n"), []);
  });

  it("diffs: adds what is missing, modifies what differs, removes only our meters nobody wants", () => {
    const wanted = [
      { id: 65542, kbps: 20_000, burstKb: 5_000 },
      { id: 65543, kbps: 10_000, burstKb: 2_500 },
      { id: 65544, kbps: 1_000, burstKb: 250 },
    ];
    const observed = [
      { id: 65542, kbps: 20_000, burstKb: 5_000 },
      { id: 65543, kbps: 5_000, burstKb: 2_500 },
      { id: 65550, kbps: 1, burstKb: 1 },
      { id: 7, kbps: 1, burstKb: 1 },
    ];
    assert.deepEqual(diffMeters(wanted, observed), { add: [wanted[2]], modify: [wanted[1]], remove: [65550] });
    assert.deepEqual(diffMeters(wanted, wanted), { add: [], modify: [], remove: [] });
  });
});
