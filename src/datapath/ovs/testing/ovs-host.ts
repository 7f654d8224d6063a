// Test helper, not part of the driver: the one-host setting of the OVS driver's kernel tests. A namespace stands in
// for the host, with a private Open vSwitch (userspace datapath) running in it, a namespace per container, netprobe
// serving in some of them, and the driver on that OVS. stop() removes all of it, also after a start that failed
// half-way (the driver's cleanup, then every namespace of the prefix, then the OVS).

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { run } from "../../../lib/process.js";
import { addTestNamespaces, exec, removeNamespaces, removeTestState, startProbe } from "../../linux/testing/netns.js";
import type { DesiredEndpoint } from "../../types.js";
import { OvsDatapath, type OvsDatapathOptions } from "../driver.js";
import { PrivateOvs } from "../private-ovs.js";

/** Why a test needing a private OVS cannot run here (not root, no openvswitch-switch), or false: `describe`'s skip. */
export const needsOvs: string | false =
  process.getuid?.() !== 0 ? "needs root" : (await run(["ovs-vswitchd", "--version"])).code !== 0 ? "openvswitch-switch is not installed" : false;

export class OvsTestHost {
  /** The namespace standing in for the host: `<prefix>-host`. */
  readonly host: string;
  ovs: PrivateOvs | undefined;
  driver: OvsDatapath | undefined;

  constructor(readonly prefix: string) {
    this.host = `${prefix}-host`;
  }

  /** A container's namespace: `<prefix>-<name>`. */
  ns(container: string): string {
    return `${this.prefix}-${container}`;
  }

  /**
   * The desired endpoint of a container of start(): address `<net24>.<n>/24`, gateway `<net24>.254`, MTU 1450, no
   * IPv6, no limits; its host link `ne<prefix without "np"><container>`.
   */
  endpoint(container: string, n: number, o: { network: string; net24: string; mac: string }): DesiredEndpoint {
    return {
      id: `${o.network}-${container}`,
      network: o.network,
      hostLink: `ne${this.prefix.slice(3)}${container}`,
      netns: `/var/run/netns/${this.ns(container)}`,
      ifname: "eth0",
      mac: o.mac,
      ipv4: `${o.net24}.${n}/24`,
      ipv6: "",
      gateway: `${o.net24}.254`,
      ipv6Gateway: "",
      mtu: 1450,
      qos: { egressBps: 0, ingressBps: 0, burstBytes: 0 },
    };
  }

  /**
   * Makes the namespaces (the host's with its loopback up, for a controller on 127.0.0.1) and the OVS, and a
   * driver on it with `options`; netprobe in each of `serve` answers its name on port 8080.
   */
  async start(containers: string[], serve: string[] = containers, options: Partial<OvsDatapathOptions> = {}): Promise<{ ovs: PrivateOvs; driver: OvsDatapath }> {
    await addTestNamespaces(this.host, containers.map((c) => this.ns(c)));
    await exec.run(["ip", "-n", this.host, "link", "set", "lo", "up"]);
    this.ovs = await PrivateOvs.start({ dir: mkdtempSync(path.join(tmpdir(), `${this.prefix}-ovs-`)), netns: this.host });
    this.options = options;
    this.driver = this.newDriver();
    for (const c of serve) await startProbe(this.ns(c), "serve", c, 8080);
    return { ovs: this.ovs, driver: this.driver };
  }

  private options: Partial<OvsDatapathOptions> = {};

  /** Another driver on the same OVS, with start()'s options (a restarted agent). */
  newDriver(): OvsDatapath {
    const ovs = this.ovs!;
    return new OvsDatapath(exec, { db: ovs.db, rundir: ovs.dir, datapathType: "netdev", hostNamespace: this.host, ...this.options });
  }

  /** ovs-ofctl (OpenFlow 1.5) on this host's bridge `bridge`: its command, then its arguments. */
  ofctl(bridge: string, command: string, ...args: string[]): Promise<string> {
    return exec.run(["ovs-ofctl", "-O", "OpenFlow15", command, `unix:${this.ovs!.dir}/${bridge}.mgmt`, ...args]);
  }

  async stop(): Promise<void> {
    try {
      if (this.driver === undefined) await removeNamespaces(this.prefix);
      else await removeTestState(this.driver, this.prefix);
    } finally {
      await this.ovs?.stop();
    }
  }
}
