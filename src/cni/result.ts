// The CNI result: one internal shape, printed in the JSON of whichever spec version the config asked
// for, and read back from any supported version (prevResult on DEL and CHECK).
//
// The JSON mirrors libcni's Go types (checked against Debian's bridge + host-local 1.1.1): keys in the
// Go field order, empty lists and strings left out, `dns` always present (`{}` when empty).
//   0.3.0, 0.3.1, 0.4.0 (types/040): ips carry "version": "4" | "6".
//   1.0.0 (types/100):                no "version" in ips.
//   1.1.0 (types/100):                adds interface mtu/socketPath/pciID and route mtu/advmss/
//                                     priority/table/scope.

import { cidrFamily, ipFamily, normalizeMac } from "./addr.js";
import { throwIssues, type CniIssue } from "./errors.js";
import { CniErrorCode, quoted, type CniVersion } from "./wire.js";

export interface CniInterface {
  name: string;
  mac: string;
  /** netns path for an interface inside the container; absent for host interfaces. */
  sandbox?: string;
  /** 1.1.0 only. */
  mtu?: number;
  /** 1.1.0 only. */
  socketPath?: string;
  /** 1.1.0 only. */
  pciID?: string;
}

export interface CniIpConfig {
  /** "198.18.5.2/24" */
  address: string;
  gateway?: string;
  /** Index into interfaces. */
  interface?: number;
}

export interface CniRoute {
  dst: string;
  gw?: string;
  /** The rest: 1.1.0 only. */
  mtu?: number;
  advmss?: number;
  priority?: number;
  table?: number;
  scope?: number;
}

export interface CniDns {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}

export interface CniResult {
  interfaces: CniInterface[];
  ips: CniIpConfig[];
  routes: CniRoute[];
  dns: CniDns;
}

type Json = Record<string, unknown>;

/**
 * The result JSON of `version` (cniVersion first). Throws CniError AgentInternal (100) when the
 * result itself is inconsistent (bad address, interface index out of range): that is an agent bug.
 */
export function formatResult(version: CniVersion, result: CniResult): Json {
  const issues = checkResult(result);
  if (issues.length > 0) throwIssues("Cannot format CNI result", issues);
  const v11 = version === "1.1.0";
  const v04 = version === "0.3.0" || version === "0.3.1" || version === "0.4.0";

  const out: Json = { cniVersion: version };
  if (result.interfaces.length > 0) {
    out["interfaces"] = result.interfaces.map((i) => {
      const o: Json = { name: i.name };
      if (i.mac !== "") o["mac"] = i.mac;
      if (v11 && i.mtu) o["mtu"] = i.mtu;
      if (i.sandbox) o["sandbox"] = i.sandbox;
      if (v11 && i.socketPath) o["socketPath"] = i.socketPath;
      if (v11 && i.pciID) o["pciID"] = i.pciID;
      return o;
    });
  }
  if (result.ips.length > 0) {
    out["ips"] = result.ips.map((ip) => {
      const o: Json = {};
      if (v04) o["version"] = String(cidrFamily(ip.address));
      if (ip.interface !== undefined) o["interface"] = ip.interface;
      o["address"] = ip.address;
      if (ip.gateway) o["gateway"] = ip.gateway;
      return o;
    });
  }
  if (result.routes.length > 0) {
    out["routes"] = result.routes.map((r) => {
      const o: Json = { dst: r.dst };
      if (r.gw) o["gw"] = r.gw;
      if (v11) {
        if (r.mtu) o["mtu"] = r.mtu;
        if (r.advmss) o["advmss"] = r.advmss;
        if (r.priority) o["priority"] = r.priority;
        if (r.table !== undefined) o["table"] = r.table;
        if (r.scope !== undefined) o["scope"] = r.scope;
      }
      return o;
    });
  }
  const dns: Json = {};
  if (result.dns.nameservers?.length) dns["nameservers"] = [...result.dns.nameservers];
  if (result.dns.domain) dns["domain"] = result.dns.domain;
  if (result.dns.search?.length) dns["search"] = [...result.dns.search];
  if (result.dns.options?.length) dns["options"] = [...result.dns.options];
  out["dns"] = dns;
  return out;
}

function checkResult(r: CniResult): CniIssue[] {
  const issues: CniIssue[] = [];
  const bad = (path: string, message: string): void => {
    issues.push({ path, message, code: CniErrorCode.AgentInternal });
  };
  r.interfaces.forEach((i, n) => {
    if (i.name === "") bad(`interfaces[${n}].name`, "is empty");
    if (i.mac !== "" && !("mac" in normalizeMac(i.mac))) bad(`interfaces[${n}].mac`, `${quoted(i.mac)} is not a unicast MAC address`);
    if (i.mtu !== undefined && !(Number.isInteger(i.mtu) && i.mtu >= 0)) bad(`interfaces[${n}].mtu`, `${i.mtu} is not an MTU`);
  });
  r.ips.forEach((ip, n) => {
    const family = cidrFamily(ip.address);
    if (family === 0) bad(`ips[${n}].address`, `${quoted(ip.address)} is not an address with prefix length`);
    if (ip.gateway !== undefined && ip.gateway !== "" && ipFamily(ip.gateway) !== family) {
      bad(`ips[${n}].gateway`, `${quoted(ip.gateway)} is not an IPv${family} address like ${quoted(ip.address)}`);
    }
    if (ip.interface !== undefined && !(Number.isInteger(ip.interface) && ip.interface >= 0 && ip.interface < r.interfaces.length)) {
      bad(`ips[${n}].interface`, `${ip.interface} is not an index into ${r.interfaces.length} interfaces`);
    }
  });
  r.routes.forEach((route, n) => {
    const family = cidrFamily(route.dst);
    if (family === 0) bad(`routes[${n}].dst`, `${quoted(route.dst)} is not a prefix`);
    if (route.gw !== undefined && route.gw !== "" && ipFamily(route.gw) !== family) {
      bad(`routes[${n}].gw`, `${quoted(route.gw)} is not an IPv${family} address like ${quoted(route.dst)}`);
    }
  });
  return issues;
}

/**
 * Read a result of any supported version (prevResult) into the internal shape. Tolerant of what
 * other plugins in a chain may add; throws CniError InvalidNetworkConfig (7) with the path of each
 * problem, under `path` (default "prevResult").
 */
export function parseResult(json: unknown, path = "prevResult"): CniResult {
  const issues: CniIssue[] = [];
  const result = readResult(json, path, (p, message) => {
    issues.push({ path: p, message, code: CniErrorCode.InvalidNetworkConfig });
  });
  if (issues.length > 0) throwIssues("Cannot use network config", issues);
  return result;
}

/** parseResult's reader: reports each problem to `bad` and returns what it could read. */
export function readResult(json: unknown, path: string, bad: (path: string, message: string) => void): CniResult {
  const result: CniResult = { interfaces: [], ips: [], routes: [], dns: {} };
  if (!isObject(json)) {
    bad(path, "must be an object");
    return result;
  }

  for (const [n, i] of list(json["interfaces"], `${path}.interfaces`, bad)) {
    const p = `${path}.interfaces[${n}]`;
    if (!isObject(i) || typeof i["name"] !== "string") {
      bad(p, "must be an object with a string name");
      continue;
    }
    const iface: CniInterface = { name: i["name"], mac: typeof i["mac"] === "string" ? i["mac"] : "" };
    if (typeof i["sandbox"] === "string" && i["sandbox"] !== "") iface.sandbox = i["sandbox"];
    if (typeof i["mtu"] === "number" && i["mtu"] > 0) iface.mtu = i["mtu"];
    if (typeof i["socketPath"] === "string" && i["socketPath"] !== "") iface.socketPath = i["socketPath"];
    if (typeof i["pciID"] === "string" && i["pciID"] !== "") iface.pciID = i["pciID"];
    result.interfaces.push(iface);
  }

  for (const [n, ip] of list(json["ips"], `${path}.ips`, bad)) {
    const p = `${path}.ips[${n}]`;
    if (!isObject(ip) || typeof ip["address"] !== "string" || cidrFamily(ip["address"]) === 0) {
      bad(`${p}.address`, "must be an address with prefix length");
      continue;
    }
    const out: CniIpConfig = { address: ip["address"] };
    if (typeof ip["gateway"] === "string" && ip["gateway"] !== "") out.gateway = ip["gateway"];
    const index = ip["interface"];
    if (index !== undefined && index !== null) {
      if (typeof index === "number" && Number.isInteger(index) && index >= 0) out.interface = index;
      else bad(`${p}.interface`, "must be an interface index");
    }
    result.ips.push(out);
  }

  for (const [n, r] of list(json["routes"], `${path}.routes`, bad)) {
    const p = `${path}.routes[${n}]`;
    if (!isObject(r) || typeof r["dst"] !== "string" || cidrFamily(r["dst"]) === 0) {
      bad(`${p}.dst`, "must be a prefix");
      continue;
    }
    const out: CniRoute = { dst: r["dst"] };
    if (typeof r["gw"] === "string" && r["gw"] !== "") out.gw = r["gw"];
    for (const k of ["mtu", "advmss", "priority", "table", "scope"] as const) {
      const v = r[k];
      if (typeof v === "number") out[k] = v;
    }
    result.routes.push(out);
  }

  const dns = json["dns"];
  if (dns !== undefined && dns !== null) {
    if (!isObject(dns)) bad(`${path}.dns`, "must be an object");
    else Object.assign(result.dns, parseDns(dns, `${path}.dns`, bad));
  }

  return result;
}

/** The DNS object of a result or of a network config's `dns` field. */
export function parseDns(dns: Json, path: string, bad: (path: string, message: string) => void): CniDns {
  const out: CniDns = {};
  for (const k of ["nameservers", "search", "options"] as const) {
    const v = dns[k];
    if (v === undefined || v === null) continue;
    if (!Array.isArray(v) || !v.every((s) => typeof s === "string")) bad(`${path}.${k}`, "must be a list of strings");
    else if (v.length > 0) out[k] = [...(v as string[])];
  }
  const domain = dns["domain"];
  if (domain !== undefined && domain !== null) {
    if (typeof domain !== "string") bad(`${path}.domain`, "must be a string");
    else if (domain !== "") out.domain = domain;
  }
  return out;
}

export function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function list(v: unknown, path: string, bad: (path: string, message: string) => void): [number, unknown][] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) {
    bad(path, "must be a list");
    return [];
  }
  return v.map((x, n) => [n, x]);
}
