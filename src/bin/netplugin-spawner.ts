// The agent's process starter (src/lib/spawner.ts runs it): the agent sends it the commands it would start
// itself (ip, tc, nft, …), one JSON line each on stdin, and reads each one's end on stdout, one JSON line.
// Why a process of its own: Node forks its whole process to start one (the agent's, 120 MB and busy, blocks
// 1–3 ms per start while the child gets to exec), where this small program, compiled by bun (`make build`),
// starts them by posix_spawn in a fraction of that, and never on the agent's main thread.
//
// Request:  {"id": 1, "argv": ["ip", "-n", "x", "-batch", "-"], "stdin": "…", "timeoutMs": 30000}
// Answer:   {"id": 1, "code": 0, "signal": null, "stdout": "…", "stderr": "…"}
// A command that cannot start answers code null with the reason in stderr; one past its time is killed
// (SIGKILL) and answers code null. When stdin ends (the agent is gone) it exits once the running commands end.
// An `ip -force -batch -` of the lines an endpoint's ADD and DEL write is not started at all: it is carried out
// here over rtnetlink (datapath/linux/netlink/ip-batch.ts), with the same answer `ip` gives; the `nft -j`
// listings the agent reads every few seconds (a set or map by name, a table's counters, the tables) over
// nf_tables netlink (nft-list.ts), with the JSON `nft` prints.

import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { parseIpBatch, runIpBatch } from "../datapath/linux/netlink/ip-batch.js";
import { NotStarted } from "../datapath/linux/netlink/kernel.js";
import { parseNftList, runNftList } from "../datapath/linux/netlink/nft-list.js";
import { kernel } from "./spawner-netlink.js";

/** Output kept of each stream, as the agent's own starter keeps (src/lib/process.ts). */
const MAX_OUTPUT = 256 * 1024 * 1024;

interface Request {
  id: number;
  argv: string[];
  stdin?: string;
  timeoutMs: number;
}

function answer(doc: object): void {
  process.stdout.write(`${JSON.stringify(doc)}\n`);
}

function start(r: Request): void {
  const batch = parseIpBatch(r.argv, r.stdin);
  if (batch !== undefined) {
    try {
      const { code, stderr } = runIpBatch(batch, kernel);
      answer({ id: r.id, code, signal: null, stdout: "", stderr });
      return;
    } catch (err) {
      // A namespace that cannot be opened: `ip` tries, and says why in its own words.
      if (!(err instanceof NotStarted)) {
        answer({ id: r.id, code: 1, signal: null, stdout: "", stderr: `netlink: ${(err as Error).message}\n` });
        return;
      }
    }
  }
  const listing = parseNftList(r.argv, r.stdin);
  if (listing !== undefined) {
    try {
      answer({ id: r.id, code: 0, signal: null, stdout: runNftList(listing, kernel), stderr: "" });
      return;
    } catch {
      // NotStarted (runNftList throws nothing else): nft answers.
    }
  }
  const [file, ...args] = r.argv;
  if (typeof file !== "string") {
    answer({ id: r.id, code: null, signal: null, stdout: "", stderr: "empty argv" });
    return;
  }
  let stdout = "";
  let stderr = "";
  let done = false;
  const finish = (code: number | null, signal: string | null, why = ""): void => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    answer({ id: r.id, code, signal, stdout, stderr: `${stderr}${why}` });
  };
  const child = spawn(file, args, { stdio: ["pipe", "pipe", "pipe"] });
  const timer = setTimeout(() => child.kill("SIGKILL"), r.timeoutMs);
  child.stdout.setEncoding("utf8").on("data", (c: string) => {
    if (stdout.length < MAX_OUTPUT) stdout += c;
  });
  child.stderr.setEncoding("utf8").on("data", (c: string) => {
    if (stderr.length < MAX_OUTPUT) stderr += c;
  });
  child.on("error", (err) => finish(null, null, err.message));
  child.on("close", (code, signal) => finish(code, signal));
  // A tool that exits before reading all of stdin makes the write fail with EPIPE; its exit status tells the story.
  child.stdin.on("error", () => undefined);
  child.stdin.end(r.stdin ?? "");
}

createInterface({ input: process.stdin, crlfDelay: Infinity }).on("line", (line) => {
  let r: Request;
  try {
    r = JSON.parse(line) as Request;
  } catch {
    return; // not from the agent: nothing to answer to
  }
  start(r);
});
