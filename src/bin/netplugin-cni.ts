#!/usr/bin/env node
// netplugin's CNI plugin executable (installed in the runtime's CNI bin dir under the config's
// `type`, "netplugin"). A thin client: it reads stdin and the CNI_* environment, answers VERSION
// itself and forwards every other command to the local agent (src/cni/wire.ts has the contract),
// then prints the agent's answer. Runtimes exec it for every container, often twice per step
// (podman runs VERSION before ADD and DEL), so start-up time is the cost that matters: only node:
// built-ins, the HTTP client loaded after VERSION is out of the way, no parsing beyond `socket` and
// `cniVersion` — the agent validates everything else.
//
// stdout carries exactly one JSON document (a result, a VERSION answer or a CNI error) or nothing;
// exit status 0 on success, 1 on any error.

import { readFileSync, writeSync } from "node:fs";
import { isatty } from "node:tty";

import {
  CNI_COMMANDS,
  CniErrorCode,
  DEFAULT_SOCKET,
  LATEST_VERSION,
  versionAnswer,
  type CniCommand,
  type CniErrorBody,
} from "../cni/wire.js";

process.exit(await main());

async function main(): Promise<number> {
  const env = process.env;
  const command = env["CNI_COMMAND"] ?? "";

  let stdin: string;
  try {
    stdin = command === "VERSION" && isatty(0) ? "" : await readStdin();
  } catch (err) {
    return printError(LATEST_VERSION, { code: CniErrorCode.IoFailure, msg: `Cannot read the network config from stdin: ${message(err)}` });
  }

  if (command === "VERSION") {
    let config: unknown;
    try {
      config = JSON.parse(stdin);
    } catch {
      config = undefined; // VERSION needs nothing from stdin; answer anyway.
    }
    print(versionAnswer(config));
    return 0;
  }

  let config: unknown;
  let decodeProblem: string | undefined;
  try {
    config = JSON.parse(stdin);
  } catch (err) {
    decodeProblem = stdin.trim() === "" ? "stdin is empty" : message(err);
  }
  if (decodeProblem === undefined && (typeof config !== "object" || config === null || Array.isArray(config))) {
    decodeProblem = "it is not a JSON object";
  }
  const fields = (decodeProblem === undefined ? config : {}) as { cniVersion?: unknown; socket?: unknown };
  const cniVersion = typeof fields.cniVersion === "string" && fields.cniVersion !== "" ? fields.cniVersion : LATEST_VERSION;

  if (!(CNI_COMMANDS as readonly string[]).includes(command)) {
    if (command === "") process.stderr.write(`netplugin CNI plugin: run by a container runtime with CNI_COMMAND set (CNI ${CNI_COMMANDS.join(", ")})\n`);
    return printError(cniVersion, {
      code: CniErrorCode.InvalidEnvironment,
      msg: command === "" ? "Cannot run: CNI_COMMAND is missing" : `Cannot run: CNI_COMMAND "${command}" is not one of ${CNI_COMMANDS.join(", ")}`,
    });
  }
  if (decodeProblem !== undefined) {
    return printError(cniVersion, { code: CniErrorCode.DecodeFailure, msg: `Cannot decode the network config on stdin: ${decodeProblem}` });
  }

  let socket = DEFAULT_SOCKET;
  if (fields.socket !== undefined && fields.socket !== "") {
    if (typeof fields.socket !== "string" || !fields.socket.startsWith("/")) {
      return printError(cniVersion, {
        code: CniErrorCode.InvalidNetworkConfig,
        msg: `Cannot use network config: socket ${JSON.stringify(fields.socket)} must be an absolute path`,
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
  const body = `${head.slice(0, -1)},"config":${stdin.trim()}}`;

  const { callAgent } = await import("../cni/client.js");
  const outcome = await callAgent({ socket, body, command: command as CniCommand });
  if (!outcome.ok) return printError(cniVersion, outcome.error);
  if (outcome.result !== null) print(outcome.result);
  return 0;
}

async function readStdin(): Promise<string> {
  try {
    return readFileSync(0, "utf8");
  } catch (err) {
    // A non-blocking stdin (rare: an inherited O_NONBLOCK pipe) cannot be read synchronously.
    if ((err as NodeJS.ErrnoException).code !== "EAGAIN") throw err;
  }
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
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
