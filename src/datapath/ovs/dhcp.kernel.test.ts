// DHCP-leased endpoints on the OVS driver with a real DHCP server: a private Open vSwitch (userspace datapath) in a
// namespace standing in for the host, dnsmasq in a container of the network (an endpoint with its own address), a
// peer container, and clients waiting for their lease (DesiredEndpoint.ipv4 ""), as the agent makes them. A client
// is plumbed without IPv4 and without a default route, gets dnsmasq's lease through the bridge (busybox udhcpc,
// as the agent's lease client runs), and once its address is recorded the driver puts it and the default route in
// and only that endpoint's flows change; then it talks both ways, and a second run changes nothing. Before its
// lease it can send nothing else: not from an address of its own choosing (a ping from it is dropped), and its ARP
// requests reach others only as probes (nobody learns the address it names), while answers still come back; a
// lease the agent releases before it was recorded (netmaster refused it) reaches the server; recorded, its client
// may still ask from 0.0.0.0 (an endpoint not leased may not); a lease that comes back with another address moves
// the container's. Needs root, openvswitch-switch, dnsmasq and busybox. Per-run names in 198.18.0.0/15; dnsmasq
// and udhcpc stopped by their PIDs and everything removed at the end, also on failure.

import assert from "node:assert/strict";
import { type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { run } from "../../lib/process.js";
import { waitFor } from "../../lib/wait.js";
import { ping, spawnIn, tcp } from "../linux/testing/netns.js";
import { emptyPolicy } from "../testing/desired.js";
import type { DesiredEndpoint, DesiredHost } from "../types.js";
import type { OvsDatapath } from "./driver.js";
import type { PrivateOvs } from "./private-ovs.js";
import { bridgeName } from "./render.js";
import { needsOvs, OvsTestHost } from "./testing/ovs-host.js";

const skip = needsOvs || (!existsSync("/usr/sbin/dnsmasq") ? "needs dnsmasq" : !existsSync("/usr/bin/busybox") ? "needs busybox" : false);

describe("OVS driver: endpoints leasing their address from a DHCP server through the bridge", { skip }, () => {
  const P = `npo${randomBytes(2).toString("hex")}`;
  const testHost = new OvsTestHost(P);
  const ns = (c: string) => testHost.ns(c);
  const NET = "198.18.52";
  let ovs: PrivateOvs;
  let driver: OvsDatapath;
  let dir = "";
  let dnsmasq: ChildProcess | undefined;
  const clients: ChildProcess[] = [];
  /** What the agent records for each client once it has its lease (absent: waiting). */
  const leased = new Map<string, string>();

  const ep = (c: string, n: number): DesiredEndpoint => {
    const e = testHost.endpoint(c, n, { network: "blue", net24: NET, mac: `02:00:c6:12:34:0${n}` });
    if (n < 5) return e;
    // Clients (5, 6): waiting for their lease, no IPv4 and no IPv4 default route, as the agent wants them then.
    const ip = leased.get(c);
    return { ...e, ipv4: ip === undefined ? "" : `${ip}/24`, gateway: ip === undefined ? "" : `${NET}.254`, dhcp: true };
  };
  const desired = (): DesiredHost => ({
    prefix: P,
    tenants: [
      {
        name: "a",
        namespace: `${P}-t-a`,
        fwdMode: "bridge",
        // ARP in flood mode (a peer VTEP nobody answers at): requests reach the containers' own kernels, which
        // answer them, as on a network handed off to the physical one, where the site's DHCP server sits.
        networks: [
          {
            name: "blue", bridge: "nba", subnet: `${NET}.0/24`, gateway: `${NET}.254`, ipv6Subnet: "", ipv6Gateway: "", mtu: 1450, routed: false, netfilter: false,
            vxlan: { vni: 5052, device: "vx5052", localVtep: "198.18.53.1", port: 4789, peers: ["198.18.53.2"], arpMode: "flood", remotes: [] },
          },
        ],
        endpoints: [ep("srv", 3), ep("pe", 2), ep("cl", 5), ep("cr", 6)],
        policy: { ...emptyPolicy(), fwdMode: "bridge" },
        hostEndpoints: [],
      },
    ],
    host: { natOutbound: false },
  });
  const link = (c: string) => `ne${P.slice(3)}${c}`;
  const ofport = async (c: string) => Number((await run(["ovs-vsctl", `--db=${ovs.db}`, "get", "interface", link(c), "ofport"])).stdout.trim());
  const flows = async () =>
    (await testHost.ofctl(bridgeName(P), "dump-flows", "--no-stats", "cookie=0x6e70/0xffff"))
      .split("\n")
      .filter((l) => l.includes("actions="))
      .map((l) => l.trim());
  const log = () => (existsSync(path.join(dir, "dnsmasq.log")) ? readFileSync(path.join(dir, "dnsmasq.log"), "utf8") : "");
  const inside = async (c: string, ...argv: string[]) => (await run(argv, { netns: ns(c) })).stdout;

  /** busybox udhcpc on the client's eth0, as the agent's lease client runs it; resolves with its lease's address. */
  async function lease(c: string, ...flags: string[]): Promise<{ ip: string; client: ChildProcess }> {
    const client = spawnIn(ns(c), ["busybox", "udhcpc", "-f", "-i", "eth0", "-s", path.join(dir, "event.sh"), "-t", "5", "-T", "2", "-n", ...flags]);
    clients.push(client);
    let out = "";
    client.stdout!.on("data", (d) => (out += d));
    client.stderr!.on("data", (d) => (out += d));
    await waitFor(() => /^lease bound /m.test(out) || client.exitCode !== null, { timeoutMs: 20_000, what: () => `a lease for ${c}: ${out}\n${log()}` });
    const m = /^lease bound (\S+) (\S+)$/m.exec(out);
    assert.ok(m, `${c} got no lease: ${out}\n${log()}`);
    assert.equal(m[2], "24");
    return { ip: m[1]!, client };
  }
  async function stop(child: ChildProcess, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const ended = new Promise((resolve) => child.once("exit", resolve));
    child.kill(signal);
    await ended;
  }

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), `${P}-dhcp-`));
    writeFileSync(path.join(dir, "event.sh"), '#!/bin/sh\necho "lease $1 ${ip:--} ${mask:--}"\n', { mode: 0o700 });
    ({ ovs, driver } = await testHost.start(["srv", "pe", "cl", "cr"], ["pe", "cl"]));
    const report = await driver.reconcile(desired(), { full: true });
    assert.deepEqual(report.errors, []);
    // The site's DHCP server: dnsmasq in its container, on its eth0, handing out .100-.150 with the network's gateway.
    dnsmasq = spawnIn(ns("srv"), [
      "dnsmasq", "--keep-in-foreground", "--port=0", "--interface=eth0", "--bind-interfaces", "--no-ping",
      `--dhcp-range=${NET}.100,${NET}.150,255.255.255.0,2m`, `--dhcp-option=option:router,${NET}.254`,
      `--dhcp-leasefile=${path.join(dir, "leases")}`, "--log-dhcp", `--log-facility=${path.join(dir, "dnsmasq.log")}`, "--conf-file=/dev/null", "--pid-file=",
    ]);
    await waitFor(() => /started/.test(log()) && dnsmasq!.exitCode === null, { timeoutMs: 5000, what: () => `dnsmasq started: ${log()}` });
  });

  after(async () => {
    try {
      for (const c of clients) await stop(c, "SIGKILL");
      if (dnsmasq !== undefined) await stop(dnsmasq);
    } finally {
      await testHost.stop();
      if (dir !== "") rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a waiting endpoint is plumbed without IPv4 and without a default route; a second run changes nothing", async () => {
    assert.doesNotMatch(await inside("cl", "ip", "-4", "-o", "addr", "show", "dev", "eth0"), /inet /);
    assert.equal((await inside("cl", "ip", "-4", "route", "show", "default")).trim(), "");
    assert.match(await inside("cl", "ip", "-o", "link", "show", "eth0"), /state UP|LOWER_UP/);
    assert.deepEqual(await driver.reconcile(desired(), { full: true }), { changes: [], errors: [] });
  });

  it("before its lease it cannot send from an address of its choosing, and its ARP names no address to others", async () => {
    // The peer knows the server's MAC (and long enough for an ARP request to override it: locktime 1 s).
    assert.ok(await ping(ns("pe"), `${NET}.3`));
    await new Promise((resolve) => setTimeout(resolve, 1200));
    // The container takes .77 for itself: its ping to the peer is dropped, and the peer never learns .77.
    await inside("cl", "ip", "addr", "add", `${NET}.77/24`, "dev", "eth0");
    try {
      assert.equal(await ping(ns("cl"), `${NET}.2`), false, "a ping from .77 is dropped");
      assert.equal(await tcp(ns("cl"), `${NET}.2`, 8080), "timeout");
      assert.equal((await inside("pe", "ip", "neigh", "show", `${NET}.77`)).trim(), "", "the peer learnt nothing of .77");
      // Its ARP request went out as a probe and the peer's kernel answered it: it knows the peer's MAC.
      assert.match(await inside("cl", "ip", "neigh", "show", `${NET}.2`), /lladdr 02:00:c6:12:34:02/);
      // The same from the peer's side: a ping to .77 finds nobody (the waiting endpoint's ARP answers are dropped).
      assert.equal(await ping(ns("pe"), `${NET}.77`), false);
      // Now it claims the server's address, and asks the network for it: the peer keeps the server's MAC.
      await inside("cl", "ip", "addr", "add", `${NET}.3/24`, "dev", "eth0");
      await run(["ping", "-c", "1", "-W", "1", "-I", `${NET}.3`, `${NET}.99`], { netns: ns("cl") });
      assert.match(await inside("pe", "ip", "neigh", "show", `${NET}.3`), /lladdr 02:00:c6:12:34:03 /, "the server's entry is the server's");
    } finally {
      await inside("cl", "ip", "addr", "flush", "dev", "eth0");
    }
    assert.ok(await ping(ns("pe"), `${NET}.3`), "the recorded endpoints still reach each other");
  });

  it("gets dnsmasq's lease through the bridge; recorded, the driver configures it and only that endpoint's flows change", async () => {
    const before = await flows();
    const { ip } = await lease("cl", "-q", "-a");
    assert.match(ip, new RegExp(`^${NET.replace(/\./g, "\\.")}\\.(1[0-4]\\d|150)$`));
    assert.match(readFileSync(path.join(dir, "leases"), "utf8"), new RegExp(`02:00:c6:12:34:05 ${ip.replace(/\./g, "\\.")} `), "dnsmasq's lease for its MAC");
    // udhcpc's script configures nothing (the agent's neither): the address is the driver's to put there.
    assert.doesNotMatch(await inside("cl", "ip", "-4", "-o", "addr", "show", "dev", "eth0"), /inet /);
    leased.set("cl", ip);
    const report = await driver.reconcile(desired(), { full: false });
    assert.deepEqual(report.errors, []);
    assert.deepEqual(report.changes.map((c) => c.object.replace(/\(\d+ of \d+ changed\)/, "(n changed)")).sort(), [
      `IPv4 address of endpoint blue-cl (${ip}/24)`,
      `flows of ${bridgeName(P)} (n changed)`,
    ]);
    assert.match(await inside("cl", "ip", "-4", "-o", "addr", "show", "dev", "eth0"), new RegExp(`inet ${ip.replace(/\./g, "\\.")}/24 `));
    assert.match(await inside("cl", "ip", "-4", "route", "show", "default"), new RegExp(`default via ${NET.replace(/\./g, "\\.")}\\.254 dev eth0`));
    const after = await flows();
    const changed = [...before.filter((f) => !after.includes(f)), ...after.filter((f) => !before.includes(f))];
    const port = await ofport("cl");
    assert.ok(changed.length >= 4, changed.join("\n"));
    const theirs = (f: string) => f.includes(`in_port=${port},`) || f.includes(`arp_tpa=${ip},`);
    assert.deepEqual(changed.filter((f) => !theirs(f)), [], "only the endpoint's own flows changed");
  });

  it("the leased endpoint talks both ways, to its gateway too; a second run and a restarted agent change nothing", async () => {
    const ip = leased.get("cl")!;
    assert.ok(await ping(ns("cl"), `${NET}.2`), "cl → peer");
    assert.ok(await ping(ns("pe"), ip), "peer → cl");
    assert.equal(await tcp(ns("cl"), `${NET}.2`, 8080), "reply pe");
    assert.equal(await tcp(ns("pe"), ip, 8080), "reply cl");
    assert.ok(await ping(ns("cl"), `${NET}.254`), "cl → its gateway");
    assert.deepEqual(await driver.reconcile(desired(), { full: true }), { changes: [], errors: [] });
    assert.deepEqual(await testHost.newDriver().reconcile(desired(), { full: false }), { changes: [], errors: [] });
    // Recorded, it is held to its address like any endpoint.
    await inside("cl", "ip", "addr", "add", `${NET}.78/24`, "dev", "eth0");
    try {
      assert.equal((await run(["ping", "-c", "1", "-W", "1", "-I", `${NET}.78`, `${NET}.2`], { netns: ns("cl") })).code, 1, "a ping from another address is dropped");
    } finally {
      await inside("cl", "ip", "addr", "del", `${NET}.78/24`, "dev", "eth0");
    }
  });

  it("recorded, its DHCP client may still ask again from 0.0.0.0 (after an agent restart); an endpoint not leased may not", async () => {
    const ip = leased.get("cl")!;
    const acks = () => (log().match(new RegExp(`DHCPACK\\(eth0\\) ${ip.replace(/\./g, "\\.")} 02:00:c6:12:34:05`, "g")) ?? []).length;
    const before = acks();
    const again = await lease("cl", "-q", "-r", ip);
    assert.equal(again.ip, ip);
    assert.equal(acks(), before + 1);
    // The peer (netmaster's address, no lease) asks from 0.0.0.0: dropped, the server never hears it.
    const client = spawnIn(ns("pe"), ["busybox", "udhcpc", "-f", "-q", "-n", "-i", "eth0", "-s", path.join(dir, "event.sh"), "-t", "2", "-T", "1"]);
    clients.push(client);
    const code = await new Promise((resolve) => client.once("exit", resolve));
    assert.equal(code, 1, "no lease for the peer");
    assert.match(log(), /DHCPDISCOVER\(eth0\) (\S+ )?02:00:c6:12:34:05/, "the log names a client's discover so");
    assert.doesNotMatch(log(), /DHCPDISCOVER\(eth0\) (\S+ )?02:00:c6:12:34:02/);
  });

  it("a lease released before it was recorded (netmaster refused it) reaches the server from the leased address", async () => {
    const { ip, client } = await lease("cr", "-R");
    // What the agent does then: the address on the interface for the release (lease.ts stop()), the endpoint still waiting.
    await inside("cr", "ip", "addr", "replace", `${ip}/24`, "dev", "eth0");
    await stop(client);
    await waitFor(() => new RegExp(`DHCPRELEASE\\(eth0\\) ${ip.replace(/\./g, "\\.")} 02:00:c6:12:34:06`).test(log()), { timeoutMs: 5000, what: () => `the release in ${log()}` });
    assert.doesNotMatch(readFileSync(path.join(dir, "leases"), "utf8"), /02:00:c6:12:34:06/, "dnsmasq has let it go");
  });

  it("a lease that comes back with another address: the driver moves the container's address and default route", async () => {
    const old = leased.get("cl")!;
    leased.set("cl", `${NET}.149`);
    const report = await driver.reconcile(desired(), { full: false });
    assert.deepEqual(report.errors, []);
    assert.ok(report.changes.some((c) => c.object === `IPv4 address of endpoint blue-cl (${NET}.149/24)`), JSON.stringify(report.changes));
    const shown = await inside("cl", "ip", "-4", "-o", "addr", "show", "dev", "eth0");
    assert.match(shown, new RegExp(`inet ${NET.replace(/\./g, "\\.")}\\.149/24 `));
    assert.doesNotMatch(shown, new RegExp(`inet ${old.replace(/\./g, "\\.")}/`), "the old address is gone");
    assert.match(await inside("cl", "ip", "-4", "route", "show", "default"), /default via/);
    assert.ok(await ping(ns("pe"), `${NET}.149`), "peer → cl at its new address");
    assert.equal(await ping(ns("pe"), old), false, "not at its old one");
    assert.deepEqual(await driver.reconcile(desired(), { full: true }), { changes: [], errors: [] });
  });
});
