// Hosts: each agent registers the host it runs on (name, VTEP address, MTU),
// so netmaster and the other agents know where endpoints live.

import { z } from "zod";
import { NotFoundError } from "../lib/errors.js";
import { endpointKey, hostKey } from "./keys.js";
import type { EndpointState } from "./records.js";
import type { Tx } from "./tx.js";

const Ipv4 = /^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$/;

export const HostName = z.string().regex(/^[A-Za-z0-9]([A-Za-z0-9._-]{0,253}[A-Za-z0-9])?$/, "host name must be a DNS-style name of at most 255 characters");

export const HostRegistration = z.object({
  vtepIP: z.string().regex(Ipv4, "vtepIP must be an IPv4 address").or(z.literal("")).default(""),
  mtu: z.number().int().min(0).max(65535).default(0),
  agentVersion: z.string().max(64).default(""),
});
export type HostRegistration = z.infer<typeof HostRegistration>;

export interface HostRecord extends HostRegistration {
  name: string;
}

export function registerHost(tx: Tx, name: string, reg: HostRegistration): HostRecord {
  const record: HostRecord = { name, ...reg };
  const old = tx.get<HostRecord>(hostKey(name));
  if (!old || JSON.stringify(old) !== JSON.stringify(record)) tx.put(hostKey(name), record);
  return record;
}

export const EndpointOperReport = z.object({
  intfName: z.string().max(64).default(""),
  vtepIP: z.string().max(64).default(""),
});
export type EndpointOperReport = z.infer<typeof EndpointOperReport>;

/** Records where and how the agent plumbed the endpoint; unchanged reports write nothing. */
export function reportEndpointOper(tx: Tx, id: string, report: EndpointOperReport): EndpointState {
  const ep = tx.get<EndpointState>(endpointKey(id));
  if (!ep) throw new NotFoundError(`Endpoint ${id} not found`);
  if (ep.intfName === report.intfName && ep.vtepIP === report.vtepIP) return ep;
  const next = { ...ep, ...report };
  tx.put(endpointKey(id), next);
  return next;
}
