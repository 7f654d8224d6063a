// Container stand-ins for tests: plain named network namespaces with a run
// prefix, and the traffic tools run inside them (ping, and netprobe for TCP/UDP).

import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { must, run, type RunResult } from "../../src/lib/process.js";
import { StopWaiting, waitFor } from "../../src/lib/wait.js";

const NETPROBE_JS = fileURLToPath(new URL("../../src/datapath/linux/netprobe.js", import.meta.url));

export function runPrefix(base = "npe"): string {
  return `${base}${randomBytes(2).toString("hex")}`;
}

export class TestNetns {
  private servers: ChildProcess[] = [];
  constructor(readonly name: string) {}

  get path(): string {
    return `/var/run/netns/${this.name}`;
  }

  static async create(name: string): Promise<TestNetns> {
    await must(["ip", "netns", "add", name]);
    await run(["ip", "-n", name, "link", "set", "lo", "up"]);
    return new TestNetns(name);
  }

  exec(argv: string[]): Promise<RunResult> {
    return run(argv, { netns: this.name });
  }

  /** ping count packets; true when all come back. */
  async ping(address: string, count = 2): Promise<boolean> {
    const r = await this.exec(["ping", address.includes(":") ? "-6" : "-4", "-c", String(count), "-i", "0.2", "-W", "1", "-q", address]);
    return r.code === 0;
  }

  /** Starts a TCP+UDP echo server answering "tag:payload" on every address. */
  serve(tag: string, port: number): Promise<void> {
    return this.startServer(["serve", tag, String(port)]);
  }

  /** Starts a TCP server answering with the address it sees the client at ("a.b.c.d:payload"). */
  servePeer(port: number): Promise<void> {
    return this.startServer(["serve-peer", String(port)]);
  }

  /** A netprobe server, stopped by destroy(); resolves once it prints its ready line. */
  private async startServer(args: string[]): Promise<void> {
    const child = spawn("ip", ["netns", "exec", this.name, process.execPath, NETPROBE_JS, ...args], { stdio: ["ignore", "pipe", "ignore"] });
    this.servers.push(child);
    await new Promise<void>((resolve, reject) => {
      child.stdout!.once("data", () => resolve());
      child.once("exit", (code) => reject(new Error(`netprobe ${args[0]} exited ${code}`)));
    });
  }

  /** Starts an iperf3 server for one test (-1) and returns once it listens; killed by destroy() if still there. */
  async iperfServer(port: number): Promise<ChildProcess> {
    const child = spawn("ip", ["netns", "exec", this.name, "iperf3", "-s", "-1", "-p", String(port)], { stdio: "ignore" });
    this.servers.push(child);
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new StopWaiting(`iperf3 -s -p ${port} in ${this.name} exited (${child.exitCode})`);
        return (await this.exec(["ss", "-Hltn", `sport = :${port}`])).stdout.trim() !== "";
      },
      { timeoutMs: 10_000, intervalMs: 50, what: () => `iperf3 -s -p ${port} in ${this.name} is not listening` },
    );
    return child;
  }

  async probe(kind: "tcp" | "udp" | "hold", ...args: (string | number)[]): Promise<Record<string, unknown>> {
    const r = await this.exec([process.execPath, NETPROBE_JS, kind, ...args.map(String)]);
    return JSON.parse(r.stdout.trim().split("\n").pop() || "{}") as Record<string, unknown>;
  }

  /** TCP connect with a reply from the server tagged `tag`? */
  async tcpReaches(address: string, port: number, timeoutMs = 1500): Promise<string> {
    const r = await this.probe("tcp", address, port, timeoutMs);
    return r.result === "reply" ? String(r.tag) : String(r.result);
  }

  async destroy(): Promise<void> {
    for (const s of this.servers) s.kill("SIGKILL");
    await run(["ip", "netns", "del", this.name]);
  }
}
