// The network config a runtime gives our plugin on stdin (one entry of a conflist, with name and
// cniVersion injected by the runtime, runtimeConfig holding the declared capabilities it used, and
// prevResult on DEL/CHECK or when chained):
//
//   { "cniVersion": "1.0.0", "name": "blue", "type": "netplugin",
//     "tenant": "default", "network": "blue-net", "group": "web",         (group optional)
//     "socket": "/run/netplugin/netplugin.sock",                          (optional)
//     "capabilities": { "ips": true, "mac": true, "portMappings": true, "aliases": true },
//     "runtimeConfig": { "ips": ["198.18.5.9/24"], "mac": "02:…", "portMappings": [ … ], "aliases": { "blue": ["web"] } },
//     "args": { "cni": { "ips": ["198.18.5.9"], "mac": "02:…" } },
//     "dns": { "nameservers": [ … ], "domain": "…", "search": [ … ], "options": [ … ] },
//     "prevResult": { … },
//     "cni.dev/valid-attachments": [ { "containerID": "…", "ifname": "eth0" } ] }   (GC)
//
//     "ipam": { "type": "host-local", … }                                (optional: delegated IPAM)
//
// Codes: a missing or unsupported cniVersion is 1 and checked first (nothing else is read in a
// version we do not speak); everything else wrong is 7 (a bad ipam.type included), all problems
// listed in details. Unknown keys are kept out of the result but named in
// ignoredFields so the agent can log likely typos.

import { labelProblem, MAX_LABELS } from "../lib/labels.js";
import { ipFamily, ipOrCidrFamily, isContivName, normalizeMac, CONTIV_NAME_RULE } from "./addr.js";
import { CniError, throwIssues, type CniIssue } from "./errors.js";
import { networkNameProblem } from "./ids.js";
import { readIpamSection, type IpamSection } from "./ipam.js";
import { isObject, parseDns, readResult, type CniDns, type CniResult } from "./result.js";
import { CniErrorCode, DEFAULT_SOCKET, SUPPORTED_VERSIONS, quoted, type CniVersion } from "./wire.js";

export const PLUGIN_TYPE = "netplugin";
export const DEFAULT_TENANT = "default";

export type PortProtocol = "tcp" | "udp" | "sctp";

export interface PortMapping {
  hostPort: number;
  containerPort: number;
  protocol: PortProtocol;
  /** Absent: every host address. */
  hostIP?: string;
}

export interface GcAttachment {
  containerId: string;
  ifname: string;
}

export interface NetConf {
  cniVersion: CniVersion;
  name: string;
  type: typeof PLUGIN_TYPE;
  /** DEFAULT_TENANT when absent. */
  tenant: string;
  network?: string;
  group?: string;
  /** Agent socket; DEFAULT_SOCKET when absent. */
  socket: string;
  dns?: CniDns;
  /** Capability arguments the runtime passed (empty lists when none). */
  runtimeConfig: {
    /** Requested addresses, "a/len" by convention; "a" accepted. */
    ips: string[];
    mac?: string;
    portMappings: PortMapping[];
    /** runtimeConfig.aliases[<name>] (podman): extra DNS names for this container on this network. */
    aliases: string[];
  };
  /** args.cni.ips / args.cni.mac / args.cni.labels (the CONVENTIONS "args in network config"). */
  args: { ips: string[]; mac?: string; labels: Record<string, string> };
  prevResult?: CniResult;
  /**
   * The IPAM plugin the executable delegates to (delegate.ts); its addresses replace netmaster's
   * allocation. Only `type` is ours to check: the rest of the section is the IPAM plugin's.
   */
  ipam?: IpamSection;
  /** GC: cni.dev/valid-attachments (or the older cni.dev/attachments); absent on other commands. */
  validAttachments?: GcAttachment[];
  /** Top-level keys this plugin does not use (likely typos), sorted. */
  ignoredFields: string[];
}

const KNOWN_FIELDS = new Set([
  "cniVersion",
  "cniVersions",
  "name",
  "type",
  "tenant",
  "network",
  "group",
  "socket",
  "capabilities",
  "runtimeConfig",
  "args",
  "dns",
  "prevResult",
  "cni.dev/valid-attachments",
  "cni.dev/attachments",
  "ipam",
]);

/** Longest path a unix socket address can hold (sun_path is 108 bytes with the NUL). */
const MAX_SOCKET_PATH = 107;

/** Parse and validate the stdin config. Throws CniError (1 or 7) as described above. */
export function parseNetConf(config: unknown): NetConf {
  if (!isObject(config)) {
    throw new CniError(CniErrorCode.DecodeFailure, "Cannot decode network config: it must be a JSON object");
  }
  const cniVersion = checkVersion(config["cniVersion"]);
  const nameValue = config["name"];
  const label = typeof nameValue === "string" && nameValue !== "" ? ` ${quoted(nameValue)}` : "";
  const prefix = `Cannot use network config${label}`;

  const issues: CniIssue[] = [];
  const bad = (path: string, message: string): void => {
    issues.push({ path, message, code: CniErrorCode.InvalidNetworkConfig });
  };

  let name = "";
  if (typeof nameValue !== "string" || nameValue === "") bad("name", "is missing");
  else {
    const problem = networkNameProblem(nameValue);
    if (problem === undefined) name = nameValue;
    else bad("name", `${quoted(nameValue)} ${problem}`);
  }

  const ipam = readIpamSection(config);
  if (!ipam.ok) bad(ipam.path, ipam.message);

  const type = config["type"];
  if (type === undefined) bad("type", `is missing: want "${PLUGIN_TYPE}"`);
  else if (type !== PLUGIN_TYPE) bad("type", `is ${quoted(type)}: this plugin is "${PLUGIN_TYPE}"`);

  const tenant = optionalName(config, "tenant", bad) ?? DEFAULT_TENANT;
  const network = optionalName(config, "network", bad);
  const group = optionalName(config, "group", bad);

  let socket = DEFAULT_SOCKET;
  const socketValue = config["socket"];
  if (socketValue !== undefined && socketValue !== "") {
    if (typeof socketValue !== "string" || !socketValue.startsWith("/")) bad("socket", "must be an absolute path");
    else if (Buffer.byteLength(socketValue) > MAX_SOCKET_PATH) bad("socket", `${quoted(socketValue)} is longer than ${MAX_SOCKET_PATH} bytes, too long for a unix socket`);
    else socket = socketValue;
  }

  const versions = config["cniVersions"];
  if (versions !== undefined && !(Array.isArray(versions) && versions.every((v) => typeof v === "string"))) {
    bad("cniVersions", "must be a list of version strings");
  }

  const out: NetConf = {
    cniVersion,
    name,
    type: PLUGIN_TYPE,
    tenant,
    socket,
    runtimeConfig: { ips: [], portMappings: [], aliases: [] },
    args: { ips: [], labels: {} },
    ignoredFields: Object.keys(config).filter((k) => !KNOWN_FIELDS.has(k)).sort(),
  };
  if (network !== undefined) out.network = network;
  if (group !== undefined) out.group = group;
  if (ipam.ok && ipam.ipam !== undefined) out.ipam = ipam.ipam;

  const dns = config["dns"];
  if (dns !== undefined && dns !== null) {
    if (!isObject(dns)) bad("dns", "must be an object");
    else out.dns = parseDns(dns, "dns", bad);
  }

  const rc = config["runtimeConfig"];
  if (rc !== undefined && rc !== null) {
    if (!isObject(rc)) bad("runtimeConfig", "must be an object");
    else {
      out.runtimeConfig.ips = addressList(rc["ips"], "runtimeConfig.ips", bad);
      const mac = macValue(rc["mac"], "runtimeConfig.mac", bad);
      if (mac !== undefined) out.runtimeConfig.mac = mac;
      out.runtimeConfig.portMappings = portMappings(rc["portMappings"], bad);
      out.runtimeConfig.aliases = aliases(rc["aliases"], name, bad);
    }
  }

  const args = config["args"];
  if (args !== undefined && args !== null) {
    if (!isObject(args)) bad("args", "must be an object");
    else {
      const cni = args["cni"];
      if (cni !== undefined && cni !== null) {
        if (!isObject(cni)) bad("args.cni", "must be an object");
        else {
          out.args.ips = addressList(cni["ips"], "args.cni.ips", bad);
          const mac = macValue(cni["mac"], "args.cni.mac", bad);
          if (mac !== undefined) out.args.mac = mac;
          out.args.labels = labelList(cni["labels"], "args.cni.labels", bad);
        }
      }
    }
  }

  const attachments = config["cni.dev/valid-attachments"] ?? config["cni.dev/attachments"];
  if (attachments !== undefined && attachments !== null) {
    out.validAttachments = gcAttachments(attachments, bad);
  }

  const prev = config["prevResult"];
  if (prev !== undefined && prev !== null) out.prevResult = readResult(prev, "prevResult", bad);

  if (issues.length > 0) throwIssues(prefix, issues);
  return out;
}

/** The config's cniVersion if we speak it; CniError IncompatibleVersion (1) otherwise. */
export function checkVersion(value: unknown): CniVersion {
  const supported = SUPPORTED_VERSIONS.join(", ");
  if (value === undefined || value === "") {
    throw new CniError(CniErrorCode.IncompatibleVersion, `Cannot use network config: cniVersion is missing: this plugin supports ${supported}`);
  }
  if (typeof value !== "string" || !(SUPPORTED_VERSIONS as readonly string[]).includes(value)) {
    throw new CniError(
      CniErrorCode.IncompatibleVersion,
      `Cannot use network config: cniVersion ${quoted(value)} is not supported: this plugin supports ${supported}`,
      `config is ${quoted(value)}, plugin supports ${JSON.stringify(SUPPORTED_VERSIONS)}`,
    );
  }
  return value as CniVersion;
}

type Bad = (path: string, message: string) => void;

function optionalName(config: Record<string, unknown>, field: string, bad: Bad): string | undefined {
  const v = config[field];
  if (v === undefined || v === null || v === "") return undefined;
  if (typeof v !== "string" || !isContivName(v)) {
    bad(field, `${quoted(v)} is not a valid ${field} name: ${CONTIV_NAME_RULE}`);
    return undefined;
  }
  return v;
}

function addressList(v: unknown, path: string, bad: Bad): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) {
    bad(path, "must be a list of addresses");
    return [];
  }
  const out: string[] = [];
  v.forEach((a, n) => {
    if (typeof a !== "string" || ipOrCidrFamily(a.trim()) === 0) {
      bad(`${path}[${n}]`, `${quoted(a)} is not an IP address (optionally with /prefix)`);
    } else if (!out.includes(a.trim())) out.push(a.trim());
  });
  return out;
}

function macValue(v: unknown, path: string, bad: Bad): string | undefined {
  if (v === undefined || v === null || v === "") return undefined;
  if (typeof v !== "string") {
    bad(path, "must be a string");
    return undefined;
  }
  const m = normalizeMac(v);
  if ("mac" in m) return m.mac;
  bad(path, m.problem);
  return undefined;
}

/**
 * runtimeConfig.portMappings. podman and the CNI conventions use lowerCamel keys; containerd's
 * go-cni marshals its struct without tags, so HostPort/ContainerPort/Protocol/HostIP: take either.
 */
function portMappings(v: unknown, bad: Bad): PortMapping[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) {
    bad("runtimeConfig.portMappings", "must be a list");
    return [];
  }
  const out: PortMapping[] = [];
  v.forEach((m, n) => {
    const path = `runtimeConfig.portMappings[${n}]`;
    if (!isObject(m)) {
      bad(path, "must be an object");
      return;
    }
    const get = (k: string): unknown => m[k] ?? m[k[0]!.toUpperCase() + k.slice(1)];
    const port = (k: string): number | undefined => {
      const p = get(k);
      if (typeof p === "number" && Number.isInteger(p) && p >= 1 && p <= 65535) return p;
      bad(`${path}.${k}`, `${quoted(p ?? null)} is not a port number (1-65535)`);
      return undefined;
    };
    const hostPort = port("hostPort");
    const containerPort = port("containerPort");
    const protoValue = get("protocol");
    const protocol = protoValue === undefined || protoValue === null || protoValue === "" ? "tcp" : typeof protoValue === "string" ? protoValue.toLowerCase() : null;
    if (protocol !== "tcp" && protocol !== "udp" && protocol !== "sctp") {
      bad(`${path}.protocol`, `${quoted(protoValue)} is not one of "tcp", "udp", "sctp"`);
      return;
    }
    const hostIP = get("hostIP") ?? m["HostIp"];
    if (hostIP !== undefined && hostIP !== "" && (typeof hostIP !== "string" || ipFamily(hostIP) === 0)) {
      bad(`${path}.hostIP`, `${quoted(hostIP)} is not an IP address`);
      return;
    }
    if (hostPort === undefined || containerPort === undefined) return;
    const pm: PortMapping = { hostPort, containerPort, protocol };
    if (typeof hostIP === "string" && hostIP !== "") pm.hostIP = hostIP;
    out.push(pm);
  });
  return out;
}

/** The conventions' labels: a list of {key, value}; later keys win. */
function labelList(v: unknown, path: string, bad: Bad): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (!Array.isArray(v)) {
    bad(path, "must be a list of {key, value}");
    return {};
  }
  const labels: Record<string, string> = {};
  v.forEach((l: unknown, n) => {
    if (!isObject(l) || typeof l["key"] !== "string" || typeof l["value"] !== "string") {
      bad(`${path}[${n}]`, "must be an object with string key and value");
      return;
    }
    const problem = labelProblem(l["key"], l["value"]);
    if (problem !== undefined) bad(`${path}[${n}]`, problem);
    else labels[l["key"]] = l["value"];
  });
  if (Object.keys(labels).length > MAX_LABELS) bad(path, `at most ${MAX_LABELS} labels`);
  return labels;
}

function aliases(v: unknown, name: string, bad: Bad): string[] {
  if (v === undefined || v === null) return [];
  if (!isObject(v)) {
    bad("runtimeConfig.aliases", "must be an object of network name to names");
    return [];
  }
  const mine = v[name];
  if (mine === undefined || mine === null) return [];
  if (!Array.isArray(mine) || !mine.every((a) => typeof a === "string")) {
    bad(`runtimeConfig.aliases.${name}`, "must be a list of names");
    return [];
  }
  return [...new Set(mine as string[])];
}

function gcAttachments(v: unknown, bad: Bad): GcAttachment[] {
  const path = "cni.dev/valid-attachments";
  if (!Array.isArray(v)) {
    bad(path, "must be a list of {containerID, ifname}");
    return [];
  }
  const out: GcAttachment[] = [];
  v.forEach((a, n) => {
    if (!isObject(a) || typeof a["containerID"] !== "string" || a["containerID"] === "" || typeof a["ifname"] !== "string") {
      bad(`${path}[${n}]`, "must be an object with string containerID and ifname");
      return;
    }
    out.push({ containerId: a["containerID"], ifname: a["ifname"] });
  });
  return out;
}
