// Mid-stream pickup (pickup.ts) against the real kernel, inside namespaces this test creates ("npk" + 4 hex,
// removed in after() even when a test fails), with a 2 s window: TCP connections running across a bridge
// when it starts passing netfilter keep going if they send within the window, and one that first sends
// after it is judged as new (here: dropped). Needs root; skipped otherwise.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";

import { bridgeName, endpointLinkName, tenantNamespace } from "../names.js";
import type { PolicyInput, PolicyRule } from "../../policy/index.js";
import type { DesiredEndpoint, DesiredHost } from "../types.js";
import { LinuxDatapath } from "./driver.js";
import { addTestNamespaces, exec, removeTestState, startProbe, tcp } from "./testing/netns.js";

const isRoot = process.getuid?.() === 0;
const P = `npk${randomBytes(2).toString("hex")}`;
const HOST_NS = `${P}host`; // not "<P>-…": cleanup(P) must not remove it
const NS = tenantNamespace(P, "a");
const PORT = 7000;
const WINDOW_SECONDS = 2;
const containerNs = (name: string): string => `${P}-c-${name}`;

/** The tenant's policy: new TCP to c2:PORT denied; `extra` adds a rule that changes the script and nothing else here. */
function policy(extra: boolean): PolicyInput {
  const deny = (key: string, protocol: number, port: number): PolicyRule => ({ key, groupId: 1, direction: "in", priority: 10, action: "deny", protocol, port });
  return {
    fwdMode: "bridge",
    networks: [{ name: "blue", bridge: bridgeName("blue"), subnet: "198.18.1.0/24", ipv6Subnet: "" }],
    groups: [{ id: 1, name: "servers", ipv4: ["198.18.1.2"], ipv6: [], dscp: 0 }],
    rules: [deny("a:p:tcp", 6, PORT), ...(extra ? [deny("a:p:udp", 17, 9)] : [])],
  };
}

function ep(container: string, host: number): DesiredEndpoint {
  return {
    id: `${P}-${container}`,
    network: "blue",
    hostLink: endpointLinkName(`${P}-${container}`),
    netns: `/var/run/netns/${containerNs(container)}`,
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

function desired(netfilter: boolean, extra = false): DesiredHost {
  const network = {
    name: "blue",
    bridge: bridgeName("blue"),
    subnet: "198.18.1.0/24",
    gateway: "198.18.1.254",
    ipv6Subnet: "",
    ipv6Gateway: "",
    mtu: 1450,
    routed: false,
    netfilter,
  };
  return {
    prefix: P,
    tenants: [{ name: "a", namespace: NS, fwdMode: "bridge", networks: [network], endpoints: [ep("c1", 1), ep("c2", 2)], policy: policy(extra), hostEndpoints: [] }],
    host: { natOutbound: false },
  };
}

async function pickupElements(): Promise<string[]> {
  const out = await exec.run(["nft", "-j", "list", "set", "inet", "netplugin", "bridged"], { netns: NS });
  const set = (JSON.parse(out) as { nftables: { set?: { elem?: { elem: { val: { concat: string[] } } }[] } }[] }).nftables.find((e) => e.set)!.set!;
  return (set.elem ?? []).map((e) => e.elem.val.concat.join(" . "));
}


describe("mid-stream pickup when a bridge starts passing netfilter", { skip: isRoot ? false : "needs root" }, () => {
  const dp = new LinuxDatapath(exec, { hostNamespace: HOST_NS, pickupWindowSeconds: WINDOW_SECONDS });
  const bridge = bridgeName("blue");

  before(async () => {
    await addTestNamespaces(HOST_NS, ["c1", "c2"].map(containerNs));
    assert.deepEqual((await dp.reconcile(desired(false))).errors, []);
    await startProbe(containerNs("c2"), "serve", "c2", PORT);
  });

  after(() => removeTestState(dp, P));

  it("keeps connections that send within the window, judges one that first sends after it, and judges new ones", async () => {
    assert.equal(await tcp(containerNs("c1"), "198.18.1.2", PORT), "reply c2", "no netfilter on the bridge: the drop rule sees nothing");
    // Both connect and exchange one message now; `late` sends its second after the window, `early` within it.
    const late = (await startProbe(containerNs("c1"), "hold", "198.18.1.2", PORT, 2, 6_000)).done;
    const early = (await startProbe(containerNs("c1"), "hold", "198.18.1.2", PORT, 3, 1_500)).done;
    const report = await dp.reconcile(desired(true));
    assert.deepEqual(report.errors, []);
    assert.ok(report.changes.some((c) => c.object === `pickup window of bridge ${bridge}`), JSON.stringify(report.changes));
    assert.deepEqual(await pickupElements(), [`${bridge} . ${bridge}`]);

    // Replacing the table within the window puts the element back.
    assert.deepEqual((await dp.reconcile(desired(true, true))).errors, []);
    assert.deepEqual(await pickupElements(), [`${bridge} . ${bridge}`]);
    assert.equal(await tcp(containerNs("c1"), "198.18.1.2", PORT), "timeout", "a new connection is judged: dropped");

    assert.deepEqual(await early, { sent: 3, received: 3, error: null });
    assert.deepEqual(await late, { sent: 2, received: 1, error: null });
    assert.deepEqual(await pickupElements(), [], "the window closed");
  });
});
