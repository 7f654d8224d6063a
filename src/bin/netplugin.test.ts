// The agent's flags are checked before it touches anything: a bad one is a message naming it and exit 22.

import assert from "node:assert/strict";
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
    [["--socket", "relative.sock"], /Invalid --socket "relative\.sock"/],
    [["--docker-pool-range", "300.1.0.0/16"], /Invalid --docker-pool-range "300\.1\.0\.0\/16"/],
    [["--docker-pool-range", "10.200.0.0/25"], /an IPv4 block of \/8 to \/24/],
    [["--docker-plugin-socket", "/run/x.socket"], /Invalid --docker-plugin-socket/],
    [["--datapath", "ovs"], /Invalid --datapath "ovs": expected linux/],
    [["--datapath", "ovs", "--cleanup"], /Invalid --datapath "ovs": expected linux/],
  ];
  for (const [args, message] of bad) {
    it(`refuses ${args.join(" ")}`, async () => {
      const r = await run([process.execPath, NETPLUGIN, "--host", "h1", ...args], { timeoutMs: 20_000 });
      assert.equal(r.code, 22, r.stderr);
      assert.match(r.stderr, message);
    });
  }
});
