// libnetwork's IPAM addresses at netmaster: reservations from RequestAddress to ReleaseAddress. Addresses of a
// host's block are that host's agent's to give (agent/docker/ipam.ts): never reserved here, so a reservation and
// a block address never meet (the block's addresses are taken in the network's allocator while it exists).

import { ConflictError, NotFoundError, ValidationError } from "../../lib/errors.js";
import type { Network } from "../../model/index.js";
import { getObject } from "../objects/common.js";
import { blockHolding } from "../blocks.js";
import type { Tx } from "../tx.js";
import { withoutLength } from "../../lib/ip.js";
import { addressValue, block, formatAddress, isV6 } from "./blocks.js";
import { allocatorOf, getPool } from "./lookup.js";
import { poolKey, reservationKey, DockerAddressRequest, type DockerPool, type DockerReservation } from "./wire.js";

/** IPAM RequestAddress: the gateway of the pool's network, or an address reserved until ReleaseAddress. */
export function requestDockerAddress(tx: Tx, poolId: string, req: DockerAddressRequest): { address: string } {
  const pool = getPool(tx, poolId);
  const len = block(pool.pool).len;
  const wanted = withoutLength(req.address);
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
    // Only our network driver's CreateNetwork makes a network of a new pool; another driver (bridge, macvlan, …)
    // never does, and --aux-address asks before it. Such a pool has no allocator: mapping an existing network does.
    throw new ValidationError(
      `Cannot request address from pool ${pool.pool}: no netplugin network was made with it (it is made only when the network driver is netplugin's too; --aux-address is not supported). ` +
        "With another network driver, take addresses of a network that exists at netmaster: --ipam-opt network=NAME (or tenant=, group=, contiv-tag=)",
    );
  }
  const net = getObject<Network>(tx, "network", `${pool.tenant}:${pool.network}`);
  if (!net) throw new NotFoundError(`Cannot request address: network ${pool.network} of tenant ${pool.tenant} no longer exists`);
  // A host's block holds it: only that host's agent gives it out (from Docker's RequestAddress too, agent/docker/ipam.ts).
  const inBlock = wanted && !pool.v6 ? blockHolding(tx, net.key, net.subnet, wanted) : undefined;
  if (inBlock) {
    throw new ConflictError(`Cannot request address ${wanted}: address ${wanted} is not available here: it is in host ${inBlock.host}'s address block ${inBlock.cidr}, which that host's agent assigns`);
  }
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
  const address = withoutLength(addressText);
  const key = reservationKey(pool.tenant, pool.network, address);
  const r = tx.get<DockerReservation>(key);
  if (!r) return;
  // Adopted: the endpoint owns the allocator bit (and frees it when it goes); only the record goes.
  if (r.endpointId === "") allocatorOf(tx, r.tenant, r.network, r.poolGroup, isV6(r.address))?.release(r.address);
  tx.delete(key);
}
