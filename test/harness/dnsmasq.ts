// dnsmasq as the site's DHCP server on a network's segment, for the end-to-end tests of DHCP addresses. On the
// Linux datapath the segment of a network on a host is its bridge in the tenant namespace (vlan networks ride the
// overlay there: no 802.1Q uplink to put a server behind), so the server's port is a macvlan on that bridge moved
// into the server's own namespace (a kind of link the agent neither owns nor removes). On the OVS datapath a vlan
// network is handed off to the physical network on the agent's --uplink-if: the server sits there, behind a
// SiteSwitch (a switch whose trunk is the host's uplink), on an access port of the network's VLAN. The caller
// stops it with stop(), which ends dnsmasq by its PID and removes the namespace, also after a failure.

import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import path from "node:path";
import { bridgeName } from "../../src/datapath/names.js";
import { PrivateOvs } from "../../src/datapath/ovs/private-ovs.js";
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
        await o.site.switch.port(`s-${o.network}`, o.site.vlan, o.ns, "srv0");
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
 * The site's switch for the OVS datapath's VLAN hand-off: a namespace (`ns`, the run's prefix) with its own private
 * Open vSwitch (this kernel has neither VLAN interfaces nor VLAN-filtering bridges), a learning switch whose trunk
 * is a veth to UPLINK in the agent's host namespace (the agent's --uplink-if: SiteSwitch.agentArgs) and whose other
 * ports are access ports of one VLAN. stop() stops that OVS and removes the namespace, with the veths.
 */
export class SiteSwitch {
  /** The agent's --uplink-if, in its host namespace. */
  static readonly UPLINK = "upl0";
  static readonly agentArgs = ["--uplink-if", SiteSwitch.UPLINK];
  private ovs: PrivateOvs | undefined;

  private constructor(readonly ns: string) {}

  /** Made; on failure what it made is removed. */
  static async start(ns: string, hostNamespace: string, dir: string): Promise<SiteSwitch> {
    const s = new SiteSwitch(ns);
    try {
      await must(["ip", "netns", "add", ns]);
      s.ovs = await PrivateOvs.start({ dir: mkdtempSync(path.join(dir, "site-ovs-")), netns: ns });
      await s.vsctl("add-br", "sw", "--", "set", "bridge", "sw", "datapath_type=netdev");
      await must(["ip", "-n", ns, "link", "add", "trunk", "type", "veth", "peer", "name", SiteSwitch.UPLINK, "netns", hostNamespace]);
      await must(["ip", "-n", ns, "link", "set", "trunk", "up"]);
      await s.vsctl("add-port", "sw", "trunk");
      return s;
    } catch (err) {
      await s.stop();
      throw err;
    }
  }

  private vsctl(...args: string[]): Promise<unknown> {
    return must(["ovs-vsctl", `--db=${this.ovs!.db}`, ...args]);
  }

  /**
   * An access port of VLAN `vlan` (`name` here), its other end `ifname` in namespace `ns`, up, sending its
   * checksums whole (OVS's userspace datapath drops segments it would have to checksum).
   */
  async port(name: string, vlan: number, ns: string, ifname: string): Promise<void> {
    await must(["ip", "-n", this.ns, "link", "add", name, "type", "veth", "peer", "name", ifname, "netns", ns]);
    await must(["ip", "-n", this.ns, "link", "set", name, "up"]);
    await this.vsctl("add-port", "sw", name, `tag=${vlan}`);
    await must(["ip", "netns", "exec", ns, "ethtool", "-K", ifname, "tx", "off"]);
  }

  async stop(): Promise<void> {
    try {
      await this.ovs?.stop();
    } finally {
      await run(["ip", "netns", "del", this.ns]);
    }
  }
}
