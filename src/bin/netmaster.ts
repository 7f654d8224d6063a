// netmaster: the central API and allocator. Parses flags, opens the store,
// starts the HTTPS server (master/tls.ts), and stops cleanly on SIGTERM/SIGINT.

import { createAdaptorServer, serve } from "@hono/node-server";
import { chmodSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import { hostname } from "node:os";
import { dirname, isAbsolute, join } from "node:path";
import type { Server } from "node:http";
import { Command, CommanderError, Option } from "commander";
import { createLogger, parseLogLevel } from "../lib/log.js";
import { errorMessage } from "../lib/errors.js";
import { parseHostPort } from "../lib/host-port.js";
import { NetmasterFetch, readCaFile } from "../lib/netmaster-fetch.js";
import { createApp, ERROR_STATUS_MODES, type ErrorStatusMode } from "../master/http.js";
import { LOCAL_ROOT } from "../master/auth/principal.js";
import type { AuthOptions } from "../master/auth/service.js";
import { Netmaster } from "../master/master.js";
import { planServing, startServing, type ServingPlan, type TlsFlags } from "../master/tls.js";
import { openStore } from "../store/index.js";

/** Contiv's daemons exit 22 on bad flags; so do we. */
const EXIT_BAD_FLAGS = 22;
const DEFAULT_STATE_DIR = "/var/lib/netplugin";
/** How often a generated serving certificate is checked for its end (it is re-issued 30 days before). */
const RENEW_CHECK_MS = 24 * 3_600_000;

/** The TLS flags are master/tls.ts's; the hosts it also needs come from --listen-url and --control-url. */
interface Flags extends Omit<TlsFlags, "listenHost" | "controlHost" | "hostname"> {
  listenUrl: string;
  listenSocket?: string;
  controlUrl?: string;
  store?: string;
  etcd?: string;
  consul?: string;
  fwdmode: "bridge" | "routing";
  infra: "default" | "aci" | "aci-opflex";
  mode?: string;
  netmode?: string;
  logLevel: string;
  useJsonLog: boolean;
  leaderTtl: number;
  errorStatus: ErrorStatusMode;
  tokenTtl: number;
  initialAdminPasswordFile?: string;
  ldapCaFile?: string;
}

function storeUrl(flags: Flags): string {
  if (flags.consul) throw new Error("consul is not supported: use --store etcd://host:port or the embedded store");
  if (flags.store && flags.etcd) throw new Error("Give either --store or --etcd, not both");
  if (flags.etcd) return flags.etcd;
  return flags.store ?? `sqlite://${join(flags.stateDir, "netmaster.db")}`;
}

function parseFlags(argv: string[]): Flags {
  const program = new Command("netmaster")
    .description("netplugin's central API, allocator and state owner")
    .exitOverride()
    .addOption(new Option("--listen-url <host:port>", "address to serve the REST API on").default("0.0.0.0:9999"))
    .addOption(new Option("--external-address <host:port>").hideHelp())
    .addOption(new Option("--listen-socket <path>", "also serve the REST API on this unix socket (for local tools)"))
    .addOption(new Option("--control-url <host:port>", "address other replicas and agents reach this one on"))
    .addOption(new Option("--internal-address <host:port>").hideHelp())
    .addOption(new Option("--store <url>", "state store: sqlite:///path/file.db or etcd://host:port[,host:port] (default sqlite://<state-dir>/netmaster.db)"))
    .addOption(new Option("--etcd <urls>", "etcd endpoints, as Contiv's --etcd (same as --store etcd://...)"))
    .addOption(new Option("--etcd-endpoints <urls>").hideHelp())
    .addOption(new Option("--consul <urls>").hideHelp())
    .addOption(new Option("--consul-endpoints <urls>").hideHelp())
    .addOption(new Option("--fwdmode <mode>", "forwarding mode for a fresh global config").choices(["bridge", "routing"]).default("bridge"))
    .addOption(new Option("--forward-mode <mode>").choices(["bridge", "routing"]).hideHelp())
    .addOption(new Option("--infra <type>", "fabric type for a fresh global config").choices(["default", "aci", "aci-opflex"]).default("default"))
    .addOption(new Option("--infra-type <type>").choices(["default", "aci", "aci-opflex"]).hideHelp())
    .addOption(new Option("--mode <mode>", "cluster mode (accepted for Contiv compatibility)").choices(["docker", "kubernetes", "swarm-mode", "test"]))
    .addOption(new Option("--plugin-mode <mode>").hideHelp())
    .addOption(new Option("--cluster-mode <mode>").hideHelp())
    .addOption(new Option("--netmode <mode>", "accepted for Contiv compatibility").choices(["vlan", "vxlan"]))
    .addOption(new Option("--network-mode <mode>").hideHelp())
    .addOption(new Option("--name <name>", "accepted for Contiv compatibility").hideHelp())
    .addOption(new Option("--plugin-name <name>").hideHelp())
    .addOption(new Option("--log-level <level>", "trace, debug, info, warn, error").default("info"))
    .addOption(new Option("--use-json-log", "log JSON lines").default(false))
    .addOption(new Option("--json-log").hideHelp())
    .addOption(
      new Option("--error-status <mode>", "http: each error gets its own status; contiv: every error is a 500 with the message, which Contiv's netctl needs to show it")
        .choices(ERROR_STATUS_MODES)
        .default("http"),
    )
    .addOption(new Option("--leader-ttl <seconds>", "leader lease TTL: a dead leader is replaced within about this long").argParser(Number).default(5))
    .addOption(new Option("--state-dir <path>", "where the generated CA and certificate and the default store live (made 0700)").default(DEFAULT_STATE_DIR))
    .addOption(new Option("--tls-cert <file>", "serve this certificate (PEM, the chain after it) instead of generating one; with --tls-key"))
    .addOption(new Option("--tls-key <file>", "the key of --tls-cert (PEM)"))
    .addOption(new Option("--tls-names <names>", "more DNS names or IPs for the generated certificate, comma separated"))
    .addOption(new Option("--ca-file <file>", "the CA other replicas' certificates chain to (default: the generated <state-dir>/ca.crt, or with --tls-cert the system's CAs and --tls-cert's certificates)"))
    .addOption(new Option("--plain-http", "serve plain HTTP instead of HTTPS: only on a loopback --listen-url").default(false))
    .addOption(new Option("--token-ttl <seconds>", "how long a login's token is valid").argParser(Number).default(3600))
    .addOption(new Option("--initial-admin-password-file <file>", "the password of the first admin, made when the store has no users (default: a random one, written to <state-dir>/admin-password)"))
    .addOption(new Option("--ldap-ca-file <file>", "the CA the LDAP server's certificate chains to, for StartTLS (default: the system's CAs)"))
    .allowExcessArguments(false);
  program.parse(argv, { from: "user" });
  const o = program.opts();
  return {
    listenUrl: o.externalAddress ?? o.listenUrl,
    listenSocket: o.listenSocket,
    controlUrl: o.internalAddress ?? o.controlUrl,
    store: o.store,
    etcd: o.etcdEndpoints ?? o.etcd,
    consul: o.consulEndpoints ?? o.consul,
    fwdmode: o.forwardMode ?? o.fwdmode,
    infra: o.infraType ?? o.infra,
    mode: o.pluginMode ?? o.clusterMode ?? o.mode,
    netmode: o.networkMode ?? o.netmode,
    logLevel: o.logLevel,
    useJsonLog: Boolean(o.useJsonLog || o.jsonLog),
    leaderTtl: o.leaderTtl,
    errorStatus: o.errorStatus,
    stateDir: o.stateDir,
    tlsCert: o.tlsCert,
    tlsKey: o.tlsKey,
    caFile: o.caFile,
    tlsNames: o.tlsNames === undefined ? [] : String(o.tlsNames).split(",").map((n) => n.trim()).filter(Boolean),
    plainHttp: o.plainHttp,
    tokenTtl: o.tokenTtl,
    initialAdminPasswordFile: o.initialAdminPasswordFile,
    ldapCaFile: o.ldapCaFile,
  };
}

/** Reads the files the auth flags name; throws naming the flag. */
function authOptions(flags: Flags): AuthOptions {
  const options: AuthOptions = { tokenTtlSeconds: flags.tokenTtl, stateDir: flags.stateDir };
  if (flags.initialAdminPasswordFile !== undefined) {
    const password = readFlagFile(flags.initialAdminPasswordFile, "--initial-admin-password-file").replace(/\r?\n$/, "");
    if (password.length < 8) throw new Error(`Invalid --initial-admin-password-file ${flags.initialAdminPasswordFile}: the password must have at least 8 characters`);
    options.initialAdminPassword = password;
  }
  if (flags.ldapCaFile !== undefined) options.ldapCa = readCaFile(flags.ldapCaFile, "--ldap-ca-file");
  return options;
}

function readFlagFile(file: string, flag: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    throw new Error(`Cannot read ${flag} ${file}: ${errorMessage(err)}`);
  }
}

async function main(): Promise<void> {
  let flags: Flags;
  let listen: { host: string; port: number };
  let advertise: { host: string; port: number };
  let level;
  let plan: ServingPlan;
  let auth: AuthOptions;
  try {
    flags = parseFlags(process.argv.slice(2));
    listen = parseHostPort(flags.listenUrl, "--listen-url");
    const control = flags.controlUrl ? parseHostPort(flags.controlUrl, "--control-url") : undefined;
    advertise = control ?? listen;
    if (advertise.host === "0.0.0.0" || advertise.host === "::") advertise = { ...advertise, host: "127.0.0.1" };
    level = parseLogLevel(flags.logLevel);
    if (!Number.isFinite(flags.leaderTtl) || flags.leaderTtl < 1) throw new Error("--leader-ttl must be a positive number of seconds");
    if (!Number.isInteger(flags.tokenTtl) || flags.tokenTtl < 60 || flags.tokenTtl > 30 * 86400) throw new Error("--token-ttl must be a whole number of seconds from 60 to 2592000 (30 days)");
    auth = authOptions(flags);
    if (!isAbsolute(flags.stateDir)) throw new Error(`Invalid --state-dir "${flags.stateDir}": expected an absolute path`);
    plan = planServing({ ...flags, listenHost: listen.host, ...(control ? { controlHost: control.host } : {}), hostname: hostname() });
  } catch (err) {
    if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : EXIT_BAD_FLAGS);
    process.stderr.write(`netmaster: ${errorMessage(err)}\n`);
    process.exit(EXIT_BAD_FLAGS);
  }

  const log = createLogger({ name: "netmaster", level, json: flags.useJsonLog });
  const serving = await startServing(plan);
  const store = await openStore(storeUrl(flags));
  const host = advertise.host.includes(":") ? `[${advertise.host}]` : advertise.host;
  const master = await Netmaster.start({
    store,
    settings: { fwdMode: flags.fwdmode, infra: flags.infra },
    advertiseUrl: `${serving.scheme}://${host}:${advertise.port}`,
    log,
    leaderTtlSeconds: flags.leaderTtl,
    auth,
  });
  const peers = new NetmasterFetch(serving.peerCa === undefined ? {} : { ca: serving.peerCa });
  const app = createApp(master, log, { errorStatus: flags.errorStatus, peers, isServerName: serving.isServerName });
  const listening = { fetch: app.fetch, hostname: listen.host, port: listen.port };
  const server = serve(
    serving.credentials ? { ...listening, createServer: createHttpsServer, serverOptions: serving.credentials } : listening,
    (info) => log.info({ address: info.address, port: info.port, scheme: serving.scheme, ...serving.describe, store: storeUrl(flags).replace(/\/\/.*@/, "//") }, "netmaster listening"),
  );
  server.on("error", (err) => {
    log.fatal({ err: err.message }, "cannot serve");
    process.exit(1);
  });
  const renew = serving.renew;
  if (renew) {
    setInterval(() => {
      renew()
        .then((fresh) => {
          if (!fresh) return;
          (server as HttpsServer).setSecureContext(fresh);
          log.info({}, "serving certificate re-issued");
        })
        .catch((err: Error) => log.error({ err: err.message }, "cannot re-issue the serving certificate"));
    }, RENEW_CHECK_MS).unref();
  }

  // Plain HTTP on a socket only root can open, for local tools, as the agent's socket and docker.sock: whoever
  // opens it is root on this machine, who can read the admin's password in --state-dir anyway, so it is
  // taken for the admin without a token (with one, for the token's holder); what a follower forwards to its
  // leader carries a short-lived token for it. The umask makes the socket 0600 from the start (no window before a chmod).
  let socketServer: Server | undefined;
  if (flags.listenSocket) {
    const path = flags.listenSocket;
    mkdirSync(dirname(path), { recursive: true });
    rmSync(path, { force: true });
    const local = createApp(master, log, { errorStatus: flags.errorStatus, peers, authenticate: async (token) => (token ? master.auth.authenticate(token) : LOCAL_ROOT),
      forwardToken: () => master.auth.localToken(),
    });
    socketServer = createAdaptorServer({ fetch: local.fetch }) as Server;
    const umask = process.umask(0o177);
    socketServer.listen(path, () => log.info({ socket: path }, "netmaster listening on socket"));
    process.umask(umask);
  }

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "stopping");
    server.close();
    socketServer?.close();
    await master.stop();
    await store.close();
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
}

main().catch((err: unknown) => {
  process.stderr.write(`netmaster: ${errorMessage(err)}\n`);
  process.exit(1);
});
