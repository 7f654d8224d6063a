// Networks and endpoints the hosts' Docker drivers create at netmaster.

import { ConflictError, NotFoundError, ValidationError } from "../../lib/errors.js";
import { kinds, parseObject, type EndpointGroup, type Network } from "../../model/index.js";
import { formatIpv4 } from "../alloc/index.js";
import { createEndpoint, deleteEndpoint, type EndpointGrant } from "../endpoints.js";
import { blockHolding } from "../blocks.js";
import { EndpointRequest, endpointId } from "../../contract/api.js";
import { dockerNetworkKey, endpointKey, objectKey } from "../../contract/keys.js";
import { controllerFor, type MasterSettings } from "../objects/index.js";
import { getObject } from "../objects/common.js";
import type { EndpointState } from "../records.js";
import type { Tx } from "../tx.js";
import { withoutLength } from "../../lib/ip.js";
import { block, isV6 } from "./blocks.js";
import { allocatorOf, getPool, tenantExists } from "./lookup.js";
import { poolKey, reservationKey, DockerNetworkRequest, type DockerPool, type DockerReservation } from "./wire.js";

/** A network made for Docker's CreateNetwork, from the pools the host got; the pools are bound to it. */
export function createDockerNetwork(tx: Tx, req: DockerNetworkRequest, settings: MasterSettings): Network {
  tenantExists(tx, req.tenant);
  const body: Record<string, unknown> = {
    tenantName: req.tenant,
    networkName: req.name,
    encap: req.encap,
    pktTag: req.pktTag,
    subnet: req.subnet,
    gateway: withoutLength(req.gateway),
    ipv6Subnet: req.ipv6Subnet,
    ipv6Gateway: withoutLength(req.ipv6Gateway),
  };
  const pools = req.poolIds.map((id) => getPool(tx, id));
  for (const p of pools) {
    if (p.mode !== "create" || p.bound) throw new ConflictError(`Cannot create network ${req.name} from pool ${p.poolId}: it is not a new network's pool`);
    if (p.v6) {
      body["ipv6Subnet"] = p.pool;
      body["ipv6Gateway"] = p.gateway;
    } else {
      // --ip-range becomes Contiv's range form: only the range is handed out.
      body["subnet"] = p.subPool ? rangeForm(p.pool, p.subPool) : p.pool;
      body["gateway"] = p.gateway;
    }
  }
  const key = `${req.tenant}:${req.name}`;
  if (getObject<Network>(tx, "network", key)) throw new ConflictError(`Cannot create network ${req.name}: tenant ${req.tenant} has one already`);
  const net = parseObject(kinds.network, key, body);
  controllerFor("network").create(tx, net, settings);
  tx.put(objectKey("network", key), net);
  for (const p of pools) tx.put(poolKey(p.poolId), { ...p, tenant: req.tenant, network: req.name, bound: true } satisfies DockerPool);
  tx.put(dockerNetworkKey(key), { host: req.host } satisfies DockerNetworkMaker);
  return net;
}

/** Who made a network for Docker (access.ts lets that host's agent remove it). */
export interface DockerNetworkMaker {
  host: string;
}

/** The Docker driver's DeleteNetwork of a network its dockerd made: removed as netctl would (the controller's checks apply). */
export function deleteDockerNetwork(tx: Tx, key: string, settings: MasterSettings): void {
  const net = getObject<Network>(tx, "network", key);
  if (!net) throw new NotFoundError(`network ${key} not found`);
  controllerFor("network").remove(tx, net, settings);
  tx.delete(objectKey("network", key));
}

function rangeForm(pool: string, subPool: string): string {
  const p = block(pool);
  const s = block(subPool);
  // The network and broadcast addresses of the block are never handed out anyway.
  const first = s.first > p.first ? s.first : p.first + 1n;
  const last = s.last < p.last ? s.last : p.last - 1n;
  return `${formatIpv4(Number(first))}-${formatIpv4(Number(last))}/${p.len}`;
}

/** The network an endpoint request lands on: its group's, when it names one. */
function networkOf(tx: Tx, req: EndpointRequest): string {
  if (!req.groupName) return req.networkName;
  return getObject<EndpointGroup>(tx, "endpointGroup", `${req.tenantName}:${req.groupName}`)?.networkName ?? req.networkName;
}

/** Docker CreateEndpoint: createEndpoint, adopting the reservations of the addresses Docker got from RequestAddress. */
export function createDockerEndpoint(tx: Tx, req: EndpointRequest): EndpointGrant {
  if (req.ipamSource !== "netmaster") {
    throw new ValidationError(`Cannot create Docker endpoint: its addresses come from the Docker network's IPAM driver, not ${req.ipamSource}`);
  }
  const network = networkOf(tx, req);
  const id = endpointId(network, req.tenantName, req.containerID);
  if (tx.get<EndpointState>(endpointKey(id))) return createEndpoint(tx, req); // a retried call: nothing to adopt again
  const adopted: [string, DockerReservation][] = [];
  for (const address of [req.ipAddress, req.ipv6Address]) {
    if (!address) continue;
    const key = reservationKey(req.tenantName, network, address);
    const r = tx.get<DockerReservation>(key);
    if (!r || r.endpointId !== "") continue;
    // The bit passes to the endpoint: free it here, createEndpoint takes it again as a requested address.
    allocatorOf(tx, r.tenant, r.network, r.poolGroup, isV6(r.address))?.release(r.address);
    adopted.push([key, r]);
  }
  // An IPv4 address none of our reservations holds came from the Docker network's own IPAM driver (--ipam-driver),
  // or from the host's block through our IPAM (a MAC Docker chose brings such an endpoint here: createEndpoint
  // assigns it in the block).
  const net = getObject<Network>(tx, "network", `${req.tenantName}:${network}`);
  const inBlock = net !== undefined && req.ipAddress !== "" && blockHolding(tx, net.key, net.subnet, req.ipAddress) !== undefined;
  const fromDocker = req.ipAddress !== "" && !inBlock && !adopted.some(([, r]) => !isV6(r.address));
  const reply = createEndpoint(tx, fromDocker ? { ...req, ipamSource: "docker" } : req);
  for (const [key, r] of adopted) tx.put(key, { ...r, endpointId: reply.endpoint.endpointID } satisfies DockerReservation);
  return reply;
}

/** Docker DeleteEndpoint: deleteEndpoint, handing adopted addresses back to their reservations until ReleaseAddress. */
export function deleteDockerEndpoint(tx: Tx, id: string): EndpointState {
  const ep = deleteEndpoint(tx, id);
  for (const address of [ep.ipAddress, ep.ipv6Address]) {
    if (!address) continue;
    const key = reservationKey(ep.tenantName, ep.networkName, address);
    const r = tx.get<DockerReservation>(key);
    if (!r || r.endpointId !== id) continue;
    const group = isV6(address) ? "" : ep.groupName;
    allocatorOf(tx, ep.tenantName, ep.networkName, group, isV6(address))?.reserve(address);
    tx.put(key, { ...r, poolGroup: group, endpointId: "" } satisfies DockerReservation);
  }
  return ep;
}
