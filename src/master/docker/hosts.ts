// What a host's dockerd holds at netmaster, released when the host is removed for good (../hosts.ts).

import type { Tx } from "../tx.js";
import { isV6 } from "./blocks.js";
import { allocatorOf } from "./lookup.js";
import { releaseDockerPool } from "./pools.js";
import { POOL_PREFIX, RESERVATION_PREFIX, type DockerPool, type DockerReservation } from "./wire.js";

/**
 * Releases the pools the host's dockerd was given and every address reservation it holds; call it once the
 * host's endpoints are deleted, with their ids in `removed`. A reservation such an endpoint adopted lost its
 * address with the endpoint, so only its record goes; one still waiting for Docker's ReleaseAddress frees its
 * address. Returns how many records it released.
 */
export function releaseDockerHost(tx: Tx, host: string, removed: ReadonlySet<string>): number {
  let released = 0;
  for (const [key, r] of tx.list<DockerReservation>(RESERVATION_PREFIX)) {
    if (r.host !== host && !removed.has(r.endpointId)) continue;
    if (r.endpointId === "") allocatorOf(tx, r.tenant, r.network, r.poolGroup, isV6(r.address))?.release(r.address);
    tx.delete(key);
    released++;
  }
  for (const [, pool] of tx.list<DockerPool>(POOL_PREFIX)) {
    if (pool.host !== host) continue;
    releaseDockerPool(tx, pool.poolId);
    released++;
  }
  return released;
}
