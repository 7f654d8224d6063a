// dnsmasq as the site's DHCP server on a network's segment, for the end-to-end tests of DHCP addresses. The
// segment of a network on a host is its bridge in the tenant namespace (vlan networks ride the overlay here:
// no 802.1Q uplink to put a server behind), so the server's port is a macvlan on that bridge moved into the
// server's own namespace (a kind of link the agent neither owns nor removes). The caller stops it with stop(),
// which ends dnsmasq by its PID and removes the namespace, also after a failure.

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
      await must(["ip", "-n", o.tenantNamespace, "link", "add", "srv0", "link", bridgeName(o.network), "type", "macvlan", "mode", "bridge"]);
      await must(["ip", "-n", o.tenantNamespace, "link", "set", "srv0", "netns", o.ns]);
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
