// The CNI spec as the agent needs it: turn one forwarded call (wire.ts CniRequest) into a validated
// CniCall, format results per version, and build CNI errors. Pure functions, no I/O.
//
// The agent's handler for POST /cni/v1/<command> is expected to look like:
//
//   try {
//     const call = parseCniCall(body);                 // throws CniError
//     if (call.command === "ADD") return { result: formatResult(call.cniVersion, await add(call)) };
//     …; return { result: null };
//   } catch (err) { return { error: toCniErrorBody(err) }; }
//
// This module re-exports, by name, everything the agent needs from its siblings.

import { parseCniArgs, type CniArgs } from "./args.js";
import { CniError, throwIssues, type CniIssue } from "./errors.js";
import { containerIdProblem, ifnameProblem, netnsPathProblem } from "./ids.js";
import { parseNetConf, type GcAttachment, type NetConf, type PortMapping } from "./netconf.js";
import { isObject, readResult, type CniResult } from "./result.js";
import { CNI_COMMANDS, CniErrorCode, quoted, type CniCommand, type CniRequest, type CniVersion } from "./wire.js";

export { parseCniArgs, type CniArgs } from "./args.js";
export { CniError, cniError, toCniErrorBody } from "./errors.js";
export {
  checkVersion,
  parseNetConf,
  DEFAULT_TENANT,
  PLUGIN_TYPE,
  type GcAttachment,
  type NetConf,
  type PortMapping,
  type PortProtocol,
} from "./netconf.js";
export {
  formatResult,
  parseResult,
  type CniDns,
  type CniInterface,
  type CniIpConfig,
  type CniResult,
  type CniRoute,
} from "./result.js";
export {
  CniErrorCode,
  DEFAULT_SOCKET,
  LATEST_VERSION,
  SUPPORTED_VERSIONS,
  cniEndpointPath,
  versionAnswer,
  type CniCommand,
  type CniErrorBody,
  type CniRequest,
  type CniResponse,
  type CniVersion,
  type VersionAnswer,
} from "./wire.js";

/** The CNI_* environment after validation. */
export interface CniEnv {
  containerId: string;
  /** "" only on DEL (the namespace may be gone). */
  netns: string;
  ifname: string;
  /** CNI_PATH split on ":" (empty entries dropped). */
  path: string[];
}

/** Where the endpoint goes and what the runtime asked for it; merged from config and CNI_ARGS. */
export interface EndpointSpec {
  /** CNI_ARGS io.contiv.tenant, else config tenant, else "default". */
  tenant: string;
  /** CNI_ARGS io.contiv.network, else config network. */
  network: string;
  /** CNI_ARGS io.contiv.net-group, else config group; absent: no endpoint group. */
  group?: string;
  /** Static addresses: runtimeConfig.ips, then args.cni.ips, then CNI_ARGS IP (duplicates dropped). */
  ips: string[];
  /** Static MAC: runtimeConfig.mac, else args.cni.mac, else CNI_ARGS MAC (the bridge plugin's order). */
  mac?: string;
  portMappings: PortMapping[];
  /** Extra DNS names (podman's runtimeConfig.aliases for this network). */
  aliases: string[];
  /** args.cni.labels: what service selectors match (netmaster adds the tenant's, network's and group's). */
  labels: Record<string, string>;
}

/** Kubernetes pod identity from CNI_ARGS (containerd's CRI; podman sends only the name). */
export interface PodRef {
  namespace?: string;
  name?: string;
  infraContainerId?: string;
  uid?: string;
}

interface CallBase {
  cniVersion: CniVersion;
  netConf: NetConf;
  args: CniArgs;
  path: string[];
}

/**
 * ADD of a config with an `ipam` section: the IPAM plugin the executable ran, and what it answered; no result
 * yet for one that leases on the interface (wire.ts ipamPending): the interface is plumbed first.
 */
export interface DelegatedIpam {
  type: string;
  result?: CniResult;
}

export interface AddCall extends CallBase, CniEnv {
  command: "ADD";
  endpoint: EndpointSpec;
  pod: PodRef;
  /** Present when the config delegates IPAM: its addresses replace netmaster's allocation. */
  ipam?: DelegatedIpam;
  /** Set when a plugin before us in a chain produced a result. */
  prevResult?: CniResult;
}

export interface CheckCall extends CallBase, CniEnv {
  command: "CHECK";
  endpoint: EndpointSpec;
  pod: PodRef;
  /** Required by the spec for CHECK. */
  prevResult: CniResult;
}

export interface DelCall extends CallBase, CniEnv {
  command: "DEL";
  /**
   * Absent when no network can be resolved (config without `network` and no CNI_ARGS override): the
   * ADD cannot have succeeded then, so DEL should find nothing under (name, containerId, ifname) and
   * succeed — DEL must be idempotent.
   */
  endpoint?: EndpointSpec;
  pod: PodRef;
  prevResult?: CniResult;
}

export interface StatusCall extends CallBase {
  command: "STATUS";
}

export interface GcCall extends CallBase {
  command: "GC";
  /** Attachments (containerId, ifname) of this network config to keep; release everything else. */
  validAttachments: GcAttachment[];
}

export type CniCall = AddCall | CheckCall | DelCall | StatusCall | GcCall;

/**
 * Validate the CNI_* values of a command. Required: CNI_CONTAINERID and CNI_IFNAME for ADD, DEL and
 * CHECK; CNI_NETNS for ADD and CHECK (DEL tolerates ""). STATUS and GC need none. The rules are in
 * ids.ts. Throws CniError InvalidEnvironment (4) naming every bad variable.
 */
export function validateEnv(
  command: CniCommand,
  env: { containerId: string; netns: string; ifname: string; path: string },
): CniEnv {
  const path = env.path.split(":").filter((p) => p !== "");
  if (command !== "ADD" && command !== "DEL" && command !== "CHECK") {
    return { containerId: env.containerId, netns: env.netns, ifname: env.ifname, path };
  }
  const problems: string[] = [];
  const missing: string[] = [];
  const check = (variable: string, value: string, problem: (v: string) => string | undefined): void => {
    const why = problem(value);
    if (why !== undefined) problems.push(`${variable} ${quoted(value)} ${why}`);
  };
  if (env.containerId === "") missing.push("CNI_CONTAINERID");
  else check("CNI_CONTAINERID", env.containerId, containerIdProblem);
  if (env.ifname === "") missing.push("CNI_IFNAME");
  else check("CNI_IFNAME", env.ifname, ifnameProblem);
  if (env.netns === "") {
    if (command !== "DEL") missing.push("CNI_NETNS");
  } else check("CNI_NETNS", env.netns, netnsPathProblem);
  if (missing.length === 1) problems.unshift(`required environment variable ${missing[0]} is missing`);
  if (missing.length > 1) problems.unshift(`required environment variables ${missing.join(", ")} are missing`);
  if (problems.length > 0) {
    throw new CniError(CniErrorCode.InvalidEnvironment, `Cannot ${command}: ${problems.join("; ")}`);
  }
  return { containerId: env.containerId, netns: env.netns, ifname: env.ifname, path };
}

/**
 * Validate a forwarded call (the CniRequest body the executable POSTs) and merge config and CNI_ARGS
 * into what the agent acts on. Order of checks: request shape (6), cniVersion (1), config (2/7),
 * environment (4), CNI_ARGS (6), then per-command needs (7). VERSION is not a call: answer it with
 * versionAnswer(request.config).
 */
export function parseCniCall(body: unknown): CniCall {
  const req = checkRequest(body);
  const netConf = parseNetConf(req.config);
  const env = validateEnv(req.command, req);
  const args = parseCniArgs(req.args);
  const base: CallBase = { cniVersion: netConf.cniVersion, netConf, args, path: env.path };
  const configName = `Cannot use network config ${quoted(netConf.name)}`;

  switch (req.command) {
    case "STATUS":
      return { ...base, command: "STATUS" };
    case "GC":
      if (netConf.validAttachments === undefined) {
        throw new CniError(
          CniErrorCode.InvalidNetworkConfig,
          `${configName}: GC needs cni.dev/valid-attachments (the attachments to keep); without it nothing can be collected safely`,
        );
      }
      return { ...base, command: "GC", validAttachments: netConf.validAttachments };
    case "VERSION":
      throw new CniError(CniErrorCode.InvalidEnvironment, "Cannot run CNI_COMMAND VERSION in the agent: the executable answers it with versionAnswer()");
    default:
      break;
  }

  const pod = podRef(args);
  const endpoint = endpointSpec(netConf, args);
  const container = { ...base, ...env, pod };

  if (req.command === "DEL") {
    const del: DelCall = { ...container, command: "DEL" };
    if (endpoint !== undefined) del.endpoint = endpoint;
    if (netConf.prevResult !== undefined) del.prevResult = netConf.prevResult;
    return del;
  }
  if ((req.ipamResult !== undefined || req.ipamPending === true) && (req.command !== "ADD" || netConf.ipam === undefined)) {
    throw new CniError(CniErrorCode.DecodeFailure, `Cannot decode CNI request: ipamResult and ipamPending are only for an ADD whose config has an ipam section`);
  }
  if (endpoint === undefined) {
    throw new CniError(
      CniErrorCode.InvalidNetworkConfig,
      `${configName}: no network given: set "network" in the config or io.contiv.network in CNI_ARGS`,
    );
  }
  if (req.command === "CHECK") {
    if (netConf.prevResult === undefined) {
      throw new CniError(CniErrorCode.InvalidNetworkConfig, `${configName}: CHECK needs prevResult, the result of the ADD`);
    }
    return { ...container, command: "CHECK", endpoint, prevResult: netConf.prevResult };
  }
  const add: AddCall = { ...container, command: "ADD", endpoint };
  if (netConf.prevResult !== undefined) add.prevResult = netConf.prevResult;
  if (netConf.ipam !== undefined) {
    if (req.ipamPending === true) {
      if (req.ipamResult !== undefined) throw new CniError(CniErrorCode.DecodeFailure, "Cannot decode CNI request: ipamPending and ipamResult together");
      add.ipam = { type: netConf.ipam.type };
      return add;
    }
    if (req.ipamResult === undefined) {
      throw new CniError(
        CniErrorCode.InvalidNetworkConfig,
        `${configName}: it delegates IPAM to ${quoted(netConf.ipam.type)} but the call carries no IPAM result: the netplugin executable runs the IPAM plugin, so call it rather than the agent`,
      );
    }
    add.ipam = { type: netConf.ipam.type, result: ipamResult(netConf.ipam.type, req.ipamResult) };
  }
  return add;
}

/** The delegated IPAM plugin's result, checked as a result of the config's version (7 naming each problem). */
function ipamResult(type: string, json: Record<string, unknown>): CniResult {
  const issues: CniIssue[] = [];
  const result = readResult(json, "ipamResult", (path, message) => issues.push({ path, message, code: CniErrorCode.InvalidNetworkConfig }));
  if (issues.length > 0) throwIssues(`Cannot use the result of IPAM plugin ${quoted(type)}`, issues);
  if (result.ips.length === 0) {
    throw new CniError(CniErrorCode.InvalidNetworkConfig, `Cannot use the result of IPAM plugin ${quoted(type)}: it holds no address`);
  }
  return result;
}

/** The request's fields, typed; `config` is checked by parseNetConf. */
function checkRequest(body: unknown): Omit<CniRequest, "config" | "ipamResult"> & { config: unknown; ipamResult?: Record<string, unknown> } {
  const fail = (what: string): never => {
    throw new CniError(CniErrorCode.DecodeFailure, `Cannot decode CNI request: ${what}`);
  };
  if (!isObject(body)) return fail("body must be a JSON object");
  const command = body["command"];
  if (typeof command !== "string" || !(CNI_COMMANDS as readonly string[]).includes(command)) {
    return fail(`command ${quoted(command ?? null)} is not one of ${CNI_COMMANDS.join(", ")}`);
  }
  const text = (k: string): string => {
    const v = body[k];
    if (v === undefined || v === null) return "";
    return typeof v === "string" ? v : fail(`${k} must be a string`);
  };
  const ipam = body["ipamResult"];
  if (ipam !== undefined && ipam !== null && !isObject(ipam)) fail("ipamResult must be an object");
  const pending = body["ipamPending"];
  if (pending !== undefined && pending !== null && typeof pending !== "boolean") fail("ipamPending must be a boolean");
  return {
    ...(isObject(ipam) ? { ipamResult: ipam } : {}),
    ...(pending === true ? { ipamPending: true } : {}),
    command: command as CniCommand,
    containerId: text("containerId"),
    netns: text("netns"),
    ifname: text("ifname"),
    args: text("args"),
    path: text("path"),
    config: body["config"],
  };
}

function endpointSpec(netConf: NetConf, args: CniArgs): EndpointSpec | undefined {
  const network = args.network ?? netConf.network;
  if (network === undefined) return undefined;
  const ips: string[] = [];
  for (const ip of [...netConf.runtimeConfig.ips, ...netConf.args.ips, ...args.ips]) {
    if (!ips.includes(ip)) ips.push(ip);
  }
  const spec: EndpointSpec = {
    tenant: args.tenant ?? netConf.tenant,
    network,
    ips,
    portMappings: netConf.runtimeConfig.portMappings,
    aliases: netConf.runtimeConfig.aliases,
    labels: netConf.args.labels,
  };
  const group = args.group ?? netConf.group;
  if (group !== undefined) spec.group = group;
  const mac = netConf.runtimeConfig.mac ?? netConf.args.mac ?? args.mac;
  if (mac !== undefined) spec.mac = mac;
  return spec;
}

function podRef(args: CniArgs): PodRef {
  const pod: PodRef = {};
  if (args.k8sPodNamespace !== undefined) pod.namespace = args.k8sPodNamespace;
  if (args.k8sPodName !== undefined) pod.name = args.k8sPodName;
  if (args.k8sPodInfraContainerId !== undefined) pod.infraContainerId = args.k8sPodInfraContainerId;
  if (args.k8sPodUid !== undefined) pod.uid = args.k8sPodUid;
  return pod;
}
