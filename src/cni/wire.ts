// What the CNI executable and the agent say to each other over the agent's unix socket.
//
// The executable is a thin client: it forwards one CNI call and prints the answer. This module is
// loaded by that executable on every container start, so it imports nothing and holds only types,
// constants and two tiny functions.
//
// Endpoint contract (served by the agent, HTTP/1.1 on the unix socket, default DEFAULT_SOCKET):
//
//   POST /cni/v1/<command in lower case>        add | del | check | status | gc   (version: optional)
//   Content-Type: application/json
//   body: CniRequest — the CNI_* environment as raw strings plus the stdin config exactly as parsed
//
//   answer (Content-Type: application/json), one of
//     { "result": { … } }        ADD: the result object, already formatted for config.cniVersion
//     { "result": null } or {}   DEL, CHECK, STATUS, GC: success, the executable prints nothing
//     { "error": { "code": n, "msg": "…", "details": "…" } }   a CNI error (CniErrorCode)
//
//   The body decides, not the HTTP status: an `error` body is reported whatever the status; a
//   `result` body counts only with a 2xx status. Anything else (no JSON, neither key, a 404 from an
//   agent without the route) becomes CniErrorCode.AgentProtocol in the executable.
//
// VERSION never reaches the agent: the executable answers it with versionAnswer().

export type CniCommand = "ADD" | "DEL" | "CHECK" | "STATUS" | "GC" | "VERSION";

export const CNI_COMMANDS: readonly CniCommand[] = ["ADD", "DEL", "CHECK", "STATUS", "GC", "VERSION"];

/** CNI spec versions this plugin speaks, oldest first. 0.3.0 is the first with the rich result. */
export type CniVersion = "0.3.0" | "0.3.1" | "0.4.0" | "1.0.0" | "1.1.0";

export const SUPPORTED_VERSIONS: readonly CniVersion[] = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"];

export const LATEST_VERSION: CniVersion = "1.1.0";

/** Where the agent listens unless the network config's `socket` says otherwise. */
export const DEFAULT_SOCKET = "/run/netplugin/netplugin.sock";

/**
 * Largest network config the executable reads from stdin. Real ones are a few kilobytes (a GC's
 * valid-attachments for a few hundred containers, tens): the bound keeps a runaway writer from filling
 * the plugin's and the agent's memory.
 */
export const MAX_CONFIG_BYTES = 1 << 20;

/** Path prefix of the agent's CNI routes. */
export const CNI_API_PREFIX = "/cni/v1/";

/** `POST` path on the agent socket for one command, e.g. "/cni/v1/add". */
export function cniEndpointPath(command: CniCommand): string {
  return CNI_API_PREFIX + command.toLowerCase();
}

/**
 * Body of every call. The env fields are the raw CNI_* values ("" when unset); the agent validates
 * them (spec.ts parseCniCall). `config` is the stdin JSON as the executable parsed it, untouched.
 */
export interface CniRequest {
  command: CniCommand;
  /** CNI_CONTAINERID */
  containerId: string;
  /** CNI_NETNS; "" on DEL after the namespace is gone (containerd's second DEL, ctr) */
  netns: string;
  /** CNI_IFNAME */
  ifname: string;
  /** CNI_ARGS, unparsed: "IgnoreUnknown=1;K8S_POD_NAME=web" */
  args: string;
  /** CNI_PATH, unparsed: "/opt/cni/bin:/usr/lib/cni" */
  path: string;
  /** The network config from stdin (an object; cniVersion, name, type, runtimeConfig, prevResult, …). */
  config: Record<string, unknown>;
  /**
   * ADD of a config with an `ipam` section: the result the delegated IPAM plugin printed (the executable
   * ran it, delegate.ts). The agent registers its addresses with netmaster.
   */
  ipamResult?: Record<string, unknown>;
  /**
   * ADD of a config whose IPAM plugin leases on the interface (ipam.ts leasesOnInterface): the agent plumbs
   * the interface without IPv4 first; the executable then runs the IPAM plugin and calls ADD again with its
   * ipamResult, which completes the attachment.
   */
  ipamPending?: boolean;
}

/** A CNI error as the spec prints it, without the cniVersion the executable adds. */
export interface CniErrorBody {
  code: number;
  msg: string;
  details?: string;
}

export interface CniResultResponse {
  /** ADD: the formatted result. Other commands: absent or null. */
  result?: Record<string, unknown> | null;
}

export interface CniErrorResponse {
  error: CniErrorBody;
  /**
   * A failed ADD whose container already has this interface (a second ADD): the executable must not
   * undo the delegated IPAM ADD, whose reservation belongs to the running attachment.
   */
  keepDelegation?: boolean;
}

export type CniResponse = CniResultResponse | CniErrorResponse;

/**
 * The spec's well-known error codes (0–99 reserved) and ours (100+).
 * Which failure gets which code is listed in src/cni/README.md.
 */
export const CniErrorCode = {
  /** The config's cniVersion is missing or not one of SUPPORTED_VERSIONS. */
  IncompatibleVersion: 1,
  /** A config field this plugin refuses (the message names key and value). */
  UnsupportedField: 2,
  /** The container is unknown or gone; the runtime need not clean up. */
  UnknownContainer: 3,
  /** A CNI_* variable is missing or malformed (the message names it). */
  InvalidEnvironment: 4,
  /** Reading stdin or talking to the agent failed at the I/O level. */
  IoFailure: 5,
  /** stdin is not a JSON object, or CNI_ARGS cannot be decoded. */
  DecodeFailure: 6,
  /** The network config is well-formed JSON but wrong. */
  InvalidNetworkConfig: 7,
  /** A transient condition: the agent is not running or did not answer in time. */
  TryAgainLater: 11,
  /** STATUS: the plugin cannot serve ADD now. */
  PluginNotAvailable: 50,
  /** STATUS: not available, and existing containers may have limited connectivity. */
  PluginNotAvailableLimited: 51,
  /** Plugin-specific: the agent failed unexpectedly (a bug or an unclassified error). */
  AgentInternal: 100,
  /** Plugin-specific: the agent's answer was not a CniResponse. */
  AgentProtocol: 101,
  /** Plugin-specific: netmaster does not know the tenant, network or group asked for. */
  UnknownNetwork: 102,
  /** Plugin-specific: the request clashes with current state (address taken, pool exhausted, already attached). */
  Conflict: 103,
  /** Plugin-specific: netmaster refused the request as invalid (the message says why). */
  Rejected: 104,
  /** Plugin-specific: the kernel could not be configured; nothing was left behind. */
  DatapathFailed: 105,
  /** Plugin-specific: the delegated IPAM plugin could not be run, timed out, or failed without a CNI error. */
  IpamFailed: 106,
} as const;

export type CniErrorCode = (typeof CniErrorCode)[keyof typeof CniErrorCode];

export interface VersionAnswer {
  cniVersion: string;
  supportedVersions: CniVersion[];
}

/**
 * The VERSION answer. It echoes the requested cniVersion when we support it (runtimes send
 * {"cniVersion":"1.0.0"}), otherwise names our latest. It never fails: VERSION needs no config.
 */
export function versionAnswer(config: unknown): VersionAnswer {
  const requested =
    typeof config === "object" && config !== null ? (config as { cniVersion?: unknown }).cniVersion : undefined;
  const cniVersion =
    typeof requested === "string" && (SUPPORTED_VERSIONS as readonly string[]).includes(requested)
      ? requested
      : LATEST_VERSION;
  return { cniVersion, supportedVersions: [...SUPPORTED_VERSIONS] };
}

/** Longest part of a value a message quotes: input can be up to a megabyte, messages stay short. */
const QUOTED_MAX = 64;

/**
 * A value as a message shows it: JSON, cut after QUOTED_MAX characters. Never throws, also for a value
 * nested too deep for JSON.stringify.
 */
export function quoted(value: unknown): string {
  if (typeof value === "string") {
    if (value.length <= QUOTED_MAX) return JSON.stringify(value);
    return `${JSON.stringify(value.slice(0, QUOTED_MAX))}… (${value.length} characters)`;
  }
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = Array.isArray(value) ? "[…]" : "{…}";
  }
  return text.length <= QUOTED_MAX ? text : `${text.slice(0, QUOTED_MAX)}…`;
}
