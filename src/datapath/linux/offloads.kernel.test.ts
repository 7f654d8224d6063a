// Offload features against the real kernel, inside namespaces this test creates ("npt" + 4 hex, removed in
// after() even when a test fails): one tenant with a VXLAN network and two containers on one simulated host.
// What the devices we make carry, that a reconcile keeps it, and that a feature changed by hand is converged
// back by the full run (the one that reads offloads). Needs root and ethtool; skipped otherwise.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";

import { bridgeName, endpointLinkName, tenantNamespace, vxlanName } from "../names.js";
import type { DesiredEndpoint, DesiredHost } from "../types.js";
import { LinuxDatapath } from "./driver.js";
import { parseFeatures, WANTED_OFFLOADS, type OffloadDeviceKind } from "./offloads.js";
import { emptyPolicy } from "../testing/desired.js";
import { addTestNamespaces, exec, ping, removeTestState } from "./testing/netns.js";

const isRoot = process.getuid?.() === 0;
const hasEthtool = (() => {
  try {
    execFileSync("sh", ["-c", "command -v ethtool"]);
    return true;
  } catch {
    return false;
  }
})();
const P = `npt${randomBytes(2).toString("hex")}`;
const HOST_NS = `${P}host`; // not "<P>-…": cleanup(P) must not remove it
const NS = tenantNamespace(P, "a");
const VXLAN = vxlanName(4242);
const containerNs = (name: string): string => `${P}-c-${name}`;
const netnsPath = (name: string): string => `/var/run/netns/${containerNs(name)}`;

function ep(container: string, host: number): DesiredEndpoint {
  return {
    id: `${P}-${container}`,
    network: "blue",
    hostLink: endpointLinkName(`${P}-${container}`),
    netns: netnsPath(container),
    ifname: "eth0",
    mac: `02:00:00:00:10:${String(host).padStart(2, "0")}`,
    ipv4: `198.18.1.${host}/24`,
    ipv6: "",
    gateway: "198.18.1.254",
    ipv6Gateway: "",
    mtu: 1450,
    qos: { egressBps: 0, ingressBps: 0, burstBytes: 0 },
  };
}

function desired(): DesiredHost {
  const network = {
    name: "blue",
    bridge: bridgeName("blue"),
    subnet: "198.18.1.0/24",
    gateway: "198.18.1.254",
    ipv6Subnet: "",
    ipv6Gateway: "",
    mtu: 1450,
    routed: false,
    netfilter: false,
    vxlan: { vni: 4242, device: VXLAN, localVtep: "198.18.0.11", port: 4789, peers: ["198.18.0.12"], arpMode: "proxy" as const, remotes: [] },
  };
  return {
    prefix: P,
    tenants: [{ name: "a", namespace: NS, fwdMode: "bridge", networks: [network], endpoints: [ep("c1", 1), ep("c2", 2)], policy: emptyPolicy(), hostEndpoints: [] }],
    host: { natOutbound: false },
  };
}

const devices: [string, OffloadDeviceKind][] = [
  [VXLAN, "vxlan"],
  [endpointLinkName(`${P}-c1`), "veth"],
  [endpointLinkName(`${P}-c2`), "veth"],
];

/** The wanted features each device does not have now, as "DEV FEATURE". */
async function offWanted(): Promise<string[]> {
  const out: string[] = [];
  for (const [dev, kind] of devices) {
    const have = parseFeatures(await exec.run(["ip", "netns", "exec", NS, "ethtool", "-k", dev]))[dev] ?? {};
    for (const [feature, on] of Object.entries(WANTED_OFFLOADS[kind])) {
      if (have[feature]?.fixed !== true && have[feature]?.on !== on) out.push(`${dev} ${feature}`);
    }
  }
  return out;
}

describe("offload features in network namespaces", { skip: !isRoot ? "needs root" : !hasEthtool ? "needs ethtool" : false }, () => {
  const dp = new LinuxDatapath(exec, { hostNamespace: HOST_NS });

  before(async () => {
    await addTestNamespaces(HOST_NS, ["c1", "c2"].map(containerNs));
  });

  after(() => removeTestState(dp, P));

  it("the veths and the VXLAN device we make carry the wanted features, and reconciles keep them", async () => {
    assert.deepEqual((await dp.reconcile(desired())).errors, []);
    assert.deepEqual(await offWanted(), []);
    assert.equal(await ping(containerNs("c1"), "198.18.1.2"), true);
    const again = await dp.reconcile(desired(), { full: true });
    assert.deepEqual([again.changes, again.errors], [[], []], "nothing to change");
    assert.deepEqual(await offWanted(), []);
  });

  it("a feature changed by hand is converged back by the full run", async () => {
    const veth = endpointLinkName(`${P}-c1`);
    await exec.run(["ip", "netns", "exec", NS, "ethtool", "-K", VXLAN, "tso", "off", "tx", "off"]);
    await exec.run(["ip", "netns", "exec", NS, "ethtool", "-K", veth, "gso", "off"]);
    assert.deepEqual((await offWanted()).length > 0, true);
    const incremental = await dp.reconcile(desired());
    assert.deepEqual(incremental.changes, [], "an incremental run trusts what it applied");
    const full = await dp.reconcile(desired(), { full: true });
    assert.deepEqual(full.errors, []);
    assert.deepEqual(full.changes.map((c) => `${c.phase} ${c.object}`).sort(), [`offload offloads of veth ${veth}`, `offload offloads of vxlan ${VXLAN}`]);
    assert.deepEqual(await offWanted(), []);
    assert.equal(await ping(containerNs("c1"), "198.18.1.2"), true);
    const steady = await dp.reconcile(desired(), { full: true });
    assert.deepEqual(steady.changes, [], "converged: the next full run changes nothing");
  });
});
