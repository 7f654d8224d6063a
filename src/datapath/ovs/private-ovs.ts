// A private Open vSwitch for tests and the simulated cluster: its own ovsdb-server and ovs-vswitchd with every
// file (database, sockets, pid files, logs) under one directory, optionally run inside a network namespace that
// stands in for a host. Nothing of the machine's own OVS (if any) is touched. The userspace (netdev) datapath
// serves the bridges where the kernel has no openvswitch module, as here; userspace TSO is on from the first
// start (it is read only then), for ports whose offloads are left on (the bare bridges of bench/ovs.ts; the
// driver turns tx offload off on its veths, since OVS 3.1 cannot segment into a tunnel).
//
// stop() ends both daemons by their unixctl sockets (falling back to their PIDs) and deletes the tap devices a
// netdev datapath leaves behind (one per bridge, and `ovs-netdev`).

import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { must, run } from "../../lib/process.js";
import { waitFor } from "../../lib/wait.js";

export interface PrivateOvsOptions {
  /** Directory for every file of this instance; created, and removed by stop(). */
  dir: string;
  /** Network namespace ovs-vswitchd runs in (a simulated host); absent: the caller's. */
  netns?: string;
}

export class PrivateOvs {
  private constructor(
    readonly dir: string,
    readonly netns: string | undefined,
  ) {}

  /** unix:PATH of the instance's database: what `--ovs-db` and ovs-vsctl --db take. */
  get db(): string {
    return `unix:${path.join(this.dir, "db.sock")}`;
  }

  /** The environment the OVS tools need to find this instance's sockets (ovs-ofctl's BRIDGE.mgmt, ovs-appctl's targets). */
  get env(): Record<string, string> {
    return { OVS_RUNDIR: this.dir, OVS_DBDIR: this.dir, OVS_LOGDIR: this.dir, OVS_SYSCONFDIR: this.dir };
  }

  private inNetns(argv: string[]): string[] {
    return this.netns === undefined ? argv : ["ip", "netns", "exec", this.netns, ...argv];
  }

  static async start(o: PrivateOvsOptions): Promise<PrivateOvs> {
    mkdirSync(o.dir, { recursive: true });
    const ovs = new PrivateOvs(o.dir, o.netns);
    const f = (name: string) => path.join(o.dir, name);
    const opts = { env: { ...process.env, ...ovs.env } };
    try {
      await must(["ovsdb-tool", "create", f("conf.db"), "/usr/share/openvswitch/vswitch.ovsschema"], opts);
      await must(["ovsdb-server", f("conf.db"), `--remote=punix:${f("db.sock")}`, `--pidfile=${f("ovsdb-server.pid")}`, `--unixctl=${f("ovsdb-server.ctl")}`,
        `--log-file=${f("ovsdb-server.log")}`, "--detach", "--no-chdir"], opts);
      await must(["ovs-vsctl", `--db=${ovs.db}`, "--no-wait", "init"], opts);
      await must(["ovs-vsctl", `--db=${ovs.db}`, "--no-wait", "set", "Open_vSwitch", ".", "other_config:userspace-tso-enable=true"], opts);
      await must(ovs.inNetns(["ovs-vswitchd", ovs.db, `--pidfile=${f("ovs-vswitchd.pid")}`, `--unixctl=${f("ovs-vswitchd.ctl")}`,
        `--log-file=${f("ovs-vswitchd.log")}`, "--detach", "--no-chdir"]), opts);
      return ovs;
    } catch (err) {
      await ovs.stop();
      throw err;
    }
  }

  /** ovs-vswitchd's log, for test failure messages. */
  log(): string {
    const file = path.join(this.dir, "ovs-vswitchd.log");
    return existsSync(file) ? readFileSync(file, "utf8") : "";
  }

  /** Restarts ovs-vswitchd (its flows are gone afterwards; bridges and ports come back from the database). */
  async restartSwitch(): Promise<void> {
    const f = (name: string) => path.join(this.dir, name);
    await this.exit("ovs-vswitchd");
    await must(this.inNetns(["ovs-vswitchd", this.db, `--pidfile=${f("ovs-vswitchd.pid")}`, `--unixctl=${f("ovs-vswitchd.ctl")}`,
      `--log-file=${f("ovs-vswitchd.log")}`, "--detach", "--no-chdir"]), { env: { ...process.env, ...this.env } });
  }

  /** Ends a daemon: asked through its unixctl socket, then by its PID (ours), killed if it lingers. */
  private async exit(daemon: "ovs-vswitchd" | "ovsdb-server"): Promise<void> {
    const ctl = path.join(this.dir, `${daemon}.ctl`);
    const pidFile = path.join(this.dir, `${daemon}.pid`);
    // Read first: a daemon removes its pid file as it exits.
    let pid = NaN;
    try {
      pid = Number(readFileSync(pidFile, "utf8").trim());
    } catch {
      // never started, or gone
    }
    if (existsSync(ctl)) await run(["ovs-appctl", "-t", ctl, "exit"], { env: { ...process.env, ...this.env }, timeoutMs: 10_000 });
    if (!Number.isInteger(pid) || pid <= 0) return;
    const alive = () => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    try {
      await waitFor(() => !alive(), { timeoutMs: 5000, intervalMs: 50, what: () => `${daemon} ${pid} exits` });
    } catch {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // it ended after all
      }
    }
    rmSync(pidFile, { force: true });
  }

  /** Ends both daemons and removes what they leave: the netdev datapath's taps and this instance's files. */
  async stop(): Promise<void> {
    const bridges = existsSync(path.join(this.dir, "db.sock"))
      ? (await run(["ovs-vsctl", `--db=${this.db}`, "--timeout=5", "list-br"], { env: { ...process.env, ...this.env } })).stdout.split("\n").filter(Boolean)
      : [];
    await this.exit("ovs-vswitchd");
    await this.exit("ovsdb-server");
    const ip = this.netns === undefined ? ["ip"] : ["ip", "-n", this.netns];
    for (const tap of [...bridges, "ovs-netdev"]) await run([...ip, "link", "del", tap]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
