import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { endpoint } from "../testing/desired.js";
import type { ObservedQdisc } from "../linux/state.js";
import { endpointShapers, shaperLabel, shaperStep } from "./shapers.js";

const qos = { egressBps: 20_000_000, ingressBps: 10_000_000, burstBytes: 0 };
const port = (overrides: Parameters<typeof endpoint>[1]) => {
  const e = endpoint(1, { ipv6: "", ipv6Gateway: "", ...overrides });
  return { name: e.hostLink, endpoint: e, tenant: "a" };
};
const tbf = (dev: string, rateBytes: number, burstBytes: number): ObservedQdisc => ({ dev, kind: "tbf", handle: "1:", root: true, shaper: { rateBytes, burstBytes } });

describe("tbf shapers of bandwidth limits on the OVS datapath", () => {
  it("receiving on the bridge side, sending in the container's namespace where that side is ours, with the Linux driver's parameters", () => {
    const ours = port({ qos });
    assert.deepEqual(endpointShapers(ours), {
      port: ours,
      // Linux driver's default burst: 10 ms at the rate, at least 4 frames.
      bridgeSide: { rateBytes: 1_250_000, burstBytes: 12_500 },
      containerSide: { rateBytes: 2_500_000, burstBytes: 25_000 },
    });
    const contiv = port({ containerSide: "ours", qos: { egressBps: 10 * 1024 * 1024, ingressBps: 10 * 1024 * 1024, burstBytes: 65_536 } });
    assert.deepEqual(endpointShapers(contiv).containerSide, { rateBytes: 1_310_720, burstBytes: 65_536 });
    assert.deepEqual(endpointShapers(port({})), { port: port({}), bridgeSide: null, containerSide: null });
  });

  it("a runtime's container side is never shaped (a meter limits what it sends): only the bridge side", () => {
    const runtime = port({ containerSide: "runtime", qos });
    const s = endpointShapers(runtime);
    assert.deepEqual(s.bridgeSide, { rateBytes: 1_250_000, burstBytes: 12_500 });
    assert.ok(!("containerSide" in s));
  });

  it("steps: create, update what differs, nothing when right (tc's few bytes of burst rounding), delete only a tbf", () => {
    const wanted = { rateBytes: 1_250_000, burstBytes: 12_500 };
    const args = ["qdisc", "replace", "dev", "ne1", "root", "handle", "1:", "tbf", "rate", "10000000bit", "burst", "12500b", "latency", "50ms"];
    assert.deepEqual(shaperStep("ne1", undefined, wanted), { action: "create", args });
    const noqueue: ObservedQdisc = { dev: "ne1", kind: "noqueue", handle: "0:", root: true, shaper: null };
    assert.deepEqual(shaperStep("ne1", noqueue, wanted), { action: "create", args });
    assert.deepEqual(shaperStep("ne1", tbf("ne1", 2_500_000, 12_500), wanted), { action: "update", args });
    assert.deepEqual(shaperStep("ne1", tbf("ne1", 1_250_000, 50_000), wanted), { action: "update", args });
    assert.equal(shaperStep("ne1", tbf("ne1", 1_250_000, 12_499), wanted), null);
    assert.deepEqual(shaperStep("ne1", tbf("ne1", 1_250_000, 12_500), null), { action: "delete", args: ["qdisc", "del", "dev", "ne1", "root"] });
    assert.equal(shaperStep("ne1", noqueue, null), null);
    assert.equal(shaperStep("ne1", { ...noqueue, kind: "fq_codel" }, null), null, "not ours");
    assert.equal(shaperStep("ne1", undefined, null), null);
    assert.equal(shaperLabel("ne1", wanted), "tbf on ne1 (10000000 bit/s, burst 12500 B)");
  });
});
