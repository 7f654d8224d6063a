import { NotFoundError, ValidationError } from "../../lib/errors.js";
import type { Network, ServiceLB, Tenant } from "../../model/index.js";
import { Ipv4Allocator } from "../alloc/index.js";
import { networkStateKey, serviceStateKey } from "../../contract/keys.js";
import type { ServiceState } from "../records.js";
import type { Tx } from "../tx.js";
import type { Controller } from "./controller.js";
import { getObject } from "./common.js";
import { getNetworkState } from "./network.js";

function checkService(tx: Tx, s: ServiceLB): void {
  if (s.selectors.length === 0) throw new ValidationError("Invalid selector options");
  if (!getObject<Tenant>(tx, "tenant", s.tenantName)) throw new NotFoundError("Tenant not found");
  if (!getObject<Network>(tx, "network", `${s.tenantName}:${s.networkName}`)) {
    throw new NotFoundError(`Network ${s.networkName} not found`);
  }
}

/** Takes the service's VIP from its network: the preferred address if it is free, else the lowest free one. */
function takeVip(tx: Tx, s: ServiceLB): string {
  const netKey = `${s.tenantName}:${s.networkName}`;
  const netState = getNetworkState(tx, netKey);
  const ipv4 = Ipv4Allocator.fromJSON(netState.ipv4);
  let vip: string;
  if (s.ipAddress) {
    ipv4.reserve(s.ipAddress);
    vip = s.ipAddress;
  } else {
    vip = ipv4.allocate();
  }
  tx.put(networkStateKey(netKey), { ...netState, ipv4: ipv4.toJSON() });
  return vip;
}

function releaseVip(tx: Tx, s: ServiceLB, vip: string): void {
  const netKey = `${s.tenantName}:${s.networkName}`;
  const netState = getNetworkState(tx, netKey);
  const ipv4 = Ipv4Allocator.fromJSON(netState.ipv4);
  ipv4.release(vip);
  tx.put(networkStateKey(netKey), { ...netState, ipv4: ipv4.toJSON() });
}

export function serviceVip(tx: Tx, s: ServiceLB): string {
  return tx.get<ServiceState>(serviceStateKey(s.key))?.vip ?? "";
}

export const serviceController: Controller<ServiceLB> = {
  create(tx, s) {
    checkService(tx, s);
    tx.put(serviceStateKey(s.key), { vip: takeVip(tx, s) } satisfies ServiceState);
  },
  update(tx, old, s) {
    checkService(tx, s);
    const vip = serviceVip(tx, old);
    const keep = old.networkName === s.networkName && (!s.ipAddress || s.ipAddress === vip);
    if (keep) return;
    // Release first so that a preferred address equal to the old VIP on the same network stays possible.
    releaseVip(tx, old, vip);
    tx.put(serviceStateKey(s.key), { vip: takeVip(tx, s) } satisfies ServiceState);
  },
  remove(tx, s) {
    releaseVip(tx, s, serviceVip(tx, s));
    tx.delete(serviceStateKey(s.key));
  },
};
