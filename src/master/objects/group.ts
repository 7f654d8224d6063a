import { ConflictError, NotFoundError, ValidationError } from "../../lib/errors.js";
import type {
  AppProfile,
  EndpointGroup,
  ExtContractsGroup,
  Global,
  Network,
  NetProfile,
  Policy,
  Tenant,
} from "../../model/index.js";
import { Ipv4Allocator, PoolAllocator } from "../alloc/index.js";
import { EPG_ID_KEY, groupStateKey, networkStateKey } from "../../contract/keys.js";
import type { EpgIdCounter, GroupState } from "../records.js";
import type { Tx } from "../tx.js";
import type { Controller } from "./controller.js";
import { directAttachMode, endpointsOfGroup, getObject, listTenantObjects } from "./common.js";
import { getNetworkState } from "./network.js";
import { GLOBAL_KEY } from "./global.js";

const MAX_GROUP_ID = 65535;

/** Next group id from the persisted counter; after wrapping, the lowest id no group holds. */
function allocateGroupId(tx: Tx): number {
  const counter = tx.get<EpgIdCounter>(EPG_ID_KEY) ?? { next: 1 };
  let id = counter.next;
  if (id > MAX_GROUP_ID) {
    const used = new Set(tx.list<GroupState>(`${groupStateKey("")}`).map(([, s]) => s.groupId));
    id = 1;
    while (used.has(id) && id <= MAX_GROUP_ID) id++;
    if (id > MAX_GROUP_ID) throw new ConflictError("no endpoint group ids available");
  }
  tx.put(EPG_ID_KEY, { next: Math.max(counter.next, id + 1) } satisfies EpgIdCounter);
  return id;
}

function poolBounds(pool: string): [string, string] {
  const [start, end] = pool.split("-");
  return [start!, end ?? start!];
}

/**
 * DSCP is marked on the tenant's bridge; a direct attachment's packets never cross it, so a profile that sets
 * it cannot apply to a group on such a network.
 */
export function checkDscpReach(tx: Tx, g: EndpointGroup, profile: NetProfile): void {
  const direct = profile.DSCP > 0 ? directAttachMode(tx, g.tenantName, g.networkName) : undefined;
  if (direct !== undefined) {
    throw new ValidationError(
      `DSCP marking needs attachMode bridge: group ${g.groupName}'s network ${g.networkName} attaches its containers by ${direct}, and netprofile ${profile.profileName} sets DSCP ${profile.DSCP}`,
    );
  }
}

/** References a group may change after creation: policies, net profile, external contracts. */
function checkReferences(tx: Tx, g: EndpointGroup): void {
  for (const p of g.policies) {
    if (!getObject<Policy>(tx, "policy", `${g.tenantName}:${p}`)) throw new NotFoundError("Policy not found");
  }
  const profile = g.netProfile ? getObject<NetProfile>(tx, "netprofile", `${g.tenantName}:${g.netProfile}`) : undefined;
  if (g.netProfile && !profile) throw new NotFoundError("netprofile not found");
  if (profile) checkDscpReach(tx, g, profile);
  for (const c of g.extContractsGrps) {
    if (!getObject<ExtContractsGroup>(tx, "extContractsGroup", `${g.tenantName}:${c}`)) {
      throw new NotFoundError(`External contracts group ${c} not found`);
    }
  }
}

export const groupController: Controller<EndpointGroup> = {
  create(tx, g) {
    if (!getObject<Tenant>(tx, "tenant", g.tenantName)) throw new NotFoundError("Tenant not found");
    const netKey = `${g.tenantName}:${g.networkName}`;
    const net = getObject<Network>(tx, "network", netKey);
    if (!net) throw new NotFoundError(`Network ${g.networkName} not found`);
    if (getObject<Network>(tx, "network", g.key)) {
      throw new ConflictError(`Network ${g.groupName} conflicts with the endpointGroup name`);
    }
    const global = getObject<Global>(tx, "global", GLOBAL_KEY);
    if (global?.networkInfraType === "aci" && net.encap !== "vlan") {
      throw new ValidationError("network type must be VLAN for ACI mode");
    }
    checkReferences(tx, g);

    const state: GroupState = { groupId: allocateGroupId(tx) };
    if (g.ipPool) {
      if (g.ipPool.includes(":")) throw new ValidationError("ipv6 address pool is not supported for Endpoint Groups");
      const netState = getNetworkState(tx, netKey);
      const ipv4 = Ipv4Allocator.fromJSON(netState.ipv4);
      ipv4.reservePool(g.ipPool);
      const [start, end] = poolBounds(g.ipPool);
      state.pool = PoolAllocator.create(start, end).toJSON();
      tx.put(networkStateKey(netKey), { ...netState, ipv4: ipv4.toJSON() });
    }
    tx.put(groupStateKey(g.key), state);
  },

  update(tx, old, g) {
    if (old.networkName !== g.networkName) {
      throw new ConflictError("Cannot change network association after epg is created.");
    }
    if (old.ipPool !== g.ipPool) throw new ConflictError("Cannot change IP pool after epg is created.");
    checkReferences(tx, g);
  },

  remove(tx, g) {
    for (const app of listTenantObjects<AppProfile>(tx, "appProfile", g.tenantName)) {
      if (app.endpointGroups.includes(g.groupName)) {
        throw new ConflictError(`Cannot delete ${g.groupName}, associated to appProfile ${app.key}`);
      }
    }
    if (endpointsOfGroup(tx, g.tenantName, g.groupName).length > 0) {
      throw new ConflictError(`Error: EPG ${g.groupName} has active endpoints`);
    }
    if (g.ipPool) {
      const netKey = `${g.tenantName}:${g.networkName}`;
      const netState = getNetworkState(tx, netKey);
      const ipv4 = Ipv4Allocator.fromJSON(netState.ipv4);
      ipv4.releasePool(g.ipPool);
      tx.put(networkStateKey(netKey), { ...netState, ipv4: ipv4.toJSON() });
    }
    tx.delete(groupStateKey(g.key));
  },
};
