// Hosts: each agent registers the host it runs on (name, VTEP address, MTU),
// so netmaster and the other agents know where endpoints live.

import { isDeepStrictEqual } from "node:util";
import type { EndpointOperReport, HostRegistration } from "../contract/api.js";
import type { HostRecord } from "../contract/records.js";
import { NotFoundError } from "../lib/errors.js";
import { releaseDockerHost } from "./docker/index.js";
import { deleteEndpoint } from "./endpoints.js";
import { releaseHostBlocks } from "./blocks.js";
import { endpointKey, HOST_PREFIX, hostKey } from "../contract/keys.js";
import { listEndpoints } from "./objects/common.js";
import { revokeHost } from "./auth/cascade.js";
import type { EndpointState } from "./records.js";
import type { Tx } from "./tx.js";
import { implicitLabels } from "../lib/labels.js";

export function registerHost(tx: Tx, name: string, reg: HostRegistration): HostRecord {
  const record: HostRecord = { name, ...reg };
  const old = tx.get<HostRecord>(hostKey(name));
  if (!old || !isDeepStrictEqual(old, record)) tx.put(hostKey(name), record);
  return record;
}

/** What removing a host released, beside its record. */
export interface HostRemoval {
  /** Ids of the endpoints that were homed on it. */
  endpoints: string[];
  /** Its address blocks, "<tenant>:<network> <cidr>", their addresses given back to their networks. */
  blocks: string[];
}

/**
 * Removes a host gone for good with everything it held, in the caller's one transaction: every endpoint homed
 * there (containers' and its own infra endpoints, with their addresses), its address blocks, what its dockerd
 * holds (pools and address reservations), and its record. Its agent registers it again if it ever comes back. A host the store
 * holds nothing of is a NotFoundError; leftovers of one whose record is gone already are removed like the rest.
 */
export function deregisterHost(tx: Tx, name: string): HostRemoval {
  const registered = tx.get<HostRecord>(hostKey(name)) !== undefined;
  const endpoints = listEndpoints(tx)
    .filter((ep) => ep.homingHost === name)
    .map((ep) => deleteEndpoint(tx, ep.endpointID).endpointID);
  // After the endpoints: each took its address off its block, which is empty now.
  const blocks = releaseHostBlocks(tx, name).map((b) => `${b.tenantName}:${b.networkName} ${b.cidr}`);
  const docker = releaseDockerHost(tx, name, new Set(endpoints));
  const revoked = revokeHost(tx, name);
  if (!registered && endpoints.length === 0 && blocks.length === 0 && docker === 0 && !revoked) throw new NotFoundError(`Host ${name} not found`);
  if (registered) tx.delete(hostKey(name));
  return { endpoints, blocks };
}

/** A host as `netctl host ls` shows it: registered, or holding endpoints without a record. */
export interface HostSummary {
  name: string;
  registered: boolean;
  vtepIP: string;
  mtu: number;
  agentVersion: string;
  /** Endpoints homed on it, its own infra endpoints included. */
  endpoints: number;
}

/** Every host that is registered or has endpoints homed on it, by name. */
export function listHosts(tx: Tx): HostSummary[] {
  const hosts = new Map<string, HostSummary>();
  for (const [, h] of tx.list<HostRecord>(HOST_PREFIX)) hosts.set(h.name, { ...h, registered: true, endpoints: 0 });
  for (const ep of listEndpoints(tx)) {
    const h = hosts.get(ep.homingHost) ?? { name: ep.homingHost, registered: false, vtepIP: "", mtu: 0, agentVersion: "", endpoints: 0 };
    hosts.set(h.name, { ...h, endpoints: h.endpoints + 1 });
  }
  return [...hosts.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Records where and how the agent plumbed the endpoint; unchanged reports write nothing. */
export function reportEndpointOper(tx: Tx, id: string, report: EndpointOperReport): EndpointState {
  const ep = tx.get<EndpointState>(endpointKey(id));
  if (!ep) throw new NotFoundError(`Endpoint ${id} not found`);
  const next: EndpointState = {
    ...ep,
    intfName: report.intfName,
    vtepIP: report.vtepIP,
    ...(report.containerName === undefined ? {} : { containerName: report.containerName }),
    // The runtime's labels replace the runtime's earlier ones; netmaster's own stay.
    ...(report.labels === undefined ? {} : { labels: { ...report.labels, ...implicitLabels(ep.tenantName, ep.networkName, ep.groupName) } }),
  };
  if (isDeepStrictEqual(next, ep)) return ep;
  tx.put(endpointKey(id), next);
  return next;
}
