// Shared reads used by the object controllers: config objects by type and
// key, and the records that link them (who refers to whom).

import type { Tx } from "../tx.js";
import { ENDPOINT_PREFIX, objectKey, objectPrefix } from "../../contract/keys.js";
import type { EndpointState } from "../records.js";
import type { Network } from "../../model/index.js";

export function getObject<T>(tx: Tx, type: string, key: string): T | undefined {
  return tx.get<T>(objectKey(type, key));
}

export function listObjects<T>(tx: Tx, type: string): T[] {
  return tx.list<T>(objectPrefix(type)).map(([, v]) => v);
}

/** Objects of a tenant-scoped type whose key starts with "<tenant>:". */
export function listTenantObjects<T>(tx: Tx, type: string, tenant: string): T[] {
  return tx.list<T>(objectPrefix(type) + tenant + ":").map(([, v]) => v);
}

/** The network's direct attach mode (macvlan, ipvlan, host-device), or undefined on the bridge path. */
export function directAttachMode(tx: Tx, tenant: string, network: string): string | undefined {
  const mode = getObject<Network>(tx, "network", `${tenant}:${network}`)?.attachMode ?? "bridge";
  return mode === "bridge" ? undefined : mode;
}

export function listEndpoints(tx: Tx): EndpointState[] {
  return tx.list<EndpointState>(ENDPOINT_PREFIX).map(([, v]) => v);
}

export function endpointsOfNetwork(tx: Tx, tenant: string, network: string): EndpointState[] {
  return listEndpoints(tx).filter((ep) => ep.tenantName === tenant && ep.networkName === network);
}

export function endpointsOfGroup(tx: Tx, tenant: string, group: string): EndpointState[] {
  return listEndpoints(tx).filter((ep) => ep.tenantName === tenant && ep.groupName === group);
}
