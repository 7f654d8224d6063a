// One gobgpd process for this host, found again through its pid file.
//
// gobgpd does not daemonise itself, and every process goes through the runner seam (which waits
// for exit), so start-stop-daemon (from dpkg, on every Debian host) forks it into the background,
// writes the pid file and sends its output to a log file; the same tool stops it by pid file
// and checks that the pid still belongs to gobgpd, so a stale pid file never kills a stranger.
// gobgpd serves its gRPC API on a unix socket in the state dir, not on 127.0.0.1:50051, so that
// several speakers (tests, or one namespace per simulated host) never collide, and pprof is off
// because it would listen on localhost:6060.

import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";

import { UpstreamError, errorMessage } from "../../lib/errors.js";
import type { RunCommand } from "./types.js";

export interface GobgpDaemonOptions {
  run: RunCommand;
  /** Network namespace gobgpd runs in (undefined: the caller's). */
  netns: string | undefined;
  stateDir: string;
  /** Default "/usr/bin/gobgpd" (start-stop-daemon matches the running process by this path). */
  gobgpdPath?: string;
  /** Default "gobgp". */
  gobgpPath?: string;
  /** How long to wait for the API after a start; default 10 000 ms. */
  startTimeoutMs?: number;
}

export class GobgpDaemon {
  readonly configFile: string;
  readonly pidFile: string;
  readonly socket: string;
  readonly logFile: string;
  private readonly gobgpd: string;
  private readonly gobgp: string;

  constructor(private readonly o: GobgpDaemonOptions) {
    this.configFile = join(o.stateDir, "gobgpd.toml");
    this.pidFile = join(o.stateDir, "gobgpd.pid");
    this.socket = join(o.stateDir, "gobgpd.sock");
    this.logFile = join(o.stateDir, "gobgpd.log");
    this.gobgpd = o.gobgpdPath ?? "/usr/bin/gobgpd";
    this.gobgp = o.gobgpPath ?? "gobgp";
    // sun_path holds 108 bytes; "unix://" is not part of it.
    if (Buffer.byteLength(this.socket) > 107) {
      throw new UpstreamError(`Cannot use state dir "${o.stateDir}" for gobgpd: socket path is longer than 107 bytes`);
    }
  }

  /** The config file gobgpd was last started with; undefined when there is none. */
  async currentConfig(): Promise<string | undefined> {
    try {
      return await readFile(this.configFile, "utf8");
    } catch {
      return undefined;
    }
  }

  /** True when the pid file names a live gobgpd. */
  async isRunning(): Promise<boolean> {
    try {
      await this.o.run(["start-stop-daemon", "--status", "--pidfile", this.pidFile, "--exec", this.gobgpd]);
      return true;
    } catch (err) {
      // 1: dead with a pid file left, 3: not running, 4: cannot tell (no pid file dir, …).
      const code = (err as { exitCode?: unknown }).exitCode;
      if (typeof code === "number" && [1, 3, 4].includes(code)) return false;
      throw err;
    }
  }

  /** Writes the config and starts gobgpd, then waits until its API answers. Throws when it does not come up. */
  async start(config: string): Promise<void> {
    await mkdir(this.o.stateDir, { recursive: true, mode: 0o700 });
    await writeFile(this.configFile, config, { mode: 0o600 });
    // A socket file left by a killed gobgpd would make the new one fail to listen.
    await rm(this.socket, { force: true });
    await this.o.run(
      [
        "start-stop-daemon",
        "--start",
        "--background",
        "--make-pidfile",
        "--pidfile",
        this.pidFile,
        "--output",
        this.logFile,
        "--exec",
        this.gobgpd,
        "--",
        "--config-file",
        this.configFile,
        "--config-type",
        "toml",
        "--log-plain",
        "--log-level",
        "info",
        "--pprof-disable",
        "--api-hosts",
        `unix://${this.socket}`,
      ],
      this.o.netns === undefined ? {} : { netns: this.o.netns },
    );
    const deadline = Date.now() + (this.o.startTimeoutMs ?? 10_000);
    for (;;) {
      try {
        await this.cli(["global", "-j"]);
        return;
      } catch (err) {
        if (!(await this.isRunning())) {
          throw new UpstreamError(`Cannot start gobgpd: it exited: ${await this.logTail()}`, { cause: err });
        }
        if (Date.now() > deadline) {
          throw new UpstreamError(`Cannot start gobgpd: API at "${this.socket}" did not answer: ${errorMessage(err)}`, { cause: err });
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Stops gobgpd (TERM, then KILL after 5 s) and removes its files. Does nothing when it is not running. */
  async stop(): Promise<void> {
    await this.o.run([
      "start-stop-daemon",
      "--stop",
      "--pidfile",
      this.pidFile,
      "--exec",
      this.gobgpd,
      "--retry",
      "TERM/5/KILL/2",
      "--oknodo",
      "--remove-pidfile",
    ]);
    await Promise.all([this.socket, this.pidFile, this.configFile].map((f) => rm(f, { force: true })));
  }

  /** Runs the gobgp CLI against this daemon's API and returns its stdout. */
  cli(args: string[]): Promise<string> {
    return this.o.run([this.gobgp, "--target", `unix://${this.socket}`, ...args]);
  }

  private async logTail(): Promise<string> {
    try {
      const text = await readFile(this.logFile, "utf8");
      return text.trim().split("\n").slice(-5).join("; ") || "(empty log)";
    } catch {
      return `(no log at "${this.logFile}")`;
    }
  }
}
