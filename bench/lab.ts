// Plumbing shared by the kernel benchmarks (CNI latency, datapath): a teardown
// stack that also runs on SIGINT/SIGTERM, so every namespace and process a run
// made goes away even when it is interrupted; timed child processes; background
// processes stopped by PID; and the env-var knobs that make a quick run possible.

import { spawn, type ChildProcess } from "node:child_process";
import { realpathSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { must, run, type CommandOptions, type RunResult } from "../src/lib/process.js";

type Step = { what: string; fn: () => unknown };

/** Undo steps run last-in first-out; `run()` is idempotent and never throws (failures go to stderr). */
export class Teardown {
  private steps: Step[] = [];
  private running: Promise<void> | undefined;

  add(what: string, fn: () => unknown): void {
    this.steps.push({ what, fn });
  }

  run(): Promise<void> {
    this.running ??= (async () => {
      while (this.steps.length > 0) {
        const step = this.steps.pop()!;
        try {
          await step.fn();
        } catch (err) {
          process.stderr.write(`bench teardown: ${step.what}: ${(err as Error).message}\n`);
        }
      }
    })();
    return this.running;
  }

  /** Also runs on SIGINT/SIGTERM (then exits 130); the returned function unhooks the signals. */
  onSignals(): () => void {
    const handler = (signal: NodeJS.Signals) => {
      process.stderr.write(`bench: ${signal}, cleaning up\n`);
      void this.run().finally(() => process.exit(130));
    };
    process.on("SIGINT", handler);
    process.on("SIGTERM", handler);
    return () => {
      process.off("SIGINT", handler);
      process.off("SIGTERM", handler);
    };
  }
}

export interface Timed extends RunResult {
  ms: number;
}

/** Runs argv to its end (timeout 120 s unless given), measuring from spawn to exit. */
export async function timedSpawn(argv: string[], options: CommandOptions = {}): Promise<Timed> {
  const start = performance.now();
  const r = await run(argv, { ...options, timeoutMs: options.timeoutMs ?? 120_000 });
  return { ...r, ms: performance.now() - start };
}

/** Long-running helpers (traffic servers) started by the benchmark and stopped by their PID. */
export class Background {
  private children: ChildProcess[] = [];

  /** Starts argv; resolves once its stdout or stderr contains `ready` (or at once without it). */
  start(argv: string[], ready?: string, timeoutMs = 10_000): Promise<ChildProcess> {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
    this.children.push(child);
    if (ready === undefined) return Promise.resolve(child);
    return new Promise((resolve, reject) => {
      let seen = "";
      const timer = setTimeout(() => reject(new Error(`${argv.join(" ")} not ready in ${timeoutMs} ms: ${seen}`)), timeoutMs);
      const look = (d: Buffer) => {
        seen += d.toString();
        if (seen.includes(ready)) {
          clearTimeout(timer);
          child.stdout!.off("data", look);
          child.stderr!.off("data", look);
          child.stdout!.resume();
          child.stderr!.resume();
          resolve(child);
        }
      };
      child.stdout!.on("data", look);
      child.stderr!.on("data", look);
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`${argv.join(" ")} exited ${code}: ${seen}`));
      });
    });
  }

  async stopAll(): Promise<void> {
    await Promise.all(
      this.children.map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
        const exited = new Promise((r) => child.once("exit", r));
        process.kill(child.pid, "SIGKILL");
        await exited;
      }),
    );
    this.children = [];
  }
}

export interface IperfRun {
  /** Network namespace (by name) the client runs in. */
  client: string;
  serverIp: string;
  port: number;
  seconds: number;
  /** 64-byte UDP at full speed instead of one TCP stream. */
  udp: boolean;
  /** CPU both ends are pinned to ("" = not pinned). */
  cpu: string;
  /** Names the setup in errors. */
  label: string;
}

/** One iperf3 run: TCP Gbit/s received, or thousand 64-byte UDP packets received per second. */
export async function iperfRate(o: IperfRun): Promise<number> {
  const argv = ["ip", "netns", "exec", o.client, "iperf3", "-c", o.serverIp, "-p", String(o.port), "-t", String(o.seconds), "-J"];
  if (o.udp) argv.push("-u", "-l", "64", "-b", "0");
  if (o.cpu !== "") argv.push("-A", `${o.cpu},${o.cpu}`);
  for (let attempt = 1; ; attempt++) {
    const r = await timedSpawn(argv, { timeoutMs: (o.seconds + 30) * 1000 });
    try {
      if (r.code !== 0) throw new Error(`exit ${r.code}: ${r.stdout.slice(0, 300)} ${r.stderr.slice(0, 300)}`);
      const end = (JSON.parse(r.stdout) as { end: Record<string, { bits_per_second: number; packets?: number; lost_packets?: number; seconds: number }> }).end;
      if (!o.udp) return end.sum_received!.bits_per_second / 1e9;
      const got = end.sum_received ?? end.sum!;
      return (got.packets! - got.lost_packets!) / got.seconds / 1000;
    } catch (err) {
      // iperf3's server now and then refuses a run right after the previous one ("busy"): retry once.
      if (attempt >= 2) throw new Error(`iperf3 ${o.udp ? "udp" : "tcp"} on ${o.label}: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

export function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name}="${raw}": expected a non-negative number`);
  return n;
}

export function envNumbers(name: string, fallback: number[]): number[] {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const list = raw.split(",").map((s) => Number(s.trim()));
  if (list.some((n) => !Number.isInteger(n) || n < 0)) throw new Error(`${name}="${raw}": expected comma-separated non-negative integers`);
  return list;
}

/** Why a kernel benchmark cannot run here, or undefined when it can. */
export async function missingPrerequisite(commands: string[]): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return "needs root (network namespaces)";
  for (const c of commands) {
    const r = await timedSpawn(["sh", "-c", `command -v ${c}`]);
    if (r.code !== 0) return `needs ${c}`;
  }
  return undefined;
}

/** True when the module at `moduleUrl` is the program node was started with. */
export function isMain(moduleUrl: string): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return pathToFileURL(realpathSync(entry)).href === moduleUrl;
  } catch {
    return false;
  }
}

/** Prints rows under a header; the first `leftColumns` columns are left-aligned, the rest right-aligned. */
export function printTable(header: string[], rows: string[][], leftColumns = 1): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i < leftColumns ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ").trimEnd();
  console.log(line(header));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const r of rows) console.log(line(r));
}

/** Namespaces `<prefix>-<role>` with lo up, each deleted by the teardown; role → name. */
export async function makeNamespaces(prefix: string, roles: string[], teardown: Teardown): Promise<Record<string, string>> {
  const ns: Record<string, string> = {};
  for (const role of roles) {
    const name = `${prefix}-${role}`;
    await must(["ip", "netns", "add", name]);
    teardown.add(`delete ${name}`, () => timedSpawn(["ip", "netns", "del", name]));
    await must(["ip", "-n", name, "link", "set", "lo", "up"]);
    ns[role] = name;
  }
  return ns;
}

/**
 * Two hosts over VXLAN, built by hand as ours builds them, all in 198.19.0.0/16 (inside 198.18.0.0/15): an
 * underlay bridge namespace "ul"; per host i a namespace hi with eth0 on the underlay (198.19.0.1i/24, MTU
 * 1500: the stand-in for the host's NIC), a tenant namespace ti with vx0 (MTU 1450, made in hi so its socket
 * stays on the underlay, then moved) and e0 on bridge br0, and a container ci with eth0 (198.19.100.i/24).
 * br_netfilter is off in the tenant namespaces.
 */
export async function vxlanPair(prefix: string, teardown: Teardown): Promise<{ ns: Record<string, string>; client: string; server: string; serverIp: string }> {
  const ns = await makeNamespaces(prefix, ["ul", "h1", "h2", "t1", "t2", "c1", "c2"], teardown);
  await must(["ip", "-n", ns.ul!, "link", "add", "ul0", "mtu", "1500", "type", "bridge"]);
  await must(["ip", "-n", ns.ul!, "link", "set", "ul0", "up"]);
  const vtep = (i: number) => `198.19.0.${10 + i}`;
  const mac = (i: number) => `02:00:c6:13:64:0${i}`;
  for (const i of [1, 2]) {
    const [host, tenant, container] = [ns[`h${i}`]!, ns[`t${i}`]!, ns[`c${i}`]!];
    await must(["ip", "-n", ns.ul!, "link", "add", `h${i}`, "mtu", "1500", "type", "veth", "peer", "name", "eth0", "mtu", "1500", "netns", host]);
    await must(["ip", "-n", ns.ul!, "link", "set", `h${i}`, "master", "ul0", "up"]);
    await must(["ip", "-n", host, "addr", "add", `${vtep(i)}/24`, "dev", "eth0"]);
    await must(["ip", "-n", host, "link", "set", "eth0", "up"]);
    await must(["ip", "-n", host, "link", "add", "vx0", "mtu", "1450", "type", "vxlan", "id", "42", "local", vtep(i), "dstport", "4789", "nolearning", "ttl", "64", "udpcsum"]);
    await must(["ip", "-n", host, "link", "set", "vx0", "netns", tenant]);
    await must(["ip", "-n", tenant, "link", "add", "br0", "mtu", "1450", "type", "bridge"]);
    await must(["ip", "-n", tenant, "link", "set", "br0", "up"]);
    await must(["ip", "-n", tenant, "link", "set", "vx0", "master", "br0", "up"]);
    await must(["bridge", "-n", tenant, "link", "set", "dev", "vx0", "learning", "off"]);
    const other = i === 1 ? 2 : 1;
    await must(["bridge", "-n", tenant, "fdb", "append", "00:00:00:00:00:00", "dev", "vx0", "dst", vtep(other)]);
    await must(["bridge", "-n", tenant, "fdb", "add", mac(other), "dev", "vx0", "dst", vtep(other), "self", "permanent"]);
    await must(["ip", "-n", tenant, "link", "add", "e0", "mtu", "1450", "type", "veth", "peer", "name", "eth0", "mtu", "1450", "netns", container]);
    await must(["ip", "-n", tenant, "link", "set", "e0", "master", "br0", "up"]);
    await must(["ip", "-n", container, "link", "set", "eth0", "address", mac(i)]);
    await must(["ip", "-n", container, "addr", "add", `198.19.100.${i}/24`, "dev", "eth0"]);
    await must(["ip", "-n", container, "link", "set", "eth0", "up"]);
    await timedSpawn(["ip", "netns", "exec", tenant, "sysctl", "-q", "-w", "net.bridge.bridge-nf-call-iptables=0", "net.bridge.bridge-nf-call-ip6tables=0"]);
  }
  return { ns, client: ns.c1!, server: ns.c2!, serverIp: "198.19.100.2" };
}
