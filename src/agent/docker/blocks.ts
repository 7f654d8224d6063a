// Pure: whether a Docker address comes from this host's address blocks (../ipam/local-ipam.ts), as a CNI ADD's
// does, and the ask its endpoint is made from. Blocks serve IPv4 pools of networks our network driver made or
// maps (its CreateNetwork bound the pool), for networks whose endpoints may take block addresses
// (../ipam/local-endpoint.ts blockPlan: netmaster's IPAM, no IPv6, no group ip-pool). What goes through
// netmaster instead: gateways, IPv6 pools, pools another network driver uses (--ipam-opt network=… with
// -d bridge: no CreateNetwork, so no endpoint of ours holds the address), and requested addresses outside
// the host's blocks.

import type { StateView } from "../pipeline/compile.js";
import { blockPlan, type EndpointAsk } from "../ipam/local-endpoint.js";
import type { NetworkRecord, PoolRecord } from "./state.js";

/** What a Docker endpoint of the network asks for, as blockPlan and blockEndpoint take it. */
export function dockerAsk(host: string, net: NetworkRecord, endpointId: string): EndpointAsk {
  // Docker's endpoint id is the container id netmaster knows the endpoint by; its name and labels come later (endpoints.ts describe).
  return { tenant: net.tenant, network: net.network, group: net.group, containerID: endpointId, containerName: "", host, labels: {}, aliases: [] };
}

/** The network ("tenant:network") whose blocks serve the pool's addresses, or why netmaster gives them. */
export function dockerBlockPlan(view: StateView, host: string, pool: PoolRecord, net: NetworkRecord): { networkKey: string } | { roundTrip: string } {
  if (pool.v6) return { roundTrip: "blocks hold IPv4 addresses only" };
  if (pool.networkId !== net.id) return { roundTrip: "the pool is not one of our network driver's networks" };
  return blockPlan(view, dockerAsk(host, net, ""));
}

/** The prefix length of the pool, for Docker's "address/len". */
export function poolPrefixLength(pool: PoolRecord): number {
  return Number(pool.pool.split("/")[1] ?? 0);
}
