// A fake of the agent's CNI endpoint for this module's tests only: an HTTP server on a unix socket
// in a fresh temp dir that records every request and answers with a scripted handler.

import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";

export interface RecordedRequest {
  method: string;
  url: string;
  contentType: string | undefined;
  /** The raw body text. */
  text: string;
  /** The body parsed as JSON (undefined if it is not JSON). */
  body: unknown;
}

export interface FakeAnswer {
  status?: number;
  /** A JSON value to send, or a raw string (sent as-is). */
  body?: unknown;
  raw?: string;
  /** Never answer (to test time-outs). */
  hang?: boolean;
  /** Drop the connection without answering. */
  reset?: boolean;
}

export type FakeHandler = (req: RecordedRequest) => FakeAnswer;

export interface FakeAgent {
  socket: string;
  dir: string;
  requests: RecordedRequest[];
  handler: FakeHandler;
  close(): Promise<void>;
}

/** Start the fake; the default handler answers `{}` to everything. */
export async function startFakeAgent(handler: FakeHandler = () => ({ body: {} })): Promise<FakeAgent> {
  const dir = mkdtempSync(path.join(tmpdir(), "np-cni-"));
  const socket = path.join(dir, "agent.sock");
  const fake: FakeAgent = {
    socket,
    dir,
    requests: [],
    handler,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
      const recorded: RecordedRequest = {
        method: req.method ?? "",
        url: req.url ?? "",
        contentType: req.headers["content-type"],
        text,
        body,
      };
      fake.requests.push(recorded);
      const answer = fake.handler(recorded);
      if (answer.hang) return;
      if (answer.reset) {
        req.socket.destroy();
        return;
      }
      const out = answer.raw ?? JSON.stringify(answer.body ?? {});
      res.writeHead(answer.status ?? 200, { "Content-Type": "application/json" });
      res.end(out);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(socket, () => resolve());
  });
  return fake;
}
