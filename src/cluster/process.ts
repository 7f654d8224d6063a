// Processes of a test cluster: each runs inside a network namespace, logs to a
// file in the cluster directory, and is stopped by its PID (nsenter execs, so
// it is node's PID).
//
// nsenter, not `ip netns exec`: the latter also gives the process a private
// mount namespace, so the namespaces an agent then creates with `ip netns add`
// (its tenants) would be bind-mounted where nobody else, not even
// `netplugin --cleanup`, could see them.

import { spawn, type ChildProcess } from "node:child_process";
import { openSync, closeSync, readFileSync } from "node:fs";

const running = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

export class NsProcess {
  private exited: Promise<void>;

  private constructor(
    readonly child: ChildProcess,
    readonly logFile: string,
  ) {
    this.exited = new Promise((resolve) => child.once("exit", () => (running.delete(child), resolve())));
  }

  static start(namespace: string, argv: string[], logFile: string): NsProcess {
    const fd = openSync(logFile, "a");
    try {
      const child = spawn("nsenter", [`--net=/var/run/netns/${namespace}`, "--", ...argv], { stdio: ["ignore", fd, fd] });
      running.add(child);
      return new NsProcess(child, logFile);
    } finally {
      closeSync(fd);
    }
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  logs(): string {
    try {
      return readFileSync(this.logFile, "utf8");
    } catch {
      return "";
    }
  }

  async stop(signal: NodeJS.Signals = "SIGTERM", graceMs = 5000): Promise<void> {
    if (!this.alive) return;
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  kill(): Promise<void> {
    return this.stop("SIGKILL");
  }
}
