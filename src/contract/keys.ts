// Where netmaster keeps each kind of record in the state store, shared by netmaster and its agents. Every
// key of ours lives under ROOT so that one list/watch of ROOT sees the whole state.

export const ROOT = "/netplugin/";

/** Config objects exactly as the REST API accepted them, by modeldb type name. */
export function objectKey(type: string, key: string): string {
  return `${ROOT}obj/${type}/${key}`;
}
export function objectPrefix(type: string): string {
  return `${ROOT}obj/${type}/`;
}

/** Runtime state of a network: packet tags and address allocators. */
export function networkStateKey(networkKey: string): string {
  return `${ROOT}state/nets/${networkKey}`;
}

/** Runtime state of an endpoint group: its id and its ip-pool allocator. */
export function groupStateKey(groupKey: string): string {
  return `${ROOT}state/epgs/${groupKey}`;
}

/** Runtime state of a service load balancer: its allocated VIP. */
export function serviceStateKey(serviceKey: string): string {
  return `${ROOT}state/services/${serviceKey}`;
}

/** Endpoints (containers attached to a network), by endpoint id. */
export function endpointKey(endpointId: string): string {
  return `${ROOT}state/eps/${endpointId}`;
}
export const ENDPOINT_PREFIX = `${ROOT}state/eps/`;

/** Which endpoint holds a MAC address on a network: a MAC is unique per network (one L2 segment). */
export function macKey(networkKey: string, mac: string): string {
  return `${macPrefix(networkKey)}${mac}`;
}
export function macPrefix(networkKey: string): string {
  return `${ROOT}state/macs/${networkKey}/`;
}

/**
 * A host's block of a network's IPv4 addresses (master/blocks.ts): its agent assigns them to the host's
 * containers itself, without asking netmaster first. The CIDR's "/" becomes "_" in the key.
 */
export function blockKey(networkKey: string, cidr: string): string {
  return `${blockPrefix(networkKey)}${cidr.replace("/", "_")}`;
}
export function blockPrefix(networkKey: string): string {
  return `${BLOCK_PREFIX}${networkKey}/`;
}
export const BLOCK_PREFIX = `${ROOT}state/blocks/`;

/** Runtime state of a tenant: its index (which link-local /30 its uplinks use on every host). */
export function tenantStateKey(tenant: string): string {
  return `${ROOT}state/tenants/${tenant}`;
}

/** Next tenant index: a persisted counter, as for group ids. */
export const TENANT_INDEX_KEY = `${ROOT}state/global/tenant-index`;

/** VLAN and VXLAN allocators shared by all networks. */
export const TAGS_KEY = `${ROOT}state/global/tags`;

/** Next endpoint group id: a persisted counter, so ids are never reused after a restart. */
export const EPG_ID_KEY = `${ROOT}state/global/epg-id`;

/** Hosts registered by their agents. */
export function hostKey(name: string): string {
  return `${HOST_PREFIX}${name}`;
}
export const HOST_PREFIX = `${ROOT}state/hosts/`;

/** Held by the netmaster replica that currently leads. Outside ROOT: it is not state, and its value is not JSON. */
export const LEADER_KEY = "/netplugin-leader";

/** Docker's IPAM pools and address reservations (master/docker/). */
export const DOCKER_PREFIX = `${ROOT}state/docker/`;
export const POOL_PREFIX = `${DOCKER_PREFIX}pools/`;
export const POOL_ID_KEY = `${DOCKER_PREFIX}pool-id`;

export function poolKey(poolId: string): string {
  return `${POOL_PREFIX}${poolId}`;
}

/** Which host's dockerd made a network (`tenant:name`): that host's agent may remove it again. */
export function dockerNetworkKey(networkKey: string): string {
  return `${DOCKER_PREFIX}networks/${networkKey}`;
}

/** One record per address handed out by Docker's RequestAddress, under its network. */
export function reservationKey(tenant: string, network: string, address: string): string {
  return `${RESERVATION_PREFIX}${tenant}:${network}/${address}`;
}
export const RESERVATION_PREFIX = `${DOCKER_PREFIX}addresses/`;

/**
 * Users, authorizations, the LDAP configuration, the token signing key, the join token and each host's
 * credential (master/auth/). Under ROOT so replicas share them through the cache; no agent ever receives
 * them (slices.ts gives the area no audience) and the state dump leaves them out.
 */
export const AUTH_PREFIX = `${ROOT}auth/`;
export const USER_PREFIX = `${AUTH_PREFIX}users/`;
export const AUTHZ_PREFIX = `${AUTH_PREFIX}authorizations/`;
export const LDAP_CONFIG_KEY = `${AUTH_PREFIX}ldap`;
export const AUTH_SECRETS_KEY = `${AUTH_PREFIX}secrets`;
export const HOST_CREDENTIAL_PREFIX = `${AUTH_PREFIX}hosts/`;

export function userKey(username: string): string {
  return `${USER_PREFIX}${username}`;
}

export function authzKey(uuid: string): string {
  return `${AUTHZ_PREFIX}${uuid}`;
}

export function hostCredentialKey(host: string): string {
  return `${HOST_CREDENTIAL_PREFIX}${host}`;
}
