import { createServer } from "node:net";

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** What a start on a port throws when another socket took the port after freePort() saw it free. */
export class PortTaken extends Error {
  override name = "PortTaken";
}

const ATTEMPTS = 3;

/** start(port) on a free port, again on another one when that port was taken meanwhile (PortTaken), 3 tries. */
export async function onFreePort<T>(start: (port: number) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start(await freePort());
    } catch (err) {
      if (attempt === ATTEMPTS || !(err instanceof PortTaken)) throw err;
    }
  }
}
