// The agent's local HTTP API on a unix socket: the CNI executable's calls and
// a small inspect surface. Only root can reach it (the socket is 0600).

import { createAdaptorServer } from "@hono/node-server";
import { Hono } from "hono";
import { chmodSync, mkdirSync, rmSync } from "node:fs";
import { dirname } from "node:path";
import type { Server } from "node:http";

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
