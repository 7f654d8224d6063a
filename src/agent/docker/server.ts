// The plugin socket dockerd discovers in /run/docker/plugins: HTTP/1.1 on a
// unix socket, POST /<Interface>.<Method>, JSON both ways. Every answer is
// 200 with the call's JSON; a failure is the error field of the interface that
// was called (wire.ts), which dockerd prints as "remote: <message>". Unknown
// methods get 404, which dockerd takes for "not implemented".
//
// A socket another live process serves is left alone (several agents share
// one machine in tests): this agent then runs without a Docker driver.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { connect } from "node:net";
import { chmodSync, existsSync, mkdirSync, rmSync } from "node:fs";
import { dirname } from "node:path";
import type { Logger } from "pino";
import { errorMessage } from "../../lib/errors.js";
import { errorBody } from "./wire.js";

export type Handler = (body: unknown) => Promise<unknown> | unknown;

const CONTENT_TYPE = "application/vnd.docker.plugins.v1.2+json";
const MAX_BODY = 1024 * 1024;

function interfaceOf(method: string): "NetworkDriver" | "IpamDriver" | "Plugin" {
  if (method.startsWith("IpamDriver.")) return "IpamDriver";
  if (method.startsWith("NetworkDriver.")) return "NetworkDriver";
  return "Plugin";
}

/** True when some process accepts connections on the socket. */
function socketAlive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once("connect", () => (s.destroy(), resolve(true)));
    s.once("error", () => resolve(false));
  });
}

/** Removes a plugin socket nobody serves any more (a killed agent's). Idempotent. */
export async function removeStaleSocket(path: string): Promise<void> {
  if (existsSync(path) && !(await socketAlive(path))) rmSync(path, { force: true });
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    req.setEncoding("utf8");
    req.on("data", (d: string) => {
      text += d;
      if (text.length > MAX_BODY) req.destroy(new Error("request body too large"));
    });
    req.on("end", () => resolve(text));
    req.on("error", reject);
  });
}

export async function servePlugin(socketPath: string, handlers: Map<string, Handler>, log: Logger): Promise<Server> {
  mkdirSync(dirname(socketPath), { recursive: true, mode: 0o700 });
  if (existsSync(socketPath)) {
    if (await socketAlive(socketPath)) throw new Error(`another process serves ${socketPath}`);
    rmSync(socketPath, { force: true }); // left by a killed agent
  }
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      const method = (req.url ?? "/").replace(/^\/+/, "").split("?")[0] ?? "";
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { "content-type": CONTENT_TYPE });
        res.end(JSON.stringify(body));
      };
      const handler = handlers.get(method);
      if (req.method !== "POST" || handler === undefined) {
        send(404, errorBody(interfaceOf(method), `netplugin does not implement ${method}`));
        return;
      }
      const started = Date.now();
      try {
        const text = await readBody(req);
        const body: unknown = text.trim() === "" ? {} : JSON.parse(text);
        const answer = await handler(body);
        log.debug({ op: method, durationMs: Date.now() - started }, "docker call");
        send(200, answer ?? {});
      } catch (err) {
        const message = errorMessage(err);
        log.warn({ op: method, err: message, durationMs: Date.now() - started }, "docker call failed");
        send(200, errorBody(interfaceOf(method), message));
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(socketPath, () => {
      server.off("error", reject);
      resolve();
    });
  });
  chmodSync(socketPath, 0o600);
  return server;
}
