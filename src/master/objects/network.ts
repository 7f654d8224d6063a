import { ConflictError, NotFoundError } from "../../lib/errors.js";
import type { EndpointGroup, Global, Network, ServiceLB, Tenant } from "../../model/index.js";
import { Ipv4Allocator, Ipv6Allocator, subnetBounds, ipv6SubnetBounds } from "../alloc/index.js";
import { blockPrefix, dockerNetworkKey, endpointKey, macPrefix, networkStateKey } from "../../contract/keys.js";
import { HOST_ENDPOINT_PREFIX, type NetworkState } from "../records.js";
import type { Tx } from "../tx.js";
import type { Controller } from "./controller.js";
import { endpointsOfNetwork, getObject, listTenantObjects } from "./common.js";
import { GLOBAL_KEY, loadTags, saveTags } from "./global.js";

export function networkKey(tenant: string, network: string): string {
  return `${tenant}:${network}`;
}

export function getNetworkState(tx: Tx, key: string): NetworkState {
  const state = tx.get<NetworkState>(networkStateKey(key));
  if (!state) throw new NotFoundError(`Network ${key} not found`);
  return state;
}

function checkOverlap(tx: Tx, net: Network): void {
  const mine = subnetBounds(net.subnet);
  const mine6 = net.ipv6Subnet ? ipv6SubnetBounds(net.ipv6Subnet) : undefined;
  for (const other of listTenantObjects<Network>(tx, "network", net.tenantName)) {
    if (other.networkName === net.networkName) continue;
    const theirs = subnetBounds(other.subnet);
    if (mine.first <= theirs.last && theirs.first <= mine.last) {
      throw new ConflictError(`network ${other.networkName} conflicts with subnet ${net.subnet}`);
    }
    if (mine6 && other.ipv6Subnet) {
      const theirs6 = ipv6SubnetBounds(other.ipv6Subnet);
      if (mine6.first <= theirs6.last && theirs6.first <= mine6.last) {
        throw new ConflictError(`network ${other.networkName} conflicts with subnetv6 ${net.ipv6Subnet}`);
      }
    }
  }
}

/** The tenants' uplinks take their addresses from the global pvtSubnet: no network may overlap it. */
function checkUplinkBlock(tx: Tx, net: Network): void {
  const pvt = getObject<Global>(tx, "global", GLOBAL_KEY)?.pvtSubnet;
  if (!pvt) return;
  const mine = subnetBounds(net.subnet);
  const theirs = subnetBounds(pvt);
  if (mine.first <= theirs.last && theirs.first <= mine.last) {
    throw new ConflictError(`subnet ${net.subnet} overlaps the tenants' uplink block, the global pvtSubnet ${pvt}`);
  }
}

export const networkController: Controller<Network> = {
  create(tx, net) {
    if (!getObject<Tenant>(tx, "tenant", net.tenantName)) throw new NotFoundError("Tenant not found");
    if (getObject<EndpointGroup>(tx, "endpointGroup", net.key)) {
      throw new ConflictError(`EndpointGroup ${net.networkName} conflicts with the network name`);
    }
    checkOverlap(tx, net);
    checkUplinkBlock(tx, net);
    if (net.ipam === "dhcp" && getObject<Global>(tx, "global", GLOBAL_KEY)?.fwdMode === "routing") {
      // Routed, the network's bridge answers ARP for the whole subnet and nothing relays DHCP to the site.
      throw new ConflictError(`ipam dhcp needs the global fwdMode bridge: in routing mode no DHCP server on the site's segment reaches the containers`);
    }
    const ipv4 = Ipv4Allocator.create(net.subnet, net.gateway);
    const ipv6 = net.ipv6Subnet ? Ipv6Allocator.create(net.ipv6Subnet, net.ipv6Gateway) : undefined;

    const tags = loadTags(tx);
    let state: NetworkState;
    if (net.encap === "vlan") {
      state = { pktTag: tags.vlan.allocate(net.pktTag || undefined), extPktTag: 0, ipv4: ipv4.toJSON() };
    } else {
      const { vni, localVlan } = tags.vxlan.allocate(net.pktTag || undefined);
      state = { pktTag: localVlan, extPktTag: vni, ipv4: ipv4.toJSON() };
    }
    if (ipv6) state.ipv6 = ipv6.toJSON();
    saveTags(tx, tags);
    tx.put(networkStateKey(net.key), state);
  },

  update() {
    throw new ConflictError("Cant change network parameters after its created");
  },

  remove(tx, net) {
    const name = net.networkName;
    const groups = listTenantObjects<EndpointGroup>(tx, "endpointGroup", net.tenantName).filter(
      (g) => g.networkName === name,
    );
    if (groups.length > 0) throw new ConflictError(`cannot delete ${name} has ${groups.length} endpoint groups`);
    const services = listTenantObjects<ServiceLB>(tx, "serviceLB", net.tenantName).filter(
      (s) => s.networkName === name,
    );
    if (services.length > 0) throw new ConflictError(`cannot delete ${name} has ${services.length} services `);
    // Hosts' own endpoints on an infra network go with it (Contiv's agents removed them); containers block the delete.
    const eps = endpointsOfNetwork(tx, net.tenantName, name);
    const hostEps = net.nwType === "infra" ? eps.filter((ep) => ep.containerID.startsWith(HOST_ENDPOINT_PREFIX)) : [];
    if (eps.length > hostEps.length) throw new ConflictError("Error: Network has active endpoints");
    for (const ep of hostEps) tx.delete(endpointKey(ep.endpointID));
    const state = getNetworkState(tx, net.key);
    const tags = loadTags(tx);
    if (net.encap === "vlan") tags.vlan.free(state.pktTag);
    else tags.vxlan.free(state.extPktTag, state.pktTag);
    saveTags(tx, tags);
    tx.delete(networkStateKey(net.key));
    // The network's own records go with it: hosts' address blocks (one with assigned addresses implies
    // endpoints, which refused the delete above; the allocator they were reserved in is gone) and MAC holders.
    for (const prefix of [blockPrefix(net.key), macPrefix(net.key)]) for (const [key] of tx.list(prefix)) tx.delete(key);
    if (tx.get(dockerNetworkKey(net.key))) tx.delete(dockerNetworkKey(net.key));
  },
};
