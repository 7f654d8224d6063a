// A DHCP lease held for one container interface: busybox's udhcpc runs inside the container's network
// namespace on its interface (so the request carries the container's MAC and renewals leave from its
// address), reports each event through a tiny script on its stdout, renews by itself while it runs, and
// releases the lease when it is stopped (-R). The agent configures the address itself (the datapath does):
// the script changes nothing in the namespace.

import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface Lease {
  ip: string;
  /** Prefix length from the server's subnet mask. */
  prefixLength: number;
  /** Seconds, as the server gave them. */
  leaseSeconds: number;
  serverId: string;
}

export type LeaseEvent = { kind: "bound" | "renew"; lease: Lease } | { kind: "deconfig" | "leasefail" | "nak" };

export interface LeaseClientOptions {
  /** Path of the container's network namespace (CNI_NETNS). */
  netns: string;
  ifname: string;
  /** Directory for the event script (the agent's state dir). */
  scriptDir: string;
  /** Ask the server for this address again (after an agent restart). */
  requestIp?: string;
  /** Seconds to wait for the first lease; default 15. */
  timeoutSeconds?: number;
  onEvent?: (e: LeaseEvent) => void;
  /** udhcpc ended by itself after the first lease (it gives up when a lost lease cannot be had again). */
  onExit?: (code: number | null) => void;
}

const SCRIPT = '#!/bin/sh\necho "netplugin-dhcp $1 ${ip:--} ${mask:--} ${lease:--} ${serverid:--}"\n';

function maskLength(mask: string): number {
  if (/^\d+$/.test(mask)) return Number(mask); // busybox gives the mask as a length
  return mask.split(".").reduce((n, o) => n + (Number(o) >>> 0).toString(2).replace(/0/g, "").length, 0);
}

export function parseLeaseLine(line: string): LeaseEvent | undefined {
  const m = /^netplugin-dhcp (\S+) (\S+) (\S+) (\S+) (\S+)$/.exec(line.trim());
  if (!m) return undefined;
  const [, kind, ip, mask, lease, server] = m as unknown as [string, string, string, string, string, string];
  if (kind === "bound" || kind === "renew") {
    return { kind, lease: { ip, prefixLength: maskLength(mask), leaseSeconds: Number(lease), serverId: server === "-" ? "" : server } };
  }
  if (kind === "deconfig" || kind === "leasefail" || kind === "nak") return { kind };
  return undefined;
}

/**
 * The event script, written once per directory and whole (renamed into place): a udhcpc started by a
 * concurrent ADD may run it at any moment.
 */
function eventScript(dir: string): string {
  const script = join(dir, "dhcp-event.sh");
  if (existsSync(script)) return script;
  const tmp = `${script}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  writeFileSync(tmp, SCRIPT, { mode: 0o700 });
  renameSync(tmp, script);
  return script;
}

/** A running udhcpc for one interface. `lease` is the current one. */
export class LeaseClient {
  lease: Lease | undefined;
  private ending = false;
  private constructor(
    private readonly child: ChildProcess,
    private readonly where: { netns: string; ifname: string },
  ) {}

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Starts udhcpc and resolves with the first lease; on failure nothing is left running. */
  static async start(o: LeaseClientOptions): Promise<LeaseClient> {
    const script = eventScript(o.scriptDir);
    const argv = ["--net=" + o.netns, "busybox", "udhcpc", "-f", "-R", "-i", o.ifname, "-s", script, "-t", "5", "-T", "2", "-n"];
    if (o.requestIp) argv.push("-r", o.requestIp);
    const child = spawn("nsenter", argv, { stdio: ["ignore", "pipe", "pipe"] });
    const client = new LeaseClient(child, { netns: o.netns, ifname: o.ifname });
    let stderr = "";
    child.stderr!.on("data", (b: Buffer) => (stderr = (stderr + b.toString()).slice(-2000)));
    return new Promise<LeaseClient>((resolve, reject) => {
      let settled = false;
      const fail = (why: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        void client.stop().then(() => reject(new Error(`no DHCP lease on ${o.ifname}: ${why}${stderr ? `: ${stderr.trim().split("\n").pop()}` : ""}`)));
      };
      const timer = setTimeout(() => fail(`no answer in ${o.timeoutSeconds ?? 15} s`), (o.timeoutSeconds ?? 15) * 1000);
      let buf = "";
      child.stdout!.on("data", (b: Buffer) => {
        buf += b.toString();
        let nl: number;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const e = parseLeaseLine(buf.slice(0, nl));
          buf = buf.slice(nl + 1);
          if (!e) continue;
          if (e.kind === "bound" || e.kind === "renew") client.lease = e.lease;
          o.onEvent?.(e);
          if (e.kind === "bound" && !settled) {
            settled = true;
            clearTimeout(timer);
            resolve(client);
          }
        }
      });
      child.on("error", (err) => fail(err.message));
      child.on("exit", (code) => {
        if (settled && !client.ending) o.onExit?.(code);
        fail(`udhcpc exited (${code})`);
      });
    });
  }

  /** Releases the lease (udhcpc -R sends DHCPRELEASE on SIGTERM) and waits for udhcpc to end. Idempotent. */
  async stop(): Promise<void> {
    // udhcpc sends the DHCPRELEASE from the leased address: the interface must hold it. It does once the datapath
    // configured it; a lease netmaster refused never got there, so it is put there for the release (the
    // interface is about to go anyway). Nothing to do when the namespace or interface is gone.
    const l = this.lease;
    if (l !== undefined && this.running) {
      await new Promise<void>((resolve) =>
        execFile("nsenter", [`--net=${this.where.netns}`, "ip", "addr", "replace", `${l.ip}/${l.prefixLength}`, "dev", this.where.ifname], () => resolve()),
      );
    }
    return this.end("SIGTERM");
  }

  private get running(): boolean {
    const c = this.child;
    return c.exitCode === null && c.signalCode === null && c.pid !== undefined;
  }

  /** Ends udhcpc without releasing the lease (SIGKILL: the server keeps it until it runs out). Idempotent. */
  abandon(): Promise<void> {
    return this.end("SIGKILL");
  }

  private end(signal: NodeJS.Signals): Promise<void> {
    this.ending = true;
    const c = this.child;
    if (c.exitCode !== null || c.signalCode !== null || c.pid === undefined) return Promise.resolve();
    return new Promise((resolve) => {
      const kill = setTimeout(() => c.kill("SIGKILL"), 5000);
      c.once("exit", () => {
        clearTimeout(kill);
        resolve();
      });
      c.kill(signal);
    });
  }
}
