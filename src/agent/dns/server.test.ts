// The server process on its own (no namespace, no sockets): IPC protocol and lifetime.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { ServerReport } from "./ipc.js";

const SERVER = fileURLToPath(new URL("./server.js", import.meta.url));

function start(): ChildProcess {
  return spawn(process.execPath, [SERVER, "--namespace", "test", "--log-level", "warn"], { stdio: ["ignore", "ignore", "pipe", "ipc"] });
}

function nextReport(child: ChildProcess, type: ServerReport["type"]): Promise<ServerReport> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${type}" report`)), 5000);
    const onMessage = (raw: unknown): void => {
      const report = ServerReport.parse(raw);
      if (report.type !== type) return;
      clearTimeout(timer);
      child.off("message", onMessage);
      resolve(report);
    };
    child.on("message", onMessage);
  });
}

describe("DNS server process", () => {
  it("says ready, ignores malformed messages, answers stats", async () => {
    const child = start();
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    try {
      const ready = await nextReport(child, "ready");
      assert.equal(ready.type === "ready" && ready.pid, child.pid);
      child.send({ type: "listen", addresses: ["not-an-ip"] });
      child.send({ type: "bogus" });
      child.send({ type: "stats", id: 41 });
      const stats = await nextReport(child, "stats");
      assert.deepEqual(stats, { type: "stats", id: 41, stats: { found: 0, notFound: 0, forwarded: 0, forwardFailed: 0, invalid: 0 } });
      assert.match(stderr, /Ignoring malformed IPC message/);
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("exits when its IPC channel closes (the agent died)", async () => {
    const child = start();
    await nextReport(child, "ready");
    const exited = once(child, "exit");
    const started = Date.now();
    child.disconnect();
    const [code] = (await exited) as [number | null];
    assert.equal(code, 0);
    assert.ok(Date.now() - started < 2000);
  });

  it("refuses to run without an IPC channel", () => {
    const r = spawnSync(process.execPath, [SERVER], { encoding: "utf8", timeout: 10_000 });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /IPC channel/);
  });
});
