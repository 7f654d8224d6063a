// Docker's side of netmaster: the pools and addresses of libnetwork's IPAM
// driver, and the networks and endpoints the hosts' Docker drivers make.
//
// Design note. libnetwork asks for addresses in two steps: IPAM RequestAddress
// (the address is handed out), then NetworkDriver CreateEndpoint with that
// address; on the way out DeleteEndpoint comes first and ReleaseAddress last.
// An address therefore belongs to a *reservation* (one record per address,
// persisted beside the allocators) from RequestAddress to ReleaseAddress. The
// endpoint adopts it at CreateEndpoint (the allocator bit passes from the
// reservation to the endpoint inside one transaction, so createEndpoint's "a
// requested address must be free" still holds) and hands it back at a Docker
// DeleteEndpoint: between DeleteEndpoint and ReleaseAddress nobody else can be
// given the address, and a late ReleaseAddress cannot free someone else's.
//
// Pools: a RequestPool either maps an existing network or group (by Contiv's
// contiv-tag, or by the IPAM options tenant/network/group) or asks for a new
// network, which the host's driver creates at CreateNetwork from the pools it
// was given (createDockerNetwork). Requested-but-not-yet-created pools are
// checked for overlap like networks, and a pool netmaster picks itself (Docker's
// empty Pool) is never one already handed out: dockerd asks again while a pool
// overlaps its host's routes, and an answer it has seen makes it loop forever.

import { z } from "zod";
import { ConflictError, NotFoundError, ValidationError } from "../lib/errors.js";
import { kinds, parseObject, type EndpointGroup, type Network, type Tenant } from "../model/index.js";
import {
  formatIpv4,
  formatIpv6,
  Ipv4Allocator,
  Ipv6Allocator,
  parseIpv4Subnet,
  parseIpv6Subnet,
  PoolAllocator,
  tryParseIpv4,
  tryParseIpv6,
} from "./alloc/index.js";
import { createEndpoint, deleteEndpoint, EndpointRequest, endpointId, type EndpointReply } from "./endpoints.js";
import { endpointKey, groupStateKey, networkStateKey, objectKey, ROOT } from "./keys.js";
import { controllerFor, type MasterSettings } from "./objects/index.js";
import { getObject, listObjects, listTenantObjects } from "./objects/common.js";
import type { EndpointState, GroupState, NetworkState } from "./records.js";
import type { Tx } from "./tx.js";

export const DOCKER_PREFIX = `${ROOT}state/docker/`;
const POOL_PREFIX = `${DOCKER_PREFIX}pools/`;
const POOL_ID_KEY = `${DOCKER_PREFIX}pool-id`;

function poolKey(poolId: string): string {
  return `${POOL_PREFIX}${poolId}`;
}

/** One record per address handed out by RequestAddress, under its network. */
function reservationKey(tenant: string, network: string, address: string): string {
  return `${DOCKER_PREFIX}addresses/${tenant}:${network}/${address}`;
}

/** The IPAM options (and Contiv's driver options) that name what a pool is for. */
export const TAG_OPTION = "contiv-tag";

const Cidr = z.string().max(64);

export const DockerPoolRequest = z.object({
  host: z.string().min(1).max(256),
  v6: z.boolean().default(false),
  /** Docker's Pool: the --subnet, or "" for "pick one". */
  pool: Cidr.default(""),
  /** Docker's SubPool: the --ip-range, or "". */
  subPool: Cidr.default(""),
  /** --ipam-opt: tenant, network, group, contiv-tag. */
  options: z.record(z.string(), z.string()).default({}),
  /** When netmaster picks the pool: CIDRs it must not overlap (the routes where dockerd runs). */
  avoid: z.array(Cidr).max(100_000).default([]),
  /** When netmaster picks the pool: the block it takes /24s from. */
  defaultRange: Cidr.default("10.200.0.0/16"),
});
export type DockerPoolRequest = z.infer<typeof DockerPoolRequest>;

export interface DockerPool {
  poolId: string;
  host: string;
  v6: boolean;
  /** map: an existing network (or group); create: a network the Docker driver creates at CreateNetwork. */
  mode: "map" | "create";
  tenant: string;
  /** map: the network; create: the name asked for with the network option ("" = unknown yet), then the network made. */
  network: string;
  group: string;
  /** The pool handed to Docker, in CIDR form. */
  pool: string;
  subPool: string;
  /** Gateway address (no length); create mode: chosen at RequestPool, replaced by a --gateway. */
  gateway: string;
  /** create mode: the network exists. */
  bound: boolean;
}

export interface DockerPoolReply {
  poolId: string;
  pool: string;
  /** "a.b.c.d/len", or "" when the network has no gateway. */
  gateway: string;
  mode: DockerPool["mode"];
  tenant: string;
  network: string;
  group: string;
}

export const DockerAddressRequest = z.object({
  /** Requested address without length, or "". */
  address: z.string().max(64).default(""),
  /** Docker's RequestAddressType com.docker.network.gateway. */
  gateway: z.boolean().default(false),
  host: z.string().max(256).default(""),
});
export type DockerAddressRequest = z.infer<typeof DockerAddressRequest>;

export const DockerAddressRelease = z.object({ address: z.string().min(1).max(64) });

export interface DockerReservation {
  poolId: string;
  tenant: string;
  network: string;
  /** The group whose ip-pool the address came from; "" = the network's allocator. */
  poolGroup: string;
  address: string;
  host: string;
  /** The endpoint that adopted the address; "" while the reservation holds it. */
  endpointId: string;
}

export const DockerNetworkRequest = z.object({
  name: z.string().min(1).max(64),
  tenant: z.string().min(1).max(64),
  encap: z.enum(["vxlan", "vlan"]).default("vxlan"),
  pktTag: z.number().int().min(0).default(0),
  /** Pools this host was given for the network (create mode); their subnets and gateways make the network. */
  poolIds: z.array(z.string().max(64)).max(2).default([]),
  /** Without our pools (another IPAM driver): the network's addresses as Docker gave them. */
  subnet: Cidr.default(""),
  gateway: z.string().max(64).default(""),
  ipv6Subnet: Cidr.default(""),
  ipv6Gateway: z.string().max(64).default(""),
});
export type DockerNetworkRequest = z.infer<typeof DockerNetworkRequest>;

// ---------------------------------------------------------------------------------------------
// Address arithmetic on CIDRs, both families.

interface Block {
  v6: boolean;
  first: bigint;
  last: bigint;
  len: number;
}

function block(cidr: string): Block {
  if (cidr.includes(":")) {
    const s = parseIpv6Subnet(cidr);
    return { v6: true, first: s.network, last: s.network + (1n << BigInt(128 - s.prefixLen)) - 1n, len: s.prefixLen };
  }
  const s = parseIpv4Subnet(cidr);
  return { v6: false, first: BigInt(s.network), last: BigInt(s.broadcast), len: s.prefixLen };
}

function overlaps(a: Block, b: Block): boolean {
  return a.v6 === b.v6 && a.first <= b.last && b.first <= a.last;
}

function formatAddress(v6: boolean, value: bigint): string {
  return v6 ? formatIpv6(value) : formatIpv4(Number(value));
}

function formatBlock(b: Block): string {
  return `${formatAddress(b.v6, b.first)}/${b.len}`;
}

function addressValue(v6: boolean, text: string): bigint | undefined {
  if (v6) return tryParseIpv6(text);
  const v = tryParseIpv4(text);
  return v === undefined ? undefined : BigInt(v);
}

/** The CIDR block of a network's subnet (Contiv's range form included). */
function networkBlock(net: Network, v6: boolean): Block | undefined {
  const subnet = v6 ? net.ipv6Subnet : net.subnet;
  return subnet ? block(subnet) : undefined;
}

// ---------------------------------------------------------------------------------------------
// Pools.

function tenantExists(tx: Tx, tenant: string): void {
  if (!getObject<Tenant>(tx, "tenant", tenant)) throw new NotFoundError(`Tenant ${tenant} not found`);
}

/** What a pool request maps: a group (by its tag or name) or a network, or undefined for "make a new network". */
function resolveTarget(tx: Tx, options: Record<string, string>): { tenant: string; net: Network; group?: EndpointGroup } | undefined {
  const tag = options[TAG_OPTION] ?? "";
  if (tag) {
    // Contiv looks at groups first, then networks.
    for (const g of listObjects<EndpointGroup>(tx, "endpointGroup")) {
      if ((g.cfgdTag || `${g.groupName}.${g.tenantName}`) !== tag) continue;
      const net = getObject<Network>(tx, "network", `${g.tenantName}:${g.networkName}`);
      if (net) return { tenant: g.tenantName, net, group: g };
    }
    for (const n of listObjects<Network>(tx, "network")) {
      if ((n.cfgdTag || `${n.networkName}.${n.tenantName}`) === tag) return { tenant: n.tenantName, net: n };
    }
    throw new NotFoundError(`Cannot find a network or group with ${TAG_OPTION} "${tag}"`);
  }
  const tenant = options["tenant"] || "default";
  const groupName = options["group"] ?? "";
  const networkName = options["network"] ?? "";
  if (groupName) {
    tenantExists(tx, tenant);
    const group = getObject<EndpointGroup>(tx, "endpointGroup", `${tenant}:${groupName}`);
    if (!group) throw new NotFoundError(`EndpointGroup ${groupName} not found in tenant ${tenant}`);
    if (networkName && networkName !== group.networkName) {
      throw new ValidationError(`group "${groupName}" belongs to network "${group.networkName}", not "${networkName}"`);
    }
    const net = getObject<Network>(tx, "network", `${tenant}:${group.networkName}`);
    if (!net) throw new NotFoundError(`Network ${group.networkName} not found`);
    return { tenant, net, group };
  }
  if (networkName) {
    const net = getObject<Network>(tx, "network", `${tenant}:${networkName}`);
    if (net) return { tenant, net };
  }
  return undefined;
}

/** The routes of dockerd's host as blocks; ones our parsers refuse (/0-/7) are skipped. */
function avoided(req: DockerPoolRequest): Block[] {
  return req.avoid.flatMap((c) => {
    try {
      return [block(c)];
    } catch {
      return [];
    }
  });
}

function nextPoolId(tx: Tx): string {
  const counter = tx.get<{ next: number }>(POOL_ID_KEY) ?? { next: 1 };
  tx.put(POOL_ID_KEY, { next: counter.next + 1 });
  return `pool-${counter.next}`;
}

function listPools(tx: Tx): DockerPool[] {
  return tx.list<DockerPool>(POOL_PREFIX).map(([, p]) => p);
}

function pickPool(tx: Tx, tenant: string, req: DockerPoolRequest): Block {
  const range = block(req.defaultRange);
  if (range.v6 || range.len > 24) throw new ValidationError(`Cannot pick a pool from "${req.defaultRange}": it is not an IPv4 block of /24 or more`);
  const taken: Block[] = [
    ...listTenantObjects<Network>(tx, "network", tenant).flatMap((n) => (n.subnet ? [block(n.subnet)] : [])),
    // Pools of every tenant: an answer dockerd has already seen would make it loop.
    ...listPools(tx).filter((p) => !p.v6).map((p) => block(p.pool)),
    ...avoided(req).filter((b) => !b.v6),
  ];
  for (let first = range.first; first + 255n <= range.last; first += 256n) {
    const candidate: Block = { v6: false, first, last: first + 255n, len: 24 };
    if (!taken.some((t) => overlaps(t, candidate))) return candidate;
  }
  throw new ConflictError(`Cannot pick a pool: no free /24 is left in ${req.defaultRange}`);
}

/** IPAM RequestPool. */
export function requestDockerPool(tx: Tx, req: DockerPoolRequest): DockerPoolReply {
  const target = resolveTarget(tx, req.options);
  const family = req.v6 ? "IPv6" : "IPv4";
  if (target) {
    const { tenant, net, group } = target;
    const subnet = networkBlock(net, req.v6);
    if (!subnet) throw new ValidationError(`Cannot use network ${net.networkName} for ${family}: it has no ${family} subnet`);
    if (req.pool && formatBlock(block(req.pool)) !== formatBlock(subnet)) {
      throw new ConflictError(`Cannot use network ${net.networkName} with subnet ${req.pool}: its subnet is ${formatBlock(subnet)}`);
    }
    if (req.subPool) throw new ValidationError(`Cannot use --ip-range with network ${net.networkName}: it exists already (give its groups ip-pools instead)`);
    // dockerd checks a pool it did not ask for against its routes and asks again while they overlap: the same answer would loop.
    if (!req.pool && avoided(req).some((b) => overlaps(b, subnet))) {
      throw new ConflictError(`Cannot use network ${net.networkName}: its subnet ${formatBlock(subnet)} overlaps a route of dockerd's host; give it with --subnet ${formatBlock(subnet)}`);
    }
    const pool: DockerPool = {
      poolId: nextPoolId(tx),
      host: req.host,
      v6: req.v6,
      mode: "map",
      tenant,
      network: net.networkName,
      group: group?.groupName ?? "",
      pool: formatBlock(subnet),
      subPool: "",
      gateway: req.v6 ? net.ipv6Gateway : net.gateway,
      bound: true,
    };
    tx.put(poolKey(pool.poolId), pool);
    return poolReply(pool);
  }

  const tenant = req.options["tenant"] || "default";
  tenantExists(tx, tenant);
  let chosen: Block;
  if (req.pool) {
    chosen = block(req.pool);
    if (chosen.v6 !== req.v6) throw new ValidationError(`Cannot request an ${family} pool with subnet ${req.pool}`);
    for (const n of listTenantObjects<Network>(tx, "network", tenant)) {
      const theirs = networkBlock(n, req.v6);
      if (theirs && overlaps(theirs, chosen)) {
        throw new ConflictError(`Cannot request pool ${req.pool}: it overlaps subnet ${v6Or4(n, req.v6)} of network ${n.networkName} in tenant ${tenant}`);
      }
    }
    for (const p of listPools(tx)) {
      if (p.mode === "create" && !p.bound && p.tenant === tenant && overlaps(block(p.pool), chosen)) {
        throw new ConflictError(`Cannot request pool ${req.pool}: it overlaps pool ${p.pool} requested by ${p.host} for a network not created yet`);
      }
    }
  } else {
    if (req.v6) throw new ValidationError("Cannot pick an IPv6 pool: give the IPv6 subnet with --subnet");
    chosen = pickPool(tx, tenant, req);
  }
  if (!req.v6 && (chosen.len < 8 || chosen.len > 30)) throw new ValidationError(`Cannot request pool ${formatBlock(chosen)}: the prefix length must be 8 to 30`);
  if (req.subPool) {
    const sub = block(req.subPool);
    if (req.v6) throw new ValidationError("Cannot request an IPv6 pool with --ip-range: not supported");
    if (sub.first < chosen.first || sub.last > chosen.last) {
      throw new ValidationError(`Cannot request pool ${formatBlock(chosen)}: --ip-range ${req.subPool} is not inside it`);
    }
  }
  const networkName = req.options["network"] ?? "";
  const pool: DockerPool = {
    poolId: nextPoolId(tx),
    host: req.host,
    v6: req.v6,
    mode: "create",
    tenant,
    network: networkName,
    group: "",
    pool: formatBlock(chosen),
    subPool: req.subPool ? formatBlock(block(req.subPool)) : "",
    // Docker's own IPAM takes the first address of the subnet; a --gateway replaces it (requestDockerAddress).
    gateway: formatAddress(chosen.v6, chosen.first + 1n),
    bound: false,
  };
  tx.put(poolKey(pool.poolId), pool);
  return poolReply(pool);
}

function v6Or4(n: Network, v6: boolean): string {
  return v6 ? n.ipv6Subnet : n.subnet;
}

function poolReply(p: DockerPool): DockerPoolReply {
  const len = block(p.pool).len;
  return {
    poolId: p.poolId,
    pool: p.pool,
    gateway: p.gateway ? `${p.gateway}/${len}` : "",
    mode: p.mode,
    tenant: p.tenant,
    network: p.network,
    group: p.group,
  };
}

function getPool(tx: Tx, poolId: string): DockerPool {
  const pool = tx.get<DockerPool>(poolKey(poolId));
  if (!pool) throw new NotFoundError(`Pool ${poolId} not found`);
  return pool;
}

/** IPAM ReleasePool. Idempotent. Addresses still reserved in the pool are released with it. */
export function releaseDockerPool(tx: Tx, poolId: string): void {
  const pool = tx.get<DockerPool>(poolKey(poolId));
  if (!pool) return;
  for (const [key, r] of tx.list<DockerReservation>(`${DOCKER_PREFIX}addresses/`)) {
    if (r.poolId !== poolId) continue;
    if (r.endpointId === "") allocatorOf(tx, r.tenant, r.network, r.poolGroup, isV6(r.address))?.release(r.address);
    tx.delete(key);
  }
  tx.delete(poolKey(poolId));
}

// ---------------------------------------------------------------------------------------------
// Addresses.

/** What Ipv4Allocator, Ipv6Allocator and PoolAllocator have in common. */
interface Allocator {
  allocate(): string;
  reserve(ip: string): void;
  release(ip: string): unknown;
  toJSON(): unknown;
}

type AddressAllocator = Pick<Allocator, "allocate" | "reserve" | "release">;

/** Each call loads the allocator from the transaction and writes it back. */
function persisted<A extends Allocator>(load: () => A, save: (a: A) => void): AddressAllocator {
  const apply = <R>(fn: (a: A) => R): R => {
    const a = load();
    const result = fn(a);
    save(a);
    return result;
  };
  return { allocate: () => apply((a) => a.allocate()), reserve: (ip) => apply((a) => a.reserve(ip)), release: (ip) => apply((a) => a.release(ip)) };
}

/**
 * The allocator an address of (network, group) lives in: for IPv4 the group's ip-pool when it has one,
 * else the network's. Undefined when the network (or its IPv6 allocator) is gone.
 */
function allocatorOf(tx: Tx, tenant: string, network: string, group: string, v6: boolean): AddressAllocator | undefined {
  const netKey = networkStateKey(`${tenant}:${network}`);
  const state = tx.get<NetworkState>(netKey);
  if (!state || (v6 && !state.ipv6)) return undefined;
  const net = () => tx.get<NetworkState>(netKey)!;
  if (v6) return persisted(() => Ipv6Allocator.fromJSON(net().ipv6), (a) => tx.put(netKey, { ...net(), ipv6: a.toJSON() }));
  const groupKey = groupStateKey(`${tenant}:${group}`);
  if (group && tx.get<GroupState>(groupKey)?.pool) {
    const g = () => tx.get<GroupState>(groupKey)!;
    return persisted(() => PoolAllocator.fromJSON(g().pool), (a) => tx.put(groupKey, { ...g(), pool: a.toJSON() }));
  }
  return persisted(() => Ipv4Allocator.fromJSON(net().ipv4), (a) => tx.put(netKey, { ...net(), ipv4: a.toJSON() }));
}

function isV6(address: string): boolean {
  return address.includes(":");
}

function stripLength(address: string): string {
  return address.split("/")[0]!;
}

/** IPAM RequestAddress: the gateway of the pool's network, or an address reserved until ReleaseAddress. */
export function requestDockerAddress(tx: Tx, poolId: string, req: DockerAddressRequest): { address: string } {
  const pool = getPool(tx, poolId);
  const len = block(pool.pool).len;
  const wanted = stripLength(req.address);
  if (wanted && addressValue(pool.v6, wanted) === undefined) throw new ValidationError(`Cannot request address "${req.address}": not an ${pool.v6 ? "IPv6" : "IPv4"} address`);

  if (req.gateway) {
    if (pool.mode === "create" && !pool.bound) {
      if (wanted) {
        const value = addressValue(pool.v6, wanted)!;
        const b = block(pool.pool);
        if (value <= b.first || (!pool.v6 && value >= b.last) || value > b.last) {
          throw new ValidationError(`Cannot use gateway ${wanted}: it is not a host address of ${pool.pool}`);
        }
        tx.put(poolKey(poolId), { ...pool, gateway: wanted });
        return { address: `${wanted}/${len}` };
      }
      return { address: `${pool.gateway}/${len}` };
    }
    if (pool.gateway) {
      if (wanted && wanted !== pool.gateway) throw new ConflictError(`Cannot use gateway ${wanted}: network ${pool.network} has gateway ${pool.gateway}`);
      return { address: `${pool.gateway}/${len}` };
    }
    // A network without a gateway: Docker still wants one for its books, as Contiv answered it.
    return { address: `${wanted || formatAddress(pool.v6, block(pool.pool).first)}/${len}` };
  }

  if (pool.mode === "create" && !pool.bound) {
    throw new ValidationError(`Cannot request address from pool ${pool.pool}: its network is not created yet (--aux-address is not supported)`);
  }
  const net = getObject<Network>(tx, "network", `${pool.tenant}:${pool.network}`);
  if (!net) throw new NotFoundError(`Cannot request address: network ${pool.network} of tenant ${pool.tenant} no longer exists`);
  const poolGroup = pool.v6 ? "" : pool.group;
  const allocator = allocatorOf(tx, pool.tenant, pool.network, poolGroup, pool.v6);
  if (!allocator) throw new NotFoundError(`Cannot request address: network ${pool.network} has no ${pool.v6 ? "IPv6" : "IPv4"} allocator`);
  let address: string;
  try {
    if (wanted) allocator.reserve(wanted);
    address = wanted || allocator.allocate();
  } catch (err) {
    const where = pool.group ? `group ${pool.group} of network ${pool.network}` : `network ${pool.network}`;
    const message = `Cannot request ${wanted ? `address ${wanted}` : "an address"} in ${where} (tenant ${pool.tenant}): ${(err as Error).message}`;
    throw err instanceof ConflictError ? new ConflictError(message, { cause: err }) : new ValidationError(message, [], { cause: err });
  }
  const reservation: DockerReservation = {
    poolId,
    tenant: pool.tenant,
    network: pool.network,
    poolGroup,
    address,
    host: req.host,
    endpointId: "",
  };
  tx.put(reservationKey(pool.tenant, pool.network, address), reservation);
  return { address: `${address}/${len}` };
}

/** IPAM ReleaseAddress. Idempotent; a gateway has no reservation and is left to its network. */
export function releaseDockerAddress(tx: Tx, poolId: string, addressText: string): void {
  const pool = tx.get<DockerPool>(poolKey(poolId));
  if (!pool) return;
  const address = stripLength(addressText);
  const key = reservationKey(pool.tenant, pool.network, address);
  const r = tx.get<DockerReservation>(key);
  if (!r) return;
  // Adopted: the endpoint owns the allocator bit (and frees it when it goes); only the record goes.
  if (r.endpointId === "") allocatorOf(tx, r.tenant, r.network, r.poolGroup, isV6(r.address))?.release(r.address);
  tx.delete(key);
}

// ---------------------------------------------------------------------------------------------
// Networks and endpoints.

/** A network made for Docker's CreateNetwork, from the pools the host got; the pools are bound to it. */
export function createDockerNetwork(tx: Tx, req: DockerNetworkRequest, settings: MasterSettings): Network {
  tenantExists(tx, req.tenant);
  const body: Record<string, unknown> = {
    tenantName: req.tenant,
    networkName: req.name,
    encap: req.encap,
    pktTag: req.pktTag,
    subnet: req.subnet,
    gateway: stripLength(req.gateway),
    ipv6Subnet: req.ipv6Subnet,
    ipv6Gateway: stripLength(req.ipv6Gateway),
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
  return net;
}

function rangeForm(pool: string, subPool: string): string {
  const p = block(pool);
  const s = block(subPool);
  // The network and broadcast addresses of the block are never handed out anyway.
  const first = s.first > p.first ? s.first : p.first + 1n;
  const last = s.last < p.last ? s.last : p.last - 1n;
  return `${formatIpv4(Number(first))}-${formatIpv4(Number(last))}/${p.len}`;
}

function groupOf(tx: Tx, req: EndpointRequest): { network: string; group: string } {
  if (!req.groupName) return { network: req.networkName, group: "" };
  const g = getObject<EndpointGroup>(tx, "endpointGroup", `${req.tenantName}:${req.groupName}`);
  return { network: g?.networkName ?? req.networkName, group: req.groupName };
}

/** Docker CreateEndpoint: createEndpoint, adopting the reservations of the addresses Docker got from RequestAddress. */
export function createDockerEndpoint(tx: Tx, req: EndpointRequest): EndpointReply {
  const { network } = groupOf(tx, req);
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
  const reply = createEndpoint(tx, req);
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
