// The agent's flags are checked before it touches anything: a bad one is a message naming it and exit 22. A
// datapath the machine cannot run stops the agent at start with the reason.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";

import { run } from "../lib/process.js";

const NETPLUGIN = fileURLToPath(new URL("./netplugin.js", import.meta.url));

describe("netplugin flags", () => {
  const bad: [string[], RegExp][] = [
    [["--metrics-listen", "9464"], /Invalid --metrics-listen "9464": expected HOST:PORT/],
    [["--metrics-listen", "127.0.0.1:70000"], /Invalid --metrics-listen/],
    [["--vtep-ip", "198.18.0.300"], /Invalid --vtep-ip "198\.18\.0\.300"/],
    [["--uplink-if", "eth 0"], /Invalid --uplink-if "eth 0": expected an interface name/],
    [["--uplink-if", "a234567890123456"], /Invalid --uplink-if "a234567890123456"/],
    [["--endpoint-gc-grace", "0"], /Invalid --endpoint-gc-grace "0"/],
    [["--address-block-idle", "1.5"], /Invalid --address-block-idle "1\.5": expected whole seconds/],
    [["--socket", "relative.sock"], /Invalid --socket "relative\.sock"/],
    [["--docker-pool-range", "300.1.0.0/16"], /Invalid --docker-pool-range "300\.1\.0\.0\/16"/],
    [["--docker-pool-range", "10.200.0.0/25"], /an IPv4 block of \/8 to \/24/],
    [["--docker-plugin-socket", "/run/x.socket"], /Invalid --docker-plugin-socket/],
    [["--datapath", "vpp"], /Invalid --datapath "vpp": expected linux or ovs/],
    [["--datapath", "vpp", "--cleanup"], /Invalid --datapath "vpp": expected linux or ovs/],
    [["--ovs-db", "/run/openvswitch/db.sock"], /Invalid --ovs-db "\/run\/openvswitch\/db\.sock": expected unix:\/path/],
    [["--ovs-rundir", "run/openvswitch"], /Invalid --ovs-rundir "run\/openvswitch": an absolute path/],
    [["--datapath", "ovs", "--ovs-controller", "127.0.0.1:6653"], /Invalid --ovs-controller "127\.0\.0\.1:6653": expected tcp:IP:PORT or ssl:IP:PORT/],
    [["--datapath", "ovs", "--ovs-controller", "tcp:controller.example:6653"], /Invalid --ovs-controller/],
    [["--datapath", "ovs", "--ovs-controller", "tcp:127.0.0.1:65536"], /Invalid --ovs-controller "tcp:127\.0\.0\.1:65536": port "65536" is not 1-65535/],
    [["--datapath", "ovs", "--ovs-controller", "tcp:300.0.0.1:6653"], /Invalid --ovs-controller "tcp:300\.0\.0\.1:6653": "300\.0\.0\.1" is not an IPv4 address/],
    [["--ovs-controller", "tcp:127.0.0.1:6653"], /--ovs-controller is for --datapath ovs only/],
    [["--datapath", "ovs", "--uplink-access-vlan", "4095"], /Invalid --uplink-access-vlan "4095": expected a VLAN id, 1\.\.4094/],
    [["--uplink-access-vlan", "100"], /--uplink-access-vlan is for --datapath ovs only/],
    [["--datapath", "ovs", "--uplink-access-vlan", "100"], /--uplink-access-vlan needs --uplink-if/],
  ];
  for (const [args, message] of bad) {
    it(`refuses ${args.join(" ")}`, async () => {
      const r = await run([process.execPath, NETPLUGIN, "--host", "h1", ...args], { timeoutMs: 20_000 });
      assert.equal(r.code, 22, r.stderr);
      assert.match(r.stderr, message);
    });
  }

  it("--datapath ovs without an Open vSwitch that answers: exits at start, naming where it looked", async (t) => {
    if (process.getuid?.() !== 0) return t.skip("needs root");
    const dir = mkdtempSync(join(tmpdir(), "np-ovsprobe-"));
    try {
      const r = await run(
        [process.execPath, NETPLUGIN, "--host", "h1", "--datapath", "ovs", "--ovs-db", `unix:${dir}/none.sock`, "--state-dir", join(dir, "state"),
          "--socket", join(dir, "agent.sock"), "--docker-plugin-socket", "", "--netmaster", "http://127.0.0.1:1"],
        { timeoutMs: 20_000 },
      );
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`Cannot use the ovs datapath: Open vSwitch does not answer at unix:${dir}/none\\.sock`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
