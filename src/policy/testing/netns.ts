// Test helpers for kernel tests: throwaway network namespaces named
// "npp<4 hex>". Tests create every namespace they use and delete it in after(),
// also on failure; nothing here touches the root namespace's ruleset.

import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { must, run } from "../../lib/process.js";

/** Why kernel tests cannot run here, or undefined if they can. */
export function kernelSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return "needs root";
  if (!["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"].some(existsSync)) return "needs nft";
  if (!["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].some(existsSync)) return "needs iproute2";
  return undefined;
}

export class Netns {
  private constructor(readonly name: string) {}

  static async create(): Promise<Netns> {
    const name = `npp${randomBytes(2).toString("hex")}`;
    await must(["ip", "netns", "add", name]);
    const ns = new Netns(name);
    await ns.exec(["ip", "link", "set", "lo", "up"]);
    return ns;
  }

  /** Runs argv in the namespace; its stdout, or a ProcessError. */
  exec(argv: string[], stdin?: string): Promise<string> {
    return must(argv, { netns: this.name, stdin, timeoutMs: 30_000 });
  }

  /** Starts a long-running process in the namespace. */
  spawn(argv: string[]): ChildProcess {
    return spawn("ip", ["netns", "exec", this.name, ...argv], { stdio: ["pipe", "pipe", "pipe"] });
  }

  /** Loads an nft script into this namespace (stdin, one transaction). */
  async nft(script: string): Promise<void> {
    await this.exec(["nft", "-f", "-"], script);
  }

  async delete(): Promise<void> {
    await run(["ip", "netns", "del", this.name]);
  }
}

/** Deletes every namespace given, ignoring ones already gone. */
export async function deleteAll(namespaces: (Netns | undefined)[]): Promise<void> {
  await Promise.all(namespaces.map((ns) => ns?.delete()));
}
