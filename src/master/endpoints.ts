// Endpoints: a container's attachment to a network, created and deleted by
// the host agents. Creating one allocates its addresses (from the group's
// ip pool when the group has one, else from the network) and its MAC; or
// records the address its host's agent assigned from one of the host's
// address blocks (blocks.ts).

import { createHash } from "node:crypto";
import { ConflictError, NotFoundError, ValidationError } from "../lib/errors.js";
import type { EndpointGroup, Network, Tenant } from "../model/index.js";
import { endpointId, macFromIpv4, type EndpointLease, type EndpointReply, type EndpointRequest } from "../contract/api.js";
import { implicitLabels } from "../lib/labels.js";

/** An endpoint as a mutation makes it; the caller adds the revision the write landed in. */
export type EndpointGrant = Omit<EndpointReply, "revision">;
import { Ipv4Allocator, Ipv6Allocator, PoolAllocator } from "./alloc/index.js";
import { endpointKey, groupStateKey, macKey, networkStateKey } from "../contract/keys.js";
import type { EndpointState, GroupState, MacHolder, NetworkState } from "./records.js";
import type { Tx } from "./tx.js";
import { getObject } from "./objects/common.js";
import { getNetworkState } from "./objects/network.js";
import { assignInBlock, blockReservingMac, takesFromBlock, unassignInBlock } from "./blocks.js";

/**
 * The MAC for a new endpoint: the requested one, which must be free on the network, or the one derived from
 * its IPv4 address, or (when a requested MAC took that one) a locally administered one derived from its id.
 * None may be the MAC derived from a free address of a host's block: its agent would give it out too.
 */
function chooseMac(tx: Tx, net: Network, requested: string, ipAddress: string, id: string): string {
  const holder = (mac: string) => tx.get<MacHolder>(macKey(net.key, mac));
  const reserved = (mac: string) => blockReservingMac(tx, net, mac, ipAddress);
  if (requested !== "") {
    const mac = requested.toLowerCase();
    const taken = holder(mac);
    if (taken) throw new ConflictError(`MAC address ${mac} is already used by endpoint ${taken.endpointID} on network ${net.networkName}`);
    const block = reserved(mac);
    if (block) {
      throw new ConflictError(
        `MAC address ${mac} is reserved on network ${net.networkName}: it belongs to an address of host ${block.host}'s address block ${block.cidr}, which its agent may assign`,
      );
    }
    return mac;
  }
  // An endpoint waiting for its DHCP lease has no IPv4 address yet: its MAC comes from its id.
  const derived = ipAddress === "" ? "" : macFromIpv4(ipAddress);
  if (derived !== "" && !holder(derived)) return derived;
  for (let attempt = 0; attempt < 64; attempt++) {
    const bytes = createHash("sha256").update(`${id}/${attempt}`).digest().subarray(0, 6);
    // Locally administered, unicast.
    bytes[0] = (bytes[0]! & 0xfc) | 0x02;
    const mac = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join(":");
    if (!holder(mac) && !reserved(mac)) return mac;
  }
  throw new ConflictError(`Cannot choose a free MAC address on network ${net.networkName}`);
}

/** What an endpoint registered from its host's block may not ask for: the block gives an IPv4 address alone. */
function checkFromBlock(net: Network, req: EndpointRequest, ipamSource: EndpointRequest["ipamSource"], pooled: boolean): void {
  const what = `Cannot record endpoint ${req.containerID} from host ${req.host}'s address block`;
  if (req.ipAddress === "") throw new ValidationError(`${what}: it has no ipAddress`);
  if (ipamSource !== "netmaster") throw new ValidationError(`${what}: blocks are netmaster's addresses (ipamSource netmaster), not ${ipamSource}'s`);
  if (req.ipv6Address !== "" || net.ipv6Subnet) {
    throw new ValidationError(`${what}: network ${net.networkName} has IPv6 addresses, which no block holds: its endpoints go through netmaster`);
  }
  if (pooled) throw new ValidationError(`${what}: group ${req.groupName} takes its addresses from its ip-pool, which no block holds`);
}

function prefixLength(cidr: string): number {
  return Number(cidr.split("/")[1] ?? 0);
}

function resolveNetwork(tx: Tx, req: EndpointRequest): { net: Network; group?: EndpointGroup } {
  if (!getObject<Tenant>(tx, "tenant", req.tenantName)) throw new NotFoundError("Tenant not found");
  let networkName = req.networkName;
  let group: EndpointGroup | undefined;
  if (req.groupName) {
    group = getObject<EndpointGroup>(tx, "endpointGroup", `${req.tenantName}:${req.groupName}`);
    if (!group) throw new NotFoundError(`EndpointGroup ${req.groupName} not found`);
    if (networkName && networkName !== group.networkName) {
      throw new ValidationError(
        `Cannot create endpoint: group "${req.groupName}" belongs to network "${group.networkName}", not "${networkName}"`,
      );
    }
    networkName = group.networkName;
  }
  if (!networkName) throw new ValidationError("Cannot create endpoint: a network or a group is required");
  const net = getObject<Network>(tx, "network", `${req.tenantName}:${networkName}`);
  if (!net) throw new NotFoundError(`Network ${networkName} not found`);
  return group ? { net, group } : { net };
}

function reply(tx: Tx, ep: EndpointState, net: Network): EndpointGrant {
  const state = getNetworkState(tx, net.key);
  const groupId = ep.groupName
    ? (tx.get<GroupState>(groupStateKey(`${ep.tenantName}:${ep.groupName}`))?.groupId ?? 0)
    : 0;
  return {
    endpoint: ep,
    network: {
      subnetLen: prefixLength(net.subnet),
      gateway: net.gateway,
      ipv6SubnetLen: net.ipv6Subnet ? prefixLength(net.ipv6Subnet) : 0,
      ipv6Gateway: net.ipv6Gateway,
      pktTag: state.pktTag,
      extPktTag: state.extPktTag,
      encap: net.encap,
    },
    groupId,
  };
}

/**
 * An `ipam: dhcp` network's IPv4 addresses are the leases its hosts' agents hold from the DHCP server on its
 * segment (agent/dhcp): netmaster allocates none there. A request that asks for no address (a plain CNI ADD)
 * makes the endpoint without IPv4, waiting for its lease (`ipamSource: dhcp`, `ipAddress: ""`): the agent
 * plumbs it, leases with its MAC and records the lease with setEndpointLease. A lease the agent already holds
 * may be given at once (`ipamSource: dhcp` and the address). A runtime's requested address or a delegated
 * IPAM plugin's is refused there, and a lease on any other network. Returns the endpoint's source.
 */
function ipamSourceFor(net: Network, req: EndpointRequest): EndpointRequest["ipamSource"] {
  const dhcp = (net.ipam ?? "netmaster") === "dhcp";
  if (dhcp) {
    if (req.ipamSource === "dhcp" || (req.ipamSource === "netmaster" && req.ipAddress === "")) return "dhcp";
    throw new ValidationError(
      `Cannot create endpoint: network ${net.networkName} takes its addresses from DHCP (ipam dhcp): the agent leases them from the DHCP server on its segment`,
    );
  }
  if (req.ipamSource === "dhcp") {
    throw new ValidationError(`Cannot create endpoint: network ${net.networkName} does not take its addresses from DHCP (its ipam is netmaster)`);
  }
  if (req.addressLater && (!req.ipamSource.startsWith("cni:") || req.ipAddress !== "")) {
    throw new ValidationError(`Cannot create endpoint: addressLater is for a delegated IPAM plugin's address (ipamSource cni:<type>), and asks for no ipAddress`);
  }
  return req.ipamSource;
}

/** Idempotent: asking again for an existing endpoint returns it unchanged. */
export function createEndpoint(tx: Tx, req: EndpointRequest): EndpointGrant {
  const { net, group } = resolveNetwork(tx, req);
  const id = endpointId(net.networkName, net.tenantName, req.containerID);
  const existing = tx.get<EndpointState>(endpointKey(id));
  if (existing) {
    if (existing.homingHost !== req.host) {
      throw new ConflictError(`Cannot create endpoint "${id}": it already exists on host "${existing.homingHost}"`);
    }
    return reply(tx, existing, net);
  }
  const ipamSource = ipamSourceFor(net, req);
  // On an ipam dhcp network without a lease yet, or waiting for a delegated IPAM plugin that leases on the
  // interface: no IPv4 address until the agent records one.
  const awaitingLease = (ipamSource === "dhcp" && req.ipAddress === "") || req.addressLater;

  const netState = getNetworkState(tx, net.key);
  const ipv4 = Ipv4Allocator.fromJSON(netState.ipv4);
  const groupKey = group ? `${group.tenantName}:${group.groupName}` : "";
  const groupState = group ? tx.get<GroupState>(groupStateKey(groupKey)) : undefined;
  const pool = groupState?.pool ? PoolAllocator.fromJSON(groupState.pool) : undefined;

  if (req.fromBlock) checkFromBlock(net, req, ipamSource, pool !== undefined);

  let ipAddress: string;
  // A requested address of the host's own block is assigned there, as if the agent had taken it itself.
  let inBlock = false;
  if (awaitingLease) {
    ipAddress = "";
  } else if (pool) {
    if (req.ipAddress) pool.reserve(req.ipAddress);
    ipAddress = req.ipAddress || pool.allocate();
    tx.put(groupStateKey(groupKey), { ...groupState!, pool: pool.toJSON() } satisfies GroupState);
  } else if (req.ipAddress && takesFromBlock(tx, net, req.ipAddress, req.host, id)) {
    ipAddress = req.ipAddress;
    inBlock = true;
    assignInBlock(tx, net, ipAddress, id);
  } else if (req.fromBlock) {
    throw new ConflictError(`Cannot record endpoint ${id} with address ${req.ipAddress}: it is in none of host ${req.host}'s address blocks of network ${net.networkName}`);
  } else {
    if (req.ipAddress) ipv4.reserve(req.ipAddress);
    ipAddress = req.ipAddress || ipv4.allocate();
  }

  let ipv6Address = "";
  const next: NetworkState = { ...netState, ipv4: ipv4.toJSON() };
  if (netState.ipv6) {
    const ipv6 = Ipv6Allocator.fromJSON(netState.ipv6);
    if (req.ipv6Address) ipv6.reserve(req.ipv6Address);
    ipv6Address = req.ipv6Address || ipv6.allocate();
    next.ipv6 = ipv6.toJSON();
  } else if (req.ipv6Address) {
    throw new ValidationError(`Cannot create endpoint: network ${net.networkName} has no IPv6 subnet`);
  }
  // The block holds the address already: the network's allocator is left alone.
  if (!inBlock) tx.put(networkStateKey(net.key), next);
  // The agent plumbed the endpoint with its MAC already: that one or none.
  const requestedMac = req.fromBlock ? req.macAddress || macFromIpv4(ipAddress) : req.macAddress;
  const macAddress = chooseMac(tx, net, requestedMac, ipAddress, id);
  tx.put(macKey(net.key, macAddress), { endpointID: id } satisfies MacHolder);

  const ep: EndpointState = {
    endpointID: id,
    tenantName: net.tenantName,
    networkName: net.networkName,
    groupName: group?.groupName ?? "",
    containerID: req.containerID,
    containerName: req.containerName,
    ipAddress,
    ipv6Address,
    macAddress,
    homingHost: req.host,
    intfName: req.intfName,
    vtepIP: req.vtepIP,
    labels: { ...req.labels, ...implicitLabels(net.tenantName, net.networkName, group?.groupName ?? "") },
    requestedIp: req.ipAddress !== "" && !req.fromBlock,
    ...(req.aliases.length > 0 ? { aliases: req.aliases } : {}),
    ...(ipamSource !== "netmaster" ? { ipamSource } : {}),
  };
  tx.put(endpointKey(id), ep);
  return reply(tx, ep, net);
}

/** Releases the endpoint's addresses and forgets it; NotFoundError when it does not exist. */
export function deleteEndpoint(tx: Tx, id: string): EndpointState {
  const ep = tx.get<EndpointState>(endpointKey(id));
  if (!ep) throw new NotFoundError(`Endpoint ${id} not found`);
  const netKey = `${ep.tenantName}:${ep.networkName}`;
  const netState = tx.get<NetworkState>(networkStateKey(netKey));
  const groupKey = `${ep.tenantName}:${ep.groupName}`;
  const groupState = ep.groupName ? tx.get<GroupState>(groupStateKey(groupKey)) : undefined;

  if (groupState?.pool && ep.ipAddress !== "") {
    const pool = PoolAllocator.fromJSON(groupState.pool);
    pool.release(ep.ipAddress);
    tx.put(groupStateKey(groupKey), { ...groupState, pool: pool.toJSON() } satisfies GroupState);
  }
  if (netState) {
    const next: NetworkState = { ...netState };
    if (!groupState?.pool && ep.ipAddress !== "") {
      const ipv4 = Ipv4Allocator.fromJSON(netState.ipv4);
      // A block's address stays the block's, for its host to assign again.
      if (!unassignInBlock(tx, netKey, ipv4.subnet, ep.ipAddress, id)) ipv4.release(ep.ipAddress);
      next.ipv4 = ipv4.toJSON();
    }
    if (netState.ipv6 && ep.ipv6Address) {
      const ipv6 = Ipv6Allocator.fromJSON(netState.ipv6);
      ipv6.release(ep.ipv6Address);
      next.ipv6 = ipv6.toJSON();
    }
    tx.put(networkStateKey(netKey), next);
  }
  if (tx.get<MacHolder>(macKey(netKey, ep.macAddress))?.endpointID === id) tx.delete(macKey(netKey, ep.macAddress));
  tx.delete(endpointKey(id));
  return ep;
}

/**
 * Records the DHCP lease the endpoint's agent holds (an `ipam: dhcp` network's endpoint), or the address a
 * delegated IPAM plugin gave an endpoint made without one (addressLater, set once): checked like a
 * delegated address (an address of the subnet, or of the group's ip-pool, that nothing else holds), the
 * previous lease's address released. Asking again with the same address changes nothing.
 */
export function setEndpointLease(tx: Tx, id: string, req: EndpointLease): EndpointGrant {
  const ep = tx.get<EndpointState>(endpointKey(id));
  if (!ep) throw new NotFoundError(`Endpoint ${id} not found`);
  const net = getObject<Network>(tx, "network", `${ep.tenantName}:${ep.networkName}`);
  if (!net) throw new NotFoundError(`Network ${ep.networkName} not found`);
  const delegated = ep.ipamSource?.startsWith("cni:") === true;
  if (ep.ipamSource !== "dhcp" && !delegated) {
    throw new ValidationError(`Cannot record a DHCP lease for endpoint ${id}: network ${net.networkName} does not take its addresses from DHCP`);
  }
  // A delegated IPAM plugin's address is recorded once, for an endpoint made without one (addressLater).
  if (delegated && ep.ipAddress !== "" && ep.ipAddress !== req.ipAddress) {
    throw new ConflictError(`Cannot record address ${req.ipAddress} for endpoint ${id}: it has ${ep.ipAddress} from IPAM plugin ${ep.ipamSource!.slice(4)} already`);
  }
  if (req.ipAddress === ep.ipAddress) return reply(tx, ep, net);
  const what = (err: unknown): never => {
    const msg = `Cannot record ${delegated ? "address" : "DHCP lease"} ${req.ipAddress} for endpoint ${id} on network ${net.networkName} (${net.subnet}): ${(err as Error).message}`;
    throw err instanceof ConflictError ? new ConflictError(msg) : new ValidationError(msg);
  };
  /** The new address taken from `alloc`, the previous one given back. */
  const move = (alloc: { reserve(ip: string): void; release(ip: string): boolean }) => {
    try {
      alloc.reserve(req.ipAddress);
    } catch (err) {
      what(err);
    }
    if (ep.ipAddress !== "") alloc.release(ep.ipAddress);
  };
  const groupKey = `${ep.tenantName}:${ep.groupName}`;
  const groupState = ep.groupName ? tx.get<GroupState>(groupStateKey(groupKey)) : undefined;
  if (groupState?.pool) {
    const pool = PoolAllocator.fromJSON(groupState.pool);
    move(pool);
    tx.put(groupStateKey(groupKey), { ...groupState, pool: pool.toJSON() } satisfies GroupState);
  } else {
    const netState = getNetworkState(tx, net.key);
    const ipv4 = Ipv4Allocator.fromJSON(netState.ipv4);
    move(ipv4);
    tx.put(networkStateKey(net.key), { ...netState, ipv4: ipv4.toJSON() } satisfies NetworkState);
  }
  const next: EndpointState = { ...ep, ipAddress: req.ipAddress, requestedIp: true };
  tx.put(endpointKey(id), next);
  return reply(tx, next, net);
}
