// The OVS driver with an SDN controller: a real os-ken application (testing/hook-app.py) connects to the bridge
// and installs a flow in the hook table before our policy that drops one TCP port our policy allows. Its flow
// takes effect on real traffic while everything else keeps working; our runs leave its flow alone; when it
// disconnects nothing of ours changes (fail mode secure). Needs root, openvswitch-switch and python3-os-ken.
// Per-run names in 198.18.0.0/15; the controller is stopped by its PID and everything removed at the end.

import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { must } from "../../lib/process.js";
import { waitFor } from "../../lib/wait.js";
import { ping, startProbe, tcp } from "../linux/testing/netns.js";
import { emptyPolicy } from "../testing/desired.js";
import type { DesiredEndpoint, DesiredHost } from "../types.js";
import type { OvsDatapath } from "./driver.js";
import { COOKIE, TABLE } from "./layout.js";
import { bridgeName } from "./render.js";
import type { PrivateOvs } from "./private-ovs.js";
import { needsOvs, OvsTestHost } from "./testing/ovs-host.js";

// Compiled to dist/src/datapath/ovs/; the application stays in the source tree.
const APP = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "..", "src", "datapath", "ovs", "testing", "hook-app.py");
const OSKEN = "/usr/bin/osken-manager";
const PORT = 16653;

const skip = needsOvs || (!existsSync(OSKEN) && "python3-os-ken is not installed");

describe("OVS driver with an SDN controller in the hook table", { skip }, () => {
  const P = `npk${randomBytes(2).toString("hex")}`;
  const testHost = new OvsTestHost(P);
  const HOST = testHost.host;
  const ns = (c: string) => testHost.ns(c);
  let ovs: PrivateOvs;
  let driver: OvsDatapath;
  let controller: ChildProcess | undefined;
  const bridge = bridgeName(P);

  const ep = (c: string, n: number): DesiredEndpoint => testHost.endpoint(c, n, { network: "blue", net24: "198.18.51", mac: `02:00:c6:12:33:0${n}` });
  const desired: DesiredHost = {
    prefix: P,
    tenants: [{
      name: "a", namespace: `${P}-t-a`, fwdMode: "bridge", hostEndpoints: [], policy: { ...emptyPolicy(), fwdMode: "bridge" }, endpoints: [ep("c1", 1), ep("c2", 2)],
      networks: [{ name: "blue", bridge: "nbblue", subnet: "198.18.51.0/24", gateway: "198.18.51.254", ipv6Subnet: "", ipv6Gateway: "", mtu: 1450, routed: false, netfilter: false }],
    }],
    host: { natOutbound: false },
  };
  const ofctl = (command: string, ...args: string[]) => testHost.ofctl(bridge, command, ...args);
  const controllerFlows = async () => (await ofctl("dump-flows", `table=${TABLE.PRE_HOOK},cookie=0xc0de/-1`)).split("\n").filter((l) => l.includes("actions=")).length;
  const ourFlows = async () => (await ofctl("dump-flows", `cookie=0x${COOKIE.toString(16)}/0xffff`, "--no-stats")).split("\n").filter((l) => l.includes("actions=")).sort();
  const connected = async () => (await must(["ovs-vsctl", `--db=${ovs.db}`, "--columns=is_connected", "list", "Controller"])).includes("true");

  before(async () => {
    ({ ovs, driver } = await testHost.start(["c1", "c2"], [], { controller: `tcp:127.0.0.1:${PORT}` }));
    for (const port of [8080, 9090]) await startProbe(ns("c2"), "serve", "c2", port);
  });

  after(async () => {
    if (controller?.pid !== undefined && controller.exitCode === null) controller.kill("SIGKILL");
    await testHost.stop();
  });

  it("before the controller comes, our pipeline alone decides: both ports reachable", async () => {
    const report = await driver.reconcile(desired, { full: true });
    assert.deepEqual(report.errors, []);
    assert.ok(report.changes.some((c) => c.object === `controller of ${bridge} (tcp:127.0.0.1:${PORT})`));
    await waitFor(() => ping(ns("c1"), "198.18.51.2"), { timeoutMs: 5000, what: () => "c1 → c2" });
    assert.equal(await tcp(ns("c1"), "198.18.51.2", 9090), "reply c2");
  });

  it("the controller's flow in the hook table drops the port on real traffic; everything else passes", async () => {
    controller = spawn("ip", ["netns", "exec", HOST, OSKEN, "--ofp-tcp-listen-port", String(PORT), "--ofp-listen-host", "127.0.0.1", APP], {
      stdio: "ignore",
      env: { ...process.env, HOOK_DROP_PORT: "9090" },
    });
    await waitFor(async () => (await controllerFlows()) === 1, { timeoutMs: 20_000, what: () => "the controller's flow in table 15" });
    assert.equal(await tcp(ns("c1"), "198.18.51.2", 9090), "timeout");
    assert.equal(await tcp(ns("c1"), "198.18.51.2", 8080), "reply c2");
    assert.ok(await ping(ns("c1"), "198.18.51.2"));
  });

  it("our runs replace only our flows: the controller's stays", async () => {
    const before = await ourFlows();
    const report = await driver.reconcile(desired, { full: true });
    assert.deepEqual(report, { changes: [], errors: [] });
    assert.equal(await controllerFlows(), 1);
    assert.deepEqual(await ourFlows(), before);
  });

  it("the controller going away changes nothing of ours (fail mode secure)", async () => {
    const before = await ourFlows();
    const exited = new Promise((resolve) => controller!.once("exit", resolve));
    controller!.kill("SIGTERM");
    await exited;
    await waitFor(async () => !(await connected()), { timeoutMs: 20_000, what: () => "the bridge noticed the controller is gone" });
    assert.deepEqual(await ourFlows(), before);
    assert.equal(await tcp(ns("c1"), "198.18.51.2", 8080), "reply c2");
    assert.equal(await tcp(ns("c1"), "198.18.51.2", 9090), "timeout", "its flow stays until a controller removes it");
  });
});
