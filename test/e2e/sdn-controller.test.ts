// The global sdnController on a two-host simulated cluster on the OVS datapath (src/cluster, a private Open
// vSwitch per host): setting it points every running agent's bridge at the controller (ovs-vsctl
// get-controller), changing it moves them, clearing it removes it, all without restarting an agent; bad input is
// refused and changes nothing; an agent's --ovs-controller wins on its host; an agent on the linux datapath
// reports the field as not applied, which global inspect shows. No controller needs to listen: the bridge's
// configured target is what is checked. Per-run names (the cluster's prefix); everything is removed at the end.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Cluster, type ClusterHost } from "../../src/cluster/index.js";
import { hostPrefix } from "../../src/datapath/names.js";
import { bridgeName } from "../../src/datapath/ovs/render.js";
import { run } from "../../src/lib/process.js";
import { waitFor } from "../../src/lib/wait.js";
import { Api } from "../harness/api.js";

const root = process.getuid?.() === 0;
const ovsInstalled = (await run(["ovs-vswitchd", "--version"])).code === 0;

type Global = Record<string, unknown>;
type Realization = { revision: number; pendingHosts: string[]; errors?: { host: string; message: string }[] };

describe("the global sdnController on the OVS datapath", { skip: !root ? "needs root" : !ovsInstalled ? "openvswitch-switch is not installed" : false }, () => {
  let cluster: Cluster;
  let api: Api;
  let h1: ClusterHost, h2: ClusterHost;

  /** The bridge's controller target, "" for none; "(no bridge)" before the agent made it. */
  const controllerOf = async (h: ClusterHost) => {
    const r = await run(["ovs-vsctl", `--db=${h.ovs!.db}`, "get-controller", bridgeName(hostPrefix(h.name))]);
    if (r.code !== 0 && /no bridge named/.test(r.stderr)) return "(no bridge)";
    if (r.code !== 0) throw new Error(`ovs-vsctl get-controller: ${r.stderr}`);
    return r.stdout.trim();
  };
  const global = async () => (await api.get<Global>("/api/v1/globals/global/")).body;
  const setController = async (sdnController: string) => api.post("/api/v1/globals/global/", { ...(await global()), sdnController });
  const realization = async () => (await api.get<{ Oper: { realization: Realization } }>("/api/v1/inspect/globals/global/")).body.Oper.realization;
  const bridgesPointAt = async (want: Record<string, string>) => {
    let seen: string[] = [];
    await waitFor(async () => {
      seen = [await controllerOf(h1), await controllerOf(h2)];
      return seen[0] === want[h1.name] && seen[1] === want[h2.name];
    }, { timeoutMs: 20_000, what: () => `controllers ${JSON.stringify(want)}, seen ${JSON.stringify(seen)}` });
  };
  /** Waits until global inspect's realization passes `ok`. */
  const realizationUntil = async (ok: (r: Realization) => boolean, what: string) => {
    let last: Realization | undefined;
    await waitFor(async () => ok((last = await realization())), { timeoutMs: 30_000, what: () => `${what}: ${JSON.stringify(last)}` });
  };

  before(async () => {
    cluster = await Cluster.up({ hosts: 2, datapath: "ovs", logLevel: "warn" });
    api = new Api(cluster.apiBase);
    [h1, h2] = cluster.hosts as [ClusterHost, ClusterHost];
  });

  after(async () => {
    await cluster?.down();
  });

  test("setting it points every bridge at the controller; changing moves them; clearing removes it; the agents keep running", async () => {
    const pids = [h1.agent!.child.pid, h2.agent!.child.pid];
    await bridgesPointAt({ [h1.name]: "", [h2.name]: "" });
    assert.equal((await setController("tcp:192.0.2.7:6653")).status, 200);
    assert.equal((await global()).sdnController, "tcp:192.0.2.7:6653");
    await bridgesPointAt({ [h1.name]: "tcp:192.0.2.7:6653", [h2.name]: "tcp:192.0.2.7:6653" });
    await realizationUntil((r) => r.pendingHosts.length === 0, "in force on both hosts");
    assert.equal((await realization()).errors, undefined);

    assert.equal((await setController("ssl:[fd00:198:18::1]:6654")).status, 200);
    await bridgesPointAt({ [h1.name]: "ssl:[fd00:198:18::1]:6654", [h2.name]: "ssl:[fd00:198:18::1]:6654" });

    assert.equal((await setController("")).status, 200);
    assert.equal((await global()).sdnController, "", "none");
    await bridgesPointAt({ [h1.name]: "", [h2.name]: "" });
    assert.deepEqual([h1.agent!.child.pid, h2.agent!.child.pid], pids, "no agent restarted");
    assert.ok(h1.agent!.alive && h2.agent!.alive);
  });

  test("bad input is refused with a reason and changes nothing", async () => {
    assert.equal((await setController("tcp:192.0.2.7:6653")).status, 200);
    await bridgesPointAt({ [h1.name]: "tcp:192.0.2.7:6653", [h2.name]: "tcp:192.0.2.7:6653" });
    const before = await global();
    for (const [bad, why] of [
      ["tcp:192.0.2.7:65536", 'port "65536" is not 1-65535'],
      ["udp:192.0.2.7:6653", 'protocol "udp" is not tcp or ssl'],
      ["tcp:fd00::1:6653", "expected tcp:IP:PORT or ssl:IP:PORT (an IPv6 address in brackets)"],
      ["tcp:controller.example:6653", '"controller.example" is not an IPv4 address (an IPv6 address goes in brackets)'],
    ] as const) {
      const r = await setController(bad);
      assert.equal(r.status, 400, r.text);
      assert.match(r.text, new RegExp(`sdnController "${bad.replace(/[.[\]]/g, "\\$&")}" is invalid: ${why.replace(/[.()[\]]/g, "\\$&")}`));
    }
    assert.deepEqual(await global(), before);
    // Give the agents a moment in which a wrong change would show.
    await new Promise((r) => setTimeout(r, 1000));
    assert.deepEqual([await controllerOf(h1), await controllerOf(h2)], ["tcp:192.0.2.7:6653", "tcp:192.0.2.7:6653"]);
  });

  test("an agent's --ovs-controller wins on its host; the other follows the global field", async () => {
    await h2.agent?.stop();
    h2.agentArgs.push("--ovs-controller", "tcp:127.0.0.1:16654");
    await cluster.startAgent(h2);
    await bridgesPointAt({ [h1.name]: "tcp:192.0.2.7:6653", [h2.name]: "tcp:127.0.0.1:16654" });
    assert.equal((await setController("tcp:192.0.2.8:6653")).status, 200);
    await bridgesPointAt({ [h1.name]: "tcp:192.0.2.8:6653", [h2.name]: "tcp:127.0.0.1:16654" });
    assert.equal((await setController("")).status, 200);
    await bridgesPointAt({ [h1.name]: "", [h2.name]: "tcp:127.0.0.1:16654" });
  });

  test("an agent on the linux datapath reports the field as not applied; global inspect names the host and why", async () => {
    await h2.agent?.stop();
    h2.agentArgs.splice(0, h2.agentArgs.length, "--datapath", "linux");
    await cluster.startAgent(h2);
    assert.equal((await setController("tcp:192.0.2.9:6653")).status, 200);
    // (h2's bridge is what its OVS agent left: the linux agent has no bridge to set.)
    await waitFor(async () => (await controllerOf(h1)) === "tcp:192.0.2.9:6653", { timeoutMs: 20_000, what: () => "h1 (ovs) follows" });
    const message = 'sdnController "tcp:192.0.2.9:6653" is not applied: the linux datapath cannot use an SDN controller';
    // Not in force on the linux host, with why; in force on the OVS one.
    await realizationUntil((r) => JSON.stringify(r.errors) === JSON.stringify([{ host: h2.name, message }]) && JSON.stringify(r.pendingHosts) === JSON.stringify([h2.name]), "h2 alone reports it as not applied");
    assert.equal((await setController("")).status, 200);
    await realizationUntil((r) => r.pendingHosts.length === 0 && r.errors === undefined, "cleared: in force everywhere");
  });
});
