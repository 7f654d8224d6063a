// Test helper: a real OpenLDAP slapd (Debian's /usr/sbin/slapd) with a fresh directory, alone in a
// network namespace it creates, so no test traffic touches the host's own network stack.
//
//   const slapd = await startSlapd();
//   after(() => slapd.stop());          // or try { ... } finally { await slapd.stop() }
//   const r = await slapd.login(slapd.config, "alice", slapd.users.alice.password);
//
// Each run gets a prefix: namespace "<prefix>-ldap", suffix "dc=<prefix>,dc=test", and a temporary
// directory with slapd.conf, the database (filled offline by slapadd), a CA and slapd's certificate for
// StartTLS. slapd listens on ldap://127.0.0.1:389 inside the namespace; `ip netns exec` execs slapd in
// place, so the PID we hold is slapd's own and stop() signals exactly it. Callers must stop what they
// start; as a safety net, instances still up when the test process exits, or is ended by SIGINT/SIGTERM,
// are killed and their namespace and directory removed. The system's own slapd is never used or touched.
//
// The test process stays in the root namespace, so login() runs ldapLogin() in a short-lived node
// process inside the namespace (netns-login.ts) and returns its outcome as data.
//
// A netmaster that must reach this slapd (tests of the auth_proxy API) is best started inside the same
// namespace, serving its API on a unix socket in a temporary directory, which the test reaches from the
// root namespace through the file system:
//
//   spawn("ip", ["netns", "exec", slapd.netns, process.execPath, NETMASTER_JS,
//     "--listen-url", "127.0.0.1:9999", "--listen-socket", socketPath, ...])
//   fetch("http://netmaster/...", { dispatcher: new undici.Agent({ connect: { socketPath } }) })
//
// with an ldap_configuration of slapd.config (server 127.0.0.1, port 389). Its PID is then netmaster's
// own, and it must be stopped before slapd.stop() removes the namespace. This needs no veth pair, address
// or route in the root namespace; its store must be one reachable from inside (the embedded one, or an
// etcd started in the namespace).

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";

import { errorMessage } from "../../../lib/errors.js";
import { must, run } from "../../../lib/process.js";
import { StopWaiting, waitFor } from "../../../lib/wait.js";
import type { LdapLoginOptions, LdapUser } from "../ldap.js";
import type { LdapConfig } from "../ldap-config.js";
import { AD_SCHEMA, planDirectory, toLdif, type AmbiguousName, type Directory, type DirectoryUsers } from "./slapd-directory.js";

const SLAPD = "/usr/sbin/slapd";
const NETNS_LOGIN_JS = fileURLToPath(new URL("./netns-login.js", import.meta.url));

export interface StartSlapdOptions {
  /** Names the namespace ("<prefix>-ldap") and the suffix; default "npl" and 6 random hex digits. */
  prefix?: string;
  /** How long to wait for slapd to answer a bind. Default 10 s. */
  startTimeoutMs?: number;
}

/** What ldapLogin() did inside the namespace: its result, or the error it threw, and how long it took. */
export type NetnsLogin =
  | { ok: true; user: LdapUser | undefined; elapsedMs: number }
  | { ok: false; error: { name: string; message: string }; elapsedMs: number };

export interface Slapd {
  /** The network namespace slapd listens in, on 127.0.0.1:389. */
  netns: string;
  /** The directory's root, also base_dn in `config`. */
  suffix: string;
  /** Plain LDAP (no StartTLS) as the service account, which may read everything but passwords. */
  config: LdapConfig;
  /** PEM of the CA that signed slapd's certificate (SANs IP:127.0.0.1 and DNS:localhost). */
  ca: string;
  /** PEM of a CA that did not. */
  otherCa: string;
  users: DirectoryUsers;
  ambiguous: AmbiguousName;
  /** Runs ldapLogin() inside the namespace. */
  login(config: LdapConfig, username: string, password: string, options?: LdapLoginOptions): Promise<NetnsLogin>;
  /** SIGSTOPs slapd: the kernel still accepts connections, nothing answers them. */
  pause(): void;
  /** SIGCONTs slapd after pause(). */
  resume(): void;
  /** Kills slapd, waits for it to exit, deletes the namespace and the directory. Idempotent. */
  stop(): Promise<void>;
}

interface Instance {
  netns: string;
  dir: string;
  netnsCreated: boolean;
  child?: ChildProcess;
  exited?: Promise<void>;
  stderr: string;
}

/** Instances started in this process and not yet stopped: the exit handler cleans these up. */
const owned = new Set<Instance>();

export async function startSlapd(options: StartSlapdOptions = {}): Promise<Slapd> {
  const prefix = options.prefix ?? `npl${randomBytes(3).toString("hex")}`;
  const instance: Instance = {
    netns: `${prefix}-ldap`,
    dir: await mkdtemp(join(tmpdir(), `netplugin-slapd-${prefix}-`)),
    netnsCreated: false,
    stderr: "",
  };
  owned.add(instance);
  try {
    const directory = planDirectory(prefix);
    const certificates = await makeCertificates(instance.dir);
    await writeFile(join(instance.dir, "ad.schema"), AD_SCHEMA);
    await writeFile(join(instance.dir, "slapd.conf"), slapdConf(instance.dir, directory.suffix));
    await writeFile(join(instance.dir, "data.ldif"), toLdif(directory.entries));
    await mkdir(join(instance.dir, "db"));
    await must(["slapadd", "-q", "-f", join(instance.dir, "slapd.conf"), "-l", join(instance.dir, "data.ldif")]);
    await must(["ip", "netns", "add", instance.netns]);
    instance.netnsCreated = true;
    await must(["ip", "-n", instance.netns, "link", "set", "lo", "up"]);
    launch(instance);
    await waitAnswering(instance, directory.config, options.startTimeoutMs ?? 10_000);
    return handle(instance, directory, certificates);
  } catch (err) {
    await stopInstance(instance);
    throw new Error(`Cannot start slapd in namespace "${instance.netns}": ${errorMessage(err)}`, { cause: err });
  }
}

function slapdConf(dir: string, suffix: string): string {
  const path = (name: string) => JSON.stringify(join(dir, name));
  return `# Written by src/master/auth/testing/slapd.ts for one test run.
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/nis.schema
include /etc/ldap/schema/inetorgperson.schema
include ${path("ad.schema")}
pidfile ${path("slapd.pid")}
argsfile ${path("slapd.args")}
modulepath /usr/lib/ldap
moduleload back_mdb
# Take a DN with an empty password as an anonymous bind, as some servers do, so that only ldapLogin's own
# check stands between an empty password and a login.
allow bind_anon_dn
TLSCACertificateFile ${path("ca.pem")}
TLSCertificateFile ${path("server.pem")}
TLSCertificateKeyFile ${path("server.key")}

database mdb
maxsize 16777216
suffix "${suffix}"
directory ${path("db")}
# Anonymous clients may only bind: the service account's bind is what lets netmaster search.
access to attrs=userPassword by anonymous auth by * none
access to * by users read by * none
`;
}

async function makeCertificates(dir: string): Promise<{ ca: string; otherCa: string }> {
  const file = (name: string) => join(dir, name);
  const newKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2"];
  const caExtensions = ["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign"];
  for (const ca of ["ca", "other-ca"]) {
    await must(["openssl", "req", "-x509", "-new", ...newKey, "-keyout", file(`${ca}.key`), "-out", file(`${ca}.pem`), "-subj", `/CN=netplugin test ${ca}`, ...caExtensions]);
  }
  await must([
    "openssl", "req", "-x509", "-new", ...newKey, "-keyout", file("server.key"), "-out", file("server.pem"), "-subj", "/CN=localhost",
    "-CA", file("ca.pem"), "-CAkey", file("ca.key"),
    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-addext", "basicConstraints=critical,CA:FALSE",
  ]);
  return { ca: await readFile(file("ca.pem"), "utf8"), otherCa: await readFile(file("other-ca.pem"), "utf8") };
}

function launch(instance: Instance): void {
  // -d 0: stay in the foreground (so the PID is slapd's and its exit is seen) without debug output.
  const child = spawn("ip", ["netns", "exec", instance.netns, SLAPD, "-f", join(instance.dir, "slapd.conf"), "-h", "ldap://127.0.0.1:389/", "-d", "0"], {
    // Not detached: whatever ends the test's process group (Ctrl-C, a CI timeout's SIGKILL) ends slapd too.
    stdio: ["ignore", "ignore", "pipe"],
  });
  instance.child = child;
  instance.exited = new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.once("error", (err) => {
      instance.stderr += `${err.message}\n`;
      resolve();
    });
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    instance.stderr = (instance.stderr + chunk.toString()).slice(-4000);
  });
}

/** Waits until the service account can bind, which proves slapd listens, has loaded the data and checks passwords. */
async function waitAnswering(instance: Instance, config: LdapConfig, timeoutMs: number): Promise<void> {
  let last = "";
  await waitFor(
    async () => {
      if (hasExited(instance.child)) throw new StopWaiting(`slapd exited: ${instance.stderr.trim() || "no output"}`);
      const r = await run(["ldapwhoami", "-x", "-H", "ldap://127.0.0.1:389", "-D", config.service_account_dn, "-w", config.service_account_password], {
        netns: instance.netns,
        timeoutMs: 5_000,
      });
      last = r.stderr.trim();
      return r.code === 0;
    },
    { timeoutMs, intervalMs: 50, what: () => `slapd to answer a bind (ldapwhoami: ${last || "no output"}; slapd: ${instance.stderr.trim() || "no output"})` },
  );
}

function hasExited(child: ChildProcess | undefined): boolean {
  return child === undefined || child.exitCode !== null || child.signalCode !== null;
}

function signal(instance: Instance, name: NodeJS.Signals): void {
  const pid = instance.child?.pid;
  if (pid === undefined || hasExited(instance.child)) return;
  try {
    process.kill(pid, name);
  } catch {
    // Already gone.
  }
}

const NetnsLoginLine = z.union([
  z.object({ ok: z.literal(true), user: z.object({ dn: z.string(), groups: z.array(z.string()) }).nullable(), elapsedMs: z.number() }),
  z.object({ ok: z.literal(false), error: z.object({ name: z.string(), message: z.string() }), elapsedMs: z.number() }),
]);

function lastJsonLine(stdout: string): unknown {
  try {
    return JSON.parse(stdout.trim().split("\n").pop() ?? "");
  } catch {
    return undefined;
  }
}

function handle(instance: Instance, directory: Directory, certificates: { ca: string; otherCa: string }): Slapd {
  let stopped: Promise<void> | undefined;
  return {
    netns: instance.netns,
    suffix: directory.suffix,
    config: directory.config,
    ca: certificates.ca,
    otherCa: certificates.otherCa,
    users: directory.users,
    ambiguous: directory.ambiguous,
    async login(config, username, password, options = {}) {
      const r = await run([process.execPath, NETNS_LOGIN_JS], {
        netns: instance.netns,
        stdin: JSON.stringify({ config, username, password, options }),
        timeoutMs: 30_000,
      });
      const parsed = NetnsLoginLine.safeParse(r.code === 0 ? lastJsonLine(r.stdout) : undefined);
      if (!parsed.success) throw new Error(`Cannot run ldapLogin in namespace "${instance.netns}": exit ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`);
      const line = parsed.data;
      return line.ok ? { ok: true, user: line.user ?? undefined, elapsedMs: line.elapsedMs } : line;
    },
    // slapd is ours and the signals go to its PID: SIGSTOP cannot be caught, so it truly stops answering.
    pause: () => signal(instance, "SIGSTOP"),
    resume: () => signal(instance, "SIGCONT"),
    stop() {
      stopped ??= stopInstance(instance);
      return stopped;
    },
  };
}

async function stopInstance(instance: Instance): Promise<void> {
  // SIGKILL: the directory is thrown away, so there is nothing for a clean shutdown to save; it also ends a paused slapd.
  signal(instance, "SIGKILL");
  await instance.exited;
  if (instance.netnsCreated) await run(["ip", "netns", "del", instance.netns]);
  await rm(instance.dir, { recursive: true, force: true });
  owned.delete(instance);
}

function cleanUpAtExit(): void {
  for (const instance of owned) {
    signal(instance, "SIGKILL");
    // An exit handler cannot wait for promises, so this one command runs synchronously.
    if (instance.netnsCreated) spawnSync("ip", ["netns", "del", instance.netns], { stdio: "ignore" });
    try {
      rmSync(instance.dir, { recursive: true, force: true });
    } catch {
      // Best effort: slapd may still be writing as it dies.
    }
  }
  owned.clear();
}

// Safety net for a test process that ends without calling stop(). Signal handlers re-raise the signal
// once our instances are gone, so the process still ends the way it would have.
process.once("exit", cleanUpAtExit);
for (const name of ["SIGINT", "SIGTERM"] as const) {
  process.once(name, () => {
    cleanUpAtExit();
    process.kill(process.pid, name);
  });
}
