// Oper views for inspect: derived from the config objects, the runtime
// records and the endpoints at the moment of the query (nothing is counted
// incrementally, so nothing can drift). Field names are Contiv's.

import { ConflictError, NotFoundError } from "../lib/errors.js";
import type {
  AppProfile,
  EndpointGroup,
  EndpointOper,
  Global,
  ModelObject,
  Network,
  ObjectType,
  ServiceLB,
  Tenant,
} from "../model/index.js";
import { parseSelector } from "../model/index.js";
import { Ipv4Allocator, PoolAllocator, parseTagRange, VlanAllocator, VxlanAllocator } from "./alloc/index.js";
import { groupStateKey, networkStateKey, objectKey, serviceStateKey, TAGS_KEY } from "../contract/keys.js";
import type { EndpointState, GroupState, NetworkState, ServiceState } from "./records.js";
import type { Tx } from "./tx.js";
import { listEndpoints, listObjects, listTenantObjects } from "./objects/common.js";
import { listBlocks } from "./blocks.js";
import type { TagsState } from "./objects/global.js";
import { groupsUsingPolicy } from "./objects/policy.js";
import { serviceVip } from "./objects/service.js";

/** Go's fmt of a map[string]string: keys sorted, "map[k1:v1 k2:v2]". */
function goMap(labels: Record<string, string>): string {
  const parts = Object.keys(labels)
    .sort()
    .map((k) => `${k}:${labels[k]}`);
  return `map[${parts.join(" ")}]`;
}

/**
 * The host side of the endpoint's attachment: the bridge path's veth (the agent reports it) and its port on the
 * bridge; nothing for macvlan and ipvlan, made on the uplink straight into the container's namespace; the
 * moved host interface for host-device.
 */
function hostSide(tx: Tx, ep: EndpointState): { intfName: string; virtualPort: string } {
  const net = tx.get<Network>(objectKey("network", `${ep.tenantName}:${ep.networkName}`));
  const mode = net?.attachMode ?? "bridge";
  if (mode === "bridge") return { intfName: ep.intfName, virtualPort: ep.intfName ? `v${ep.intfName}` : "" };
  return { intfName: mode === "host-device" ? (net?.device ?? "") : "", virtualPort: "" };
}

export function endpointOper(tx: Tx, ep: EndpointState): EndpointOper {
  const { intfName, virtualPort } = hostSide(tx, ep);
  const groupId = ep.groupName
    ? (tx.get<GroupState>(groupStateKey(`${ep.tenantName}:${ep.groupName}`))?.groupId ?? 0)
    : 0;
  return {
    containerID: ep.containerID,
    containerName: ep.containerName,
    endpointGroupId: groupId,
    endpointGroupKey: ep.groupName ? `${ep.groupName}:${ep.tenantName}` : "",
    endpointID: ep.endpointID,
    homingHost: ep.homingHost,
    intfName,
    ipAddress: [ep.ipAddress, ep.ipv6Address],
    ipamSource: ep.ipamSource ?? "netmaster",
    labels: goMap(ep.labels),
    macAddress: ep.macAddress,
    network: `${ep.networkName}.${ep.tenantName}`,
    serviceName: ep.groupName,
    virtualPort,
    vtepIP: ep.vtepIP,
  };
}

/** The network's allocator as inspect shows it: a block's unassigned addresses are free, for its host to assign. */
function addressesAsUsed(tx: Tx, networkKey: string, state: NetworkState): Ipv4Allocator {
  const ipv4 = Ipv4Allocator.fromJSON(state.ipv4);
  for (const block of listBlocks(tx, networkKey)) {
    for (const address of block.addresses) if (block.assigned[address] === undefined) ipv4.release(address);
  }
  return ipv4;
}

function networkOper(tx: Tx, net: Network): Record<string, unknown> {
  const state = tx.get<NetworkState>(networkStateKey(net.key));
  const eps = listEndpoints(tx).filter((ep) => ep.tenantName === net.tenantName && ep.networkName === net.networkName);
  const ipv4 = state ? addressesAsUsed(tx, net.key, state) : undefined;
  const blocks = listBlocks(tx, net.key);
  return {
    allocatedAddressesCount: eps.filter((ep) => !ep.requestedIp).length,
    allocatedIPAddresses: ipv4?.allocatedString() ?? "",
    availableIPAddresses: ipv4?.availableString() ?? "",
    externalPktTag: state?.extPktTag ?? 0,
    numEndpoints: eps.length,
    pktTag: state?.pktTag ?? 0,
    networkTag: net.cfgdTag || `${net.networkName}.${net.tenantName}`,
    endpoints: eps.map((ep) => endpointOper(tx, ep)),
    // Ours, not Contiv's: the hosts' address blocks, each with how many of its addresses are assigned.
    addressBlocks: blocks.map((b) => ({ host: b.host, cidr: b.cidr, assigned: Object.keys(b.assigned).length, size: b.addresses.length })),
  };
}

function groupOper(tx: Tx, g: EndpointGroup): Record<string, unknown> {
  const netState = tx.get<NetworkState>(networkStateKey(`${g.tenantName}:${g.networkName}`));
  const state = tx.get<GroupState>(groupStateKey(g.key));
  const eps = listEndpoints(tx).filter((ep) => ep.tenantName === g.tenantName && ep.groupName === g.groupName);
  let allocated = "";
  let available = "";
  if (state?.pool) {
    const pool = PoolAllocator.fromJSON(state.pool);
    allocated = pool.allocatedString();
    available = pool.availableString();
  } else if (netState) {
    const ipv4 = addressesAsUsed(tx, `${g.tenantName}:${g.networkName}`, netState);
    allocated = eps.map((ep) => ep.ipAddress).filter((a) => a !== "").join(", ");
    available = ipv4.availableString();
  }
  return {
    allocatedIPAddresses: allocated,
    availableIPAddresses: available,
    endpointGroupId: state?.groupId ?? 0,
    externalPktTag: netState?.extPktTag ?? 0,
    groupTag: g.cfgdTag || `${g.groupName}.${g.tenantName}`,
    numEndpoints: eps.length,
    pktTag: netState?.pktTag ?? 0,
    endpoints: eps.map((ep) => endpointOper(tx, ep)),
  };
}

function tenantOper(tx: Tx, t: Tenant): Record<string, unknown> {
  const name = t.tenantName;
  const networks = listTenantObjects<Network>(tx, "network", name);
  const groups = listTenantObjects<EndpointGroup>(tx, "endpointGroup", name);
  const eps = listEndpoints(tx).filter((ep) => ep.tenantName === name);
  return {
    totalNetworks: networks.length,
    totalEPGs: groups.length,
    totalNetprofiles: listTenantObjects(tx, "netprofile", name).length,
    totalAppProfiles: listTenantObjects(tx, "appProfile", name).length,
    totalServicelbs: listTenantObjects(tx, "serviceLB", name).length,
    totalPolicies: listTenantObjects(tx, "policy", name).length,
    totalEndpoints: eps.length,
    networks: networks.map((n) => networkOper(tx, n)),
    endpointGroups: groups.map((g) => groupOper(tx, g)),
  };
}

function globalOper(tx: Tx, g: Global): Record<string, unknown> {
  const tags = tx.get<TagsState>(TAGS_KEY);
  const vlan = tags ? VlanAllocator.fromJSON(tags.vlan) : undefined;
  const vxlan = tags ? VxlanAllocator.fromJSON(tags.vxlan) : undefined;
  return {
    clusterMode: "kubernetes",
    defaultNetwork: "",
    numNetworks: listObjects(tx, "network").length,
    vlansInUse: vlan?.inUseString() ?? "",
    vxlansInUse: vxlan?.inUseString() ?? "",
    freeVXLANsStart: parseTagRange(g.vxlans, "vxlan").min,
  };
}

/**
 * Endpoints of the service's tenant whose labels include every selector; in bridge mode only those on the
 * service's network (the agents' rule: the tenant's networks are separate segments there).
 */
export function serviceProviders(tx: Tx, s: ServiceLB): EndpointState[] {
  const selectors = s.selectors.map(parseSelector);
  const bridged = tx.get<{ fwdMode?: string }>(objectKey("global", "global"))?.fwdMode !== "routing";
  return listEndpoints(tx).filter(
    (ep) =>
      ep.tenantName === s.tenantName &&
      (!bridged || ep.networkName === s.networkName) &&
      selectors.every(({ key, value }) => ep.labels[key] === value),
  );
}

function serviceOper(tx: Tx, s: ServiceLB): Record<string, unknown> {
  const providers = serviceProviders(tx, s);
  const vip6 = tx.get<ServiceState>(serviceStateKey(s.key))?.vip6;
  return {
    serviceVip: serviceVip(tx, s),
    ...(vip6 ? { serviceVip6: vip6 } : {}),
    numProviders: providers.length,
    providers: providers.map((ep) => endpointOper(tx, ep)),
  };
}

function policyOper(tx: Tx, p: { tenantName: string; policyName: string }): Record<string, unknown> {
  const groups = new Set(groupsUsingPolicy(tx, p.tenantName, p.policyName).map((g) => g.groupName));
  const eps = listEndpoints(tx).filter((ep) => ep.tenantName === p.tenantName && groups.has(ep.groupName));
  return { numEndpoints: eps.length, endpoints: eps.map((ep) => endpointOper(tx, ep)) };
}

export function inspectObject(tx: Tx, type: ObjectType, obj: ModelObject): { Config: ModelObject; Oper?: unknown } {
  switch (type) {
    case "tenant":
      return { Config: obj, Oper: tenantOper(tx, obj as Tenant) };
    case "network":
      return { Config: obj, Oper: networkOper(tx, obj as Network) };
    case "endpointGroup":
      return { Config: obj, Oper: groupOper(tx, obj as EndpointGroup) };
    case "policy":
      return { Config: obj, Oper: policyOper(tx, obj as { tenantName: string; policyName: string }) };
    case "global":
      return { Config: obj, Oper: globalOper(tx, obj as Global) };
    case "serviceLB":
      return { Config: obj, Oper: serviceOper(tx, obj as ServiceLB) };
    case "aciGw":
      return { Config: obj, Oper: { numAppProfiles: listObjects<AppProfile>(tx, "appProfile").length } };
    case "Bgp":
      return { Config: obj, Oper: { numRoutes: 0, neighborStatus: "", adminStatus: "", routes: [] } };
    default:
      return { Config: obj };
  }
}

/**
 * The one endpoint `id` names: an exact match on endpoint id, container id or name, else a unique substring
 * match (Contiv took the first); and its oper view.
 */
export function inspectEndpoint(tx: Tx, id: string): { Oper: EndpointOper; endpoint: EndpointState } {
  const eps = listEndpoints(tx);
  const exact = eps.filter((ep) => ep.endpointID === id || ep.containerID === id || ep.containerName === id);
  const matches = exact.length > 0 ? exact : eps.filter((ep) => `${ep.endpointID} ${ep.containerID} ${ep.containerName}`.includes(id));
  if (matches.length === 0) throw new NotFoundError(`endpoint ${id} not found`);
  if (matches.length > 1) {
    throw new ConflictError(`endpoint ${id} is ambiguous: it matches ${matches.map((ep) => ep.endpointID).join(", ")}`);
  }
  return { Oper: { key: id, ...endpointOper(tx, matches[0]!) }, endpoint: matches[0]! };
}
