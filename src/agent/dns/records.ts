// A tenant's names and the lookup rules of Contiv's inline DNS (reference §3.9). Pure.
//
// Order, first match wins (a name "matches" a set when it has addresses of the asked family):
//   A    service LB names → group names (≤10 endpoint addresses) → container names
//   AAAA service LB names → group names → container names
//        (Contiv had no IPv6 services, so it asked groups then containers: same result)
//   ANY  the A answer, then the AAAA answer
// Names compare exactly, case-insensitively, without the trailing dot; container names lose
// Docker's leading "/". A name that exists with no address of the asked type gets NOERROR and
// no answers, not NXDOMAIN.

import { isIPv4, isIPv6 } from "node:net";
import { z } from "zod";

/** Contiv's TTL for every answer, in seconds. */
export const DNS_TTL = 120;
/** Most address records in one answer (Contiv: ≤10 endpoint addresses per group). */
export const MAX_ANSWERS = 10;

/** A name and its addresses. Unparsable addresses are accepted here and skipped by the index. */
export const NamedAddresses = z.object({
  name: z.string().max(1024),
  ipv4: z.array(z.string().max(64)),
  ipv6: z.array(z.string().max(64)),
});
export type NamedAddresses = z.infer<typeof NamedAddresses>;

export const TenantRecords = z.object({
  /** Service LB names; ipv4 holds the VIP. */
  services: z.array(NamedAddresses),
  /** Endpoint group names with their endpoints' addresses. */
  groups: z.array(NamedAddresses),
  /** Container names (a leading "/" is ignored) with that container's addresses. */
  endpoints: z.array(NamedAddresses),
  /** Tenant domain: "<name>.<domain>" answers as "<name>"; unknown names under it get NXDOMAIN. */
  domain: z.string().max(253).optional(),
});
export type TenantRecords = z.infer<typeof TenantRecords>;

export const EMPTY_RECORDS: TenantRecords = { services: [], groups: [], endpoints: [] };

export type QueryKind = "A" | "AAAA" | "ANY" | "OTHER";

export interface AddressAnswer {
  type: "A" | "AAAA";
  address: string;
}

export type LookupResult =
  /** The name exists and has addresses of the asked type. */
  | { status: "found"; answers: AddressAnswer[] }
  /** The name exists, but not with the asked type: NOERROR, no answers. */
  | { status: "empty" }
  /** Not ours. `inDomain` is true when the name is under the tenant domain (answer NXDOMAIN, don't forward). */
  | { status: "unknown"; inDomain: boolean };

interface Family {
  v4: string[];
  v6: string[];
}

/** Name → addresses per kind, built once per records update so lookups are map reads. */
export class RecordIndex {
  readonly services = new Map<string, Family>();
  readonly groups = new Map<string, Family>();
  readonly endpoints = new Map<string, Family>();
  readonly domain: string | undefined;

  constructor(records: TenantRecords) {
    fill(this.services, records.services, false);
    fill(this.groups, records.groups, false);
    fill(this.endpoints, records.endpoints, true);
    const domain = records.domain === undefined ? "" : normalizeName(records.domain);
    this.domain = domain === "" ? undefined : domain;
  }

  get size(): number {
    return this.services.size + this.groups.size + this.endpoints.size;
  }
}

/** Same name twice in one kind (a container name on two hosts): the addresses merge. */
function fill(map: Map<string, Family>, entries: NamedAddresses[], stripSlash: boolean): void {
  for (const entry of entries) {
    let name = normalizeName(entry.name);
    if (stripSlash) name = name.replace(/^\/+/, "");
    if (name === "") continue;
    const family = map.get(name) ?? { v4: [], v6: [] };
    for (const a of entry.ipv4) if (isIPv4(a) && !family.v4.includes(a)) family.v4.push(a);
    for (const a of entry.ipv6) if (isIPv6(a) && !family.v6.includes(a)) family.v6.push(a);
    map.set(name, family);
  }
}

/** Lower case, no trailing dot. */
export function normalizeName(name: string): string {
  return name.trim().replace(/\.$/, "").toLowerCase();
}

export function queryKind(qtype: number): QueryKind {
  switch (qtype) {
    case 1:
      return "A";
    case 28:
      return "AAAA";
    case 255:
      return "ANY";
    default:
      return "OTHER";
  }
}

/** Looks a query name up; `qtype` is the DNS type number (1 A, 28 AAAA, 255 ANY) or its kind. */
export function lookup(records: TenantRecords | RecordIndex, qname: string, qtype: number | QueryKind): LookupResult {
  const index = records instanceof RecordIndex ? records : new RecordIndex(records);
  const kind = typeof qtype === "number" ? queryKind(qtype) : qtype;
  const full = normalizeName(qname);
  const domain = index.domain;
  const inDomain = domain !== undefined && (full === domain || full.endsWith(`.${domain}`));
  // The full name first, so a container literally named "x.<domain>" still answers.
  const candidates = [full];
  if (inDomain && full !== domain) candidates.push(full.slice(0, -(domain.length + 1)));
  for (const name of candidates) {
    if (!exists(index, name)) continue;
    const answers: AddressAnswer[] = [];
    if (kind === "A" || kind === "ANY") answers.push(...firstMatch(index, name, "v4").map((address) => ({ type: "A" as const, address })));
    if (kind === "AAAA" || kind === "ANY") answers.push(...firstMatch(index, name, "v6").map((address) => ({ type: "AAAA" as const, address })));
    return answers.length > 0 ? { status: "found", answers: answers.slice(0, MAX_ANSWERS) } : { status: "empty" };
  }
  return { status: "unknown", inDomain };
}

function exists(index: RecordIndex, name: string): boolean {
  return index.services.has(name) || index.groups.has(name) || index.endpoints.has(name);
}

function firstMatch(index: RecordIndex, name: string, family: keyof Family): string[] {
  for (const map of [index.services, index.groups, index.endpoints]) {
    const addresses = map.get(name)?.[family];
    if (addresses && addresses.length > 0) return addresses.slice(0, MAX_ANSWERS);
  }
  return [];
}
