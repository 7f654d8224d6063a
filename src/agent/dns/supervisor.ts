// Keeps one DNS server process per tenant namespace, for the agent.
//
// A Node process lives in one network namespace, so each tenant namespace gets its own server,
// started as `ip netns exec <ns> node server.js` with an IPC channel. The supervisor holds the
// wanted config per namespace and sends only what changed. When a server dies it is started
// again after a backoff (250 ms doubling to 30 s; back to 250 ms once a server stayed up 10 s),
// and the whole config is sent again once the new process says it is ready. Servers exit by
// themselves when the agent dies (their IPC channel closes), so nothing is left to sweep at start.
//
// Forwarding goes through the supervisor: a tenant namespace has no route to the host's
// resolvers, so a server sends each query it cannot answer here ("forward"), the supervisor asks
// the upstreams from its own namespace (forward.ts) and sends the reply back ("forwarded").

import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { pino, type Logger } from "pino";
import { ValidationError, type Issue } from "../../lib/errors.js";
import type { LogLevel } from "../../lib/log.js";
import { forwardQuery, parseUpstream, type Upstream } from "./forward.js";
import { ServerReport, ServerRequest, type DnsStats } from "./ipc.js";
import { TenantRecords } from "./records.js";

export interface DnsConfig {
  /** Gateway addresses in the namespace to serve on (UDP and TCP port 53). */
  addresses: string[];
  records: TenantRecords;
  /**
   * Resolvers for names we do not own ("192.0.2.1", "[2001:db8::1]:53"), tried in order; empty:
   * answer REFUSED. Asked by the supervisor from its own namespace, not from the tenant's.
   */
  upstream: string[];
}

export interface DnsBackoff {
  /** Default 250 ms. */
  initialMs?: number;
  /** Default 30 000 ms. */
  maxMs?: number;
  /** A server that stayed up this long starts the backoff again from initialMs. Default 10 000 ms. */
  resetAfterMs?: number;
}

export interface DnsSupervisorOptions {
  /** Built server.js. Default: the one beside this module. */
  serverPath?: string | URL;
  /** Default: this process's node. */
  nodePath?: string;
  /** Default "ip" (from PATH). */
  ipPath?: string;
  /** Default 53. */
  port?: number;
  /** Passed to the servers. Default "info". */
  logLevel?: LogLevel;
  /** Servers log JSON lines. Default false. */
  logJson?: boolean;
  /** The supervisor's own log. Default: silent. */
  log?: Logger;
  backoff?: DnsBackoff;
  /** How long stats() waits for a reply. Default 1000 ms. */
  statsTimeoutMs?: number;
  /** A server still running this long after SIGTERM gets SIGKILL. Default 2000 ms. */
  killAfterMs?: number;
}

export interface DnsServerStatus {
  namespace: string;
  /** PID of the running server (the node process: `ip netns exec` execs it). */
  pid?: number;
  /** The server said it is ready and has been sent the current config. */
  ready: boolean;
  /** Times the server was started again after dying. */
  restarts: number;
  /** Addresses the server reports bound on UDP and TCP. */
  listening: string[];
}

type SentKey = "records" | "upstream" | "listen";

/** Most queries one server may have relayed upstream at once; beyond, they fail at once. */
const MAX_FORWARDS_PER_SERVER = 512;

/** Forwarding state of one server process. */
interface ChildForwards {
  inFlight: number;
  /** Aborted when the process goes (exit or remove): its queries are not worth finishing. */
  abort: AbortController;
}

interface Managed {
  namespace: string;
  config: DnsConfig;
  /** config.upstream, parsed. */
  upstreams: Upstream[];
  child?: ChildProcess;
  forwards?: ChildForwards;
  ready: boolean;
  /** JSON of what the current child has been sent, per message type. */
  sent: Partial<Record<SentKey, string>>;
  startedAt: number;
  restarts: number;
  /** Quick deaths in a row, for the backoff. */
  failures: number;
  timer?: NodeJS.Timeout;
  listening: string[];
}

export class DnsSupervisor {
  readonly #servers = new Map<string, Managed>();
  readonly #stopping = new Set<Promise<void>>();
  readonly #pendingStats = new Map<number, (stats: DnsStats | undefined) => void>();
  readonly #serverPath: string;
  readonly #options: DnsSupervisorOptions;
  readonly #log: Logger;
  #nextStatsId = 1;

  constructor(options: DnsSupervisorOptions = {}) {
    this.#options = options;
    const path = options.serverPath ?? new URL("./server.js", import.meta.url);
    this.#serverPath = path instanceof URL ? fileURLToPath(path) : path;
    this.#log = options.log ?? pino({ level: "silent" });
  }

  /**
   * Makes a server run in `namespace` with this config: starts one if none runs, else sends
   * what changed. Idempotent. Throws ValidationError (and changes nothing) for bad addresses.
   */
  ensure(namespace: string, config: DnsConfig): void {
    validate(namespace, config);
    const wanted: DnsConfig = structuredClone(config);
    const upstreams = wanted.upstream.map(parseUpstream).filter((u): u is Upstream => u !== undefined);
    const managed = this.#servers.get(namespace);
    if (managed) {
      managed.config = wanted;
      managed.upstreams = upstreams;
      this.#sync(managed);
      return;
    }
    const fresh: Managed = { namespace, config: wanted, upstreams, ready: false, sent: {}, startedAt: 0, restarts: 0, failures: 0, listening: [] };
    this.#servers.set(namespace, fresh);
    this.#start(fresh);
  }

  /** Stops the namespace's server and forgets it. Does nothing for an unknown namespace. */
  remove(namespace: string): void {
    const managed = this.#servers.get(namespace);
    if (!managed) return;
    this.#servers.delete(namespace);
    if (managed.timer) clearTimeout(managed.timer);
    const child = managed.child;
    managed.child = undefined;
    managed.forwards?.abort.abort();
    managed.forwards = undefined;
    if (child) this.#stop(child);
    this.#log.info({ namespace }, "DNS server removed");
  }

  /** Stops every server and waits until each has exited. */
  async stopAll(): Promise<void> {
    for (const namespace of [...this.#servers.keys()]) this.remove(namespace);
    await Promise.all([...this.#stopping]);
  }

  /** The counters of the namespace's server, or undefined if it is not running or does not reply. */
  stats(namespace: string): Promise<DnsStats | undefined> {
    const managed = this.#servers.get(namespace);
    const child = managed?.child;
    if (!managed?.ready || !child) return Promise.resolve(undefined);
    const id = this.#nextStatsId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish(undefined), this.#options.statsTimeoutMs ?? 1000);
      const finish = (stats: DnsStats | undefined): void => {
        clearTimeout(timer);
        this.#pendingStats.delete(id);
        resolve(stats);
      };
      this.#pendingStats.set(id, finish);
      this.#send(child, { type: "stats", id });
    });
  }

  status(namespace: string): DnsServerStatus | undefined {
    const m = this.#servers.get(namespace);
    if (!m) return undefined;
    const status: DnsServerStatus = { namespace, ready: m.ready, restarts: m.restarts, listening: [...m.listening] };
    if (m.child?.pid !== undefined) status.pid = m.child.pid;
    return status;
  }

  namespaces(): string[] {
    return [...this.#servers.keys()].sort();
  }

  #start(m: Managed): void {
    m.timer = undefined;
    const o = this.#options;
    const args = ["netns", "exec", m.namespace, o.nodePath ?? process.execPath, this.#serverPath, "--namespace", m.namespace];
    args.push("--port", String(o.port ?? 53), "--log-level", o.logLevel ?? "info");
    if (o.logJson) args.push("--log-json");
    const child = spawn(o.ipPath ?? "ip", args, { stdio: ["ignore", "inherit", "inherit", "ipc"] });
    const forwards: ChildForwards = { inFlight: 0, abort: new AbortController() };
    m.child = child;
    m.forwards = forwards;
    m.ready = false;
    m.sent = {};
    m.listening = [];
    m.startedAt = Date.now();
    let gone = false;
    const onGone = (code: number | null, signal: string | null, error?: Error): void => {
      if (gone) return;
      gone = true;
      forwards.abort.abort();
      this.#exited(m, child, code, signal, error);
    };
    child.on("error", (error) => onGone(null, null, error));
    child.on("exit", (code, signal) => onGone(code, signal));
    child.on("message", (raw: unknown) => this.#received(m, child, forwards, raw));
  }

  #received(m: Managed, child: ChildProcess, forwards: ChildForwards, raw: unknown): void {
    const parsed = ServerReport.safeParse(raw);
    if (!parsed.success) {
      this.#log.warn({ namespace: m.namespace }, "Ignoring malformed message from DNS server");
      return;
    }
    const report = parsed.data;
    switch (report.type) {
      case "ready":
        if (m.child !== child) return;
        m.ready = true;
        this.#sync(m);
        break;
      case "listening":
        if (m.child === child) m.listening = report.addresses;
        break;
      case "stats":
        this.#pendingStats.get(report.id)?.(report.stats);
        break;
      case "forward":
        this.#forward(m, child, forwards, report.id, report.packet);
        break;
    }
  }

  /** Asks the upstreams for a server's query and answers "forwarded" (no packet when none replied). */
  #forward(m: Managed, child: ChildProcess, forwards: ChildForwards, id: number, packet: string): void {
    const answer = (reply: Uint8Array | undefined): void => {
      if (forwards.abort.signal.aborted) return;
      const message: ServerRequest = { type: "forwarded", id };
      if (reply) message.packet = Buffer.from(reply).toString("base64");
      this.#send(child, message);
    };
    const upstreams = m.upstreams;
    if (upstreams.length === 0) return answer(undefined);
    if (forwards.inFlight >= MAX_FORWARDS_PER_SERVER) {
      this.#log.debug({ namespace: m.namespace }, "Too many DNS queries relayed upstream: failing one");
      return answer(undefined);
    }
    forwards.inFlight++;
    void forwardQuery(Buffer.from(packet, "base64"), upstreams, { signal: forwards.abort.signal })
      .catch(() => undefined)
      .then((reply) => {
        forwards.inFlight--;
        answer(reply);
      });
  }

  /** Sends the parts of the config the current child has not seen; records first, listen last. */
  #sync(m: Managed): void {
    const child = m.child;
    if (!child || !m.ready) return;
    const messages: [SentKey, ServerRequest][] = [
      ["records", { type: "records", records: m.config.records }],
      ["upstream", { type: "upstream", servers: m.config.upstream }],
      ["listen", { type: "listen", addresses: m.config.addresses }],
    ];
    for (const [key, message] of messages) {
      const json = JSON.stringify(message);
      if (m.sent[key] === json) continue;
      m.sent[key] = json;
      this.#send(child, message);
    }
  }

  #send(child: ChildProcess, message: ServerRequest): void {
    if (!child.connected) return;
    child.send(message, (err) => {
      if (err) this.#log.debug({ reason: err.message }, "DNS server IPC send failed");
    });
  }

  #exited(m: Managed, child: ChildProcess, code: number | null, signal: string | null, error?: Error): void {
    if (m.child !== child) return; // removed, or already replaced
    m.child = undefined;
    m.forwards = undefined;
    m.ready = false;
    m.listening = [];
    if (this.#servers.get(m.namespace) !== m) return;
    const backoff = this.#options.backoff ?? {};
    if (Date.now() - m.startedAt >= (backoff.resetAfterMs ?? 10_000)) m.failures = 0;
    const delayMs = Math.min((backoff.initialMs ?? 250) * 2 ** m.failures, backoff.maxMs ?? 30_000);
    m.failures++;
    m.restarts++;
    this.#log.warn({ namespace: m.namespace, code, signal, reason: error?.message, delayMs }, "DNS server exited: restarting");
    m.timer = setTimeout(() => this.#start(m), delayMs);
  }

  #stop(child: ChildProcess): void {
    const exited = new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const killer = setTimeout(() => child.kill("SIGKILL"), this.#options.killAfterMs ?? 2000);
      child.once("exit", () => {
        clearTimeout(killer);
        resolve();
      });
      child.once("error", () => {
        clearTimeout(killer);
        resolve();
      });
      child.kill("SIGTERM");
    });
    this.#stopping.add(exited);
    void exited.then(() => this.#stopping.delete(exited));
  }
}

function validate(namespace: string, config: DnsConfig): void {
  const issues: Issue[] = [];
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(namespace) || namespace.length > 255) {
    issues.push({ path: "namespace", message: "must be a network namespace name" });
  }
  for (const key of ["records", "upstream", "listen"] as const) {
    const message =
      key === "records"
        ? { type: key, records: config.records }
        : key === "upstream"
          ? { type: key, servers: config.upstream }
          : { type: key, addresses: config.addresses };
    const parsed = ServerRequest.safeParse(message);
    if (!parsed.success) {
      const field = key === "listen" ? "addresses" : key;
      for (const i of parsed.error.issues) {
        issues.push({ path: [field, ...i.path.slice(1)].join("."), message: i.message });
      }
    }
  }
  if (issues.length > 0) {
    throw new ValidationError(`Cannot configure DNS for namespace "${namespace}": ${issues.map((i) => `${i.path} ${i.message}`).join("; ")}`, issues);
  }
}
