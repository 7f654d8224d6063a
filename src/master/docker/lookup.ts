// Records netmaster's Docker code reads inside a transaction: tenants, pools and the allocator an address
// comes from.
import { NotFoundError } from "../../lib/errors.js";
import type { Tenant } from "../../model/index.js";
import { Ipv4Allocator, Ipv6Allocator, PoolAllocator } from "../alloc/index.js";
import { groupStateKey, networkStateKey } from "../../contract/keys.js";
import { getObject } from "../objects/common.js";
import type { GroupState, NetworkState } from "../records.js";
import type { Tx } from "../tx.js";
import { poolKey, type DockerPool } from "./wire.js";

/** What Ipv4Allocator, Ipv6Allocator and PoolAllocator have in common. */
export interface Allocator {
  allocate(): string;
  reserve(ip: string): void;
  release(ip: string): unknown;
  toJSON(): unknown;
}

export type AddressAllocator = Pick<Allocator, "allocate" | "reserve" | "release">;

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

export function tenantExists(tx: Tx, tenant: string): void {
  if (!getObject<Tenant>(tx, "tenant", tenant)) throw new NotFoundError(`Tenant ${tenant} not found`);
}

export function getPool(tx: Tx, poolId: string): DockerPool {
  const pool = tx.get<DockerPool>(poolKey(poolId));
  if (!pool) throw new NotFoundError(`Pool ${poolId} not found`);
  return pool;
}

/**
 * The allocator an address of (network, group) lives in: for IPv4 the group's ip-pool when it has one,
 * else the network's. Undefined when the network (or its IPv6 allocator) is gone.
 */
export function allocatorOf(tx: Tx, tenant: string, network: string, group: string, v6: boolean): AddressAllocator | undefined {
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
