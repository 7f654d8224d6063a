// Test helper, not part of the driver: runs commands and netprobe inside network namespaces a
// kernel test created, and keeps track of the processes so after() can kill what is left.

import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

import { RealExecutor, run } from "../../../lib/process.js";
import { waitFor } from "../../../lib/wait.js";

export const PROBE = fileURLToPath(new URL("../netprobe.js", import.meta.url));
export const exec = new RealExecutor({ timeoutMs: 20_000 });

const children = new Set<ChildProcess>();

export function spawnIn(ns: string, argv: string[]): ChildProcess {
  const child = spawn("ip", ["netns", "exec", ns, ...argv], { stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  child.on("exit", () => children.delete(child));
  return child;
}

/** Resolves once something listens on TCP `port` in the namespace (for servers that print no readiness line). */
export async function waitListening(ns: string, port: number, timeoutMs = 10_000): Promise<void> {
  await waitFor(async () => (await run(["ss", "-Hltn", `sport = :${port}`], { netns: ns, timeoutMs: 15_000 })).stdout.trim() !== "", {
    timeoutMs,
    intervalMs: 50,
    what: () => `nothing listens on TCP port ${port} in ${ns}`,
  });
}

/** netprobe in a namespace: its last JSON line. */
export async function probe(ns: string, ...args: Array<string | number>): Promise<Record<string, unknown>> {
  const { code, stdout, stderr } = await run([process.execPath, PROBE, ...args.map(String)], { netns: ns, timeoutMs: 15_000 });
  if (code !== 0) throw new Error(`netprobe ${args.join(" ")} in ${ns}: exit ${code}: ${stderr}`);
  return JSON.parse(stdout.trim().split("\n").pop()!) as Record<string, unknown>;
}

/** TCP to addr:port: "reply <tag>", "refused" (a RST came back) or "timeout". */
export async function tcp(ns: string, address: string, port: number, timeoutMs = 1_000): Promise<string> {
  const r = await probe(ns, "tcp", address, port, timeoutMs);
  return r.result === "reply" ? `reply ${String(r.tag)}` : String(r.result);
}

/** One ICMP echo (iputils ping); true when the reply came back. */
export async function ping(ns: string, address: string): Promise<boolean> {
  return (await run(["ping", "-c", "1", "-W", "1", "-n", "-q", address], { netns: ns, timeoutMs: 15_000 })).code === 0;
}

/** Starts a long-running netprobe (serve, serve-peer, mrecv) and waits for its {ready} line; resolves with its last line later. */
export function startProbe(ns: string, ...args: Array<string | number>): Promise<{ done: Promise<Record<string, unknown>> }> {
  const child = spawnIn(ns, [process.execPath, PROBE, ...args.map(String)]);
  let out = "";
  const done = new Promise<Record<string, unknown>>((resolve) =>
    child.on("close", () => resolve(JSON.parse(out.trim().split("\n").pop() ?? "{}") as Record<string, unknown>)),
  );
  return new Promise((resolve, reject) => {
    child.stdout!.on("data", (d) => {
      out += d;
      if (out.includes('"ready":true')) resolve({ done });
    });
    child.on("exit", (code) => reject(new Error(`netprobe ${args.join(" ")} in ${ns} exited ${code}`)));
  });
}

export function killChildren(): void {
  for (const child of children) child.kill("SIGKILL");
}

/** The namespaces a single-host driver test works in: the agent's stand-in, and one per container (loopback up). */
export async function addTestNamespaces(hostNs: string, containerNamespaces: string[]): Promise<void> {
  await exec.run(["ip", "netns", "add", hostNs]);
  for (const ns of containerNamespaces) {
    await exec.run(["ip", "netns", "add", ns]);
    await exec.run(["ip", "-n", ns, "link", "set", "lo", "up"]);
  }
}

/**
 * The end of a driver test, also a failed one: the processes it started killed, what the driver made under
 * `prefix` cleaned up by the driver itself, and every namespace of the prefix removed even if that fails.
 */
export async function removeTestState(driver: { cleanup(prefix: string): Promise<unknown> }, prefix: string): Promise<void> {
  killChildren();
  try {
    await driver.cleanup(prefix);
  } finally {
    await removeNamespaces(prefix);
  }
}

/** Every namespace whose name starts with `start` is deleted. */
export async function removeNamespaces(start: string): Promise<void> {
  const out = await exec.run(["ip", "-json", "netns", "list"]);
  const names = out.trim() === "" ? [] : (JSON.parse(out) as Array<{ name: string }>).map((n) => n.name);
  for (const name of names.filter((n) => n.startsWith(start))) {
    await exec.run(["ip", "netns", "del", name]).catch(() => undefined);
  }
}

/**
 * A test-owned nft table `FAMILY nptest` in a namespace with one named counter "c" on `rule`; counts() reads it.
 * Re-installing resets the counter.
 */
export async function installCounter(ns: string, family: "ip" | "ip6" | "netdev", hook: string, rule: string): Promise<void> {
  await exec.run(["nft", "-f", "-"], {
    netns: ns,
    stdin: `table ${family} nptest\ndelete table ${family} nptest\ntable ${family} nptest {\n  counter c {\n  }\n  chain c_in {\n    ${hook}\n    ${rule} counter name "c"\n  }\n}\n`,
  });
}

export async function counted(ns: string, family: "ip" | "ip6" | "netdev"): Promise<number> {
  const out = await exec.run(["nft", "-j", "list", "counter", family, "nptest", "c"], { netns: ns });
  const entries = (JSON.parse(out) as { nftables: Array<{ counter?: { packets: number } }> }).nftables;
  return entries.find((e) => e.counter !== undefined)?.counter?.packets ?? -1;
}
