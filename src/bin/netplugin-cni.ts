// netplugin's CNI plugin executable (installed in the runtime's CNI bin dir under the config's
// `type`, "netplugin"). A thin client: it reads stdin and the CNI_* environment, answers VERSION
// itself and forwards every other command to the local agent (src/cni/wire.ts has the contract),
// then prints the agent's answer. Runtimes exec it for every container, often twice per step
// (podman runs VERSION before ADD and DEL), so start-up time is the cost that matters: only node:
// built-ins, the HTTP client loaded after VERSION is out of the way, no parsing beyond `socket` and
// `cniVersion` — the agent validates everything else.
//
// How it starts: `make build` compiles this file and what it imports with bun into one executable (bun's runtime
// with the code as bytecode), which starts in ~4 ms where Node 20 needs ~25 ms; bench/cni-start.ts measured the
// options (a CommonJS build for Node, an esbuild bundle, a V8 start-up snapshot, Node's single-executable build).
// Only what bun implements of node: built-ins is used here.
//
// stdout carries exactly one JSON document (a result, a VERSION answer or a CNI error) or nothing;
// exit status 0 on success, 1 on any error. stdin is read up to MAX_CONFIG_BYTES and no further: a
// longer config is refused as soon as its next byte arrives.

import { fstatSync, readSync, writeSync } from "node:fs";
import type { AgentRequest } from "../cni/delegate.js";

import {
  CNI_COMMANDS,
  CniErrorCode,
  DEFAULT_SOCKET,
  LATEST_VERSION,
  MAX_CONFIG_BYTES,
  quoted,
  versionAnswer,
  type CniCommand,
  type CniErrorBody,
} from "../cni/wire.js";

void main().then((code) => process.exit(code));

async function main(): Promise<number> {
  const env = process.env;
  const command = env["CNI_COMMAND"] ?? "";

  let stdin: string | undefined;
  try {
    // VERSION from a terminal (a person trying it; or /dev/null) answers without waiting on stdin: runtimes pipe the config.
    stdin = command === "VERSION" && fstatSync(0).isCharacterDevice() ? "" : await readStdin(MAX_CONFIG_BYTES);
  } catch (err) {
    return printError(LATEST_VERSION, { code: CniErrorCode.IoFailure, msg: `Cannot read the network config from stdin: ${message(err)}` });
  }

  if (command === "VERSION") {
    let config: unknown;
    try {
      config = JSON.parse(stdin ?? "");
    } catch {
      config = undefined; // VERSION needs nothing from stdin; answer anyway.
    }
    print(versionAnswer(config));
    return 0;
  }

  const decoded = decodeConfig(stdin);
  const fields: { socket?: unknown; ipam?: unknown } = decoded.ok ? decoded.config : {};
  // Errors name the config's version when we speak it; anything else the config holds may be huge.
  const cniVersion = versionAnswer(fields).cniVersion;

  if (!(CNI_COMMANDS as readonly string[]).includes(command)) {
    if (command === "") process.stderr.write(`netplugin CNI plugin: run by a container runtime with CNI_COMMAND set (CNI ${CNI_COMMANDS.join(", ")})\n`);
    return printError(cniVersion, {
      code: CniErrorCode.InvalidEnvironment,
      msg: command === "" ? "Cannot run: CNI_COMMAND is missing" : `Cannot run: CNI_COMMAND ${quoted(command)} is not one of ${CNI_COMMANDS.join(", ")}`,
    });
  }
  if (!decoded.ok) return printError(cniVersion, decoded.error);

  let socket = DEFAULT_SOCKET;
  if (fields.socket !== undefined && fields.socket !== "") {
    if (typeof fields.socket !== "string" || !fields.socket.startsWith("/")) {
      return printError(cniVersion, {
        code: CniErrorCode.InvalidNetworkConfig,
        msg: `Cannot use network config: socket ${quoted(fields.socket)} must be an absolute path`,
      });
    }
    socket = fields.socket;
  }

  // The config goes to the agent as the runtime wrote it: splice the validated text, do not re-encode.
  const head = JSON.stringify({
    command: command as CniCommand,
    containerId: env["CNI_CONTAINERID"] ?? "",
    netns: env["CNI_NETNS"] ?? "",
    ifname: env["CNI_IFNAME"] ?? "",
    args: env["CNI_ARGS"] ?? "",
    path: env["CNI_PATH"] ?? "",
  });
  const bodyWith = (r: AgentRequest): string => {
    const fields = [
      r.command === undefined ? head.slice(1, -1) : head.slice(1, -1).replace(/^"command":"[A-Z]+"/, `"command":"${r.command}"`),
      ...(r.ipamResult === undefined ? [] : [`"ipamResult":${JSON.stringify(r.ipamResult)}`]),
      ...(r.pending ? ['"ipamPending":true'] : []),
      `"config":${decoded.text.trim()}`,
    ];
    return `{${fields.join(",")}}`;
  };

  const { callAgent } = await import("../cni/client.js");
  const toAgent = (r: AgentRequest = {}) => callAgent({ socket, body: bodyWith(r), command: r.command ?? (command as CniCommand) });

  let outcome: Awaited<ReturnType<typeof callAgent>>;
  if (fields.ipam === undefined || fields.ipam === null) outcome = await toAgent();
  else {
    // Delegated IPAM (src/cni/delegate.ts): this process runs the IPAM plugin, with our environment.
    const { readIpamSection } = await import("../cni/ipam.js");
    const ipam = readIpamSection(decoded.config);
    if (!ipam.ok) {
      return printError(cniVersion, { code: CniErrorCode.InvalidNetworkConfig, msg: `Cannot use network config: ${ipam.path}: ${ipam.message}` });
    }
    const { runDelegated } = await import("../cni/delegate.js");
    outcome = await runDelegated({
      command: command as Exclude<CniCommand, "VERSION">,
      ipam: ipam.ipam!,
      cniVersion: decoded.config["cniVersion"],
      env,
      stdin: decoded.text,
      callAgent: toAgent,
    });
  }
  if (!outcome.ok) return printError(cniVersion, outcome.error);
  if (outcome.result !== null) print(outcome.result);
  return 0;
}

type Decoded = { ok: true; text: string; config: Record<string, unknown> } | { ok: false; error: CniErrorBody };

/** stdin as the config object the agent needs; undefined stdin: it was longer than MAX_CONFIG_BYTES. */
function decodeConfig(stdin: string | undefined): Decoded {
  if (stdin === undefined) {
    return {
      ok: false,
      error: { code: CniErrorCode.InvalidNetworkConfig, msg: `Cannot use the network config on stdin: it is larger than ${MAX_CONFIG_BYTES} bytes` },
    };
  }
  const fail = (why: string): Decoded => ({ ok: false, error: { code: CniErrorCode.DecodeFailure, msg: `Cannot decode the network config on stdin: ${why}` } });
  if (stdin.trim() === "") return fail("stdin is empty");
  let config: unknown;
  try {
    config = JSON.parse(stdin);
  } catch (err) {
    return fail(message(err));
  }
  if (typeof config !== "object" || config === null || Array.isArray(config)) return fail("it is not a JSON object");
  return { ok: true, text: stdin, config: config as Record<string, unknown> };
}

/**
 * stdin as UTF-8 text, or undefined as soon as more than `limit` bytes arrive: nothing past the first
 * limit + 1 bytes is read or kept.
 */
async function readStdin(limit: number): Promise<string | undefined> {
  const buf = Buffer.allocUnsafe(limit + 1);
  let length = 0;
  try {
    for (;;) {
      const n = readSync(0, buf, length, buf.length - length, null);
      if (n === 0) return buf.toString("utf8", 0, length);
      length += n;
      if (length > limit) return undefined;
    }
  } catch (err) {
    // A non-blocking stdin (rare: an inherited O_NONBLOCK pipe) cannot be read synchronously.
    if ((err as NodeJS.ErrnoException).code !== "EAGAIN") throw err;
  }
  for await (const chunk of process.stdin) {
    const part = chunk as Buffer;
    if (length + part.length > limit) {
      process.stdin.destroy();
      return undefined;
    }
    length += part.copy(buf, length);
  }
  return buf.toString("utf8", 0, length);
}

function printError(cniVersion: string, error: CniErrorBody): number {
  print({ cniVersion, ...error });
  return 1;
}

/** Write one JSON document to fd 1 synchronously, so process.exit cannot cut it short. */
function print(doc: unknown): void {
  let buf = Buffer.from(JSON.stringify(doc) + "\n", "utf8");
  while (buf.length > 0) {
    try {
      buf = buf.subarray(writeSync(1, buf));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EAGAIN") return; // stdout gone: nothing left to tell
    }
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
