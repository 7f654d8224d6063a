// Incremental runs against the real kernel, entirely inside namespaces this test creates ("npt" + 4 hex,
// removed in after() even when a test fails): what a run reads is counted with a recording Executor.
// Needs root; skipped otherwise.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";

import { bridgeName, endpointLinkName, tenantNamespace } from "../names.js";
import type { DesiredEndpoint, DesiredHost, DesiredTenant } from "../types.js";
import { LinuxDatapath } from "./driver.js";
import { spawnedArgv, type Executor } from "../../lib/process.js";
import { emptyPolicy } from "../testing/desired.js";
import { addTestNamespaces, exec, ping, removeTestState } from "./testing/netns.js";

const isRoot = process.getuid?.() === 0;
const P = `npt${randomBytes(2).toString("hex")}`;
const HOST_NS = `${P}host`; // not "<P>-…": cleanup(P) must not remove it
const nsA = tenantNamespace(P, "a");
const nsB = tenantNamespace(P, "b");
const containerNs = (name: string): string => `${P}-c-${name}`;
const netnsPath = (name: string): string => `/var/run/netns/${containerNs(name)}`;

/** Every command the driver spawns, as text. */
const calls: string[] = [];
const recording: Executor = {
  run: (argv, options) => {
    calls.push(spawnedArgv(argv, options?.netns).join(" "));
    return exec.run(argv, options);
  },
};

function ep(container: string, third: number, host: number): DesiredEndpoint {
  return {
    id: `${P}-${container}`,
    network: "blue",
    hostLink: endpointLinkName(`${P}-${container}`),
    netns: netnsPath(container),
    ifname: "eth0",
    mac: `02:00:00:00:${third}0:${String(host).padStart(2, "0")}`,
    ipv4: `198.18.${third}.${host}/24`,
    ipv6: "",
    gateway: `198.18.${third}.254`,
    ipv6Gateway: "",
    mtu: 1450,
    qos: { egressBps: 0, ingressBps: 0, burstBytes: 0 },
  };
}

function tenant(name: string, third: number, endpoints: DesiredEndpoint[]): DesiredTenant {
  const network = {
    name: "blue",
    bridge: bridgeName("blue"),
    subnet: `198.18.${third}.0/24`,
    gateway: `198.18.${third}.254`,
    ipv6Subnet: "",
    ipv6Gateway: "",
    mtu: 1450,
    routed: false,
    netfilter: false,
  };
  return { name, namespace: tenantNamespace(P, name), fwdMode: "bridge", networks: [network], endpoints, policy: emptyPolicy(), hostEndpoints: [] };
}

/** Tenant a with c1, c2 (and c4 when `withC4`), tenant b with c3. */
function desired(withC4 = false): DesiredHost {
  return {
    prefix: P,
    tenants: [
      tenant("a", 1, [ep("c1", 1, 1), ep("c2", 1, 2), ...(withC4 ? [ep("c4", 1, 4)] : [])]),
      tenant("b", 2, [ep("c3", 2, 3)]),
    ],
    host: { natOutbound: false },
  };
}

/** Runs `fn` and returns the commands it spawned. */
async function recorded(fn: () => Promise<unknown>): Promise<string[]> {
  calls.length = 0;
  await fn();
  return [...calls];
}

const reads = (commands: string[], needle: string): string[] => commands.filter((c) => c.includes(needle));
/** Reads of a container namespace's interfaces (`ip -n NAME`: the test's container namespaces are named ones). */
const containerReads = (commands: string[]): string[] => commands.filter((c) => c.startsWith(`ip -n ${P}-c-`) && c.includes(" -json "));

describe("incremental LinuxDatapath runs in network namespaces", { skip: isRoot ? false : "needs root" }, () => {
  const dp = new LinuxDatapath(recording, { hostNamespace: HOST_NS });

  before(async () => {
    await addTestNamespaces(HOST_NS, ["c1", "c2", "c3", "c4", "rt", "c5"].map(containerNs));
  });

  after(() => removeTestState(dp, P));

  it("reads everything on the first run, then nothing while nothing changes (the namespace list is a directory)", async () => {
    const first = await recorded(async () => assert.deepEqual((await dp.reconcile(desired())).errors, []));
    for (const c of ["c1", "c2", "c3"]) assert.ok(reads(first, `ip -n ${containerNs(c)} -json`).length > 0, c);
    assert.ok(reads(first, `-n ${HOST_NS} -json -d addr show`).length > 0, "the agent's namespace is read");
    assert.equal(await ping(containerNs("c1"), "198.18.1.2"), true);

    const again = await recorded(async () => {
      const report = await dp.reconcile(desired());
      assert.deepEqual([report.changes, report.errors], [[], []]);
    });
    assert.deepEqual(again, []);
  });

  it("after an ADD reads nothing: two processes make the new endpoint, one in its tenant, one in its container", async () => {
    const commands = await recorded(async () => assert.deepEqual((await dp.reconcile(desired(true))).errors, []));
    assert.deepEqual(commands, [`ip -n ${nsA} -force -batch -`, `ip -n ${containerNs("c4")} -force -batch -`]);
    assert.equal(await ping(containerNs("c4"), "198.18.1.1"), true);
  });

  it("a new endpoint whose interface name is taken in its container: read after all, refused with why, the interface left as it was", async () => {
    await exec.run(["ip", "-n", containerNs("c5"), "link", "add", "eth0", "type", "veth", "peer", "name", "other0"]);
    try {
      const taken = desired(true);
      taken.tenants[0]!.endpoints.push(ep("c5", 1, 5));
      const report = await dp.reconcile(taken);
      assert.match(report.errors.map((e) => e.message).join("; "), /interface "eth0" in "[^"]+" exists and is not the peer/);
      const eth0 = JSON.parse(await exec.run(["ip", "-n", containerNs("c5"), "-json", "addr", "show", "dev", "eth0"])) as { flags: string[]; addr_info: unknown[] }[];
      assert.deepEqual([eth0[0]?.flags.includes("UP"), eth0[0]?.addr_info], [false, []], "no address, not brought up");
      // The others are as they were: the next run without it changes nothing of theirs.
      const back = await dp.reconcile(desired(true));
      assert.deepEqual(back.errors, []);
      assert.equal(await ping(containerNs("c4"), "198.18.1.1"), true);
    } finally {
      await exec.run(["ip", "-n", containerNs("c5"), "link", "del", "eth0"]);
    }
  });

  it("does not see drift made behind its back until the full resync, which repairs it", async () => {
    await exec.run(["ip", "-n", containerNs("c1"), "addr", "del", "198.18.1.1/24", "dev", "eth0"]); // the default route goes with it
    await exec.run(["ip", "-n", nsB, "link", "set", bridgeName("blue"), "down"]);
    const incremental = await dp.reconcile(desired(true));
    assert.deepEqual([incremental.changes, incremental.errors], [[], []], "an incremental run trusts what it applied");
    assert.equal(await ping(containerNs("c2"), "198.18.1.1"), false);

    const full = await dp.reconcile(desired(true), { full: true });
    assert.deepEqual(full.errors, []);
    // Tenants are applied concurrently: their changes interleave.
    assert.deepEqual(full.changes.map((c) => `${c.namespace} ${c.action} ${c.object}`).sort(), [
      `${nsA} create address 198.18.1.1/24 on eth0 in ${netnsPath("c1")}`,
      `${nsA} create default route via 198.18.1.254 on eth0 in ${netnsPath("c1")}`,
      `${nsB} update bridge ${bridgeName("blue")}`,
    ]);
    assert.equal(await ping(containerNs("c2"), "198.18.1.1"), true);
    assert.equal(await ping(containerNs("c3"), "198.18.2.254"), true);
  });

  it("reads a tenant whole, every container, after a run in which it failed", async () => {
    const ghost = desired(true);
    ghost.tenants[0]!.endpoints.push(ep("ghost", 1, 9)); // no such namespace: a problem in tenant a
    assert.match((await dp.reconcile(ghost)).errors[0]?.message ?? "", /does not exist/);
    const commands = await recorded(async () => assert.deepEqual((await dp.reconcile(desired(true))).errors, []));
    for (const c of ["c1", "c2", "c4"]) assert.ok(reads(commands, `ip -n ${containerNs(c)} -json`).length > 0, c);
    assert.deepEqual(reads(commands, nsB), [], "tenant b did not fail: not read");
  });

  it("makes a runtime's veth where the runtime takes it; once taken, no run reads, reports or repairs its container side", async () => {
    // Namespace rt stands for dockerd's, c5 for a sandbox; the moves and the configuration are dockerd's.
    const runtime = { ...ep("c5", 1, 5), containerSide: "runtime" as const, netns: netnsPath("rt"), ifname: `${P}d5`, gateway: "" };
    const withRuntime = (): DesiredHost => {
      const host = desired(true);
      host.tenants[0]!.endpoints.push(runtime);
      return host;
    };
    const made = await recorded(async () => assert.deepEqual((await dp.reconcile(withRuntime())).errors, []));
    assert.deepEqual(containerReads(made), [], "no container side is read");
    const inRt = JSON.parse(await exec.run(["ip", "-n", containerNs("rt"), "-json", "link", "show", "dev", runtime.ifname])) as { address: string; flags: string[] }[];
    assert.equal(inRt[0]?.address, runtime.mac);
    assert.ok(!inRt[0]?.flags.includes("UP"), "left down for the runtime");
    await exec.run(["ip", "-n", containerNs("rt"), "link", "set", runtime.ifname, "netns", netnsPath("c5")]);
    await exec.run(["ip", "-n", containerNs("c5"), "link", "set", runtime.ifname, "name", "eth1"]);
    await exec.run(["ip", "-n", containerNs("c5"), "addr", "add", runtime.ipv4, "dev", "eth1"]);
    await exec.run(["ip", "-n", containerNs("c5"), "link", "set", "eth1", "up"]);
    assert.equal(await ping(containerNs("c5"), "198.18.1.1"), true);

    const steady = await recorded(async () => {
      const report = await dp.reconcile(withRuntime());
      assert.deepEqual([report.changes, report.errors], [[], []]);
    });
    assert.deepEqual(steady, [], "a steady runtime endpoint: nothing read, no problem");
    const full = await recorded(async () => {
      const report = await dp.reconcile(withRuntime(), { full: true });
      assert.deepEqual([report.changes, report.errors], [[], []]);
    });
    assert.deepEqual(reads(full, netnsPath("c5")).concat(reads(full, netnsPath("rt"))), [], "not even a full run looks at it");

    await dp.reconcile(desired(true));
    assert.equal((await exec.run(["ip", "-n", containerNs("c5"), "-o", "link"])).includes("eth1"), false, "its host side took it along");
  });

  it("a DEL reads nothing: one process deletes the veth, and the container's end goes with it", async () => {
    const commands = await recorded(async () => assert.deepEqual((await dp.reconcile(desired())).errors, []));
    assert.deepEqual(commands, [`ip -n ${nsA} -force -batch -`]);
    assert.equal((await exec.run(["ip", "-n", containerNs("c4"), "-o", "link"])).includes("eth0"), false);
  });

  it("a DEL whose veth went already (its container's namespace first): read after all, and nothing left to do", async () => {
    assert.deepEqual((await dp.reconcile(desired(true))).errors, []);
    await exec.run(["ip", "-n", containerNs("c4"), "link", "del", "eth0"]);
    const commands = await recorded(async () => assert.deepEqual((await dp.reconcile(desired())).errors, []));
    assert.ok(reads(commands, `ip -n ${nsA} -json -d -batch -`).length === 1, `the second pass reads tenant a:\n${commands.join("\n")}`);
    const again = await recorded(async () => assert.deepEqual((await dp.reconcile(desired())).changes, []));
    assert.deepEqual(again, [], "and trusts it again");
  });
});
