// CNI_ARGS: "K=V;K=V" pairs the runtime adds per container.
//
// What real runtimes send (reference/real-clients.md): podman "IgnoreUnknown=1;K8S_POD_NAME=<name>"
// plus ";MAC=…;IP=…" for --mac-address/--ip; containerd's CRI "IgnoreUnknown=1;K8S_POD_NAMESPACE=…;
// K8S_POD_NAME=…;K8S_POD_INFRA_CONTAINER_ID=…;K8S_POD_UID=…" in random order; `ctr run --cni` "".
//
// Like libcni's LoadArgs, a key we do not know is an error unless IgnoreUnknown is true. Unlike it,
// empty segments (a trailing ";") are skipped and a value may contain "=" (split at the first one).
// Every failure here is CniErrorCode.DecodeFailure (6): the spec's "failed to unmarshal CNI_ARGS".
// The K8S_* values are bounded: the pod name becomes the endpoint's containerName at netmaster (at
// most 256 characters) and a DNS name of the tenant.

import { ipOrCidrFamily, isContivName, normalizeMac, CONTIV_NAME_RULE } from "./addr.js";
import { throwIssues, type CniIssue } from "./errors.js";
import { CniErrorCode, quoted } from "./wire.js";

export interface CniArgs {
  ignoreUnknown: boolean;
  /** IP=a[,b…]: requested addresses, each "a" or "a/len" (podman sends no prefix). */
  ips: string[];
  /** MAC=…, canonical lower-case form. */
  mac?: string;
  k8sPodNamespace?: string;
  k8sPodName?: string;
  k8sPodInfraContainerId?: string;
  k8sPodUid?: string;
  /** Contiv's per-container overrides of the config's tenant / network / group. */
  tenant?: string;
  network?: string;
  group?: string;
  /** Every pair as given, known or not (last one wins for a repeated key). */
  raw: Record<string, string>;
}

const KNOWN_KEYS = new Set([
  "IgnoreUnknown",
  "IP",
  "MAC",
  "K8S_POD_NAMESPACE",
  "K8S_POD_NAME",
  "K8S_POD_INFRA_CONTAINER_ID",
  "K8S_POD_UID",
  "io.contiv.tenant",
  "io.contiv.network",
  "io.contiv.net-group",
]);

/** Kubernetes' longest name (a DNS subdomain), within netmaster's 256 for containerName. */
export const MAX_K8S_VALUE = 253;

/** Parse CNI_ARGS. Throws CniError DecodeFailure (6) naming the pair and the problem. */
export function parseCniArgs(raw: string): CniArgs {
  const pairs: Record<string, string> = {};
  const issues: CniIssue[] = [];
  const bad = (key: string, message: string): void => {
    issues.push({ path: key, message, code: CniErrorCode.DecodeFailure });
  };

  for (const segment of raw.split(";")) {
    if (segment.trim() === "") continue;
    const eq = segment.indexOf("=");
    if (eq <= 0) {
      bad(quoted(segment), "is not a KEY=VALUE pair");
      continue;
    }
    pairs[segment.slice(0, eq).trim()] = segment.slice(eq + 1).trim();
  }

  const args: CniArgs = { ignoreUnknown: false, ips: [], raw: pairs };

  const ignore = pairs["IgnoreUnknown"];
  if (ignore !== undefined) {
    const v = ignore.toLowerCase();
    if (v === "1" || v === "true") args.ignoreUnknown = true;
    else if (v !== "0" && v !== "false" && v !== "") bad("IgnoreUnknown", `${quoted(ignore)} is not a boolean: want 1, true, 0 or false`);
  }

  if (!args.ignoreUnknown) {
    for (const [key, value] of Object.entries(pairs)) {
      if (!KNOWN_KEYS.has(key)) bad(shortKey(key), `unknown key (value ${quoted(value)}): add IgnoreUnknown=1 to pass keys netplugin does not use`);
    }
  }

  const ip = pairs["IP"];
  if (ip !== undefined && ip !== "") {
    for (const one of ip.split(",")) {
      const a = one.trim();
      if (ipOrCidrFamily(a) === 0) bad("IP", `${quoted(a)} is not an IP address (optionally with /prefix)`);
      else if (!args.ips.includes(a)) args.ips.push(a);
    }
  }

  const mac = pairs["MAC"];
  if (mac !== undefined && mac !== "") {
    const m = normalizeMac(mac);
    if ("mac" in m) args.mac = m.mac;
    else bad("MAC", m.problem);
  }

  const text = (key: string): string | undefined => {
    const v = pairs[key];
    return v === undefined || v === "" ? undefined : v;
  };
  const k8s = (key: string): string | undefined => {
    const v = text(key);
    if (v === undefined || v.length <= MAX_K8S_VALUE) return v;
    bad(key, `${quoted(v)} is longer than ${MAX_K8S_VALUE} characters`);
    return undefined;
  };
  const ns = k8s("K8S_POD_NAMESPACE");
  if (ns !== undefined) args.k8sPodNamespace = ns;
  const pod = k8s("K8S_POD_NAME");
  if (pod !== undefined) args.k8sPodName = pod;
  const infra = k8s("K8S_POD_INFRA_CONTAINER_ID");
  if (infra !== undefined) args.k8sPodInfraContainerId = infra;
  const uid = k8s("K8S_POD_UID");
  if (uid !== undefined) args.k8sPodUid = uid;

  for (const [key, field] of [
    ["io.contiv.tenant", "tenant"],
    ["io.contiv.network", "network"],
    ["io.contiv.net-group", "group"],
  ] as const) {
    const v = text(key);
    if (v === undefined) continue;
    if (isContivName(v)) args[field] = v;
    else bad(key, `${quoted(v)} is not a valid ${field} name: ${CONTIV_NAME_RULE}`);
  }

  if (issues.length > 0) throwIssues("Cannot decode CNI_ARGS", issues);
  return args;
}

/** An unknown key as an issue's path: as given unless it is too long to repeat. */
function shortKey(key: string): string {
  return key.length <= 64 ? key : quoted(key);
}
