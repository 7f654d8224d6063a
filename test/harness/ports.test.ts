import assert from "node:assert/strict";
import { createServer, type Server } from "node:net";
import { describe, it } from "node:test";
import { startNetmaster, sqliteUrl, tempDir } from "./netmaster.js";
import { onFreePort, PortTaken } from "./ports.js";

describe("onFreePort", () => {
  it("starts again on another free port while the port was taken, and returns what the start did", async () => {
    const ports: number[] = [];
    const started = await onFreePort(async (port) => {
      ports.push(port);
      if (ports.length < 3) throw new PortTaken(`${port} taken`);
      return `on ${port}`;
    });
    assert.equal(ports.length, 3);
    assert.ok(ports.every((p) => p > 0));
    assert.equal(started, `on ${ports[2]}`);
  });

  it("gives up after 3 taken ports with the last PortTaken, and at once on any other error", async () => {
    let calls = 0;
    await assert.rejects(onFreePort(async (port) => {
      calls++;
      throw new PortTaken(`${port} taken`);
    }), PortTaken);
    assert.equal(calls, 3);
    calls = 0;
    await assert.rejects(onFreePort(async () => {
      calls++;
      throw new Error("bad flag");
    }), /^Error: bad flag$/);
    assert.equal(calls, 1);
  });
});

describe("startNetmaster", () => {
  it("says PortTaken when its port is in use (what onFreePort retries on), not that it never came up", async () => {
    const holder: Server = createServer();
    await new Promise<void>((resolve) => holder.listen(0, "127.0.0.1", resolve));
    const port = (holder.address() as { port: number }).port;
    const dir = tempDir();
    try {
      await assert.rejects(startNetmaster({ store: sqliteUrl(dir.path), port }), (err: Error) => {
        assert.ok(err instanceof PortTaken, err.message);
        assert.equal(err.message, `netmaster cannot listen on 127.0.0.1:${port}: in use`);
        return true;
      });
    } finally {
      holder.close();
      dir.remove();
    }
  });
});
