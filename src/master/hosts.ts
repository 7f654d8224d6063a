// Hosts: each agent registers the host it runs on (name, VTEP address, MTU),
// so netmaster and the other agents know where endpoints live.

import { z } from "zod";
import { ConflictError, NotFoundError } from "../lib/errors.js";
import { POOL_PREFIX, releaseDockerPool, type DockerPool } from "./docker/index.js";
import { deleteEndpoint } from "./endpoints.js";
import { endpointKey, hostKey } from "./keys.js";
import { listEndpoints } from "./objects/common.js";
import { HOST_ENDPOINT_PREFIX, type EndpointState } from "./records.js";
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

/**
 * Forgets a host that is gone for good (its agent registers it again if it ever comes back). Its own endpoints
 * on infra networks, and the Docker pools its dockerd was given (with their addresses), are released with it;
 * containers still homed there refuse it.
 */
export function deregisterHost(tx: Tx, name: string): void {
  if (!tx.get<HostRecord>(hostKey(name))) throw new NotFoundError(`Host ${name} is not registered`);
  const homed = listEndpoints(tx).filter((ep) => ep.homingHost === name);
  const own = homed.filter((ep) => ep.containerID === `${HOST_ENDPOINT_PREFIX}${name}`);
  if (homed.length > own.length) {
    throw new ConflictError(`Cannot deregister host ${name}: ${homed.length - own.length} container endpoints are homed on it; delete them first`);
  }
  for (const ep of own) deleteEndpoint(tx, ep.endpointID);
  for (const [, pool] of tx.list<DockerPool>(POOL_PREFIX)) if (pool.host === name) releaseDockerPool(tx, pool.poolId);
  tx.delete(hostKey(name));
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
