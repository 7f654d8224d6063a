// What the Docker driver's parts share: their dependencies, the kernel lock,
// names, and small helpers.

import { createHash } from "node:crypto";
import type { Logger } from "pino";
import type { StateView } from "../pipeline/compile.js";
import type { EndpointPlumber } from "../endpoints.js";
import type { AttachmentStore } from "../attachments.js";
import type { MasterClient } from "../master-client.js";
import type { Reconciler } from "../pipeline/reconciler.js";
import type { DockerEngine } from "./engine.js";
import type { DockerNetns } from "./netns.js";
import type { DockerStore } from "./state.js";
import type { LocalIpam } from "../ipam/local-ipam.js";

export interface DockerContext {
  host: string;
  /** This agent's kernel name prefix (names.ts hostPrefix). */
  prefix: string;
  master: MasterClient;
  /** netmaster's state as this agent follows it. */
  view: StateView;
  /** Resolves once the agent follows netmaster's state. */
  synced: () => Promise<void>;
  store: DockerStore;
  attachments: AttachmentStore;
  plumber: EndpointPlumber;
  /** The host's address blocks (blocks.ts); undefined: every address through netmaster. */
  localIpam: LocalIpam | undefined;
  reconciler: Reconciler;
  dockerNetns: DockerNetns;
  engine: DockerEngine;
  /** Serialises changes of endpoint records and their attachments (port choices, Leave, DeleteEndpoint). */
  lock: Mutex;
  /** Where netmaster picks pools from when Docker asks for any. */
  defaultPoolRange: string;
  /** The overlay's UDP port, never published. */
  vxlanPort: number;
  log: Logger;
}

/** A FIFO mutex: run() waits for every earlier holder. */
export class Mutex {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T> | T): Promise<T> {
    const next = this.tail.then(fn, fn);
    this.tail = next.catch(() => undefined);
    return next;
  }
}

/**
 * The container side's name in dockerd's namespace (SrcName: before dockerd moves it into the sandbox and
 * after Leave): the agent's prefix, "d", 6 hex of the endpoint id — 15 characters, unique on the machine.
 */
export function transitLinkName(prefix: string, endpointId: string): string {
  return `${prefix}d${createHash("sha256").update(endpointId).digest("hex").slice(0, 6)}`;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Option values as strings (Docker passes -o values as strings; anything else is JSON-encoded). */
export function stringOptions(value: unknown): Record<string, string> {
  if (!value || typeof value !== "object") return {};
  return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]));
}
