// Pure: whether an ADD may take its address from the host's own address blocks, and the endpoint it makes
// then, the same record netmaster would make (master/endpoints.ts), so that the datapath, DNS and policy treat
// it like any other before netmaster has heard of it. What goes through netmaster instead: requested
// addresses and MACs, delegated IPAM, ipam dhcp networks, networks with IPv6 (their blocks are IPv4 only),
// groups with an ip pool, and anything the host's copy of the state does not show yet but a network name.

import { endpointId, macFromIpv4, type EndpointReply } from "../../contract/api.js";
import { groupStateKey, networkStateKey, objectKey } from "../../contract/keys.js";
import type { EndpointState, GroupRecord, NetworkTags } from "../../contract/records.js";
import { implicitLabels } from "../../lib/labels.js";
import { endpointLinkName } from "../../datapath/names.js";
import type { EndpointGroup, Network } from "../../model/index.js";
import type { StateView } from "../pipeline/compile.js";
import type { CreateEndpointRequest } from "../master-client.js";

/** What the runtime asked for, as the agent would send it to netmaster. */
export interface EndpointAsk {
  tenant: string;
  /** "" when only the group is named. */
  network: string;
  group: string;
  /** netmaster's container id (cni-handler.ts endpointContainerId). */
  containerID: string;
  containerName: string;
  host: string;
  labels: Record<string, string>;
  aliases: string[];
}

/** An endpoint made with a block address: netmaster's reply as it would be, and the registration to send. */
export interface BlockEndpoint {
  reply: EndpointReply;
  request: CreateEndpointRequest;
}

/** The network an ADD takes a block address of, or why it goes through netmaster. */
export type BlockPlan = { networkKey: string } | { roundTrip: string };

export function blockPlan(view: StateView, ask: EndpointAsk): BlockPlan {
  let network = ask.network;
  if (ask.group !== "") {
    const group = view.get<EndpointGroup>(objectKey("endpointGroup", `${ask.tenant}:${ask.group}`));
    if (!group) return { roundTrip: `group ${ask.group} is not in this host's state yet` };
    if (group.ipPool) return { roundTrip: `group ${ask.group} has an ip pool` };
    if (network !== "" && network !== group.networkName) return { roundTrip: "the group is of another network (netmaster says why)" };
    network = group.networkName;
  }
  if (network === "") return { roundTrip: "no network named" };
  const networkKey = `${ask.tenant}:${network}`;
  const net = view.get<Network>(objectKey("network", networkKey));
  // Not here yet: the block netmaster grants brings it (or netmaster says why there is none).
  if (!net) return { networkKey };
  const refused = blockRefusal(net);
  return refused === undefined ? { networkKey } : { roundTrip: refused };
}

/** Why a network's endpoints never take block addresses, or undefined. */
export function blockRefusal(net: Network): string | undefined {
  if ((net.ipam ?? "netmaster") !== "netmaster") return `network ${net.networkName} takes its addresses from ${net.ipam}`;
  if (net.ipv6Subnet) return `network ${net.networkName} has IPv6 (blocks are IPv4 only)`;
  return undefined;
}

function prefixLength(cidr: string): number {
  return Number(cidr.split("/")[1] ?? 0);
}

/**
 * The endpoint with `ipAddress` from a block, netmaster's reply as it would be, and the registration that
 * tells netmaster afterwards; undefined when the host's copy lacks the network or its tags.
 */
export function blockEndpoint(view: StateView, ask: EndpointAsk, networkKey: string, ipAddress: string): BlockEndpoint | undefined {
  const net = view.get<Network>(objectKey("network", networkKey));
  const tags = view.get<NetworkTags>(networkStateKey(networkKey));
  if (!net || !tags || blockRefusal(net) !== undefined) return undefined;
  const groupId = ask.group === "" ? 0 : (view.get<GroupRecord>(groupStateKey(`${ask.tenant}:${ask.group}`))?.groupId ?? 0);
  const id = endpointId(net.networkName, net.tenantName, ask.containerID);
  const intfName = endpointLinkName(id);
  const macAddress = macFromIpv4(ipAddress);
  const endpoint: EndpointState = {
    endpointID: id,
    tenantName: net.tenantName,
    networkName: net.networkName,
    groupName: ask.group,
    containerID: ask.containerID,
    containerName: ask.containerName,
    ipAddress,
    ipv6Address: "",
    macAddress,
    homingHost: ask.host,
    intfName,
    vtepIP: "",
    labels: { ...ask.labels, ...implicitLabels(net.tenantName, net.networkName, ask.group) },
    requestedIp: false,
    ...(ask.aliases.length > 0 ? { aliases: ask.aliases } : {}),
  };
  const request: CreateEndpointRequest = {
    tenantName: net.tenantName,
    networkName: net.networkName,
    groupName: ask.group,
    containerID: ask.containerID,
    containerName: ask.containerName,
    host: ask.host,
    intfName,
    ipAddress,
    macAddress,
    labels: ask.labels,
    aliases: ask.aliases,
    fromBlock: true,
  };
  const reply: EndpointReply = {
    endpoint,
    network: {
      subnetLen: prefixLength(net.subnet),
      gateway: net.gateway,
      ipv6SubnetLen: 0,
      ipv6Gateway: "",
      pktTag: tags.pktTag,
      extPktTag: tags.extPktTag,
      encap: net.encap,
    },
    groupId,
    revision: 0,
  };
  return { reply, request };
}
