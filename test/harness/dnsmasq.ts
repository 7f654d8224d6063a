// dnsmasq as the site's DHCP server on a network's segment, for the end-to-end tests of DHCP addresses. On the
// Linux datapath the segment of a network on a host is its bridge in the tenant namespace (vlan networks ride the
// overlay there: no 802.1Q uplink to put a server behind), so the server's port is a macvlan on that bridge moved
// into the server's own namespace (a kind of link the agent neither owns nor removes). On the OVS datapath a vlan
// network is handed off to the physical network on the agent's --uplink-if: the server sits there, behind a
// SiteSwitch (a namespace with a Linux bridge that passes the tags along, its trunk the host's uplink), on a
// VLAN interface of the network's tag. The caller stops it with stop(), which ends dnsmasq by its PID and
// removes the namespace, also after a failure.

import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { bridgeName } from "../../src/datapath/names.js";
import { must, run } from "../../src/lib/process.js";
import { waitFor } from "../../src/lib/wait.js";

export interface DhcpServerOptions {
  /** The server's namespace name (carries the run's prefix). */
  ns: string;
  /** Where the lease file and the log go. */
  dir: string;
  tenantNamespace: string;
  network: string;
  /** "a.b.c.d/len" of the server's port. */
  address: string;
  /**
   * Behind the site's switch (OVS: the network is handed off on the uplink) on the network's VLAN, instead of a
   * macvlan on the network's bridge in `tenantNamespace` (Linux).
   */
  site?: { switch: SiteSwitch; vlan: number };
  /** dnsmasq's "first,last". */
  range: string;
}

export class DhcpServer {
  readonly leaseFile: string;
  readonly logFile: string;
  private proc: ChildProcess | undefined;

  private constructor(readonly o: DhcpServerOptions) {
    this.leaseFile = path.join(o.dir, `${o.ns}.leases`);
    this.logFile = path.join(o.dir, `${o.ns}.log`);
  }

  /** Started; on failure what it made is removed. */
  static async start(o: DhcpServerOptions): Promise<DhcpServer> {
    const s = new DhcpServer(o);
    try {
      await must(["ip", "netns", "add", o.ns]);
      if (o.site === undefined) {
        await must(["ip", "-n", o.tenantNamespace, "link", "add", "srv0", "link", bridgeName(o.network), "type", "macvlan", "mode", "bridge"]);
        await must(["ip", "-n", o.tenantNamespace, "link", "set", "srv0", "netns", o.ns]);
      } else {
        await o.site.switch.port(`s-${o.network}`, o.ns, "srvp");
        await must(["ip", "-n", o.ns, "link", "add", "link", "srvp", "name", "srv0", "type", "vlan", "id", String(o.site.vlan)]);
      }
      await must(["ip", "-n", o.ns, "addr", "add", o.address, "dev", "srv0"]);
      await must(["ip", "-n", o.ns, "link", "set", "srv0", "up"]);
      await must(["ip", "-n", o.ns, "link", "set", "lo", "up"]);
      s.proc = spawn("ip", ["netns", "exec", o.ns, "dnsmasq", "--keep-in-foreground", "--port=0", "--interface=srv0", "--bind-interfaces", "--no-ping",
        `--dhcp-range=${o.range},255.255.255.0,2m`, `--dhcp-leasefile=${s.leaseFile}`, "--log-dhcp", `--log-facility=${s.logFile}`,
        "--conf-file=/dev/null", "--pid-file="], { stdio: "ignore" });
      await waitFor(() => existsSync(s.logFile) && s.proc?.exitCode === null, { timeoutMs: 5000, what: () => `dnsmasq on ${o.network} started` });
      return s;
    } catch (err) {
      await s.stop();
      throw err;
    }
  }

  leases(): string {
    return existsSync(this.leaseFile) ? readFileSync(this.leaseFile, "utf8") : "";
  }

  log(): string {
    return existsSync(this.logFile) ? readFileSync(this.logFile, "utf8") : "";
  }

  async stop(): Promise<void> {
    // Our own child, by its PID (ip netns exec execs dnsmasq in place).
    if (this.proc?.pid !== undefined && this.proc.exitCode === null) {
      const ended = new Promise((resolve) => this.proc!.once("exit", resolve));
      this.proc.kill("SIGTERM");
      await ended;
    }
    await run(["ip", "netns", "del", this.o.ns]);
  }
}

/**
 * The site's switch for the OVS datapath's VLAN hand-off: a namespace (`ns`, the run's prefix) with a Linux bridge
 * that passes 802.1Q frames along as they are, its trunk a veth whose other end is UPLINK in the agent's host
 * namespace (the agent's --uplink-if: SiteSwitch.agentArgs). stop() removes the namespace and with it the veths.
 */
export class SiteSwitch {
  /** The agent's --uplink-if, in its host namespace. */
  static readonly UPLINK = "upl0";
  static readonly agentArgs = ["--uplink-if", SiteSwitch.UPLINK];

  private constructor(readonly ns: string) {}

  /** Made; on failure what it made is removed. */
  static async start(ns: string, hostNamespace: string): Promise<SiteSwitch> {
    const s = new SiteSwitch(ns);
    try {
      await must(["ip", "netns", "add", ns]);
      await must(["ip", "-n", ns, "link", "add", "sw", "type", "bridge"]);
      await must(["ip", "-n", ns, "link", "set", "sw", "up"]);
      await must(["ip", "-n", ns, "link", "add", "trunk", "type", "veth", "peer", "name", SiteSwitch.UPLINK, "netns", hostNamespace]);
      await must(["ip", "-n", ns, "link", "set", "trunk", "master", "sw", "up"]);
      return s;
    } catch (err) {
      await s.stop();
      throw err;
    }
  }

  /** A port of the switch (`name` there), its other end `ifname` in namespace `ns`, up, sending its checksums whole. */
  async port(name: string, ns: string, ifname: string): Promise<void> {
    await must(["ip", "-n", this.ns, "link", "add", name, "type", "veth", "peer", "name", ifname, "netns", ns]);
    await must(["ip", "-n", this.ns, "link", "set", name, "master", "sw", "up"]);
    await must(["ip", "-n", ns, "link", "set", ifname, "up"]);
    // OVS's userspace datapath drops segments it would have to checksum: the site's hosts send them whole.
    await must(["ip", "netns", "exec", ns, "ethtool", "-K", ifname, "tx", "off"]);
  }

  async stop(): Promise<void> {
    await run(["ip", "netns", "del", this.ns]);
  }
}
