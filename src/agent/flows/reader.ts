// One long-lived reader per tenant namespace: tcpdump on the namespace's NFLOG group, its pcap stream parsed as
// it comes (nflog.ts). It is a process of its own, not a command run to completion, so it does not go through the
// Executor; it is started under `setpriv --pdeathsig KILL`, so it dies with the agent even when the agent is
// killed, and is stopped by its PID. A reader that exits by itself is started again after a pause.

import { spawn, type ChildProcess } from "node:child_process";
import type { Logger } from "pino";
import { parseFlowPacket, PcapNflogStream, type FlowPacket } from "./nflog.js";

export interface FlowReaderOptions {
  namespace: string;
  group: number;
  /** Each logged attempt, with the log prefix the kernel stamped on it. */
  onPacket: (packet: FlowPacket, prefix: string) => void;
  log: Logger;
  /** Pause before a reader that exited is started again; default 2 s. */
  restartMs?: number;
}

/** The argv of a reader: what the flow records cost besides the agent (bench/flows.ts measures it). */
export function readerArgv(namespace: string, group: number): string[] {
  // -U: each record written as it comes, not when a buffer fills; -n: no name lookups. No -s: the log's snaplen
  // already cuts the copy, and libpcap's NFLOG reader with a small snapshot length lost four records in five and
  // mangled some of the rest (measured: 185 of 999 logged, against all 999 without it).
  return ["setpriv", "--pdeathsig", "KILL", "ip", "netns", "exec", namespace, "tcpdump", "-n", "-U", "-i", `nflog:${group}`, "-w", "-"];
}

export class FlowReader {
  private child: ChildProcess | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Records the stream held that could not be read. */
  malformed = 0;
  restarts = 0;

  constructor(private readonly o: FlowReaderOptions) {}

  /** The reader process's PID, while it runs. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    if (this.stopped || this.child) return;
    const stream = new PcapNflogStream();
    const child = spawn(readerArgv(this.o.namespace, this.o.group)[0]!, readerArgv(this.o.namespace, this.o.group).slice(1), { stdio: ["ignore", "pipe", "pipe"] });
    this.child = child;
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-500)));
    child.stdout!.on("data", (chunk: Buffer) => {
      for (const record of stream.push(chunk)) {
        const packet = parseFlowPacket(record.family, record.payload);
        if (packet === undefined) this.malformed++;
        else this.o.onPacket(packet, record.prefix);
      }
      this.malformed += stream.malformed;
      stream.malformed = 0;
      if (stream.failed !== undefined) {
        this.o.log.warn({ namespace: this.o.namespace, reason: stream.failed }, "flow reader stream unreadable; restarting it");
        child.kill("SIGKILL");
      }
    });
    child.on("error", (err) => this.o.log.warn({ namespace: this.o.namespace, err: err.message }, "cannot start the flow reader"));
    child.on("close", (code) => {
      if (this.child === child) this.child = undefined;
      if (this.stopped) return;
      this.restarts++;
      this.o.log.warn({ namespace: this.o.namespace, code, stderr: stderr.trim() }, "flow reader exited; starting it again");
      this.timer = setTimeout(() => this.start(), this.o.restartMs ?? 2000);
      this.timer.unref();
    });
  }

  /** Stops the reader (its PID only) and waits for it to be gone. Idempotent. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const closed = new Promise<void>((resolve) => child.once("close", () => resolve()));
    child.kill("SIGTERM");
    const late = setTimeout(() => child.kill("SIGKILL"), 2000);
    await closed;
    clearTimeout(late);
  }
}
