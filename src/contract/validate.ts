// The check an agent runs on every record as it arrives, by key: a record that is not what its key says (a
// store written by hand, a netmaster of another version) is set aside with the reason, so the agent can name
// it (agent/pipeline: the unit it belongs to fails) instead of reading fields that are not there. Config
// objects are checked with their model's field rules, not the rules that compare fields (those are
// netmaster's to enforce on input; a record it stored once stays readable).

import { z } from "zod";
import { kinds, type ObjectType } from "../model/index.js";
import { ROOT } from "./keys.js";
import { AddressBlockRecord, DockerReservationRecord, EndpointRecord, GroupRecord, HostRecord, NetworkTags, ServiceRecord, TenantRecord } from "./records.js";

const STATE_SCHEMAS: Record<string, z.ZodType> = {
  eps: EndpointRecord,
  nets: NetworkTags,
  epgs: GroupRecord,
  services: ServiceRecord,
  tenants: TenantRecord,
  hosts: HostRecord,
  docker: DockerReservationRecord,
  blocks: AddressBlockRecord,
};

const objectSchemas = new Map<string, z.ZodType>();

function objectSchema(type: string): z.ZodType | undefined {
  const kind = kinds[type as ObjectType];
  if (kind === undefined) return undefined;
  let schema = objectSchemas.get(type);
  if (schema === undefined) {
    const full = kind.schema as z.ZodType;
    schema = full instanceof z.ZodObject ? z.object(full.shape) : full;
    objectSchemas.set(type, schema);
  }
  return schema;
}

/** What is wrong with the record at `key`, or undefined when it is one (or one the agent has no rules for). */
export function recordProblem(key: string, value: unknown): string | undefined {
  if (!key.startsWith(ROOT)) return undefined;
  const [area, kind] = key.slice(ROOT.length).split("/");
  const schema = area === "obj" ? objectSchema(kind ?? "") : area === "state" ? STATE_SCHEMAS[kind ?? ""] : undefined;
  if (schema === undefined) return undefined;
  const parsed = schema.safeParse(value);
  if (parsed.success) return undefined;
  const issue = parsed.error.issues[0]!;
  return `${issue.path.length > 0 ? `${issue.path.join(".")}: ` : ""}${issue.message}`;
}
