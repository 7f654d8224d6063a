// Kernel object names, one function per kind, so that everything the agent
// makes can be found again after a restart and removed by --cleanup.
// Interface names must fit IFNAMSIZ (15 characters).

import { createHash } from "node:crypto";

function shortHash(text: string, length: number): string {
  return createHash("sha256").update(text).digest("hex").slice(0, length);
}

/** "np" + 6 hex characters of the host name's hash: unique enough per machine, short enough for link names. */
export function hostPrefix(host: string): string {
  return `np${shortHash(host, 6)}`;
}

/** Tenant namespace: "<prefix>-t-<tenant>" (namespace names are file names, not bound by IFNAMSIZ). */
export function tenantNamespace(prefix: string, tenant: string): string {
  return `${prefix}-t-${tenant}`;
}

/** True for every namespace name this prefix's agent may have made. */
export function ownsNamespace(prefix: string, namespace: string): boolean {
  return namespace.startsWith(`${prefix}-`);
}

/** Bridge of a network, inside its tenant's namespace: "nb" + 8 hex of the network name. */
export function bridgeName(network: string): string {
  return `nb${shortHash(network, 8)}`;
}

/** Host side of an endpoint's veth, inside the tenant namespace: "ne" + 10 hex of the endpoint id. */
export function endpointLinkName(endpointId: string): string {
  return `ne${shortHash(endpointId, 10)}`;
}

/** The nft table we own in each tenant namespace. */
export const NFT_TABLE = "netplugin";

/** A network's VXLAN device (in the tenant namespace once moved; created briefly in the agent's namespace). */
export function vxlanName(vni: number): string {
  return `nv${vni}`;
}

/** Agent-namespace end of a tenant's uplink veth: carries the prefix (it lives outside our namespaces). */
export function uplinkHostLink(prefix: string, tenant: string): string {
  return `${prefix}u${shortHash(tenant, 5)}`;
}

/** Agent-namespace end of a network's gateway veth (OVS driver: a port of the bridge): carries the prefix. */
export function gatewayHostLink(prefix: string, tenant: string, network: string): string {
  return `${prefix}g${shortHash(`${tenant}:${network}`, 5)}`;
}

/** Tenant-namespace end of a network's gateway veth (OVS driver): holds the gateway's MAC and addresses. */
export function gatewayTenantLink(network: string): string {
  return `ng${shortHash(network, 8)}`;
}

/** Tenant-namespace end of the uplink veth. */
export const UPLINK_TENANT_LINK = "nuplink";

/** Agent-namespace end of a host endpoint on an infra network: carries the prefix. */
export function hostEndpointLink(prefix: string, tenant: string, network: string): string {
  return `${prefix}h${shortHash(`${tenant}:${network}`, 5)}`;
}

/** OVS driver: the bridge's end (a port) of a host endpoint's veth, in the agent's namespace: carries the prefix. */
export function hostEndpointPort(prefix: string, tenant: string, network: string): string {
  return `${prefix}i${shortHash(`${tenant}:${network}`, 5)}`;
}

/** Tenant-namespace end of a host endpoint. */
export function hostEndpointTenantLink(network: string): string {
  return `nh${shortHash(network, 8)}`;
}

/** Our nft table in the agent's own namespace (NAT for tenant uplinks). */
export function hostNftTable(prefix: string): string {
  return `netplugin_${prefix}`;
}
