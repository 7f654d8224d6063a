// LeaseClient against a real DHCP server: dnsmasq in one namespace, the "container" in another, a veth
// between them (198.18.0.0/15, per-run names, removed even on failure). Needs root, busybox and dnsmasq.

import assert from "node:assert/strict";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { LeaseClient, parseLeaseLine, type LeaseEvent } from "./lease.js";

describe("parseLeaseLine", () => {
  it("reads the script's lines", () => {
    assert.deepEqual(parseLeaseLine("netplugin-dhcp bound 198.18.1.5 24 120 198.18.1.1"), {
      kind: "bound",
      lease: { ip: "198.18.1.5", prefixLength: 24, leaseSeconds: 120, serverId: "198.18.1.1" },
    });
    assert.equal(parseLeaseLine("netplugin-dhcp renew 198.18.1.5 255.255.255.0 120 -")?.kind, "renew");
    assert.deepEqual(parseLeaseLine("netplugin-dhcp deconfig - - - -"), { kind: "deconfig" });
    assert.equal(parseLeaseLine("udhcpc: started"), undefined);
  });
});

const root = process.getuid?.() === 0 && existsSync("/usr/sbin/dnsmasq") && existsSync("/usr/bin/busybox");

describe("LeaseClient with dnsmasq", { skip: !root && "needs root, dnsmasq and busybox" }, () => {
  const run = `npd${process.pid.toString(36)}`;
  const server = `${run}-srv`;
  const client = `${run}-ctr`;
  const dir = mkdtempSync(join(tmpdir(), "np-dhcp-"));
  const logFile = join(dir, "dnsmasq.log");
  const leaseFile = join(dir, "leases");
  let dnsmasq: ChildProcess | undefined;
  const ip = (...a: string[]) => execFileSync("ip", a, { stdio: ["ignore", "pipe", "pipe"] }).toString();

  before(async () => {
    ip("netns", "add", server);
    ip("netns", "add", client);
    ip("link", "add", "s0", "netns", server, "type", "veth", "peer", "name", "eth0", "netns", client);
    ip("-n", client, "link", "set", "eth0", "address", "02:00:c6:12:63:05");
    ip("-n", server, "addr", "add", "198.18.99.1/24", "dev", "s0");
    for (const [ns, dev] of [[server, "s0"], [client, "eth0"], [server, "lo"], [client, "lo"]] as const) ip("-n", ns, "link", "set", dev, "up");
    dnsmasq = spawn("ip", ["netns", "exec", server, "dnsmasq", "--keep-in-foreground", "--port=0", "--interface=s0", "--bind-interfaces",
      "--dhcp-range=198.18.99.100,198.18.99.150,255.255.255.0,2m",
      `--dhcp-leasefile=${leaseFile}`, "--log-dhcp", `--log-facility=${logFile}`, "--conf-file=/dev/null", "--pid-file="], { stdio: "ignore" });
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(dnsmasq.exitCode, null, "dnsmasq runs");
  });
  after(() => {
    if (dnsmasq?.pid !== undefined && dnsmasq.exitCode === null) dnsmasq.kill("SIGTERM"); // our child, by its PID
    for (const ns of [client, server]) {
      try {
        ip("netns", "del", ns);
      } catch {
        // not made
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });

  // dnsmasq's shortest lease is 2 min and udhcpc renews at half of it: this test waits about a minute.
  it("leases with the interface's MAC, renews at half the lease, releases on stop", { timeout: 120_000 }, async () => {
    const events: LeaseEvent[] = [];
    const c = await LeaseClient.start({ netns: `/run/netns/${client}`, ifname: "eth0", scriptDir: dir, onEvent: (e) => events.push(e) });
    try {
      assert.ok(c.lease);
      assert.match(c.lease.ip, /^198\.18\.99\.(1[0-4]\d|150)$/);
      assert.equal(c.lease.prefixLength, 24);
      assert.equal(c.lease.serverId, "198.18.99.1");
      assert.match(readFileSync(leaseFile, "utf8"), new RegExp(`02:00:c6:12:63:05 ${c.lease.ip.replace(/\./g, "\\.")}`));
      // The agent's datapath configures the address; renewals are unicast from it.
      ip("-n", client, "addr", "add", `${c.lease.ip}/24`, "dev", "eth0");
      const deadline = Date.now() + 80_000;
      while (!events.some((e) => e.kind === "renew") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      assert.ok(events.some((e) => e.kind === "renew"), `renewed: ${JSON.stringify(events)}`);
      assert.ok((readFileSync(logFile, "utf8").match(/DHCPACK/g) ?? []).length >= 2, "dnsmasq acked the renewal");
    } finally {
      await c.stop();
    }
    await new Promise((r) => setTimeout(r, 300));
    assert.match(readFileSync(logFile, "utf8"), /DHCPRELEASE/);
    assert.equal(readFileSync(leaseFile, "utf8").includes("02:00:c6:12:63:05"), false, "lease gone from dnsmasq's file");
    await c.stop(); // idempotent
  });

  it("fails cleanly, leaving no udhcpc, when no server answers", async () => {
    ip("-n", client, "link", "add", "d0", "type", "veth", "peer", "name", "d1");
    ip("-n", client, "link", "set", "d1", "up");
    ip("-n", client, "link", "set", "d0", "up");
    await assert.rejects(LeaseClient.start({ netns: `/run/netns/${client}`, ifname: "d0", scriptDir: dir, timeoutSeconds: 4 }), /no DHCP lease on d0/);
    assert.equal(execFileSync("ip", ["netns", "pids", client]).toString().trim(), "");
  });
});
