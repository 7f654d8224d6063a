// The agent's local HTTP API on a unix socket: the CNI executable's calls and
// a small inspect surface. Only root can reach it (the socket is 0600).

import { createAdaptorServer } from "@hono/node-server";
import { Hono } from "hono";
import { chmodSync, mkdirSync, rmSync } from "node:fs";
import { dirname } from "node:path";
import type { Server } from "node:http";
import { CNI_COMMANDS } from "../cni/wire.js";
import { serveMetrics } from "../lib/metrics.js";
import type { AttachmentStore } from "./attachments.js";
import type { CniHandler } from "./cni-handler.js";
import type { CounterCollector } from "./counters.js";
import type { AgentMetrics } from "./metrics.js";
import type { StateMirror } from "./pipeline/mirror.js";
import type { Reconciler } from "./pipeline/reconciler.js";

export function listenOnSocket(app: Hono, socketPath: string): Promise<Server> {
  mkdirSync(dirname(socketPath), { recursive: true });
  rmSync(socketPath, { force: true }); // a socket left by a killed agent
  const server = createAdaptorServer({ fetch: app.fetch }) as Server;
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(socketPath, () => {
      chmodSync(socketPath, 0o600);
      server.off("error", reject);
      resolve(server);
    });
  });
}

/** Serves `app` on a TCP address (the metrics port); rejects when it cannot listen there. */
export function listenOnPort(app: Hono, at: { host: string; port: number }): Promise<Server> {
  const server = createAdaptorServer({ fetch: app.fetch }) as Server;
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(at.port, at.host, () => {
      server.off("error", reject);
      resolve(server);
    });
  });
}

/** What the local API serves. */
export interface LocalApiParts {
  host: string;
  prefix: string;
  cni: CniHandler;
  metrics: AgentMetrics;
  counters: CounterCollector;
  mirror: StateMirror;
  attachments: AttachmentStore;
  reconciler: Reconciler;
}

/** The routes of the local socket: CNI calls, metrics, counters, health, this host's slice and what it applied. */
export function localApi(p: LocalApiParts): Hono {
  const app = new Hono();
  app.post("/cni/v1/:command", async (c) => {
    const done = p.metrics.cniRequests.startTimer();
    const answer = await p.cni.handle(await c.req.json().catch(() => undefined));
    const command = c.req.param("command").toUpperCase();
    done({ command: (CNI_COMMANDS as readonly string[]).includes(command) ? command : "OTHER", result: "error" in answer ? "error" : "ok" });
    return c.json(answer);
  });
  app.get("/metrics", (c) => serveMetrics(c, p.metrics.registry));
  app.get("/counters", async (c) => c.json(await p.counters.collect()));
  app.get("/health", (c) => c.json({ host: p.host, prefix: p.prefix, synced: p.mirror.synced, revision: p.mirror.currentRevision }));
  // What this host holds of netmaster's state: its slice (contract/slices.ts); with ?prefix= the records too.
  app.get("/state", (c) => {
    const prefix = c.req.query("prefix");
    const records = prefix === undefined ? undefined : Object.fromEntries(p.mirror.list(prefix));
    return c.json({ ...p.mirror.completeRevision, keys: p.mirror.keys(), malformed: Object.fromEntries(p.mirror.malformedRecords()), ...(records ? { records } : {}) });
  });
  app.get("/inspect", (c) =>
    c.json({ host: p.host, prefix: p.prefix, synced: p.mirror.synced, revision: p.mirror.currentRevision, attachments: p.attachments.all(), desired: p.reconciler.lastCompiled?.desired }),
  );
  return app;
}
