// Test helpers for kernel tests: throwaway network namespaces named
// "npp<4 hex>" and a process runner. Tests create every namespace they use and
// delete it in after(), also on failure; nothing here touches the root
// namespace's ruleset.

import { execFile, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";

export interface RunResult {
  stdout: string;
  stderr: string;
}

export function run(argv: string[], stdin?: string, timeoutMs = 30_000): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(argv[0]!, argv.slice(1), { maxBuffer: 256 << 20, timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${argv.join(" ")} failed: ${stderr || err.message}`, { cause: err }));
      else resolve({ stdout, stderr });
    });
    if (stdin !== undefined) child.stdin?.end(stdin);
    else child.stdin?.end();
  });
}

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
    await run(["ip", "netns", "add", name]);
    const ns = new Netns(name);
    await ns.exec(["ip", "link", "set", "lo", "up"]);
    return ns;
  }

  exec(argv: string[], stdin?: string, timeoutMs?: number): Promise<RunResult> {
    return run(["ip", "netns", "exec", this.name, ...argv], stdin, timeoutMs);
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
    await run(["ip", "netns", "del", this.name]).catch(() => undefined);
  }
}

/** Deletes every namespace given, ignoring ones already gone. */
export async function deleteAll(namespaces: (Netns | undefined)[]): Promise<void> {
  await Promise.all(namespaces.map((ns) => ns?.delete()));
}
