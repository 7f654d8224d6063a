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
