// A stand-in netmaster for the agent's credential, for tests only: a loopback HTTP server that trades the
// join token for numbered credentials, each join voiding the one before as netmaster's does, and answers
// any other request 200 with the current credential, else 401. It can also be down, in two ways: not
// listening (a stopped netmaster) or answering 502 (a proxy in front of one).

import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export const JOIN_TOKEN = "the-join-token";

export class CredentialNetmaster {
  /** Join requests, refused ones included. */
  joinRequests = 0;
  /** The valid credential: the last join's. */
  current: string | undefined;
  /** The X-Auth-Token of every request other than a join, in order. */
  readonly seen: (string | undefined)[] = [];
  /** Answer everything 502. */
  down = false;
  /** Refuse every credential, the current one too. */
  refuseAll = false;
  /** How long a join takes, so that calls can be refused while one is under way. */
  joinDelayMs = 0;
  private joins = 0;
  private readonly server = createServer((req, res) => void this.answer(req, res));

  /** On a port of its own; started with `listen` when the test wants it up. */
  static async reservePort(): Promise<number> {
    const probe = createServer();
    probe.listen(0, "127.0.0.1");
    await once(probe, "listening");
    const { port } = probe.address() as AddressInfo;
    probe.close();
    await once(probe, "close");
    return port;
  }

  async listen(port = 0): Promise<string> {
    this.server.listen(port, "127.0.0.1");
    await once(this.server, "listening");
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  close(): void {
    this.server.closeAllConnections();
    this.server.close();
  }

  private async answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let body = "";
    for await (const chunk of req) body += chunk;
    if (this.down) return void res.writeHead(502).end("bad gateway");
    if (req.method === "POST" && req.url === "/api/v1/agent/join") {
      this.joinRequests++;
      if ((JSON.parse(body) as { joinToken: string }).joinToken !== JOIN_TOKEN) return void res.writeHead(401).end("Invalid join token");
      await new Promise((resolve) => setTimeout(resolve, this.joinDelayMs));
      this.current = `cred-${++this.joins}`;
      return void res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ credential: this.current }));
    }
    const token = req.headers["x-auth-token"] as string | undefined;
    this.seen.push(token);
    if (this.refuseAll || token === undefined || token !== this.current) return void res.writeHead(401).end("credential refused");
    res.writeHead(200, { "content-type": "application/json" }).end("{}");
  }
}
