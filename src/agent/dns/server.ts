// DNS server process for one tenant namespace. Started by DnsSupervisor as
//   ip netns exec <namespace> node server.js --namespace <namespace> [--port 53] [--log-level info] [--log-json]
// with a Node IPC channel (fd 3 survives `ip netns exec`, which execs). Configuration arrives
// only over IPC (see ipc.ts); the process exits when the channel closes, so a dead agent leaves
// no server behind. Names it does not own are relayed to the supervisor over the same channel
// (the tenant namespace has no route to the host's resolvers): see relay.ts.

import { parseArgs } from "node:util";
import { errorMessage } from "../../lib/errors.js";
import { createLogger, parseLogLevel } from "../../lib/log.js";
import { ServerRequest, type ServerReport } from "./ipc.js";
import { Listeners } from "./listeners.js";
import { ForwardRelay } from "./relay.js";
import { Responder } from "./responder.js";

/** At most one "forwarding failed" warning per this long; the rest are counted. */
const FORWARD_WARN_INTERVAL_MS = 60_000;

function main(): void {
  const { values } = parseArgs({
    options: {
      namespace: { type: "string", default: "" },
      port: { type: "string", default: "53" },
      "log-level": { type: "string", default: "info" },
      "log-json": { type: "boolean", default: false },
    },
    strict: true,
  });
  const namespace = values.namespace;
  const log = createLogger({ name: "dns", level: parseLogLevel(values["log-level"]), json: values["log-json"] }).child({ namespace });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`Invalid --port "${values.port}": expected 1-65535`);
  if (!process.send) throw new Error("Cannot start the DNS server: it must be started with an IPC channel");

  const report = (message: ServerReport): boolean => {
    if (!process.connected || !process.send) return false;
    process.send(message);
    return true;
  };

  const relay = new ForwardRelay({
    send: (id, packet) => report({ type: "forward", id, packet: Buffer.from(packet).toString("base64") }),
  });

  let lastWarn = 0;
  let suppressed = 0;
  const responder = new Responder({
    forward: (packet) => relay.forward(packet),
    onForwardFailure: (qname) => {
      const now = Date.now();
      if (now - lastWarn < FORWARD_WARN_INTERVAL_MS) return void suppressed++;
      log.warn({ qname, suppressed }, "No upstream resolver answered: replied SERVFAIL");
      lastWarn = now;
      suppressed = 0;
    },
  });
  const listeners = new Listeners({
    handle: (packet, transport) => responder.handle(packet, transport),
    port,
    onChange: (addresses) => {
      log.info({ addresses }, "DNS serving");
      report({ type: "listening", addresses });
    },
    onBindError: (address, transport, error) => {
      log.warn({ address, transport, reason: errorMessage(error) }, "Cannot bind DNS socket: retrying every second");
    },
  });

  process.on("message", (raw: unknown) => {
    const parsed = ServerRequest.safeParse(raw);
    if (!parsed.success) {
      log.warn({ issues: parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`) }, "Ignoring malformed IPC message");
      return;
    }
    const message = parsed.data;
    switch (message.type) {
      case "records": {
        const names = responder.setRecords(message.records);
        log.debug({ names }, "DNS records replaced");
        break;
      }
      case "listen":
        listeners.setAddresses(message.addresses);
        break;
      case "upstream":
        responder.setForwarding(message.servers.length > 0);
        log.info({ upstream: message.servers }, "DNS upstream resolvers set (asked by the agent)");
        break;
      case "forwarded":
        relay.settle(message.id, message.packet === undefined ? undefined : Buffer.from(message.packet, "base64"));
        break;
      case "stats":
        report({ type: "stats", id: message.id, stats: { ...responder.stats } });
        break;
    }
  });

  const stop = (why: string): void => {
    log.info({ why }, "DNS server stopping");
    listeners.close();
    relay.close();
    process.exit(0);
  };
  process.on("disconnect", () => stop("IPC channel closed"));
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));

  log.info({ pid: process.pid, port }, "DNS server started");
  report({ type: "ready", pid: process.pid });
}

try {
  main();
} catch (err) {
  process.stderr.write(`dns server: ${errorMessage(err)}\n`);
  process.exit(2);
}
