// libnetwork's IPAM pools at netmaster.
//
// A RequestPool either maps an existing network or group (by Contiv's
// contiv-tag, or by the IPAM options tenant/network/group) or asks for a new
// network, which the host's driver creates at CreateNetwork from the pools it
// was given (createDockerNetwork). Requested-but-not-yet-created pools are
// checked for overlap like networks, and a pool netmaster picks itself (Docker's
// empty Pool) is never one already handed out: dockerd asks again while a pool
// overlaps its host's routes, and an answer it has seen makes it loop forever.

import { ConflictError, NotFoundError, ValidationError } from "../../lib/errors.js";
import { specialOverlap } from "../../lib/ip-scope.js";
import type { EndpointGroup, Network } from "../../model/index.js";
import { getObject, listObjects, listTenantObjects } from "../objects/common.js";
import type { Tx } from "../tx.js";
import { block, formatAddress, formatBlock, isV6, networkBlock, overlaps, type Block } from "./blocks.js";
import { allocatorOf, tenantExists } from "./lookup.js";
import { POOL_ID_KEY, POOL_PREFIX, poolKey, reservationKey, TAG_OPTION, type DockerPool, type DockerPoolReply, type DockerPoolRequest, type DockerReservation } from "./wire.js";

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
  // Refused here, not first at CreateNetwork: Docker keeps a pool it was given until the network is made.
  const special = specialOverlap(chosen.v6 ? 6 : 4, chosen.first, chosen.last);
  if (special !== undefined) throw new ValidationError(`Cannot request pool ${formatBlock(chosen)}: it overlaps ${special}: containers cannot use it`);
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

/** IPAM ReleasePool. Idempotent. Addresses still reserved in the pool are released with it. */
export function releaseDockerPool(tx: Tx, poolId: string): void {
  const pool = tx.get<DockerPool>(poolKey(poolId));
  if (!pool) return;
  // A pool's reservations are all under its network (reservationKey).
  for (const [key, r] of tx.list<DockerReservation>(reservationKey(pool.tenant, pool.network, ""))) {
    if (r.poolId !== poolId) continue;
    if (r.endpointId === "") allocatorOf(tx, r.tenant, r.network, r.poolGroup, isV6(r.address))?.release(r.address);
    tx.delete(key);
  }
  tx.delete(poolKey(poolId));
}
