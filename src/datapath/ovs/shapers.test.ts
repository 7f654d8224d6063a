import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { endpoint } from "../testing/desired.js";
import type { ObservedQdisc } from "../linux/state.js";
import { FakeExecutor } from "../linux/testing/fakeExecutor.js";
import { endpointShapers, shaperLabel, shaperStep, type EndpointShapers } from "./shapers.js";
import { OvsShapers } from "./shapers-tc.js";

const qos = { egressBps: 20_000_000, ingressBps: 10_000_000, burstBytes: 0 };
const port = (overrides: Parameters<typeof endpoint>[1]) => {
  const e = endpoint(1, { ipv6: "", ipv6Gateway: "", ...overrides });
  return { name: e.hostLink, endpoint: e, tenant: "a", vlan: 1 };
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

describe("OvsShapers.sync against a scripted tc", () => {
  const limited = endpointShapers(port({ qos }));
  const hostLink = limited.port.name;
  const hostQdiscs = (rate: number | null) =>
    JSON.stringify([{ kind: rate === null ? "noqueue" : "tbf", handle: rate === null ? "0:" : "1:", dev: hostLink, root: true, ...(rate === null ? {} : { options: { rate, burst: 12_500 } }) }]);
  const containerQdiscs = (rate: number | null) =>
    JSON.stringify([{ kind: rate === null ? "noqueue" : "tbf", handle: "1:", dev: "eth0", root: true, ...(rate === null ? {} : { options: { rate, burst: 25_000 } }) }]);
  const setup = () => {
    const fake = new FakeExecutor();
    const shapers = new OvsShapers(fake, { hostNamespace: "H", vsctl: () => Promise.resolve("") });
    const changes: string[] = [];
    const errors: string[] = [];
    const sync = (ports: EndpointShapers[], full: boolean) =>
      shapers.sync(ports, full, (action, object) => changes.push(`${action} ${object}`), (_owner, objects) => errors.push(objects.join()));
    return { fake, shapers, changes, errors, sync };
  };
  const netns = limited.port.endpoint.netns;

  it("makes both shapers, then trusts the container side on runs that are not full, reads it again on full runs", async () => {
    const { fake, changes, errors, sync } = setup();
    fake.on("tc -n H -json qdisc show", { stdout: hostQdiscs(null) }, 1).on(`nsenter --net=${netns} tc -json qdisc show`, { stdout: containerQdiscs(null) }, 1);
    fake.on(/ qdisc replace /, { stdout: "" });
    assert.deepEqual([...(await sync([limited], false))], []);
    assert.deepEqual(changes, [`create tbf on ${hostLink} (10000000 bit/s, burst 12500 B)`, `create tbf on eth0 in ${netns} (20000000 bit/s, burst 25000 B)`]);
    assert.deepEqual(errors, []);

    fake.calls.length = 0;
    changes.length = 0;
    fake.on("tc -n H -json qdisc show", { stdout: hostQdiscs(1_250_000) });
    fake.on(`nsenter --net=${netns} tc -json qdisc show`, { stdout: containerQdiscs(2_500_000) });
    await sync([limited], false);
    assert.deepEqual(fake.calls.map((c) => c.argv.join(" ")), ["tc -n H -json qdisc show"], "the container side this process made is trusted");
    await sync([limited], true);
    assert.deepEqual(fake.calls.map((c) => c.argv.join(" ")).slice(1), ["tc -n H -json qdisc show", `nsenter --net=${netns} tc -json qdisc show`]);
    assert.deepEqual(changes, []);
  });

  it("a shaper that cannot be created keeps the port from its flows; one that cannot be changed does not", async () => {
    const { fake, errors, sync } = setup();
    fake.on("tc -n H -json qdisc show", { stdout: hostQdiscs(null) }).on(`nsenter --net=${netns} tc -json qdisc show`, { stdout: containerQdiscs(2_000_000) });
    fake.on(/ qdisc replace /, { stderr: "RTNETLINK answers: No such device" });
    assert.deepEqual([...(await sync([limited], true))], [hostLink]);
    assert.deepEqual(errors, [`tbf on ${hostLink}`, `tbf on eth0 in ${netns}`]);
    fake.on("tc -n H -json qdisc show", { stdout: hostQdiscs(2_000_000) });
    assert.deepEqual([...(await sync([limited], true))], [], "both were updates");
  });
});
