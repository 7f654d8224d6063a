import { NotFoundError, ValidationError } from "../../lib/errors.js";
import type { Network, ServiceLB, Tenant } from "../../model/index.js";
import { Ipv4Allocator, Ipv6Allocator } from "../alloc/index.js";
import { networkStateKey, serviceStateKey } from "../../contract/keys.js";
import type { NetworkState, ServiceState } from "../records.js";
import type { Tx } from "../tx.js";
import type { Controller } from "./controller.js";
import { directAttachMode, getObject } from "./common.js";
import { getNetworkState } from "./network.js";

function checkService(tx: Tx, s: ServiceLB): void {
  if (s.selectors.length === 0) throw new ValidationError("Invalid selector options");
  if (!getObject<Tenant>(tx, "tenant", s.tenantName)) throw new NotFoundError("Tenant not found");
  if (!getObject<Network>(tx, "network", `${s.tenantName}:${s.networkName}`)) {
    throw new NotFoundError(`Network ${s.networkName} not found`);
  }
  const direct = directAttachMode(tx, s.tenantName, s.networkName);
  if (direct !== undefined) {
    // A VIP lives on the tenant's bridge, which a direct attachment's packets never cross.
    throw new ValidationError(`Service load balancing needs attachMode bridge: network ${s.networkName} attaches its containers by ${direct}, and no VIP is in their path`);
  }
}

/**
 * Takes the service's VIPs from its network: IPv4, the preferred address if it is free, else the lowest free
 * one; and IPv6 when the network has an IPv6 subnet.
 */
function takeVips(tx: Tx, s: ServiceLB): ServiceState {
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
  const next: NetworkState = { ...netState, ipv4: ipv4.toJSON() };
  let vip6 = "";
  if (netState.ipv6 !== undefined) {
    const ipv6 = Ipv6Allocator.fromJSON(netState.ipv6);
    vip6 = ipv6.allocate();
    next.ipv6 = ipv6.toJSON();
  }
  tx.put(networkStateKey(netKey), next);
  return vip6 === "" ? { vip } : { vip, vip6 };
}

function releaseVips(tx: Tx, s: ServiceLB, state: ServiceState | undefined): void {
  if (state === undefined) return;
  const netKey = `${s.tenantName}:${s.networkName}`;
  const netState = getNetworkState(tx, netKey);
  const ipv4 = Ipv4Allocator.fromJSON(netState.ipv4);
  ipv4.release(state.vip);
  const next: NetworkState = { ...netState, ipv4: ipv4.toJSON() };
  if (state.vip6 && netState.ipv6 !== undefined) {
    const ipv6 = Ipv6Allocator.fromJSON(netState.ipv6);
    ipv6.release(state.vip6);
    next.ipv6 = ipv6.toJSON();
  }
  tx.put(networkStateKey(netKey), next);
}

export function serviceVip(tx: Tx, s: ServiceLB): string {
  return tx.get<ServiceState>(serviceStateKey(s.key))?.vip ?? "";
}

export const serviceController: Controller<ServiceLB> = {
  create(tx, s) {
    checkService(tx, s);
    tx.put(serviceStateKey(s.key), takeVips(tx, s));
  },
  update(tx, old, s) {
    checkService(tx, s);
    const state = tx.get<ServiceState>(serviceStateKey(old.key));
    const keep = old.networkName === s.networkName && (!s.ipAddress || s.ipAddress === state?.vip);
    if (keep) return;
    // Release first so that a preferred address equal to the old VIP on the same network stays possible.
    releaseVips(tx, old, state);
    tx.put(serviceStateKey(s.key), takeVips(tx, s));
  },
  remove(tx, s) {
    releaseVips(tx, s, tx.get<ServiceState>(serviceStateKey(s.key)));
    tx.delete(serviceStateKey(s.key));
  },
};
