import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { invocations } from "./apply.js";
import { NOTHING_APPLIED, selectScope } from "./incremental.js";
import { diffOffloads, offloadChange, offloadDevices, parseFeatures, readFeaturesArgv, WANTED_OFFLOADS } from "./offloads.js";
import { StepBuilder } from "./stepBuilder.js";
import type { HostState, TenantState } from "./state.js";
import { ETHTOOL_K_VETH_VXLAN } from "./testing/ethtool.js";

/** Only what offloads.ts and selectScope (incremental.ts, settled.ts) look at. */
const tenant = {
  tenant: "a",
  namespace: "np-t-a",
  sysctls: [],
  bridges: [],
  endpoints: [{ id: "e1", network: "blue", hostLink: "va" }],
  vxlans: [{ device: "vx0", network: "blue" }],
} as unknown as TenantState;

describe("offloads", () => {
  it("parses `ethtool -k` of several devices, sub-features and [fixed] included", () => {
    const f = parseFeatures(ETHTOOL_K_VETH_VXLAN);
    assert.deepEqual(Object.keys(f), ["va", "vx0"]);
    assert.deepEqual(f.va!["tcp-segmentation-offload"], { on: true, fixed: false });
    assert.deepEqual(f.va!["generic-receive-offload"], { on: false, fixed: false });
    assert.deepEqual(f.va!["large-receive-offload"], { on: false, fixed: true });
    assert.deepEqual(f.va!["tx-checksum-ip-generic"], { on: true, fixed: false });
    assert.deepEqual(f.vx0!["tx-checksumming"], { on: false, fixed: false });
    assert.deepEqual(f.vx0!["tcp-segmentation-offload"], { on: false, fixed: false });
    assert.deepEqual(f.vx0!["generic-receive-offload"], { on: true, fixed: false });
    assert.deepEqual(parseFeatures(""), {});
  });

  it("wants on both kinds what the kernel makes, and asks to change only what differs and is not fixed", () => {
    const f = parseFeatures(ETHTOOL_K_VETH_VXLAN);
    assert.deepEqual(offloadChange("va", "veth", f.va!), [], "a veth as made");
    assert.deepEqual(offloadChange("vx0", "vxlan", f.vx0!), ["-K", "vx0", "tso", "on", "tx", "on"]);
    const fixed = { ...f.vx0!, "tx-checksumming": { on: false, fixed: true } };
    assert.deepEqual(offloadChange("vx0", "vxlan", fixed), ["-K", "vx0", "tso", "on"]);
    assert.deepEqual(offloadChange("vx0", "vxlan", {}), [], "nothing read: nothing asked");
    for (const kind of ["veth", "vxlan"] as const) assert.equal(WANTED_OFFLOADS[kind]["tcp-segmentation-offload"], true);
  });

  it("plans one ethtool step per device that differs, owned by its endpoint or network, in the offload phase", () => {
    assert.deepEqual(offloadDevices(tenant).map((d) => `${d.kind} ${d.device}`), ["vxlan vx0", "veth va"]);
    const b = StepBuilder.of(tenant.namespace, { tenant: "a" });
    const features = parseFeatures(ETHTOOL_K_VETH_VXLAN);
    features.va!["generic-segmentation-offload"] = { on: false, fixed: false };
    diffOffloads(b, tenant, features);
    assert.deepEqual(
      b.steps().map((s) => [s.phase, s.tool, s.object, s.owner, s.args.join(" ")]),
      [
        ["offload", "ethtool", "offloads of vxlan vx0", { tenant: "a", network: "blue" }, "-K vx0 tso on tx on"],
        ["offload", "ethtool", "offloads of veth va", { tenant: "a", network: "blue", endpoint: "e1" }, "-K va gso on"],
      ],
    );
    const none = StepBuilder.of(tenant.namespace, { tenant: "a" });
    diffOffloads(none, tenant, undefined);
    diffOffloads(none, tenant, { other: features.vx0! });
    assert.deepEqual(none.steps(), [], "not read, or the device not there: no step");
  });

  it("runs an ethtool step alone in the tenant namespace, and reads all devices of one namespace in one process", () => {
    const b = StepBuilder.of(tenant.namespace, { tenant: "a" });
    b.ethtool("offloads of veth va", ["-K", "va", "gso", "on"]);
    b.ethtool("offloads of veth vb", ["-K", "vb", "gso", "on"]);
    assert.deepEqual(
      invocations(b.steps()).map((i) => [i.argv.join(" "), i.netns, i.batch]),
      [
        ["ethtool -K va gso on", "np-t-a", false],
        ["ethtool -K vb gso on", "np-t-a", false],
      ],
    );
    assert.deepEqual(readFeaturesArgv(["va", "vx0"]).slice(-3), ["sh", "va", "vx0"]);
  });

  it("reads offloads only of tenants read whole", () => {
    const host = { prefix: "np", tenants: [tenant], frozen: [], host: null } as unknown as HostState;
    assert.deepEqual([...(selectScope(host, NOTHING_APPLIED, [tenant.namespace]).whole ?? [])], [tenant.namespace]);
    const applied = { tenants: new Map([[tenant.namespace, tenant]]), host: null };
    // A sysctl: a change that is not the policy script's or its endpoints' alone (those are planned unread).
    const changed = { ...host, tenants: [{ ...tenant, sysctls: [...tenant.sysctls, { key: "net.ipv4.conf.all.rp_filter", value: "0" }] }] } as HostState;
    const scope = selectScope(changed, applied, [tenant.namespace]);
    assert.equal(scope.tenants.has(tenant.namespace), true, "a changed tenant is read");
    assert.equal(scope.whole?.has(tenant.namespace), false, "but not its offloads");
  });
});
