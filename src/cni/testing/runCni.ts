// Runs the built CNI executable as a runtime does, for this folder's tests only.

import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

/** What `make build` installs as the executable: src/bin/netplugin-cni.ts compiled by bun into one file. */
export const EXECUTABLE = fileURLToPath(new URL("../../../cni/netplugin-cni", import.meta.url));

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * keepOpen: write stdin but never close it, as a writer that does not stop would. A run that has not
 * ended after 10 s is killed and ends with status null.
 */
export function runCni(env: Record<string, string>, stdin: string | Buffer, options: { keepOpen?: boolean } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(EXECUTABLE, [], {
      env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", ...env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    child.on("exit", () => clearTimeout(timer));
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stdout, stderr }));
    // The child may stop reading before the end: what it leaves unread is not this test's error.
    child.stdin.on("error", () => undefined);
    if (options.keepOpen) child.stdin.write(stdin);
    else child.stdin.end(stdin);
  });
}

