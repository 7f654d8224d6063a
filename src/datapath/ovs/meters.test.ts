import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { emptyPolicy, endpoint, network, PREFIX } from "../testing/desired.js";
import type { DesiredEndpoint, DesiredHost } from "../types.js";
import { METER_BASE, METER_LAST } from "./layout.js";
import { diffMeters, endpointMeter, isOurMeter, meterBurstBytes, meterId, meterSpec, parseMeters } from "./meters.js";
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

const qos = { egressBps: 20_000_000, ingressBps: 10_000_000, burstBytes: 0 };
/** Docker's: a runtime owns its container side, so what it sends is metered. */
const runtime = endpoint(1, { ipv6: "", ipv6Gateway: "", containerSide: "runtime", qos });
/** CNI's: its container side is ours, so both directions are tbf shapers (shapers.ts), no meter. */
const ours = endpoint(3, { ipv6: "", ipv6Gateway: "", containerSide: "ours", qos });
const free = endpoint(2, { ipv6: "", ipv6Gateway: "", containerSide: "runtime" });
const ofports = new Map([
  [runtime.hostLink, 3],
  [free.hostLink, 4],
  [ours.hostLink, 5],
]);

describe("meters of bandwidth limits", () => {
  it("derives ids from the port's OpenFlow number, inside our range", () => {
    assert.equal(meterId(3), METER_BASE + 6);
    assert.equal(meterId(0xff00), METER_LAST - 1);
    assert.ok(isOurMeter(METER_BASE) && isOurMeter(METER_LAST) && !isOurMeter(1) && !isOurMeter(METER_LAST + 1));
  });

  it("meters only what a runtime's container sends; converts to kbit; the bucket is at least 250 ms at the rate", () => {
    assert.deepEqual(endpointMeter(runtime, 3), { id: METER_BASE + 6, kbps: 20_000, burstKb: 5_000 });
    assert.equal(endpointMeter(ours, 5), undefined);
    assert.equal(endpointMeter({ ...ours, containerSide: undefined }, 5), undefined, "absent containerSide is ours");
    assert.equal(endpointMeter(free, 4), undefined);
    assert.equal(endpointMeter({ ...runtime, qos: { egressBps: 0, ingressBps: 10_000_000, burstBytes: 0 } }, 3), undefined, "what it receives is a tbf");
    assert.equal(meterBurstBytes(125, 1500), 4 * 1514);
    // Contiv's 64 KB at 10 Mbit/s (50 ms) is raised to 250 ms; a burst above that is kept.
    const contiv = { ...runtime, qos: { egressBps: 10 * 1024 * 1024, ingressBps: 0, burstBytes: 65_536 } };
    assert.deepEqual(endpointMeter(contiv, 3), { id: METER_BASE + 6, kbps: 10_486, burstKb: 2_622 });
    const deep = { ...runtime, qos: { egressBps: 1_500, ingressBps: 0, burstBytes: 10_001 } };
    assert.deepEqual(endpointMeter(deep, 3), { id: METER_BASE + 6, kbps: 2, burstKb: 81 });
    assert.equal(meterSpec({ id: 65542, kbps: 20_000, burstKb: 5_000 }), "meter=65542,kbps,burst,stats,band=type=drop,rate=20000,burst_size=5000");
  });

  it("the metered endpoint's CLASSIFY flows use its meter first; deliveries and the shaped endpoint have none", () => {
    const desired = host([runtime, free, ours]);
    assert.deepEqual(checkOvs(desired), []);
    assert.deepEqual(
      renderMeters(desired, ofports).map((w) => [w.meter.id, w.port.endpoint.id]),
      [[METER_BASE + 6, "ep1"]],
    );
    const flows = renderFlows(desired, { ofports, policy: () => [] });
    const metered = flows.filter((f) => f.includes("meter:"));
    const tn = tenantNumbers(["a"]).get("a")!;
    assert.deepEqual(metered, [
      `cookie=0x6e70,table=0,priority=110,in_port=3,dl_src=${runtime.mac},vlan_tci=0x0000/0x1fff,arp,arp_spa=198.18.1.1,arp_sha=${runtime.mac},actions=meter:65542,set_field:${tn}->reg6,set_field:1->reg7,set_field:0->reg8,goto_table:10`,
      `cookie=0x6e70,table=0,priority=110,in_port=3,dl_src=${runtime.mac},vlan_tci=0x0000/0x1fff,ip,nw_src=198.18.1.1,actions=meter:65542,set_field:${tn}->reg6,set_field:1->reg7,set_field:0->reg8,goto_table:10`,
    ]);
    assert.ok(flows.some((f) => f.endsWith(`dl_dst=${runtime.mac},actions=output:3`)));
    assert.ok(flows.some((f) => f.endsWith(`dl_dst=${ours.mac},actions=output:5`)));
    // An endpoint without a port yet has no meters.
    assert.deepEqual(renderMeters(desired, new Map([[free.hostLink, 4], [ours.hostLink, 5]])), []);
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
