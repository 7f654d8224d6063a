// The registry of configurable object kinds and the one way a request body becomes an object:
// parseObject() decodes it as Go's encoding/json would into Contiv's struct, checks the key,
// then applies the kind's schema (defaults and field rules).

import { z } from "zod";
import { type Issue, ValidationError } from "../lib/errors.js";
import { AciGw, AppProfile, ExtContractsGroup } from "./aci.js";
import { Bgp } from "./bgp.js";
import { bodyTypeMessage } from "./common.js";
import { EndpointGroup } from "./endpointGroup.js";
import { Global } from "./global.js";
import { NetProfile } from "./netprofile.js";
import { Network } from "./network.js";
import { Policy } from "./policy.js";
import { Rule } from "./rule.js";
import { ServiceLB } from "./serviceLB.js";
import { Tenant } from "./tenant.js";

/** modeldb type names, as in Contiv. */
export type ObjectType =
  | "tenant"
  | "network"
  | "endpointGroup"
  | "policy"
  | "rule"
  | "netprofile"
  | "appProfile"
  | "extContractsGroup"
  | "global"
  | "aciGw"
  | "Bgp"
  | "serviceLB";

/** The object type behind each modeldb type name. */
export interface ModelTypes {
  tenant: Tenant;
  network: Network;
  endpointGroup: EndpointGroup;
  policy: Policy;
  rule: Rule;
  netprofile: NetProfile;
  appProfile: AppProfile;
  extContractsGroup: ExtContractsGroup;
  global: Global;
  aciGw: AciGw;
  Bgp: Bgp;
  serviceLB: ServiceLB;
}

export type ModelObject = ModelTypes[ObjectType];

export interface ObjectKind<T = ModelObject> {
  /** modeldb type name, as in Contiv. */
  type: ObjectType;
  /** REST collection segment, e.g. "policys" (sic) or "Bgps". */
  collection: string;
  /** The fields whose values, joined with ":", make the key. */
  keyFields: readonly string[];
  schema: z.ZodType<T>;
}

export const kinds: { readonly [K in ObjectType]: ObjectKind<ModelTypes[K]> } = {
  tenant: { type: "tenant", collection: "tenants", keyFields: ["tenantName"], schema: Tenant },
  network: {
    type: "network",
    collection: "networks",
    keyFields: ["tenantName", "networkName"],
    schema: Network,
  },
  endpointGroup: {
    type: "endpointGroup",
    collection: "endpointGroups",
    keyFields: ["tenantName", "groupName"],
    schema: EndpointGroup,
  },
  policy: {
    type: "policy",
    collection: "policys",
    keyFields: ["tenantName", "policyName"],
    schema: Policy,
  },
  rule: {
    type: "rule",
    collection: "rules",
    keyFields: ["tenantName", "policyName", "ruleId"],
    schema: Rule,
  },
  netprofile: {
    type: "netprofile",
    collection: "netprofiles",
    keyFields: ["tenantName", "profileName"],
    schema: NetProfile,
  },
  appProfile: {
    type: "appProfile",
    collection: "appProfiles",
    keyFields: ["tenantName", "appProfileName"],
    schema: AppProfile,
  },
  extContractsGroup: {
    type: "extContractsGroup",
    collection: "extContractsGroups",
    keyFields: ["tenantName", "contractsGroupName"],
    schema: ExtContractsGroup,
  },
  global: { type: "global", collection: "globals", keyFields: ["name"], schema: Global },
  aciGw: { type: "aciGw", collection: "aciGws", keyFields: ["name"], schema: AciGw },
  Bgp: { type: "Bgp", collection: "Bgps", keyFields: ["hostname"], schema: Bgp },
  serviceLB: {
    type: "serviceLB",
    collection: "serviceLBs",
    keyFields: ["tenantName", "serviceName"],
    schema: ServiceLB,
  },
};

const allKinds: readonly ObjectKind[] = Object.values(kinds);

/** The kind served under a REST collection segment (case-sensitive, as in Contiv). */
export function kindByCollection(collection: string): ObjectKind | undefined {
  return allKinds.find((k) => k.collection === collection);
}

/** Go struct names, for decode error texts. */
const GO_STRUCT: { readonly [K in ObjectType]: string } = {
  tenant: "Tenant",
  network: "Network",
  endpointGroup: "EndpointGroup",
  policy: "Policy",
  rule: "Rule",
  netprofile: "Netprofile",
  appProfile: "AppProfile",
  extContractsGroup: "ExtContractsGroup",
  global: "Global",
  aciGw: "AciGw",
  Bgp: "Bgp",
  serviceLB: "ServiceLB",
};

/** The parts of a key: "default:net1" → ["default", "net1"]. */
export function splitKey(key: string): string[] {
  return key.split(":");
}

/** The key an object belongs under: its key fields joined with ":" (non-strings count as ""). */
export function keyOf(kind: ObjectKind<unknown>, obj: Record<string, unknown>): string {
  return kind.keyFields.map((f) => (typeof obj[f] === "string" ? obj[f] : "")).join(":");
}

function fieldNames(kind: ObjectKind<unknown>): string[] {
  return kind.schema instanceof z.ZodObject ? Object.keys(kind.schema.shape) : [...kind.keyFields];
}

/**
 * The body as Go's encoding/json would have filled Contiv's struct: JSON names match exactly or
 * else case-insensitively, later keys win, unknown keys (`link-sets`, `links`, …) are dropped,
 * null leaves a field at its zero value (and a null array element is ""). Throws if the body is
 * not an object.
 */
function decodeBody(kind: ObjectKind<unknown>, body: unknown): Record<string, unknown> {
  if (body === null || body === undefined) return {};
  if (typeof body !== "object" || Array.isArray(body)) {
    const message = bodyTypeMessage(GO_STRUCT[kind.type], body);
    throw new ValidationError(message, [{ path: "", message }]);
  }
  const fields = fieldNames(kind);
  const folded = new Map(fields.map((f) => [f.toLowerCase(), f]));
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(body)) {
    const field = fields.includes(name) ? name : folded.get(name.toLowerCase());
    if (field === undefined || value === null) continue;
    out[field] = Array.isArray(value) ? value.map((v: unknown) => (v === null ? "" : v)) : value;
  }
  return out;
}

function toIssue(issue: z.core.$ZodIssue): Issue {
  return { path: issue.path.map(String).join("."), message: issue.message };
}

/**
 * Validates a request body for the object at `key`; applies defaults; sets `key`. Throws
 * ValidationError whose message is the first problem in the order the original reports them
 * (JSON type errors, then "Invalid Key", then field rules in JSON-name order) and whose issues
 * are all of them.
 */
export function parseObject<T>(kind: ObjectKind<T>, key: string, body: unknown): T {
  const input = decodeBody(kind, body);
  // The URL key wins over any `key` in the body, as in the original; the key fields must be in the body
  // and spell the same key ("Invalid Key" otherwise), so a body that names nothing creates nothing.
  input.key = key;

  const result = kind.schema.safeParse(input);
  const zodIssues = result.success ? [] : result.error.issues;
  const issues: Issue[] = [
    ...zodIssues.filter((i) => i.code === "invalid_type").map(toIssue),
    ...(keyOf(kind, input) === key ? [] : [{ path: "key", message: "Invalid Key" }]),
    ...zodIssues.filter((i) => i.code !== "invalid_type").map(toIssue),
  ];
  if (result.success && issues.length === 0) return result.data;
  throw new ValidationError(issues[0]?.message ?? "Invalid object", issues);
}

/**
 * A copy without the fields Go's `omitempty` would leave out ("", 0, false, [], null), so GET
 * and list responses carry the same keys as Contiv's.
 */
export function omitEmpty<T extends object>(obj: T): Partial<T> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(obj)) {
    if (value === "" || value === 0 || value === false || value === null || value === undefined) continue;
    if (Array.isArray(value) && value.length === 0) continue;
    out[name] = value;
  }
  return out as Partial<T>;
}
