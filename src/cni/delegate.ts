// Delegated IPAM, run by the CNI executable (loaded lazily, only for a config with an `ipam` section).
//
// The CNI spec's delegation: the plugin execs the IPAM plugin named by ipam.type, found in CNI_PATH,
// with the same environment (CNI_COMMAND set to the operation) and the same network config on
// stdin; the IPAM plugin answers a result in the config's cniVersion, or a CNI error. The executable
// does it rather than the agent because it holds the runtime's environment and CNI_PATH, and because
// an IPAM plugin may keep state (host-local's dataDir) or talk to a daemon (dhcp) on the runtime's
// side of the host.
//
// Order, so a failure in the middle leaves nothing:
//   ADD    IPAM ADD → agent ADD with the IPAM result (netmaster registers the address, refusing one
//          outside the network's subnet or already held). When the agent fails, IPAM DEL undoes the
//          reservation, unless the agent says the container already had this interface (a second ADD:
//          the reservation belongs to the running one).
//          A plugin that leases on the interface (ipam.ts leasesOnInterface: dhcp) needs it first, as the
//          reference plugins make it before they call IPAM: agent ADD pending (the interface without
//          IPv4) → IPAM ADD → agent ADD with the IPAM result. A failed IPAM ADD is undone by agent DEL;
//          a failed second agent ADD by IPAM DEL and agent DEL (the interface is this call's own). Its DEL
//          goes first too (the release leaves from the interface): IPAM DEL → agent DEL.
//   DEL    agent DEL → IPAM DEL. netmaster releases the address before the IPAM plugin can hand it out
//          again; a failed agent DEL keeps the reservation so the runtime's retry finds both.
//   CHECK  agent CHECK → IPAM CHECK.
//   STATUS, GC (cniVersion 1.1.0 only, as the commands are): agent → IPAM plugin.
// Both DELs are idempotent, so a retried DEL after a partial one is safe.

import { spawn } from "node:child_process";
import { accessSync, constants, statSync } from "node:fs";
import path from "node:path";

import { leasesOnInterface, type IpamSection } from "./ipam.js";
import { containerIdProblem, ifnameProblem, netnsPathProblem } from "./ids.js";
import { CniErrorCode, quoted, type CniCommand, type CniErrorBody } from "./wire.js";

export type DelegatedCommand = Exclude<CniCommand, "VERSION">;

/** How long the IPAM plugin may take per command (dhcp's ADD waits for a lease: give it a minute). */
export const DELEGATE_TIMEOUT_MS: Readonly<Record<DelegatedCommand, number>> = {
  ADD: 60_000,
  DEL: 60_000,
  CHECK: 30_000,
  STATUS: 10_000,
  GC: 120_000,
};

/** Largest answer read from an IPAM plugin. */
const MAX_PLUGIN_OUTPUT = 1 << 20;

/** What the agent (or the IPAM plugin) answered; `keepDelegation`: a failed ADD must not undo the IPAM ADD. */
export type DelegateOutcome =
  | { ok: true; result: Record<string, unknown> | null }
  | { ok: false; error: CniErrorBody; keepDelegation?: boolean };

type Failed = Extract<DelegateOutcome, { ok: false }>;

function isExecutableFile(file: string): boolean {
  try {
    if (!statSync(file).isFile()) return false;
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The first CNI_PATH directory holding an executable file named `type`, as libcni's FindInPath looks. */
export function findPlugin(type: string, cniPath: string, isExecutable: (file: string) => boolean = isExecutableFile): string | undefined {
  for (const dir of cniPath.split(":")) {
    if (dir === "") continue;
    const file = path.join(dir, type);
    if (isExecutable(file)) return file;
  }
  return undefined;
}

export interface ExecPluginOptions {
  file: string;
  command: DelegatedCommand;
  /** The environment the executable got; CNI_COMMAND is replaced by `command`. */
  env: NodeJS.ProcessEnv;
  stdin: string;
  timeoutMs?: number;
}

/**
 * Run one IPAM plugin command. Never throws. Exit 0: the JSON object it printed (null when it printed
 * nothing). Otherwise its CNI error, or IpamFailed when it printed none, timed out or could not start.
 * Its stderr goes to ours, as libcni passes it to the runtime.
 */
export function execPlugin(opts: ExecPluginOptions): Promise<DelegateOutcome> {
  const { file, command, stdin } = opts;
  const timeoutMs = opts.timeoutMs ?? DELEGATE_TIMEOUT_MS[command];
  const name = path.basename(file);
  const fail = (code: number, why: string, details?: string): DelegateOutcome => ({
    ok: false,
    error: { code, msg: `Cannot ${command}: IPAM plugin ${quoted(name)} ${why}`, ...(details ? { details } : {}) },
  });
  return new Promise((resolve) => {
    let settled = false;
    const finish = (o: DelegateOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(o);
    };
    const child = spawn(file, [], { env: { ...opts.env, CNI_COMMAND: command }, stdio: ["pipe", "pipe", "inherit"] });
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      finish(fail(CniErrorCode.IpamFailed, `did not answer within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    const chunks: Buffer[] = [];
    let size = 0;
    child.stdout.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_PLUGIN_OUTPUT) {
        child.kill("SIGKILL");
        finish(fail(CniErrorCode.IpamFailed, `printed more than ${MAX_PLUGIN_OUTPUT} bytes`));
      } else chunks.push(c);
    });
    child.on("error", (err) => finish(fail(CniErrorCode.IpamFailed, `cannot be run: ${err.message}`)));
    child.stdin.on("error", () => undefined); // a plugin that exits without reading stdin: its exit status tells
    child.on("close", (status, signal) => {
      const text = Buffer.concat(chunks).toString("utf8").trim();
      let doc: unknown;
      try {
        doc = text === "" ? null : JSON.parse(text);
      } catch {
        doc = undefined;
      }
      if (status === 0) {
        if (doc === null) return finish({ ok: true, result: null });
        if (typeof doc === "object" && doc !== undefined && !Array.isArray(doc)) return finish({ ok: true, result: doc as Record<string, unknown> });
        return finish(fail(CniErrorCode.IpamFailed, "printed something that is not a JSON object", text.slice(0, 300)));
      }
      const e = doc as { code?: unknown; msg?: unknown; details?: unknown } | null | undefined;
      if (typeof e === "object" && e !== null && typeof e.code === "number" && Number.isInteger(e.code) && typeof e.msg === "string") {
        // Its code passes through, as the spec has delegated errors returned to the runtime.
        return finish(fail(e.code, `failed: ${e.msg}`, typeof e.details === "string" ? e.details : undefined));
      }
      const how = signal !== null ? `was killed by ${signal}` : `exited ${status}`;
      finish(fail(CniErrorCode.IpamFailed, `${how} without a CNI error`, text.slice(0, 300) || undefined));
    });
    child.stdin.end(stdin);
  });
}

export interface AgentRequest {
  ipamResult?: Record<string, unknown>;
  pending?: true;
  command?: "DEL";
}

export interface DelegationOptions {
  command: DelegatedCommand;
  ipam: IpamSection;
  /** The config's cniVersion (STATUS and GC are delegated only in 1.1.0, the version that has them). */
  cniVersion: unknown;
  env: NodeJS.ProcessEnv;
  /** The network config exactly as the runtime wrote it. */
  stdin: string;
  /**
   * Forwards the call to the agent: on ADD with the IPAM plugin's result, or `pending` (its interface first);
   * `command` overrides the call's own (DEL, undoing a pending ADD).
   */
  callAgent: (request?: AgentRequest) => Promise<DelegateOutcome>;
  /** For tests. */
  exec?: (opts: ExecPluginOptions) => Promise<DelegateOutcome>;
  findPlugin?: (type: string, cniPath: string) => string | undefined;
}

/** One CNI call of a config with an `ipam` section, in the order the module comment gives. Never throws. */
export async function runDelegated(o: DelegationOptions): Promise<DelegateOutcome> {
  const exec = o.exec ?? execPlugin;
  const cniPath = o.env["CNI_PATH"] ?? "";
  const locate = (): { file: string } | { error: DelegateOutcome } => {
    const file = (o.findPlugin ?? findPlugin)(o.ipam.type, cniPath);
    if (file !== undefined) return { file };
    return {
      error: {
        ok: false,
        error: {
          code: CniErrorCode.InvalidEnvironment,
          msg: `Cannot ${o.command}: IPAM plugin ${quoted(o.ipam.type)} is not in CNI_PATH ${quoted(cniPath)}`,
        },
      },
    };
  };
  const run = (file: string, command: DelegatedCommand): Promise<DelegateOutcome> => exec({ file, command, env: o.env, stdin: o.stdin });

  switch (o.command) {
    case "ADD": {
      // Bad CNI_* values: the agent names them (4) and nothing is reserved for them.
      if (envProblem(o.env)) return o.callAgent();
      const found = locate();
      if ("error" in found) return found.error;
      if (leasesOnInterface(o.ipam.type)) return addInterfaceFirst(o, () => run(found.file, "ADD"), () => run(found.file, "DEL"));
      const reserved = await run(found.file, "ADD");
      if (!reserved.ok) return reserved;
      if (reserved.result === null) {
        const undo = await run(found.file, "DEL");
        return withUndo({ ok: false, error: { code: CniErrorCode.IpamFailed, msg: `Cannot ADD: IPAM plugin ${quoted(o.ipam.type)} printed no result` } }, undo);
      }
      const added = await o.callAgent({ ipamResult: reserved.result });
      if (added.ok || added.keepDelegation === true) return added;
      return withUndo(added, await run(found.file, "DEL"));
    }
    case "DEL":
    case "CHECK": {
      if (o.command === "DEL" && leasesOnInterface(o.ipam.type)) {
        // The release leaves from the interface (DHCPRELEASE): before the agent removes it.
        const found = locate();
        if ("error" in found) return found.error;
        const released = await run(found.file, "DEL");
        return released.ok ? o.callAgent() : released;
      }
      const done = await o.callAgent();
      if (!done.ok) return done;
      const found = locate();
      if ("error" in found) return found.error;
      const delegated = await run(found.file, o.command);
      return delegated.ok ? done : delegated;
    }
    case "STATUS":
    case "GC": {
      const done = await o.callAgent();
      if (!done.ok || o.cniVersion !== "1.1.0") return done;
      const found = locate();
      if ("error" in found) return found.error;
      const delegated = await run(found.file, o.command);
      return delegated.ok ? done : delegated;
    }
  }
}

/** ADD for an IPAM plugin that leases on the interface: the module comment's second order. */
async function addInterfaceFirst(
  o: DelegationOptions,
  ipamAdd: () => Promise<DelegateOutcome>,
  ipamDel: () => Promise<DelegateOutcome>,
): Promise<DelegateOutcome> {
  const plumbed = await o.callAgent({ pending: true });
  if (!plumbed.ok) return plumbed;
  const undoAgent = async (failed: Failed): Promise<DelegateOutcome> => {
    const undo = await o.callAgent({ command: "DEL" });
    const note = undo.ok ? "; the interface was removed" : `; removing the interface failed too: ${undo.error.msg}`;
    return { ok: false, error: { ...failed.error, msg: failed.error.msg + note } };
  };
  const leased = await ipamAdd();
  if (!leased.ok) return undoAgent(leased);
  if (leased.result === null) {
    const released = withUndo({ ok: false, error: { code: CniErrorCode.IpamFailed, msg: `Cannot ADD: IPAM plugin ${quoted(o.ipam.type)} printed no result` } }, await ipamDel());
    return undoAgent(released);
  }
  const added = await o.callAgent({ ipamResult: leased.result });
  if (added.ok) return added;
  // The interface is this call's own (made above), whatever the agent says of it.
  return undoAgent(withUndo(added, await ipamDel()));
}

/** The agent's refusal of an ADD, saying whether the IPAM reservation was released. */
function withUndo(failed: Failed, undo: DelegateOutcome): Failed {
  const note = undo.ok ? "; the IPAM reservation was released" : `; releasing the IPAM reservation failed too: ${undo.error.msg}`;
  return { ok: false, error: { ...failed.error, msg: failed.error.msg + note } };
}

/** True when CNI_CONTAINERID, CNI_IFNAME or CNI_NETNS is missing or malformed for an ADD. */
function envProblem(env: NodeJS.ProcessEnv): boolean {
  const id = env["CNI_CONTAINERID"] ?? "";
  const ifname = env["CNI_IFNAME"] ?? "";
  const netns = env["CNI_NETNS"] ?? "";
  if (id === "" || ifname === "" || netns === "") return true;
  return containerIdProblem(id) !== undefined || ifnameProblem(ifname) !== undefined || netnsPathProblem(netns) !== undefined;
}
