// Test helper: real etcd members (/usr/bin/etcd) on free loopback ports.
//
//   const etcd = await startEtcd({ members: 1 });
//   after(() => etcd.stop());          // or try { ... } finally { await etcd.stop() }
//
// Callers must stop what they start (after() runs even when tests fail). As a safety net,
// members still running when the test process exits, or is ended by SIGINT/SIGTERM, are
// killed too. Only processes started here are signalled, by their PID.
//
// Members use a short heartbeat (50 ms) and election timeout (500 ms): a killed leader is
// replaced within about a second, and etcd's minimum lease TTL drops to 1 s.

import { spawn, type ChildProcess } from "node:child_process";
import { rmSync } from "node:fs";
import { mkdtemp, mkdir, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StopWaiting, waitFor } from "../../lib/wait.js";

export interface StartEtcdOptions {
  members: 1 | 3;
  /** Parent directory of the members' data directories. Default: a new temporary directory. */
  dataDir?: string;
  /** How long to wait for the cluster to become healthy. Default 20 s. */
  startTimeoutMs?: number;
}

export interface EtcdCluster {
  /** Client addresses, "127.0.0.1:port", one per member. */
  endpoints: string[];
  /** The store URL of the whole cluster: etcd://127.0.0.1:a,127.0.0.1:b,... */
  url: string;
  /** SIGKILLs one member (no-op when it already exited). */
  kill(index: number): void;
  /** Kills every member, waits for them to exit and removes the data directories. Idempotent. */
  stop(): Promise<void>;
}

const ETCD_BINARY = "/usr/bin/etcd";
const START_ATTEMPTS = 3;

interface Member {
  name: string;
  clientPort: number;
  peerPort: number;
  dataDir: string;
  process?: ChildProcess;
  exited?: Promise<void>;
  stderr: string;
}

/** Every member started in this process and not yet stopped: the exit handler kills these. */
const running = new Set<ChildProcess>();
/** Temporary directories created here and not yet removed: the exit handler removes these. */
const ownedDirs = new Set<string>();

export async function startEtcd(options: StartEtcdOptions): Promise<EtcdCluster> {
  const ownDataDir = options.dataDir === undefined;
  const baseDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), "netplugin-etcd-")));
  if (ownDataDir) ownedDirs.add(baseDir);
  let lastError: unknown;
  // A free port can be taken by someone else between our probe and etcd's bind: retry with new ones.
  for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
    const members = await planMembers(options.members, baseDir, attempt);
    try {
      await launch(members, options.startTimeoutMs ?? 20_000);
      return cluster(members, ownDataDir ? baseDir : undefined);
    } catch (err) {
      lastError = err;
      await stopMembers(members);
    }
  }
  if (ownDataDir) await removeOwnedDir(baseDir);
  throw new Error(`Cannot start etcd (${options.members} member(s)): ${(lastError as Error).message}`, {
    cause: lastError,
  });
}

async function planMembers(count: number, baseDir: string, attempt: number): Promise<Member[]> {
  const ports = await freePorts(count * 2);
  const members: Member[] = [];
  for (let i = 0; i < count; i++) {
    const dataDir = join(baseDir, `member-${i}-try-${attempt}`);
    await mkdir(dataDir, { recursive: true });
    members.push({ name: `m${i}`, clientPort: ports[2 * i] as number, peerPort: ports[2 * i + 1] as number, dataDir, stderr: "" });
  }
  return members;
}

async function launch(members: Member[], timeoutMs: number): Promise<void> {
  const initialCluster = members.map((m) => `${m.name}=http://127.0.0.1:${m.peerPort}`).join(",");
  // One token for the whole cluster: members with different tokens form different clusters.
  const token = `netplugin-test-${process.pid}-${members[0]?.peerPort}`;
  for (const member of members) {
    const client = `http://127.0.0.1:${member.clientPort}`;
    const peer = `http://127.0.0.1:${member.peerPort}`;
    const child = spawn(
      ETCD_BINARY,
      [
        `--name=${member.name}`,
        `--data-dir=${member.dataDir}`,
        `--listen-client-urls=${client}`,
        `--advertise-client-urls=${client}`,
        `--listen-peer-urls=${peer}`,
        `--initial-advertise-peer-urls=${peer}`,
        `--initial-cluster=${initialCluster}`,
        "--initial-cluster-state=new",
        `--initial-cluster-token=${token}`,
        "--heartbeat-interval=50",
        "--election-timeout=500",
        "--logger=zap",
        "--log-outputs=stderr",
        "--log-level=error",
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    member.process = child;
    running.add(child);
    member.exited = new Promise((resolve) => {
      child.once("exit", () => {
        running.delete(child);
        resolve();
      });
      child.once("error", (err) => {
        member.stderr += `${err.message}\n`;
        running.delete(child);
        resolve();
      });
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      member.stderr = (member.stderr + chunk.toString()).slice(-4000);
    });
  }
  await waitHealthy(members, timeoutMs);
}

async function waitHealthy(members: Member[], timeoutMs: number): Promise<void> {
  const pending = new Set(members);
  await waitFor(
    async () => {
      for (const member of [...pending]) {
        if (member.process?.exitCode !== null || member.process.signalCode !== null) {
          throw new StopWaiting(`member ${member.name} exited early: ${member.stderr.trim() || "no output"}`);
        }
        if (await isHealthy(member.clientPort)) pending.delete(member);
      }
      return pending.size === 0;
    },
    { timeoutMs, what: () => `not healthy: ${[...pending].map((m) => `${m.name} (${m.stderr.trim().slice(-300) || "no output"})`).join("; ")}` },
  );
}

async function isHealthy(clientPort: number): Promise<boolean> {
  try {
    // /health is true once the member has a raft leader and can serve requests.
    const res = await fetch(`http://127.0.0.1:${clientPort}/health`, { signal: AbortSignal.timeout(1000) });
    const body = (await res.json()) as { health?: unknown };
    return body.health === "true" || body.health === true;
  } catch {
    return false;
  }
}

function cluster(members: Member[], ownedBaseDir: string | undefined): EtcdCluster {
  const endpoints = members.map((m) => `127.0.0.1:${m.clientPort}`);
  let stopped: Promise<void> | undefined;
  return {
    endpoints,
    url: `etcd://${endpoints.join(",")}`,
    kill(index: number) {
      const member = members[index];
      if (member === undefined) throw new RangeError(`No etcd member ${index}: the cluster has ${members.length}`);
      killMember(member);
    },
    stop() {
      stopped ??= (async () => {
        await stopMembers(members);
        if (ownedBaseDir !== undefined) await removeOwnedDir(ownedBaseDir);
      })();
      return stopped;
    },
  };
}

function killMember(member: Member): void {
  const child = member.process;
  if (child === undefined || child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(child.pid, "SIGKILL");
  } catch {
    // Already gone.
  }
}

async function stopMembers(members: Member[]): Promise<void> {
  for (const member of members) killMember(member);
  await Promise.all(members.map((m) => m.exited));
  await Promise.all(members.map((m) => rm(m.dataDir, { recursive: true, force: true })));
}

async function freePorts(count: number): Promise<number[]> {
  // Hold every probe socket until all ports are known, so the same port is not returned twice.
  const servers = await Promise.all(
    Array.from({ length: count }, () => {
      const server = createServer();
      return new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => resolve(server));
      });
    }),
  );
  const ports = servers.map((server) => {
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("Cannot find a free port: no TCP address");
    return address.port;
  });
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

async function removeOwnedDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  ownedDirs.delete(dir);
}

function cleanUpAtExit(): void {
  for (const child of running) {
    if (child.pid !== undefined) {
      try {
        process.kill(child.pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
  }
  running.clear();
  for (const dir of ownedDirs) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // Best effort: a member may still be writing as it dies.
    }
  }
  ownedDirs.clear();
}

// Safety net for a test process that ends without calling stop(): members are killed and
// temporary directories removed. Signal handlers re-raise the
// signal once our members are gone, so the process still ends the way it would have.
process.once("exit", cleanUpAtExit);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    cleanUpAtExit();
    process.kill(process.pid, signal);
  });
}
